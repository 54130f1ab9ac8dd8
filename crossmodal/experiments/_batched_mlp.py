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


def stacked_loss(logits, y, targets, target_p, rho, temperature):
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
    temperature : float

    Returns
    -------
    Tensor of shape (R,)
        Each student's loss, as :class:`crossmodal.distill._net.DistillationNet` computes it with the
        ``"kd"`` objective (``reduction="batchmean"``), up to rounding (torch ops instead of the fused kernel).
    """
    R, m, n_classes = logits.shape
    ce = F.cross_entropy(logits.reshape(R * m, n_classes), y.repeat(R), reduction="none").view(R, m)
    kl = (target_p * (targets - F.log_softmax(logits / temperature, dim=2))).sum(2)
    return rho * ce.mean(1) + (1 - rho) * float(temperature) ** 2 * kl.mean(1)


def distil_students(X, y, teacher_proba, rho, *, temperature, hidden_sizes, epochs, batch_size, lr, random_state):
    """Train ``R`` students of the same MLP on the same batches, one per teacher.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32
        Student modality.
    y : ndarray of shape (n_samples,)
        Labels encoded as 0 .. n_classes - 1.
    teacher_proba : ndarray of shape (R, n_samples, n_classes)
        Each student's teacher probabilities.
    rho : sequence of R floats
        Weight of cross-entropy for each student (0: KD term only, 1: no KD).
    temperature : float
    hidden_sizes : tuple of int
    epochs, batch_size : int
    lr : float
        Adam's learning rate.
    random_state : int
        As ``CrossModalDistiller(random_state=...)``: the student's seed is
        the third of three integers drawn from it.

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
    targets = teacher_targets(teacher_proba, temperature)
    target_p = targets.exp()
    rho_t = torch.as_tensor(np.asarray(rho, dtype=np.float32))
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
        for _ in range(epochs):
            order = torch.randperm(n) if batch_size < n else torch.arange(n)
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                logits = _forward(params, X_t[idx])
                loss = stacked_loss(logits, y_t[idx], targets[:, idx], target_p[:, idx], rho_t, temperature).sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    frozen = [(W.detach(), b.detach()) for W, b in params]

    def logits(X_new):
        with torch.no_grad():
            return _forward(frozen, torch.as_tensor(np.ascontiguousarray(X_new, dtype=np.float32))).numpy()

    return logits
