"""Hidden-layer helpers: find a layer, read its activations, nullify channels."""

import numpy as np
import torch

__all__ = ["resolve_layer", "layer_activations", "ChannelNullifier"]


def resolve_layer(module, layer):
    """Return the submodule named by ``layer``.

    Parameters
    ----------
    module : torch.nn.Module
    layer : int or str
        An index into ``module``'s children (negative counts from the end),
        or a name from ``module.named_modules()``.
    """
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        children = list(module.children())
        if not -len(children) <= layer < len(children):
            raise ValueError(
                f"layer={layer} is out of range: {type(module).__name__} has {len(children)} children "
                f"(valid indices {-len(children)}..{len(children) - 1})."
            )
        return children[layer]
    named = dict(module.named_modules())
    if isinstance(layer, str) and layer in named and layer != "":
        return named[layer]
    valid = [name for name in named if name]
    raise ValueError(f"layer must be a child index or one of the module names {valid}; got {layer!r}.")


def layer_activations(module, layer, X, batch_rows=65536):
    """Outputs of ``layer`` when ``X`` (ndarray) runs through ``module`` in eval mode."""
    target = resolve_layer(module, layer)
    captured = []

    def keep(_module, _inputs, output):
        captured.append(output.detach().cpu())

    was_training = module.training
    module.eval()
    handle = target.register_forward_hook(keep)
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    try:
        with torch.inference_mode():
            for start in range(0, len(X), batch_rows):
                module(torch.as_tensor(np.ascontiguousarray(X[start:start + batch_rows]), device=device))
    finally:
        handle.remove()
        module.train(was_training)
    return torch.cat(captured).numpy()


class ChannelNullifier:
    """Picklable forward hook writing fixed values into some output channels (dim 1)."""

    def __init__(self, channels, values):
        self.channels = np.asarray(channels, dtype=np.int64)
        self.values = np.asarray(values, dtype=np.float64)

    def __call__(self, _module, _inputs, output):
        if self.channels.size == 0:
            return output
        out = output.clone()
        idx = torch.as_tensor(self.channels, device=out.device)
        vals = torch.as_tensor(self.values, dtype=out.dtype, device=out.device)
        shape = (1, -1) + (1,) * (out.dim() - 2)
        out[:, idx] = vals.view(shape).expand_as(out[:, idx])
        return out
