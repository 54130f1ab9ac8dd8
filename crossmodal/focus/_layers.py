"""Hidden layers of a torch module: find one, cut a chain at it, capture its
output, nullify some of its channels."""

import numpy as np
import torch
from torch import nn

from crossmodal._utils.torch_helpers import eval_mode, module_device_and_dtype

__all__ = [
    "ChannelNullifier",
    "capture_layer",
    "chain_leaves",
    "find_layer",
    "has_forward_hooks",
    "layer_activations",
    "resolve_layer",
    "split_module",
]


def find_layer(module, layer, owner="module"):
    """The name and submodule that ``layer`` names.

    Parameters
    ----------
    module : torch.nn.Module
    layer : int or str
        An index into ``module``'s children (negative counts from the end),
        or a name from ``module.named_modules()``.
    owner : str, default="module"
        How error messages call ``module``.

    Returns
    -------
    name : str
    target : torch.nn.Module
    """
    if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer, str)):
        raise TypeError(f"layer must be None, an int (child index) or a str (module name); got {layer!r}.")
    if isinstance(layer, str):
        named = dict(module.named_modules())
        if layer == "" or layer not in named:
            valid = [name for name in named if name]
            raise ValueError(
                f"layer={layer!r} is not a submodule name of {owner}; valid names (from named_modules()) are {valid}."
            )
        return layer, named[layer]
    children = list(module.named_children())
    if not -len(children) <= layer < len(children):
        raise ValueError(
            f"layer={int(layer)} is out of range: {owner} ({type(module).__name__}) has {len(children)} "
            f"children, so layer must be in {-len(children)}..{len(children) - 1}."
        )
    return children[int(layer)]


def resolve_layer(module, layer):
    """The submodule that ``layer`` names (see :func:`find_layer`)."""
    return find_layer(module, layer)[1]


def has_forward_hooks(module):
    """True where ``module`` itself carries forward or forward-pre hooks (its children are not looked at)."""
    return bool(module._forward_hooks or module._forward_pre_hooks)


def _is_chain(module):
    """True for an ``nn.Sequential`` whose forward is the plain chain and that carries no hook of its own."""
    return (
        isinstance(module, nn.Sequential)
        and type(module).forward is nn.Sequential.forward
        and not has_forward_hooks(module)
    )


def chain_leaves(module):
    """Flatten nested ``nn.Sequential`` chains.

    Returns
    -------
    leaves : list of (name, module)
        The modules run one after the other, in order.
    ends : dict
        For every node name of the chain (containers included), the number of
        leaves run when that node's output is ready.
    """
    leaves, ends = [], {}

    def walk(node, name):
        if _is_chain(node):
            for child_name, child in node.named_children():
                walk(child, f"{name}.{child_name}" if name else child_name)
        else:
            leaves.append((name, node))
        ends[name] = len(leaves)

    walk(module, "")
    return leaves, ends


def split_module(module, layer, owner="module_a"):
    """Where ``layer`` cuts ``module``.

    Returns ``(prefix, suffix, target)``: with ``module`` a chain, ``prefix``
    and ``suffix`` are lists of leaf modules and ``target`` is None; otherwise
    ``prefix`` and ``suffix`` are None and ``target`` is the submodule whose
    output is to be permuted (through hooks). ``layer=None`` gives an empty
    prefix.
    """
    leaves, ends = chain_leaves(module)
    if layer is None:
        return [], [m for _, m in leaves], None
    name, target = find_layer(module, layer, owner)
    if name in ends and _is_chain(module):
        cut = ends[name]
        return [m for _, m in leaves[:cut]], [m for _, m in leaves[cut:]], None
    return None, None, target


def capture_layer(module, target, inputs, to_cpu=False):
    """Output of ``target`` while ``module`` runs on each tensor of ``inputs``, concatenated.

    ``target`` must run exactly once per forward pass and output a tensor of
    shape ``(n_samples, n_channels, ...)``. The caller chooses the mode
    (eval, ``torch.inference_mode``). ``to_cpu=True`` moves each batch's
    output to the CPU as it comes.
    """
    captured = []

    def keep(_module, _inputs, output):
        captured.append(output.detach().cpu() if to_cpu and isinstance(output, torch.Tensor) else output)

    handle = target.register_forward_hook(keep)
    try:
        for batch in inputs:
            before = len(captured)
            module(batch)
            if len(captured) - before != 1:
                raise ValueError(
                    f"layer {type(target).__name__} ran {len(captured) - before} times in one forward pass of "
                    "module_a; permuting its channels needs a layer that runs exactly once."
                )
    finally:
        handle.remove()
    first = captured[0]
    if not isinstance(first, torch.Tensor) or first.ndim < 2:
        seen = f"shape {tuple(first.shape)}" if isinstance(first, torch.Tensor) else type(first).__name__
        raise ValueError(f"layer must output a tensor of shape (n_samples, n_channels, ...); got {seen}.")
    return torch.cat(captured)


def layer_activations(module, layer, X, batch_rows=65536):
    """Outputs of ``layer`` when ``X`` (ndarray) runs through ``module`` in eval mode, as an ndarray."""
    target = resolve_layer(module, layer)
    device, dtype = module_device_and_dtype(module)
    batches = (
        torch.as_tensor(np.ascontiguousarray(X[start : start + batch_rows]), device=device, dtype=dtype)
        for start in range(0, len(X), batch_rows)
    )
    with eval_mode(module), torch.inference_mode():
        return capture_layer(module, target, batches, to_cpu=True).numpy()


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
