"""``"mlld"``: multi-level logit distillation, predictions aligned per row, per batch and per class."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from crossmodal._utils.compat import StrOptions
from crossmodal.distill.objectives._base import DistillationObjective
from crossmodal.distill.objectives._common import row_mean
from crossmodal.distill.objectives._kl import teacher_targets

__all__ = ["MLLD", "mlld_terms"]


def _as_temperatures(temperatures):
    values = np.asarray(temperatures, dtype=object).ravel() if np.ndim(temperatures) else None
    ok = values is not None and len(values) > 0
    ok = ok and all(isinstance(t, (int, float, np.integer, np.floating)) and not isinstance(t, bool) for t in values)
    if not ok or not all(math.isfinite(t) and t > 0 for t in values):
        raise ValueError(
            f"The 'temperatures' parameter of MLLD must be a non-empty sequence of finite numbers > 0; "
            f"got {temperatures!r}."
        )
    return tuple(float(t) for t in values)


def mlld_terms(student_logits, teacher_log_proba, temperatures, sample_weight=None, reduction="mean"):
    """The instance-, batch- and class-level terms of a batch, each summed over the temperatures.

    Parameters
    ----------
    student_logits : torch.Tensor of shape (m, n_classes)
    teacher_log_proba : torch.Tensor of shape (m, n_temperatures, n_classes)
        The teacher's ``log_softmax(t / T_j)``, one slice per temperature.
    temperatures : tuple of float
    sample_weight : torch.Tensor of shape (m,) or None
    reduction : {"mean", "paper"}, default="mean"

    Returns
    -------
    instance, batch, class_ : torch.Tensor, 0-d
        ``mean_i w_i sum_j KL(p_ij || q_ij)``; ``sum_j sum_ik w_i w_k (G_T -
        G_S)_jik**2 / m**2`` with ``G_j = P_j P_j^T``; ``sum_j ||M_T -
        M_S||_F**2 / n_classes`` with ``M_j = P_j^T diag(w) P_j / m``. With
        ``reduction="paper"`` the batch level is divided by ``m`` instead of
        ``m**2``, and ``M_j`` is not divided by ``m``.
    """
    s = student_logits
    inv_t = torch.tensor([1.0 / t for t in temperatures], dtype=s.dtype, device=s.device)
    lq = F.log_softmax(s.unsqueeze(0) * inv_t[:, None, None], dim=2)  # (J, m, C)
    lp = teacher_log_proba.to(s.dtype).transpose(0, 1)
    q, p = lq.exp(), lp.exp()
    m, n_classes = s.shape
    instance = row_mean((p * (lp - lq)).sum(dim=(0, 2)), sample_weight)
    gram_gap = p @ p.transpose(1, 2) - q @ q.transpose(1, 2)  # (J, m, m): sample correlations
    if sample_weight is None:
        batch = gram_gap.square().sum()
        class_gap = p.transpose(1, 2) @ p - q.transpose(1, 2) @ q  # (J, C, C): class correlations
    else:
        w = sample_weight.to(s.dtype)
        batch = (gram_gap.square() * (w[:, None] * w[None, :])).sum()
        class_gap = p.transpose(1, 2) @ (p * w[:, None]) - q.transpose(1, 2) @ (q * w[:, None])
    class_ = class_gap.square().sum() / n_classes
    if reduction == "paper":
        return instance, batch / m, class_
    return instance, batch / (m * m), class_ / (m * m)


class MLLD(DistillationObjective):
    """Multi-level logit distillation: instance, batch and class alignment over several temperatures.

    With ``P_j`` the ``(m, n_classes)`` matrix of a batch's predictions at
    temperature ``T_j`` (``softmax(logits / T_j)``, the paper's prediction
    augmentation), the term is ``L_ins + L_batch + L_class``:

    * instance level: ``sum_j KL(p_T || p_S)`` for each row;
    * batch level: ``sum_j ||G_T - G_S||_F**2 / m`` with ``G = P P^T``, the
      ``m x m`` correlations between the batch's rows;
    * class level: ``sum_j ||M_T - M_S||_F**2 / n_classes`` with ``M = P^T
      P``, the ``n_classes x n_classes`` correlations between classes.

    These are the paper's normalisations (``reduction="paper"``). By
    default (``reduction="mean"``) the batch level is divided by ``m**2``
    (the mean over the ``m x m`` entries) and ``M`` by ``m`` (the mean over
    rows), so that no level grows with the batch size.

    Parameters
    ----------
    temperatures : sequence of float > 0, default=(2.0, 3.0, 4.0, 5.0, 6.0)
        The temperatures ``T_j`` of the prediction augmentation, spread
        around the ``T = 4`` common on CIFAR-100. The distiller's own
        ``temperature`` does not apply (it must stay None, its default).
    reduction : {"mean", "paper"}, default="mean"
        ``"paper"``: the batch level divided by ``m`` and the class level
        over ``M = P^T P``, as the paper writes them; they then grow as
        ``m`` and ``m**2`` against the instance level. ``"mean"``: divided by
        ``m**2``, and ``M = P^T P / m``.

    Notes
    -----
    The paper also aligns predictions on weakly and strongly augmented
    copies of each image and masks rows where the teacher is not
    confident. Image augmentations have no counterpart for tabular rows or
    precomputed features, so that part is left out: every row is aligned as
    it is.

    Every term uses the teacher alone, so rows without a label count like the
    others. Two classes need nothing special: ``M`` is ``2 x 2``.

    The instance term is the batch mean over rows, like the library's KD
    term, so that ``rho`` keeps its meaning whatever the batch size; it has
    no ``T**2`` factor, following the equations as written. The paper's
    normalisations suit its setting (batches of 64 images, 100 classes):
    with two classes and the same batch the class level under
    ``reduction="paper"`` is a few hundred times the instance level, and
    ``rho`` hardly weighs the term against the labels any more. Sample weights ``w`` weigh each row's KL
    divergence, each pair of rows of ``G`` by ``w_i * w_k`` and each row's
    contribution to ``M``; a weight of 2 counts as the row twice, up to the
    divisors. A batch of one row has a ``1 x 1`` ``G``. The teacher's
    tempered log-probabilities are made once per fit, from its probabilities
    clipped at ``1e-30``.

    References
    ----------
    Jin, Y., Wang, J., Lin, D. (2023). Multi-Level Logit Distillation.
    CVPR 2023, pp. 24276-24285.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from crossmodal.distill.objectives import MLLD, ObjectiveBatch, TeacherOutputs
    >>> mlld = MLLD(temperatures=(1.0, 2.0))
    >>> teacher = TeacherOutputs(proba=np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]))
    >>> targets = {k: torch.as_tensor(v) for k, v in mlld.targets(teacher).items()}
    >>> targets["teacher_log_proba"].shape  # rows, temperatures, classes
    torch.Size([2, 2, 3])
    >>> round(mlld.loss(ObjectiveBatch(student_logits=torch.zeros(2, 3), targets=targets)).item(), 4)
    0.3596
    """

    _parameter_constraints = {"temperatures": ["array-like"], "reduction": [StrOptions({"mean", "paper"})]}

    def __init__(self, temperatures=(2.0, 3.0, 4.0, 5.0, 6.0), reduction="mean"):
        self.temperatures = temperatures
        self.reduction = reduction

    def _validate_params(self):
        super()._validate_params()
        _as_temperatures(self.temperatures)

    def targets(self, teacher):
        proba = np.asarray(teacher.proba)
        tempered = [teacher_targets(proba, t).numpy() for t in _as_temperatures(self.temperatures)]
        return {"teacher_log_proba": np.ascontiguousarray(np.stack(tempered, axis=1))}

    def loss(self, batch):
        instance, batch_level, class_level = mlld_terms(
            batch.student_logits,
            batch.targets["teacher_log_proba"],
            _as_temperatures(self.temperatures),
            batch.sample_weight,
            self.reduction,
        )
        return instance + batch_level + class_level
