"""The private skorch classifier that trains a student (or one of the library's teachers).

:class:`CrossModalDistiller` copies the user's student template into a
:class:`DistillationNet`. What the objective needs from the teacher (its
:meth:`~crossmodal.distill.objectives.DistillationObjective.targets`, made
once per fit) travels beside X in a dict batch ``{"X": ..., "sample_weight":
..., <target name>: ...}``, so skorch's own data loading, splitting and
callbacks keep working. When the net has ``callbacks="disable"`` and
``train_split=None`` (and no batching setting that only skorch's loop
implements, see :mod:`crossmodal._utils.tight_loop`) the per-epoch skorch
machinery has nothing to do, and a tight loop with the same steps replaces it.
"""

import warnings
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring
from skorch.utils import to_numpy

from crossmodal._utils.compat import _check_sample_weight
from crossmodal._utils.labels import labelled_cross_entropy
from crossmodal._utils.module_pickling import FittedModuleReferenceMixin
from crossmodal._utils.skorch_helpers import (
    fit_seeded,
    fresh_module,
    module_name,
    replaced_criterion,
    sized_module_params,
)
from crossmodal._utils.tight_loop import TightLoopMixin
from crossmodal._utils.torch_helpers import module_dtype
from crossmodal.distill._features import FeatureTap, feature_layer
from crossmodal.distill.objectives import ObjectiveBatch

__all__ = ["DistillationNet", "as_distillation_net", "fit_net", "student_weights"]

# Entries of a batch dict that are not the objective's targets.
_INPUTS = ("X", "sample_weight", "label_weight")


def labelled_accuracy(net, X, y):
    """Accuracy over the rows that carry a label (code >= 0): skorch's ``valid_acc`` of a distiller's student.

    A row without a label (-1) is not an error; with none labelled the score is NaN.
    """
    y = to_numpy(y)
    keep = y >= 0
    if not keep.any():
        return float("nan")
    return float(np.mean(net.predict(X)[keep] == y[keep]))


class DistillationNet(FittedModuleReferenceMixin, TightLoopMixin, NeuralNetClassifier):
    """NeuralNetClassifier trained on ``rho * CE + (1 - rho) * objective term``.

    Parameters
    ----------
    module, **kwargs
        As for :class:`skorch.NeuralNetClassifier`. The module must return
        logits; cross-entropy is computed from them directly.
    rho : float, default=1.0
        Weight of the cross-entropy term; ``1 - rho`` weighs the objective's term.
    objective : DistillationObjective or None, default=None
        Computes the distillation term of each batch (see
        :mod:`crossmodal.distill.objectives`). Without it, or when a batch
        carries no targets, the net trains on cross-entropy alone.
    objective_context : ModuleContext or None, default=None
        What the objective's :meth:`build_module` is sized by (the
        student's feature width is filled in here).
    label_scale : float or None, default=None
        Set when some training rows carry no label (code -1) and the rows are
        not weighted: ``n / n_labelled``, each labelled row's factor of the
        cross-entropy term (see
        :func:`~crossmodal._utils.labels.labelled_cross_entropy`). Weighted
        rows bring their factors in the batch's ``label_weight`` instead.
    """

    def __init__(self, module, *args, rho=1.0, objective=None, objective_context=None, label_scale=None, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.rho = rho
        self.objective = objective
        self.objective_context = objective_context
        self.label_scale = label_scale

    def initialize_module(self):
        super().initialize_module()
        objective, context = self.objective, self.objective_context
        self.feature_tap_ = None
        if objective is None or context is None:
            return self
        if getattr(objective, "needs_student_features", False):
            self.feature_tap_ = FeatureTap()
            layer = feature_layer(self.module_, getattr(objective, "student_layer", None), "student")
            layer.register_forward_hook(self.feature_tap_)
            with torch.no_grad():
                self.module_(torch.zeros((2, context.n_inputs), dtype=module_dtype(self.module_), device=self.device))
            context = replace(context, student_features=self.feature_tap_.output.shape[1])
        built = objective.build_module(context)
        if built is not None:
            self.objective_module_ = built.to(self.device)
        return self

    @property
    def _default_callbacks(self):
        """skorch's, with ``valid_acc`` counting the labelled validation rows only (:func:`labelled_accuracy`)."""
        scoring = EpochScoring(labelled_accuracy, name="valid_acc", lower_is_better=False)
        return [(name, scoring if name == "valid_acc" else cb) for name, cb in super()._default_callbacks]

    # skorch passes a dict batch to the module as keyword arguments; the
    # student only takes the student modality.
    def infer(self, x, **fit_params):
        if isinstance(x, Mapping):
            x = x["X"]
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        batch = X if isinstance(X, Mapping) else {}
        device = y_pred.device
        tensors = {k: torch.as_tensor(v, device=device) for k, v in batch.items() if k != "X" and v is not None}
        return self.distillation_loss(y_pred, torch.as_tensor(y_true, device=device), tensors)

    def distillation_loss(self, logits, y_true, batch):
        """``rho * CE(y, s) + (1 - rho) * objective term`` for one batch.

        Parameters
        ----------
        logits : torch.Tensor of shape (m, n_classes)
        y_true : torch.Tensor of shape (m,)
        batch : dict of str to torch.Tensor
            ``sample_weight`` and ``label_weight`` (optional) and the
            objective's targets for these rows (an ``"X"`` entry is ignored).
        """
        sample_weight = batch.get("sample_weight")
        label_weight = batch.get("label_weight")
        if label_weight is None and self.label_scale is not None:
            # Every labelled row's factor is the same: one fused sum that skips the -1 rows, its factor applied
            # with rho's below (no more operations per step than a fully labelled batch).
            ce = F.cross_entropy(logits, y_true, ignore_index=-1, reduction="sum")
            ce_factor = self.label_scale / len(y_true)
        else:
            ce, ce_factor = labelled_cross_entropy(logits, y_true, label_weight, sample_weight), None
        targets = {k: v for k, v in batch.items() if k not in _INPUTS}
        if self.objective is None or not targets or self.rho == 1.0:
            return ce if ce_factor is None else ce * ce_factor
        tap = getattr(self, "feature_tap_", None)
        term = self.objective.loss(
            ObjectiveBatch(
                student_logits=logits,
                targets=targets,
                y=y_true,
                sample_weight=sample_weight,
                student_features=None if tap is None else tap.output,
                module=getattr(self, "objective_module_", None),
                label_weight=label_weight,
                label_scale=self.label_scale,
            )
        )
        if self.rho == 0.0:
            return term
        if ce_factor is not None:
            return torch.add((1.0 - self.rho) * term, ce, alpha=self.rho * ce_factor)
        return self.rho * ce + (1.0 - self.rho) * term

    def batch_loss(self, batch, y):
        """Loss of one batch dict in the tight loop (see :class:`~crossmodal._utils.tight_loop.TightLoopMixin`)."""
        return self.distillation_loss(self.module_(batch["X"]), y, batch)


def as_distillation_net(template, n_features, n_classes, device, **loss_params):
    """Copy a skorch NeuralNetClassifier template into a DistillationNet sized for the data.

    Parameters
    ----------
    template : skorch.NeuralNetClassifier
        The user's template (its criterion is replaced by cross-entropy, with a warning).
    n_features, n_classes : int
        Fill in the module's ``in_features`` and ``n_classes`` when it takes them.
    device : torch.device or None
        Overrides the template's device when given.
    **loss_params
        ``rho``, ``objective``, ``objective_context`` and ``label_scale`` of the :class:`DistillationNet`.
    """
    if type(template) not in (NeuralNetClassifier, DistillationNet):
        raise TypeError(
            "student (and a skorch teacher) must be a skorch.NeuralNetClassifier template; got "
            f"{type(template).__name__}. Subclasses are not supported because the distiller "
            "rebuilds the net with its own loss."
        )
    module = module_name(template)
    replaced = replaced_criterion(template)
    if replaced:
        warnings.warn(
            f"The skorch template of {module} sets {', '.join(replaced)}; the distiller trains it on "
            "cross-entropy from the module's logits (plus the distillation term for the student) and ignores "
            "that setting. Leave criterion unset or use torch.nn.CrossEntropyLoss without arguments.",
            UserWarning,
            stacklevel=4,
        )
    params = template.get_params(deep=False)
    params.pop("_metadata_request", None)
    params["module"] = fresh_module(params["module"])
    for key in ("rho", "objective", "objective_context", "label_scale"):
        params.pop(key, None)
    params.update(sized_module_params(template, n_features, n_classes))
    params["criterion"] = torch.nn.CrossEntropyLoss
    own = params.get("device")
    if device is not None and own not in (None, "cpu") and str(own) != str(device):
        warnings.warn(
            f"The skorch template of {module} sets device={own!r}; the distiller trains it on its own device "
            f"({str(device)!r}, from its device parameter) and ignores that setting. Set the distiller's device "
            "instead.",
            UserWarning,
            stacklevel=4,
        )
    if device is not None:
        params["device"] = str(device)
    return DistillationNet(**params, **loss_params)


def fit_net(net, X, y, seed, extra=None):
    """Train a DistillationNet on ``{"X": X, **extra}`` (None entries left out) under ``seed``."""
    batch = {"X": X, **{k: v for k, v in (extra or {}).items() if v is not None}}
    return fit_seeded(net, batch, y, seed)


def student_weights(sample_weight, X):
    """The validated ``sample_weight`` (for a scikit-learn teacher) and the same rescaled to mean 1 (float32)."""
    if sample_weight is None:
        return None, None
    w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    total = w.sum()
    if not total > 0:
        raise ValueError(f"sample_weight must have a positive sum; got sum {total}.")
    return w, (w * (len(w) / total)).astype(np.float32)
