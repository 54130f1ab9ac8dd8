"""The KD gain a user measures with ``CrossModalDistiller()``'s defaults, for many teachers of one student at once.

A user who asks "will distilling from *a* pay on *b*?" fits
``CrossModalDistiller(random_state=s).fit(X_b, y, X_teacher=X_a)`` (the
default MLP teacher and student, ``rho=0.5``, ``T=1``) and compares it with
the same estimator at ``rho=1`` (labels only, the same initial weights and
batches). That is what :func:`measure_gains` returns, built so that one
reproduction can afford it for every ordered view pair:

* each teacher view's default teacher is fitted once per seed (on the
  labelled rows) and queried on every row, exactly as the distiller does
  (:func:`default_teacher_proba`);
* the students of one student view (one per teacher, plus the labels-only
  one) share their initial weights and batches, so they train as one stack
  (:func:`stacked_students`): layer ``l``'s weights of all ``R`` students
  are one ``(R, out, in)`` tensor and each student gets exactly its own
  gradient from the summed loss (Adam acts elementwise). Rows without a
  label enter the cross-entropy term with the distiller's label weights.

Both equal the distiller's own fits (the teacher exactly, the students up to
floating-point rounding of the KD term); the tests check it.
"""

import functools

import numpy as np
import torch
import torch.nn.functional as F

from crossmodal._utils.labels import label_weights
from crossmodal._utils.random import draw_seeds
from crossmodal._utils.skorch_helpers import mlp_template
from crossmodal._utils.torch_helpers import seeded
from crossmodal.distill._teacher import fit_teacher, teacher_proba
from crossmodal.distill.objectives._kl import teacher_targets
from crossmodal.experiments._batched_mlp import _forward
from crossmodal.nets import MLP

__all__ = ["default_teacher_proba", "measure_gains", "stacked_students"]


def _default_settings():
    """Hidden sizes, epochs, batch size and learning rate of the distiller's default student and teacher."""
    template = mlp_template()
    return dict(
        hidden_sizes=tuple(template.module__hidden_sizes),
        epochs=int(template.max_epochs),
        batch_size=int(template.batch_size),
        lr=float(template.lr),
    )


def default_teacher_proba(X_a, codes, n_classes, random_state):
    """The default teacher's probabilities on every row, as ``CrossModalDistiller(random_state=...)`` makes them.

    Parameters
    ----------
    X_a : ndarray of shape (n_samples, n_features), float32
        The teacher's modality.
    codes : ndarray of shape (n_samples,)
        Labels encoded as ``0 .. n_classes - 1``; -1 on rows without one.
    n_classes : int
    random_state : int
        The distiller's ``random_state``: its teacher's seed is the first of
        the three integers drawn from it.
    """
    seed = draw_seeds(random_state, 3)[0]
    rows = np.flatnonzero(codes >= 0)
    fit_codes = np.asarray(codes[rows], dtype=np.int64)
    model = fit_teacher(None, X_a[rows], fit_codes, fit_codes, n_classes, torch.device("cpu"), seed)
    return teacher_proba(model, X_a, np.arange(n_classes))


def _stack_loss(logits, y, weight, targets, target_p, rho):
    """Each student's ``rho * CE + (1 - rho) * KL`` on a batch, the CE over labelled rows with their weights."""
    n_students, m, n_classes = logits.shape
    safe = y.clamp(min=0).repeat(n_students)
    ce = F.cross_entropy(logits.reshape(-1, n_classes), safe, reduction="none").view(n_students, m)
    ce_term = (ce * weight).sum(1) / m
    kl_term = (target_p * (targets - F.log_softmax(logits, dim=2))).sum(2).sum(1) / m
    return rho * ce_term + (1 - rho) * kl_term


def stacked_students(X, codes, proba, rho, random_state, *, hidden_sizes, epochs, batch_size, lr):
    """``R`` distiller students of one modality (temperature 1), trained together; their logits function.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32
        The student's modality.
    codes : ndarray of shape (n_samples,)
        Encoded labels, -1 on rows without one.
    proba : ndarray of shape (R, n_samples, n_classes)
        Each student's teacher probabilities (ignored where ``rho`` is 1).
    rho : sequence of R floats
        Each student's weight of the cross-entropy term.
    random_state : int
        As ``CrossModalDistiller(random_state=...)``: the student's seed is
        the third of three integers drawn from it.
    hidden_sizes, epochs, batch_size, lr
        The student template's settings (Adam, shuffled batches).

    Returns
    -------
    callable
        ``logits(X_new)``: every student's logits, shape ``(R, n_new, n_classes)``.
    """
    n, d = X.shape
    n_students, _, n_classes = proba.shape
    labelled = np.asarray(codes) >= 0
    weight = torch.as_tensor(label_weights(labelled) if not labelled.all() else np.ones(n, dtype=np.float32))
    X_t = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32))
    y_t = torch.as_tensor(np.asarray(codes, dtype=np.int64))
    targets = teacher_targets(proba, 1.0)
    target_p = targets.exp()
    rho_t = torch.as_tensor(np.asarray(rho, dtype=np.float32))
    step_rows = n if batch_size >= n else int(batch_size)
    with seeded(draw_seeds(random_state, 3)[2]):
        layers = [m for m in MLP(d, n_classes, hidden_sizes=hidden_sizes) if isinstance(m, torch.nn.Linear)]
        stack = []
        for layer in layers:
            stack.append(
                tuple(p.detach().expand(n_students, *p.shape).clone().requires_grad_() for p in layer.parameters())
            )
        adam = torch.optim.Adam([p for pair in stack for p in pair], lr=lr)
        for _ in range(epochs):
            order = torch.randperm(n) if step_rows < n else torch.arange(n)
            for idx in order.split(step_rows):
                loss = _stack_loss(
                    _forward(stack, X_t[idx]), y_t[idx], weight[idx], targets[:, idx], target_p[:, idx], rho_t
                )
                adam.zero_grad(set_to_none=True)
                loss.sum().backward()
                adam.step()
    return functools.partial(_logits, [(W.detach(), b.detach()) for W, b in stack])


def _logits(params, X_new):
    """The stacked students' logits on ``X_new``, shape ``(R, n_new, n_classes)``."""
    with torch.no_grad():
        return _forward(params, torch.as_tensor(np.ascontiguousarray(X_new, dtype=np.float32))).numpy()


def measure_gains(X_train, X_test, codes, y_test, pairs, random_state, *, rho=0.5, settings=None):
    """Test accuracy of the default distiller and of its labels-only twin for each ordered view pair ``(a, b)``.

    Parameters
    ----------
    X_train, X_test : dict of str to ndarray (float32)
        Each view's training rows (every pair, labelled or not) and test rows.
    codes : ndarray of shape (n_train,)
        Training labels encoded as ``0 .. n_classes - 1``, -1 where a row has none.
    y_test : ndarray of shape (n_test,)
        Encoded test labels.
    pairs : list of (str, str)
        Ordered (teacher view, student view) pairs.
    random_state : int
        The distillers' ``random_state``.
    rho : float, default=0.5
    settings : dict or None
        Student and teacher settings (:func:`_default_settings`' keys); None: the library's defaults.

    Returns
    -------
    dict
        ``{(a, b): (kd_acc - labels_acc, kd_acc, labels_acc)}``.
    """
    settings = _default_settings() if settings is None else settings
    n_classes = int(max(codes.max(), y_test.max())) + 1
    teachers = {
        a: default_teacher_proba(X_train[a], codes, n_classes, random_state) for a in dict.fromkeys(a for a, _ in pairs)
    }
    out = {}
    for b in dict.fromkeys(b for _, b in pairs):
        sources = [a for a, b2 in pairs if b2 == b]
        proba = np.stack([teachers[a] for a in sources] + [np.full_like(teachers[sources[0]], 1.0 / n_classes)])
        rhos = [rho] * len(sources) + [1.0]
        logits = stacked_students(X_train[b], codes, proba, rhos, random_state, **settings)(X_test[b])
        acc = (np.argmax(logits, axis=2) == y_test[None, :]).mean(axis=1)
        for r, a in enumerate(sources):
            out[(a, b)] = (float(acc[r] - acc[-1]), float(acc[r]), float(acc[-1]))
    return out
