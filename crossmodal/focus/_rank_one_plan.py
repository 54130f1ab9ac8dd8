"""The compiled rank-1 plan of :func:`crossmodal.permutation_salience` (CPU, float32/float64).

Applies when the part of ``module_a`` after the permuted channels ``Z``
starts with ``nn.Linear``. Its output ``H = Z W^T + b`` is computed once and
each permutation is a rank-1 update of ``H`` done by the numba kernels in
:mod:`crossmodal._kernels._salience`. Four shapes of network are recognised
after that first layer (identity layers such as eval-mode ``Dropout`` are
skipped):

- ``"linear"``: nothing (logits = H): the distance costs O(n K) per pair,
  O(n) for "mse" (expanded around the unpermuted residual);
- ``"one_hidden"``: ``ReLU, Linear``: ReLU, output layer and distance fused;
- ``"mlp"``: ``ReLU, (Linear, ReLU)+, Linear``: the dense hidden products go
  through ``torch.mm(..., out=)`` into preallocated buffers, the last
  bias + ReLU + output layer + distance through one fused kernel;
- ``"head"``: anything else; after the rank-1 update (and a leading ReLU),
  the remaining modules run in torch.

Like :class:`crossmodal.focus._torch_plan.TorchPlan`, the plan returns, per pair
``(channel, repeat)``, the distance summed over rows (and classes).
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from crossmodal._kernels import _salience as kernels
from crossmodal._utils.torch_helpers import torch_dtype
from crossmodal.focus._layers import has_forward_hooks
from crossmodal.focus._torch_plan import check_logits_shape

__all__ = ["PARALLEL_MIN_WORK", "RankOnePlan", "build_rank_one_plan"]

_IDENTITY_IN_EVAL = (nn.Identity, nn.Dropout, nn.AlphaDropout)

#: Below this many multiply-adds per kernel call, numba's thread pool costs
#: more than it saves: the serial kernel is used even when threads are allowed.
PARALLEL_MIN_WORK = 2**18


@dataclass
class RankOnePlan:
    """State of the compiled path; see the module docstring for ``kind``."""

    kind: str
    Z: np.ndarray  # (n_samples, n_channels), float32/float64, any layout: never copied as a whole
    H: np.ndarray  # (n_samples, width): first Linear's output on Z, bias included
    Wt: np.ndarray  # (n_channels, width): first Linear's weight, transposed
    ref: np.ndarray  # (n_samples, n_classes) float64: logits of b, or softmax for "kl"
    aux: np.ndarray  # (n_samples,) float64: sum q log q for "kl", else zeros
    code: int
    rows: int  # rows per block for the "mlp"/"head" pipelines
    first_relu: bool = False
    hidden: tuple = ()  # "mlp": ((W^T tensor, bias ndarray), ...) of the hidden Linears after the first
    W_out: np.ndarray = None  # (n_classes, width) of the output Linear ("one_hidden", "mlp")
    b_out: np.ndarray = None
    rest: nn.Module = None  # "head": modules after the first Linear (and its ReLU)
    linear_mse: tuple = None  # "linear" with "mse": ((E = H - ref, W), w_sq, base_total), see channel_arrays

    def threads_over_channels(self, n_pairs):
        """Whether one job runs channel ranges on threads rather than ``prange`` kernels.

        True for the block pipelines (their kernels alternate with torch
        calls) when ``n_pairs`` pairs are work enough for threads to pay off.
        """
        return self.kind in ("mlp", "head") and self.work(n_pairs) >= PARALLEL_MIN_WORK

    def work(self, n_pairs):
        """Multiply-adds for ``n_pairs`` pairs (to decide whether threads pay off)."""
        n_samples, width = self.H.shape
        if self.kind == "linear":
            return n_pairs * n_samples * (1 if self.linear_mse else width)
        widths = [width] + [W.shape[1] for W, _ in self.hidden]
        return n_pairs * n_samples * (sum(a * b for a, b in zip(widths, widths[1:])) + widths[-1] * self.ref.shape[1])

    def bytes_per_channel(self, n_samples, n_repeats):
        """Bytes that evaluating one channel holds: its permutations and column."""
        per_sample = 8 * n_repeats + self.H.itemsize + (8 if self.linear_mse is not None else 0)
        return n_samples * per_sample

    def channel_arrays(self, start, stop):
        """``Zt``, ``Wt`` (and ``Gt`` for "linear" + "mse") of channels ``start .. stop - 1``.

        ``Zt[j]`` is channel ``start + j`` of ``Z`` as a contiguous row in the
        plan's dtype, copied block of rows by block of rows (cache-friendly
        for a C-ordered ``Z``); only these channels are ever copied.
        """
        n_samples = self.Z.shape[0]
        Zt = np.empty((stop - start, n_samples), dtype=self.H.dtype)
        rows = max(256, (1 << 20) // max(1, (stop - start) * self.Z.itemsize))
        for r0 in range(0, n_samples, rows):
            Zt[:, r0 : r0 + rows] = self.Z[r0 : r0 + rows, start:stop].T
        Gt = None
        if self.linear_mse is not None:
            residual, W64 = self.linear_mse[0]
            Gt = np.empty((stop - start, n_samples))
            for j in range(stop - start):  # one product per channel: the same bits in any chunk
                np.dot(residual, W64[:, start + j], out=Gt[j])
        return Zt, self.Wt[start:stop], Gt

    def evaluate(self, channels, perms, parallel):
        """Distances summed over rows, shape ``(len(channels), n_repeats)``.

        ``channels`` is a contiguous range ``start .. stop - 1``.
        """
        n_chunk, n_repeats, _ = perms.shape
        out = np.empty((n_chunk, n_repeats))
        start = int(channels[0])
        Zt, Wt, Gt = self.channel_arrays(start, start + n_chunk)
        local = np.arange(n_chunk, dtype=np.intp)
        parallel = parallel and self.work(n_chunk * n_repeats) >= PARALLEL_MIN_WORK
        if self.kind == "linear" and self.linear_mse is not None:
            _, w_sq, base_total = self.linear_mse
            kernel = kernels.rank1_linear_mse_chunk_parallel if parallel else kernels.rank1_linear_mse_chunk_serial
            kernel(Gt, w_sq[start : start + n_chunk], base_total, Zt, perms, local, out)
        elif self.kind == "linear":
            kernel = kernels.rank1_linear_chunk_parallel if parallel else kernels.rank1_linear_chunk_serial
            row_block = max(64, (1 << 18) // max(1, self.H.shape[1] * self.H.itemsize))
            kernel(self.H, Zt, perms, local, Wt, self.ref, self.aux, self.code, row_block, out)
        elif self.kind == "one_hidden":
            kernel = kernels.rank1_hidden_chunk_parallel if parallel else kernels.rank1_hidden_chunk_serial
            row_block = max(16, (1 << 18) // (self.H.shape[1] * self.H.itemsize))
            kernel(self.H, Zt, perms, local, Wt, self.W_out, self.b_out, self.ref, self.aux, self.code, row_block, out)
        else:
            self._evaluate_blocks(Zt, Wt, local, perms, parallel, out)
        return out

    def _evaluate_blocks(self, Zt, Wt, channels, perms, parallel, out):
        n_chunk, n_repeats, n_samples = perms.shape
        suffix = "_parallel" if parallel else "_serial"
        rank1 = getattr(kernels, "rank1_rows" + suffix)
        bias_relu = getattr(kernels, "bias_relu_rows" + suffix)
        tail = getattr(kernels, "relu_linear_distance_rows" + suffix)
        distance = getattr(kernels, "logits_distance_rows" + suffix)
        rows = self.rows
        dtype = self.H.dtype
        widths = [self.H.shape[1]] + [W.shape[1] for W, _ in self.hidden]
        flats = [np.empty(rows * max(widths), dtype=dtype) for _ in range(2)]
        layer_views = {}  # n_rows -> per layer: input activations (array, tensor); layer l lives in flats[l % 2]

        def views(n_rows):
            if n_rows not in layer_views:
                arrays = [flats[i % 2][: n_rows * w].reshape(n_rows, w) for i, w in enumerate(widths)]
                layer_views[n_rows] = (arrays, [torch.from_numpy(a) for a in arrays])
            return layer_views[n_rows]

        first_out = views(rows)[0][0]
        row_src = np.empty(rows, dtype=np.intp)
        row_seg = np.empty(rows, dtype=np.intp)
        row_dist = np.empty(rows)
        seg_sums_buffer = np.empty(rows)
        n_classes = self.ref.shape[1]
        logits = np.empty((rows, n_classes), dtype=dtype)
        totals = np.zeros(n_chunk * n_repeats)
        last = len(self.hidden) - 1
        for seg_pair, seg_start, seg_stop in _segment_blocks(n_chunk, n_repeats, n_samples, rows):
            n_rows = rank1(
                self.H,
                Zt,
                perms,
                channels,
                Wt,
                seg_pair,
                seg_start,
                seg_stop,
                self.first_relu,
                first_out,
                row_src,
                row_seg,
            )
            arrays, tensors = views(n_rows)
            seg_sums = seg_sums_buffer[: len(seg_pair)]
            if self.kind == "mlp":
                for index, (W_t, bias) in enumerate(self.hidden):
                    torch.mm(tensors[index], W_t, out=tensors[index + 1])
                    if index < last:
                        bias_relu(arrays[index + 1], bias, n_rows)
                tail(
                    arrays[-1],
                    self.hidden[-1][1],
                    self.W_out,
                    self.b_out,
                    self.ref,
                    self.aux,
                    self.code,
                    row_src,
                    row_seg,
                    n_rows,
                    logits,
                    row_dist,
                    seg_sums,
                )
            else:
                result = self.rest(tensors[0])
                check_logits_shape(result, (n_rows, n_classes))
                result = np.ascontiguousarray(result.detach().cpu().numpy(), dtype=dtype)
                distance(result, self.ref, self.aux, self.code, row_src, row_seg, n_rows, row_dist, seg_sums)
            totals[seg_pair] += seg_sums  # a pair appears at most once per block
        out[...] = totals.reshape(n_chunk, n_repeats)


def _segment_blocks(n_chunk, n_repeats, n_samples, rows):
    """Cut the rows of every pair into blocks of at most ``rows`` rows.

    With ``n_samples <= rows`` whole pairs of one channel are packed up to
    ``rows // n_samples`` to a block, never pairs of two channels; otherwise
    each pair is cut at multiples of ``rows`` and the blocks go row-block by
    row-block (all pairs of the first row block, then the second...), so that
    a block of the cached layer is reused while it is warm. Either way a
    block holds the same rows in the same places whichever channels share the
    chunk: matrix products (and the four-row tail kernel) round a row
    according to its place in the block, so this keeps the result
    independent of the channel chunks, hence of ``n_jobs``.
    """
    if n_samples <= rows:
        per_block = min(n_repeats, rows // n_samples)
        for c in range(n_chunk):
            for m0 in range(0, n_repeats, per_block):
                first = c * n_repeats + m0
                pairs = np.arange(first, first + min(per_block, n_repeats - m0), dtype=np.intp)
                yield pairs, np.zeros(len(pairs), dtype=np.intp), np.full(len(pairs), n_samples, dtype=np.intp)
    else:
        pair, start, stop = (np.zeros(1, dtype=np.intp) for _ in range(3))  # reused: consumed before the next yield
        for r0 in range(0, n_samples, rows):
            start[0], stop[0] = r0, min(n_samples, r0 + rows)
            for p in range(n_chunk * n_repeats):
                pair[0] = p
                yield pair, start, stop


def _linear_arrays(linear, dtype):
    weight = linear.weight.detach().cpu().numpy().astype(dtype, copy=False)
    if linear.bias is None:
        bias = np.zeros(weight.shape[0], dtype=dtype)
    else:
        bias = linear.bias.detach().cpu().numpy().astype(dtype, copy=False)
    return weight, bias


def _first_layer_output(Z, W, b, rows_per_chunk):
    """``Z W^T + b`` in Z's row chunks converted to ``W``'s dtype (``Z`` is not copied whole)."""
    W_t = torch.from_numpy(np.ascontiguousarray(W)).T
    H = np.empty((Z.shape[0], W.shape[0]), dtype=W.dtype)
    for r0 in range(0, Z.shape[0], rows_per_chunk):
        block = torch.from_numpy(np.ascontiguousarray(Z[r0 : r0 + rows_per_chunk], dtype=W.dtype))
        torch.mm(block, W_t, out=torch.from_numpy(H[r0 : r0 + rows_per_chunk]))
    H += b
    return H


def _plain(module, kinds):
    """True where ``module`` is one of ``kinds`` with that class's own forward and no hook: the compiled
    path may stand in for it (anything else runs as itself, through torch)."""
    kind = next((k for k in kinds if isinstance(module, k)), None)
    return kind is not None and type(module).forward is kind.forward and not has_forward_hooks(module)


def build_rank_one_plan(suffix, Z, dtype, ref, aux, code, rows, rows_per_chunk=65536):
    """A :class:`RankOnePlan` for the modules ``suffix`` fed by ``Z``, or None.

    ``Z`` (float32 or float64, any memory layout) is kept by reference;
    blocks of it are converted to ``dtype`` (the modules') where they are
    used. Returns None when the compiled path does not apply: ``Z`` is not a
    2-D float32/float64 array, ``dtype`` is neither, or the first
    non-identity module of ``suffix`` is not an ``nn.Linear`` on the CPU
    with that dtype. A module with a hook or its own ``forward`` (a
    subclass's) is never compiled: it runs as itself.
    """
    mods = [m for m in suffix if not _plain(m, _IDENTITY_IN_EVAL)]
    dtype = np.dtype(dtype)
    if (
        Z.ndim != 2
        or Z.dtype not in (np.float32, np.float64)
        or dtype not in (np.float32, np.float64)
        or not mods
        or not _plain(mods[0], (nn.Linear,))
    ):
        return None
    plan_dtype = torch_dtype(dtype)
    linears = [m for m in mods if isinstance(m, nn.Linear)]
    for lin in linears:
        if lin.weight.device.type != "cpu" or lin.weight.dtype != plan_dtype:
            return None
    W, b = _linear_arrays(mods[0], dtype)
    H = _first_layer_output(Z, W, b, rows_per_chunk)
    plan = RankOnePlan(kind="head", Z=Z, H=H, Wt=np.ascontiguousarray(W.T), ref=ref, aux=aux, code=code, rows=rows)
    rest = mods[1:]
    pattern = ["R" if _plain(m, (nn.ReLU,)) else "L" if _plain(m, (nn.Linear,)) else "?" for m in rest]
    if not rest:
        plan.kind = "linear"
        if code == kernels.MSE_CODE:
            # E = H - ref (n_samples x n_classes) is kept as E^T W per channel
            # range (channel_arrays), never as a full (n_channels, n_samples) matrix.
            residual = plan.H.astype(np.float64) - ref
            W64 = W.astype(np.float64)
            plan.linear_mse = ((residual, W64), np.square(W64).sum(axis=0), float(np.square(residual).sum()))
    elif pattern == ["R", "L"]:
        plan.kind = "one_hidden"
        plan.W_out, plan.b_out = (np.ascontiguousarray(a) for a in _linear_arrays(rest[1], dtype))
    elif len(pattern) >= 4 and pattern == ["R", "L"] * (len(pattern) // 2):
        plan.kind = "mlp"
        plan.first_relu = True
        hidden = []
        for lin in rest[1:-1:2]:
            weight, bias = _linear_arrays(lin, dtype)
            hidden.append((torch.from_numpy(np.ascontiguousarray(weight.T)), np.ascontiguousarray(bias)))
        plan.hidden = tuple(hidden)
        plan.W_out, plan.b_out = (np.ascontiguousarray(a) for a in _linear_arrays(rest[-1], dtype))
    else:
        if pattern[0] == "R":
            plan.first_relu = True
            rest = rest[1:]
        plan.rest = nn.Sequential(*rest)
    return plan
