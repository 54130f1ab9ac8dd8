"""The jointly trained teacher of the paper's real-data protocol (``teacher="joint"``).

Algorithm 1, step 1 trains ``f_a`` (teacher modality) and ``f_b`` (student
modality) together on ``Dist + CE + CE``. On RAVDESS the paper's authors
distil from *that* ``f_a``: the ranked channels of its penultimate hidden
layer are replaced by their training mean at distillation time, and the
network is not retrained. Here the fitted focus ranker supplies ``f_a``
(``nets_[0]``), and a copy of it, with the removed channels nullified by a
forward hook, becomes the distiller's ``teacher_``.
"""

import copy

import numpy as np
import torch

from crossmodal._utils.proba import logits_to_proba
from crossmodal._utils.torch_helpers import module_device_and_dtype, predict_logits
from crossmodal.focus._layers import ChannelNullifier, resolve_layer

__all__ = ["check_joint_focus", "joint_teacher", "joint_teacher_proba"]


class InputNullifier:
    """Picklable forward pre-hook writing fixed values into some input columns."""

    def __init__(self, channels, values):
        self.nullifier = ChannelNullifier(channels, values)

    def __call__(self, module, inputs):
        return (self.nullifier(module, inputs, inputs[0]),) + tuple(inputs[1:])


def check_joint_focus(focus, teacher_proba):
    """The errors of ``teacher="joint"`` that show before anything is fitted."""
    if focus is None:
        raise ValueError(
            "teacher='joint' distils from the f_a that the focus ranker trains jointly with f_b, so it needs "
            "focus=ModalityGeneralRanker(...); got focus=None."
        )
    if teacher_proba is not None:
        raise ValueError(
            "teacher='joint' computes the teacher's probabilities itself; it cannot be combined with teacher_proba."
        )
    if getattr(focus, "layer", None) is None and getattr(focus, "nullify", None) == "drop":
        raise ValueError(
            "teacher='joint' with an input-level focus (layer=None) queries the jointly trained f_a on the "
            "nullified teacher modality, which must keep its width; got focus.nullify='drop', use 'mean' or 'zero'."
        )


def joint_teacher(focus, support=None):
    """A copy of the fitted ranker's ``f_a`` with its removed channels nullified.

    With ``focus.layer`` set, the removed channels of that layer are replaced
    by ``focus.fill_values_`` (a forward hook, as
    :meth:`ModalityGeneralRanker.nullify_module` registers); with
    ``layer=None``, the removed input columns are (a forward pre-hook), which
    is what ``f_a(focus.transform(X))`` computes. The ranker's own ``f_a`` is
    left untouched.

    Parameters
    ----------
    focus : fitted ModalityGeneralRanker
    support : ndarray of bool or None, default=None
        Channels kept; ``None`` takes ``focus.support_``. Another mask (from
        ``focus.support_for(mode, ratio)``) gives another teacher from the
        same ranking, without refitting.
    """
    nets = getattr(focus, "nets_", None)
    if not nets or not isinstance(nets[0], torch.nn.Module):
        raise TypeError(
            "teacher='joint' needs a focus ranker that exposes its jointly trained networks as nets_ "
            f"(a ModalityGeneralRanker); {type(focus).__name__} has none after fit."
        )
    module = copy.deepcopy(nets[0])
    support = focus.support_ if support is None else np.asarray(support, dtype=bool)
    removed = np.flatnonzero(~support)
    if focus.layer is not None:
        resolve_layer(module, focus.layer).register_forward_hook(ChannelNullifier(removed, focus.fill_values_[removed]))
    else:
        module.register_forward_pre_hook(InputNullifier(removed, focus.fill_values_[removed]))
    return module.eval()


def joint_teacher_proba(module, X_t):
    """Class probabilities (float64) of the nullified teacher on its input ``X_t``."""
    device = module_device_and_dtype(module)[0]
    logits = predict_logits(module, X_t, device)
    return logits_to_proba(logits)
