"""Private skorch net that trains the pair of Algorithm 1, step 1 (paper eq. 28).

``module_`` sees modality *a*, ``module_b_`` sees modality *b*; both are
registered skorch modules, so the default optimizer updates both and
``_set_training`` switches both. The loss is
``Dist(f_a(X_a), f_b(X_b)) + CE(y, f_a(X_a)) + CE(y, f_b(X_b))``.
With ``freeze_a=True`` a prefit ``module_a`` stays fixed (eval mode, no
gradients, not in the optimizer) and only ``f_b`` learns to agree with it.
"""

from collections.abc import Mapping

import torch
from skorch import NeuralNet

from crossmodal._utils.labels import labelled_cross_entropy
from crossmodal._utils.module_pickling import FittedModuleReferenceMixin
from crossmodal._utils.tight_loop import TightLoopMixin
from crossmodal.focus._distances import document_distances, get_distance

__all__ = ["JointPairNet"]


@document_distances
class JointPairNet(FittedModuleReferenceMixin, TightLoopMixin, NeuralNet):
    """Two modules trained jointly on Dist + CE + CE.

    Parameters
    ----------
    module : torch module class or instance
        ``f_a``, for modality *a* (``module__*`` parameters apply).
    module_b : torch module class or instance
        ``f_b``, for modality *b* (``module_b__*`` parameters apply).
    distance : {distance_names}, default="mse"
        The alignment term of eq. (28), a name from the registry of distances
        (:mod:`crossmodal.focus._distances`).
    freeze_a : bool, default=False
        Keep a prefit ``module`` fixed and train only ``module_b``.
    **kwargs
        As for :class:`skorch.NeuralNet` (criterion is unused: the loss is built here).
    """

    def __init__(
        self, module, module_b, *args, distance="mse", freeze_a=False, criterion=torch.nn.CrossEntropyLoss, **kwargs
    ):
        # Before skorch's __init__: a module instance given here is a parameter (as ``module`` is), which skorch
        # refuses to set on an initialised net.
        self.module_b = module_b
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.distance = distance
        self.freeze_a = freeze_a

    def initialize_module(self):
        super().initialize_module()
        params = self.get_params_for("module_b")
        self.module_b_ = self.initialized_instance(self.module_b, params).to(self.device)
        return self

    def get_all_learnable_params(self):
        keep = None
        if self.freeze_a:
            keep = {id(p) for p in self.module_b_.parameters()}
        for name, param in super().get_all_learnable_params():
            if keep is None or id(param) in keep:
                yield name, param

    def _set_training(self, training=True):
        super()._set_training(training)
        if self.freeze_a:
            self.module_.eval()

    def infer(self, x, **fit_params):
        if not isinstance(x, Mapping):
            raise TypeError("JointPairNet expects a dict batch {'X': X_a, 'X_b': X_b}.")
        x_a = torch.as_tensor(x["X"], device=self.device)
        x_b = torch.as_tensor(x["X_b"], device=self.device)
        return self.module_(x_a), self.module_b_(x_b)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        logits_a, logits_b = y_pred
        y_true = torch.as_tensor(y_true, device=logits_a.device)
        label_weight = X.get("label_weight") if isinstance(X, Mapping) else None
        if label_weight is not None:
            label_weight = torch.as_tensor(label_weight, device=logits_a.device)
        return self.pair_loss(logits_a, logits_b, y_true, label_weight)

    def pair_loss(self, logits_a, logits_b, y_true, label_weight=None):
        """``Dist(f_a, f_b) + CE(y, f_a) + CE(y, f_b)`` (CE of ``f_a`` dropped when frozen).

        The alignment term needs no label and covers every row; with
        ``label_weight`` (some rows have none, code -1) each cross-entropy
        term covers the labelled rows as the distiller's does
        (:func:`~crossmodal._utils.labels.labelled_cross_entropy`).
        """
        ce_b = labelled_cross_entropy(logits_b, y_true, label_weight)
        loss = get_distance(self.distance).training_loss(logits_a, logits_b) + ce_b
        if not self.freeze_a:
            loss = loss + labelled_cross_entropy(logits_a, y_true, label_weight)
        return loss

    def batch_loss(self, batch, y):
        """Loss of one batch dict in the tight loop."""
        if self.freeze_a:
            with torch.no_grad():
                logits_a = self.module_(batch["X"])
        else:
            logits_a = self.module_(batch["X"])
        return self.pair_loss(logits_a, self.module_b_(batch["X_b"]), y, batch.get("label_weight"))
