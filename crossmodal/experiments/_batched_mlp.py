"""Many distilled MLP students of one student modality, trained at once.

The ranking reproduction distils eleven teachers (regular; general, random
and specific at three ratios; none) into *the same* student: the same
initial weights, the same batches, only the teacher's probabilities (and
``rho``) differ. Each student is a small MLP whose training step is mostly
Python and autograd overhead, so the students are stacked: the weights of
layer ``l`` form one ``(R, out, in)`` tensor, a batch runs through all ``R``
students with one batched matrix product per layer, and the summed loss
gives each student exactly its own gradient. Adam acts elementwise, so one
Adam over the stacked tensors is ``R`` independent Adams.

:func:`distil_students` draws the initial weights and the batch order
exactly as :class:`crossmodal.CrossModalDistiller` does for the same
``random_state`` (with a skorch student template of :class:`crossmodal.nets.MLP`,
Adam, shuffled batches), and computes the same loss; the students equal
that estimator's up to floating-point rounding (the KD term here is
computed by torch ops rather than the fused kernel).

Rows without a label (code ``-1``) weigh as the distiller weighs them: the
cross-entropy takes per-row factors (``label_weight``, the distiller's
:func:`~crossmodal._utils.labels.label_weights`), the KD term per-row
weights (``kd_weight``, the distiller's ``sample_weight``), each per
student; the transfer reproduction stacks students with different
temperatures, and reads each after its own number of epochs (``on_epoch``).
"""

import numpy as np
import torch
import torch.nn.functional as F

from crossmodal._utils.random import draw_seeds
from crossmodal._utils.torch_helpers import seeded
from crossmodal.distill.objectives._kl import teacher_targets
from crossmodal.nets import MLP

__all__ = ["distil_students", "stacked_loss"]


def _forward(params, X):
    """Logits ``(R, n, C)`` of the stacked students on ``X`` ``(n, d)``."""
    h = X
    last = len(params) - 1
    for i, (W, b) in enumerate(params):
        h = torch.matmul(h, W.transpose(1, 2)) + b.unsqueeze(1)
        if i < last:
            h = torch.relu(h)
    return h


def stacked_loss(logits, y, targets, target_p, rho, temperature, ce_weight=None, kd_weight=None):
    """Every student's ``rho * CE + (1 - rho) * T^2 * KL`` on one batch: the distiller's loss with the KD objective.

    Parameters
    ----------
    logits : Tensor of shape (R, m, C)
        The stacked students' logits on the batch.
    y : Tensor of shape (m,)
        Encoded labels.
    targets, target_p : Tensor of shape (R, m, C)
        Each student's teacher targets ``log_softmax(log(p) / T)`` and their exponential.
    rho : Tensor of shape (R,)
        Each student's weight of the cross-entropy term.
    temperature : float or Tensor of shape (R,)
        One temperature for every student, or each student's own.
    ce_weight : Tensor of shape (R, m) or None, default=None
        Each row's factor of each student's cross-entropy, as the distiller's ``label_weight``
        (:func:`crossmodal._utils.labels.label_weights`): the term is ``sum(ce_weight * CE) / m``, and a row
        without a label (``y == -1``) must have factor 0. None: the plain mean over the batch.
    kd_weight : Tensor of shape (R, m) or None, default=None
        Each row's weight of each student's KD term, as the distiller's ``sample_weight``:
        ``sum(kd_weight * KL) / m``. None: the plain mean.

    Returns
    -------
    Tensor of shape (R,)
        Each student's loss, as :class:`crossmodal.distill._net.DistillationNet` computes it with the
        ``"kd"`` objective (``reduction="batchmean"``), up to rounding (torch ops instead of the fused kernel).
    """
    R, m, n_classes = logits.shape
    ce = F.cross_entropy(logits.reshape(R * m, n_classes), y.clamp(min=0).repeat(R), reduction="none").view(R, m)
    if torch.is_tensor(temperature):
        kl = (target_p * (targets - F.log_softmax(logits / temperature.view(R, 1, 1), dim=2))).sum(2)
        squared = temperature**2
    else:
        kl = (target_p * (targets - F.log_softmax(logits / temperature, dim=2))).sum(2)
        squared = float(temperature) ** 2
    ce = ce.mean(1) if ce_weight is None else (ce * ce_weight).sum(1) / m
    kl = kl.mean(1) if kd_weight is None else (kl * kd_weight).sum(1) / m
    return rho * ce + (1 - rho) * squared * kl


def _per_student(values, R, n):
    """``values`` of shape (n,) or (R, n) as a float32 tensor of shape (R, n); None stays None."""
    if values is None:
        return None
    return torch.as_tensor(np.broadcast_to(np.asarray(values, dtype=np.float32), (R, n)).copy())


def _stacked_targets(teacher_proba, temperature):
    """Each student's KD targets and the temperature as :func:`stacked_loss` takes it (float, or one per student)."""
    if np.ndim(temperature) == 0:
        return teacher_targets(teacher_proba, temperature), float(temperature)
    temperatures = [float(t) for t in temperature]
    targets = torch.stack([teacher_targets(p, t) for p, t in zip(teacher_proba, temperatures)])
    return targets, torch.as_tensor(temperatures, dtype=torch.float32)


def distil_students(
    X,
    y,
    teacher_proba,
    rho,
    *,
    temperature,
    hidden_sizes,
    epochs,
    batch_size,
    lr,
    random_state,
    label_weight=None,
    kd_weight=None,
    on_epoch=None,
):
    """Train ``R`` students of the same MLP on the same batches, one per teacher.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32
        Student modality.
    y : ndarray of shape (n_samples,)
        Labels encoded as 0 .. n_classes - 1; -1 on a row without a label (only with ``label_weight``).
    teacher_proba : ndarray of shape (R, n_samples, n_classes)
        Each student's teacher probabilities.
    rho : sequence of R floats
        Weight of cross-entropy for each student (0: KD term only, 1: no KD).
    temperature : float or sequence of R floats
        One temperature for every student, or each student's own.
    hidden_sizes : tuple of int
    epochs, batch_size : int
    lr : float
        Adam's learning rate.
    random_state : int
        As ``CrossModalDistiller(random_state=...)``: the student's seed is
        the third of three integers drawn from it.
    label_weight : ndarray of shape (n_samples,) or (R, n_samples), default=None
        Per-row factors of the cross-entropy term (for every student, or per
        student) where some rows carry no label: the distiller's
        :func:`~crossmodal._utils.labels.label_weights`. None: every row is
        labelled and weighs the same.
    kd_weight : ndarray of shape (n_samples,) or (R, n_samples), default=None
        Per-row weights of the KD term, as the distiller's ``sample_weight``
        rescaled to mean 1. None: every row weighs the same.
    on_epoch : callable or None, default=None
        Called as ``on_epoch(epoch, logits)`` after each epoch (1, 2, ...),
        where ``logits`` is the returned function of the students as they are
        then: a student read after epoch ``e`` is the one ``max_epochs=e``
        gives, since the batches of the first ``e`` epochs do not depend on
        how many follow.

    Returns
    -------
    logits : callable
        ``logits(X_new)`` returns every student's logits, shape ``(R, n_new, n_classes)``.
    """
    n, d = X.shape
    R, _, n_classes = teacher_proba.shape
    seed = draw_seeds(random_state, 3)[2]
    X_t = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32))
    y_t = torch.as_tensor(np.asarray(y, dtype=np.int64))
    targets, temperature = _stacked_targets(teacher_proba, temperature)
    target_p = targets.exp()
    rho_t = torch.as_tensor(np.asarray(rho, dtype=np.float32))
    ce_w, kd_w = _per_student(label_weight, R, n), _per_student(kd_weight, R, n)
    with seeded(seed):
        template = MLP(d, n_classes, hidden_sizes=hidden_sizes)
        linears = [m for m in template if isinstance(m, torch.nn.Linear)]
        params = [
            (
                m.weight.detach().unsqueeze(0).repeat(R, 1, 1).requires_grad_(),
                m.bias.detach().unsqueeze(0).repeat(R, 1).requires_grad_(),
            )
            for m in linears
        ]
        optimizer = torch.optim.Adam([p for pair in params for p in pair], lr=lr)
        batch_size = n if batch_size >= n else int(batch_size)
        for epoch in range(epochs):
            order = torch.randperm(n) if batch_size < n else torch.arange(n)
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                logits = _forward(params, X_t[idx])
                weights = [None if w is None else w[:, idx] for w in (ce_w, kd_w)]
                batch = (targets[:, idx], target_p[:, idx], rho_t, temperature, *weights)
                loss = stacked_loss(logits, y_t[idx], *batch).sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            if on_epoch is not None:
                on_epoch(epoch + 1, _predictor(params))
    return _predictor(params)


def _predictor(params):
    """``logits(X_new)`` of the stacked students with a copy of ``params`` as they are now."""
    frozen = [(W.detach().clone(), b.detach().clone()) for W, b in params]

    def logits(X_new):
        with torch.no_grad():
            return _forward(frozen, torch.as_tensor(np.ascontiguousarray(X_new, dtype=np.float32))).numpy()

    return logits
