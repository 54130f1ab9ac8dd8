"""``"dkd"``: decoupled knowledge distillation, the KD term split at the target class and re-weighted."""

from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F

from crossmodal._utils.compat import Interval
from crossmodal.distill.objectives._base import DistillationObjective
from crossmodal.distill.objectives._common import row_mean
from crossmodal.distill.objectives._kl import teacher_targets

__all__ = ["DKD", "dkd_terms"]


def dkd_terms(student_logits, teacher_log_proba, target, temperature):
    """Per-row TCKD and NCKD (Zhao et al., section 3.1), without the ``T**2`` factor.

    Parameters
    ----------
    student_logits : torch.Tensor of shape (m, n_classes)
    teacher_log_proba : torch.Tensor of shape (m, n_classes)
        ``log_softmax`` of the teacher's logits divided by ``temperature``.
    target : torch.Tensor of shape (m,), int64
        The class each row's split is made at.
    temperature : float

    Returns
    -------
    tckd, nckd : torch.Tensor of shape (m,)
        ``KL(b_T || b_S)`` between the binary (target, rest) distributions
        and ``KL(p̂_T || p̂_S)`` between the distributions among the
        non-target classes. ``KL(p_T || p_S) = tckd + (1 - p_T[target]) *
        nckd``, the identity the paper proves.
    """
    lq = F.log_softmax(student_logits / temperature, dim=1)
    lp = teacher_log_proba.to(lq.dtype)
    is_target = F.one_hot(target, lq.shape[1]).bool()
    column = target.unsqueeze(1)
    lq_t, lp_t = lq.gather(1, column).squeeze(1), lp.gather(1, column).squeeze(1)
    # log(1 - p_t) as the log-sum of the other classes: exact where p_t is near 1.
    lq_rest = torch.logsumexp(lq.masked_fill(is_target, -torch.inf), dim=1)
    lp_rest = torch.logsumexp(lp.masked_fill(is_target, -torch.inf), dim=1)
    tckd = lp_t.exp() * (lp_t - lq_t) + lp_rest.exp() * (lp_rest - lq_rest)
    # Among the non-target classes: log p̂ = log p - log(1 - p_t). At the target
    # that difference is the log-odds / T, which overflows exp() for a confident
    # teacher at T < 1 (and 0 * inf is NaN in backward): masked before exp().
    lp_hat = (lp - lp_rest.unsqueeze(1)).masked_fill(is_target, 0.0)
    lq_hat = (lq - lq_rest.unsqueeze(1)).masked_fill(is_target, 0.0)
    nckd = (lp_hat.exp() * (lp_hat - lq_hat)).masked_fill(is_target, 0.0).sum(dim=1)
    return tckd, nckd


class DKD(DistillationObjective):
    """``T**2 * (alpha * TCKD + beta * NCKD)``: decoupled knowledge distillation.

    The KD divergence between tempered teacher and student distributions
    splits exactly at the target class ``t`` (Zhao et al., section 3.1)::

        KL(p_T || p_S) = TCKD + (1 - p_T[t]) * NCKD

    TCKD is the KL divergence between the binary distributions ``(p[t], 1 -
    p[t])``, NCKD the one between the distributions among the other classes
    (``p[i] / (1 - p[t])``, ``i != t``). KD weighs NCKD by the teacher's
    doubt ``1 - p_T[t]``, small exactly where the teacher is good; DKD gives
    each part a weight of its own.

    Parameters
    ----------
    alpha : float >= 0, default=1.0
        Weight of TCKD.
    beta : float >= 0, default=8.0
        Weight of NCKD.
    temperature : float > 0, default=4.0
        Softmax temperature ``T`` of both distributions. ``alpha=1``,
        ``beta=8`` and ``T=4`` are the paper's settings for most
        teacher-student pairs on CIFAR-100. By name
        (``CrossModalDistiller(objective="dkd")``) the objective takes the
        distiller's ``temperature`` where it is set, and 4.0 where it is
        None (its default).

    Notes
    -----
    **Rows without a label.** DKD splits at the target class, which a row
    without a label (``y == -1``) does not have: there the split is made at
    the teacher's most probable class. The identity above holds at any
    class, so such a row still carries all of the teacher's knowledge, with
    the teacher's confident class as the "target" part; dropping the row
    instead would waste the pairs that make few-label distillation work.
    Labelled rows split at their label, as in the paper.

    **Two classes.** The non-target distribution has one class, with
    probability 1 for teacher and student alike: NCKD is exactly 0, and DKD
    is ``alpha`` times the KD term (TCKD is then the whole KL divergence).

    Each row's term is multiplied by its sample weight; the batch's sum is
    divided by the batch size. The factor ``T**2`` keeps the gradient's scale
    independent of ``T``, as in the library's KD term. The teacher's
    tempered log-probabilities are made once per fit, from its probabilities
    clipped at ``1e-30``.

    References
    ----------
    Zhao, B., Cui, Q., Song, R., Qiu, Y., Liang, J. (2022). Decoupled
    Knowledge Distillation. CVPR 2022, pp. 11953-11962.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from crossmodal.distill.objectives import DKD, ObjectiveBatch, TeacherOutputs
    >>> dkd = DKD(alpha=1.0, beta=8.0, temperature=1.0)
    >>> teacher = TeacherOutputs(proba=np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]))
    >>> targets = {k: torch.as_tensor(v) for k, v in dkd.targets(teacher).items()}
    >>> y = torch.tensor([0, -1])  # the second row has no label: split at the teacher's class 2
    >>> batch = ObjectiveBatch(student_logits=torch.zeros(2, 3), targets=targets, y=y, labelled=y >= 0)
    >>> round(dkd.loss(batch).item(), 4)
    0.9639
    """

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, alpha=1.0, beta=8.0, temperature=4.0):
        self.alpha = alpha
        self.beta = beta
        self.temperature = temperature

    def targets(self, teacher):
        proba = np.asarray(teacher.proba)
        return {
            "teacher_log_proba": teacher_targets(proba, self.temperature).numpy(),
            "teacher_class": np.argmax(proba, axis=1).astype(np.int64),
        }

    def loss(self, batch):
        teacher_class = batch.targets["teacher_class"]
        target = teacher_class if batch.y is None else torch.where(batch.y >= 0, batch.y, teacher_class)
        tckd, nckd = dkd_terms(batch.student_logits, batch.targets["teacher_log_proba"], target, self.temperature)
        t2 = self.temperature * self.temperature
        return t2 * row_mean(self.alpha * tckd + self.beta * nckd, batch.sample_weight)
