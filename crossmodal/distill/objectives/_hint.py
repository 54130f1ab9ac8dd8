"""``"hint"``: FitNets' hint, a learned linear map of a student layer regressed onto a teacher layer."""

import torch

from crossmodal.distill.objectives._common import FeatureObjective, row_mean

__all__ = ["Hint"]


class Hint(FeatureObjective):
    """``1/2 * ||u_T(x) - r(v_S(x))||**2``: the FitNets hint loss, per row.

    ``v_S`` is the output of the student's ``student_layer`` (the guided
    layer), ``u_T`` that of the teacher's ``teacher_layer`` (the hint) and
    ``r`` a learned linear regressor (a :class:`torch.nn.Linear` with bias)
    from the student's width to the teacher's, so the two modalities' layers
    need not have the same width. The regressor is trained with the student,
    by the student's optimizer.

    Parameters
    ----------
    student_layer : int, str or None, default=None
        The student's guided layer: a child index or a submodule name; None
        is the penultimate child of an ``nn.Sequential`` (the last hidden
        activation of the library's MLP).
    teacher_layer : int, str or None, default=None
        The teacher's hint layer, likewise. The teacher must be a torch
        model (the library's net, a skorch net, ``teacher="joint"``).

    Notes
    -----
    FitNets trains in two stages: first the student up to its guided layer,
    with the regressor, on the hint loss alone; then the whole student on
    the KD loss. Here the two are folded into one loss,
    ``rho * CE + (1 - rho) * hint``, trained from the start; there is no
    separate pre-training stage (it would need the training loop to switch
    losses midway, which an objective does not control).

    The paper passes the regressor's output through the hint layer's
    non-linearity; the regressor here is linear, which can still match a
    ReLU layer's (non-negative) outputs.

    The hint needs no label: every row counts. Two classes need nothing
    special. Each row's squared error is summed over the teacher's features
    and multiplied by its sample weight; the batch's sum is divided by the
    batch size.

    References
    ----------
    Romero, A., Ballas, N., Kahou, S. E., Chassang, A., Gatta, C., Bengio, Y.
    (2015). FitNets: Hints for Thin Deep Nets. ICLR 2015.

    Examples
    --------
    >>> import torch
    >>> from crossmodal.distill.objectives import Hint, ModuleContext, ObjectiveBatch
    >>> hint = Hint()
    >>> regressor = hint.build_module(ModuleContext(n_samples=4, n_classes=2, student_features=3, teacher_features=5))
    >>> regressor
    Linear(in_features=3, out_features=5, bias=True)
    >>> _ = torch.nn.init.zeros_(regressor.weight), torch.nn.init.zeros_(regressor.bias)
    >>> batch = ObjectiveBatch(
    ...     student_logits=torch.zeros(2, 2),
    ...     targets={"teacher_features": torch.ones(2, 5)},
    ...     student_features=torch.randn(2, 3),
    ...     module=regressor,
    ... )
    >>> hint.loss(batch).item()  # 1/2 * 5 features * 1**2
    2.5
    """

    _parameter_constraints = {"student_layer": [None, int, str], "teacher_layer": [None, int, str]}

    def __init__(self, student_layer=None, teacher_layer=None):
        self.student_layer = student_layer
        self.teacher_layer = teacher_layer

    def build_module(self, context):
        return torch.nn.Linear(context.student_features, context.teacher_features)

    def loss(self, batch):
        gap = batch.module(batch.student_features) - batch.targets["teacher_features"].to(batch.student_features.dtype)
        return row_mean(0.5 * gap.square().sum(dim=1), batch.sample_weight)
