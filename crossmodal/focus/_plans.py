"""The execution plan of :func:`crossmodal.permutation_salience`: compiled rank-1 or generic torch.

A *plan* holds everything one path needs to score permuted copies of the
channel matrix ``Z`` (the input of ``module_a``, or the output of its hidden
layer ``layer``) against the partner's logits, and evaluates a contiguous
range of channels given their permutation indices:
:class:`crossmodal.focus._rank_one_plan.RankOnePlan` (compiled, CPU) or
:class:`crossmodal.focus._torch_plan.TorchPlan` (any module). Both return, per pair
``(channel, repeat)``, the distance summed over rows (and classes); the
caller divides by the number of terms.
"""

import numpy as np
import torch
from torch import nn

from crossmodal._utils.torch_helpers import activation_bytes, forward_in_chunks, numpy_dtype
from crossmodal.focus._layers import capture_layer
from crossmodal.focus._rank_one_plan import build_rank_one_plan
from crossmodal.focus._torch_plan import TorchPlan

__all__ = ["CPU_MAX_FORWARD_ROWS", "build_plan", "fast_block_rows", "to_tensor"]

#: Bytes of one activation block of the compiled "mlp"/"head" pipelines when
#: batch_size is None: rows = FAST_BLOCK_BYTES / (widest layer * itemsize),
#: clipped to [FAST_MIN_ROWS, FAST_MAX_ROWS] (512 rows for 256-wide float32
#: layers). Blocks that stay in cache between the rank-1 kernel, the matrix
#: product and the tail beat larger ones when the cores are busy, and are as
#: fast on idle cores (``benchmarks/bench_salience.py --modes``; figures in
#: ``benchmarks/RESULTS.md``).
FAST_BLOCK_BYTES = 2**19
FAST_MIN_ROWS = 128
FAST_MAX_ROWS = 4096
#: Upper bound on rows per forward pass of the generic path on the CPU; on a
#: GPU only the working-memory bound applies.
CPU_MAX_FORWARD_ROWS = 16384


def build_plan(module_a, X_a, prefix, suffix, target, device, dtype, ref, aux, distance, batch_size, wm_bytes):
    """The execution plan; forward passes and blocks of rows use half of ``wm_bytes``.

    ``prefix``, ``suffix`` and ``target`` are where ``layer`` cuts
    ``module_a`` (:func:`crossmodal.focus._layers.split_module`); ``ref`` and
    ``aux`` are ``distance``'s reference rows and per-row constants. The
    compiled plan is tried first, for a distance with a compiled kernel.
    """
    half = wm_bytes // 2
    if target is None:
        if prefix:
            Z = forward_in_chunks(nn.Sequential(*prefix), X_a, device, dtype, half, CPU_MAX_FORWARD_ROWS)
            Z_np = Z.numpy() if device.type == "cpu" and Z.ndim == 2 else None
        else:
            Z, Z_np = None, X_a if X_a.ndim == 2 else None
        compiled = distance.kernel_code is not None and dtype in (torch.float32, torch.float64)
        if compiled and device.type == "cpu" and Z_np is not None:
            itemsize = torch.empty((), dtype=dtype).element_size()
            rows = batch_size or fast_block_rows(suffix, itemsize)
            chunk_rows = max(1, half // max(1, Z_np.shape[1] * (itemsize + Z_np.itemsize)))
            plan = build_rank_one_plan(
                suffix,
                Z_np,
                numpy_dtype(dtype),
                ref.cpu().numpy(),
                aux.cpu().numpy(),
                distance.kernel_code,
                rows,
                chunk_rows,
            )
            if plan is not None:
                return plan
        if Z is None:
            Z = to_tensor(X_a, device, dtype)
        forward = suffix[0] if len(suffix) == 1 else nn.Sequential(*suffix)
        plan = TorchPlan(Z=Z, forward=forward, ref=ref, aux=aux, distance=distance, rows=1)
    else:
        X_t = to_tensor(X_a, device, dtype)
        Z = capture_layer(
            module_a,
            target,
            (X_t[start : start + CPU_MAX_FORWARD_ROWS] for start in range(0, len(X_t), CPU_MAX_FORWARD_ROWS)),
        )
        plan = TorchPlan(
            Z=Z, forward=None, ref=ref, aux=aux, distance=distance, rows=1, module=module_a, target=target, X=X_t
        )
    plan.rows = batch_size or _rows_for_memory(plan, half)
    return plan


def fast_block_rows(suffix, itemsize):
    """Default rows per block of the compiled pipelines (see FAST_BLOCK_BYTES).

    Independent of the working-memory bound (a block's buffers take about
    ``2 * FAST_BLOCK_BYTES`` per thread), so that the result is too: the
    hidden layers' matrix products may round differently for other block sizes.
    """
    width = max([m.out_features for m in suffix if isinstance(m, nn.Linear)] or [1])
    return int(min(FAST_MAX_ROWS, max(FAST_MIN_ROWS, FAST_BLOCK_BYTES // (width * itemsize))))


def _rows_for_memory(plan, wm_bytes):
    """Rows per forward that keep the activations of one pass within ``wm_bytes``."""
    k = min(len(plan.Z), 4)
    watched = plan.module if plan.target is not None else plan.forward
    activations, _ = activation_bytes(
        watched, lambda: plan.run(plan.Z[:k].clone(), torch.arange(k, device=plan.Z.device))
    )
    per_row = (activations + 2 * plan.Z[:k].numel() * plan.Z.element_size()) / k + 64
    rows = max(1, int(wm_bytes // per_row))
    if plan.Z.device.type == "cpu":
        rows = min(rows, CPU_MAX_FORWARD_ROWS)
    return rows


def to_tensor(X, device, dtype):
    """``X`` (ndarray) as a tensor of ``dtype`` on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(X)).to(device=device, dtype=dtype)
