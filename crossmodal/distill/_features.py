"""Hidden features of the student and the teacher, for the objectives that distil them."""

import numpy as np
import torch

from crossmodal.focus._layers import layer_activations, resolve_layer

__all__ = ["FeatureTap", "feature_layer", "teacher_features"]


def feature_layer(module, layer, owner):
    """The submodule whose output an objective distils: ``layer`` (index or name), or the penultimate child.

    None picks the penultimate child of an ``nn.Sequential`` (the last hidden
    activation of the library's MLP); another module, or a chain with a
    single child (a linear model), needs ``layer`` named.
    """
    if layer is not None:
        return resolve_layer(module, layer)
    children = list(module.children())
    if not isinstance(module, torch.nn.Sequential) or len(children) < 2:
        raise ValueError(
            f"the {owner} module ({type(module).__name__}) has no penultimate child to take features from "
            f"(it needs a hidden layer); name one with the objective's {owner}_layer (an index or a name)."
        )
    return children[-2]


def teacher_features(module, layer, X):
    """The flattened output of the teacher's feature layer on ``X`` (float32 ndarray, eval mode)."""
    target = feature_layer(module, layer, "teacher")
    name = next(name for name, sub in module.named_modules() if sub is target)
    acts = layer_activations(module, name, np.ascontiguousarray(X, dtype=np.float32))
    return np.ascontiguousarray(acts.reshape(len(X), -1), dtype=np.float32)


class FeatureTap:
    """A forward hook that keeps the last output of a layer, flattened to (rows, features).

    Picklable (no closure), so a fitted net that holds it pickles.
    """

    def __init__(self):
        self.output = None

    def __call__(self, _module, _inputs, output):
        self.output = output.flatten(1)

    def __getstate__(self):
        return {"output": None}
