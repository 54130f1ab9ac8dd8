"""``"kd"``: the knowledge-distillation term of the paper's eq. (1), with Hinton's temperature."""

from numbers import Real

from crossmodal._utils.compat import Interval, StrOptions
from crossmodal.distill.objectives._base import DistillationObjective
from crossmodal.distill.objectives._kl import kd_kl_loss, teacher_targets

__all__ = ["KD"]


class KD(DistillationObjective):
    """``T**2 * KL(softmax(t / T) || softmax(s / T))``: the KD term of the paper's eq. (1).

    Parameters
    ----------
    temperature : float > 0, default=1.0
        Softmax temperature ``T``; the paper uses 1.
    reduction : {"batchmean", "mean"}, default="batchmean"
        ``"batchmean"`` is the KL divergence per row; ``"mean"`` also divides
        by the number of classes, as torch's default ``KLDivLoss()`` in the
        paper authors' code does.

    Notes
    -----
    The term covers every row of a batch, with or without a label: it needs
    only the teacher. Its CPU path is a fused numba kernel
    (:func:`~crossmodal.distill.objectives._kl.kd_kl_loss`).

    References
    ----------
    Xue, Z., Gao, Z., Ren, S., Zhao, H. (2023). The Modality Focusing
    Hypothesis: Towards Understanding Crossmodal Knowledge Distillation.
    ICLR 2023, eq. (1). Hinton, G., Vinyals, O., Dean, J. (2015). Distilling
    the Knowledge in a Neural Network. arXiv:1503.02531.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from crossmodal.distill.objectives import KD, ObjectiveBatch, TeacherOutputs
    >>> kd = KD(temperature=2.0)
    >>> teacher = TeacherOutputs(proba=np.array([[0.9, 0.1]]))
    >>> targets = {k: torch.as_tensor(v) for k, v in kd.targets(teacher).items()}
    >>> loss = kd.loss(ObjectiveBatch(student_logits=torch.zeros(1, 2), targets=targets))
    >>> round(loss.item(), 4)
    0.5232
    """

    _parameter_constraints = {
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "reduction": [StrOptions({"batchmean", "mean"})],
    }

    def __init__(self, temperature=1.0, reduction="batchmean"):
        self.temperature = temperature
        self.reduction = reduction

    def targets(self, teacher):
        return {"teacher_log_proba": teacher_targets(teacher.proba, self.temperature).numpy()}

    def loss(self, batch):
        return kd_kl_loss(
            batch.student_logits,
            batch.targets["teacher_log_proba"],
            temperature=self.temperature,
            reduction=self.reduction,
            sample_weight=batch.sample_weight,
        )
