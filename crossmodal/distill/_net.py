"""Private skorch classifier that adds the knowledge-distillation term.

:class:`CrossModalDistiller` clones the user's student template into a
:class:`DistillationNet`. The teacher's target log-probabilities are computed
once per fit and travel beside X in a dict batch
``{"X": ..., "teacher_log_proba": ..., "sample_weight": ...}``, so skorch's
own data loading, splitting and callbacks keep working. When the student has
``callbacks="disable"`` and ``train_split=None`` (and no batching setting
that only skorch's loop implements, see :mod:`crossmodal._utils.tight_loop`) the
per-epoch skorch machinery has nothing to do, and a tight loop with the same
steps replaces it (skorch spends several milliseconds per epoch on a 200-row
problem whose whole step costs a fraction of that).
"""

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from skorch import NeuralNetClassifier

from crossmodal._utils.module_pickling import FittedModuleReferenceMixin
from crossmodal._utils.tight_loop import TightLoopMixin
from crossmodal.distill.objectives._kl import kd_kl_loss

__all__ = ["DistillationNet"]


class DistillationNet(FittedModuleReferenceMixin, TightLoopMixin, NeuralNetClassifier):
    """NeuralNetClassifier trained on ``rho * CE + (1 - rho) * T^2 * KL``.

    Parameters
    ----------
    module, **kwargs
        As for :class:`skorch.NeuralNetClassifier`. The module must return
        logits; cross-entropy is computed from them directly.
    rho : float, default=1.0
        Weight of the cross-entropy term; ``1 - rho`` weighs the KD term.
        Batches without ``teacher_log_proba`` train on cross-entropy alone.
    temperature : float, default=1.0
        Softmax temperature T of the KD term.
    kl_reduction : {"batchmean", "mean"}, default="batchmean"
        How the KL divergence is averaged (see :func:`crossmodal.distill.objectives._kl.kd_kl_loss`).
    """

    def __init__(self, module, *args, rho=1.0, temperature=1.0, kl_reduction="batchmean", **kwargs):
        super().__init__(module, *args, **kwargs)
        self.rho = rho
        self.temperature = temperature
        self.kl_reduction = kl_reduction

    # skorch passes a dict batch to the module as keyword arguments; the
    # student only takes the student modality.
    def infer(self, x, **fit_params):
        if isinstance(x, Mapping):
            x = x["X"]
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = torch.as_tensor(y_true, device=y_pred.device)
        teacher_log_proba = sample_weight = None
        if isinstance(X, Mapping):
            teacher_log_proba = X.get("teacher_log_proba")
            sample_weight = X.get("sample_weight")
        if sample_weight is not None:
            sample_weight = torch.as_tensor(sample_weight, device=y_pred.device)
        if teacher_log_proba is not None:
            teacher_log_proba = torch.as_tensor(teacher_log_proba, device=y_pred.device)
        return self.distillation_loss(y_pred, y_true, teacher_log_proba, sample_weight)

    def distillation_loss(self, logits, y_true, teacher_log_proba=None, sample_weight=None):
        """``rho * CE(y, s) + (1 - rho) * T^2 * KL(teacher || student)`` for one batch."""
        if sample_weight is None:
            ce = F.cross_entropy(logits, y_true)
        else:
            ce = (F.cross_entropy(logits, y_true, reduction="none") * sample_weight).mean()
        if teacher_log_proba is None or self.rho == 1.0:
            return ce
        kd = kd_kl_loss(
            logits,
            teacher_log_proba,
            temperature=self.temperature,
            reduction=self.kl_reduction,
            sample_weight=sample_weight,
        )
        if self.rho == 0.0:
            return kd
        return self.rho * ce + (1.0 - self.rho) * kd

    def batch_loss(self, batch, y):
        """Loss of one batch dict in the tight loop (see :class:`TightLoopMixin`)."""
        return self.distillation_loss(
            self.module_(batch["X"]), y, batch.get("teacher_log_proba"), batch.get("sample_weight")
        )
