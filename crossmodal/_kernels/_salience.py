"""Numba kernels for permutation salience (Algorithm 1, step 2, of Xue et al., 2023).

Permuting channel ``i`` of the input ``Z`` of a linear layer ``H = Z W^T + b``
changes its output by a rank-1 term: row ``r`` of ``H`` gains
``delta_r * W[:, i]`` with ``delta_r = Z[perm[r], i] - Z[r, i]``. The kernels
apply that update to a cached ``H`` instead of redoing the matrix product, and
fuse it with the ReLU, the output layer and the distance to the partner
modality's logits.

Conventions shared by all kernels:

* ``Zt`` is the channel matrix transposed, shape ``(n_channels, n_samples)``;
  ``Wt`` is the first layer's weight transposed, ``(n_channels, width)``, so
  that ``Wt[i]`` is the column of ``W`` that channel ``i`` feeds.
* ``perms`` has shape ``(n_chunk_channels, n_repeats, n_samples)``; pair
  ``p`` is ``(p // n_repeats, p % n_repeats)`` and row ``r`` of the permuted
  channel takes the value of row ``perms[c, m, r]``.
* A distance is summed per row in float64 (``row_distance``); callers divide
  by ``n_samples * n_classes`` (``MSE_CODE``, ``MAE_CODE``) or ``n_samples`` (``KL_CODE``).
* Each pair's sum is accumulated by one thread in a fixed order, so the
  serial and the ``prange`` compilations return identical numbers.

Every kernel is compiled twice from one body: ``*_serial`` (``nogil``, for
joblib workers) and ``*_parallel`` (``prange`` over independent work items).
Randomness stays in Python: :func:`permutations_from_words` turns random
words drawn by NumPy into permutation indices, deterministically.

Only numpy, numba and math are imported here.
"""

import math

import numpy as np
from numba import jit, prange

from crossmodal._kernels._config import JIT_PARALLEL, JIT_SERIAL

__all__ = [
    "KL_CODE",
    "MAE_CODE",
    "MSE_CODE",
    "row_distance",
    "permutations_from_words_serial",
    "permutations_from_words_parallel",
    "rank1_linear_chunk_serial",
    "rank1_linear_chunk_parallel",
    "rank1_linear_mse_chunk_serial",
    "rank1_linear_mse_chunk_parallel",
    "rank1_hidden_chunk_serial",
    "rank1_hidden_chunk_parallel",
    "rank1_rows_serial",
    "rank1_rows_parallel",
    "bias_relu_rows_serial",
    "bias_relu_rows_parallel",
    "relu_linear_distance_rows_serial",
    "relu_linear_distance_rows_parallel",
    "logits_distance_rows_serial",
    "logits_distance_rows_parallel",
]

#: Codes of the distances that :func:`row_distance` computes.
MSE_CODE = 0
MAE_CODE = 1
KL_CODE = 2

_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


def _twin(body):
    """Compile ``body`` as a serial (nogil) and a prange-parallel kernel.

    numba's on-disk cache is keyed by the function's qualified name and first
    line, not by the compilation options, so each variant gets its own copy of
    the function object with its own ``__qualname__``.
    """
    variants = []
    for suffix, options in (("_serial", JIT_SERIAL), ("_parallel", JIT_PARALLEL)):
        func = type(body)(body.__code__, body.__globals__, body.__name__ + suffix, body.__defaults__, body.__closure__)
        func.__qualname__ = body.__qualname__ + suffix
        func.__doc__ = body.__doc__
        variants.append(jit(**options)(func))
    return tuple(variants)


@jit(**JIT_SERIAL)
def row_distance(logits, ref, r, aux_r, code):
    """Distance of one row of logits to row ``r`` of the reference, summed over classes.

    ``code`` MSE_CODE: ``sum_k (l_k - ref[r, k])**2``; MAE_CODE:
    ``sum_k |l_k - ref[r, k]|``; KL_CODE: ``ref`` holds the partner's
    probabilities ``q`` and ``aux_r = sum_k q_k log q_k``, and the result is
    ``KL(q || softmax(l)) = aux_r - sum_k q_k l_k + logsumexp(l)``, with
    ``0 * l_k = 0``. ``exp``/``log`` may use the approximate forms allowed by
    the ``afn`` flag (relative error ~1e-8).
    """
    n_classes = logits.shape[0]
    total = 0.0
    if code == MSE_CODE:
        for k in range(n_classes):
            diff = float(logits[k]) - float(ref[r, k])
            total += diff * diff
    elif code == MAE_CODE:
        for k in range(n_classes):
            total += abs(float(logits[k]) - float(ref[r, k]))
    else:
        top = float(logits[0])
        for k in range(1, n_classes):
            if logits[k] > top:
                top = float(logits[k])
        exp_sum = 0.0
        cross = 0.0
        for k in range(n_classes):
            value = float(logits[k])
            exp_sum += math.exp(value - top)
            if ref[r, k] != 0:  # a class b rules out adds nothing, even where l_k = -inf
                cross += float(ref[r, k]) * value
        total = aux_r - cross + top + math.log(exp_sum)
    return total


def _permutations_from_words(words, out):
    # Fisher-Yates, position k = n-1 .. 1, swapping k with j uniform in [0, k].
    # Step t = n-1-k reads 32 random bits u: the low half of words[p, t // 2]
    # for even t, the high half for odd t; j = floor(u * (k + 1) / 2**32).
    n_perms, n_samples = out.shape
    for p in prange(n_perms):
        row = out[p]
        for k in range(n_samples):
            row[k] = k
        k = n_samples - 1
        for w in range(words.shape[1]):
            word = words[p, w]
            j = np.int64(((word & _LOW32) * np.uint64(k + 1)) >> _SHIFT32)
            tmp = row[k]
            row[k] = row[j]
            row[j] = tmp
            k -= 1
            if k == 0:
                break
            j = np.int64(((word >> _SHIFT32) * np.uint64(k + 1)) >> _SHIFT32)
            tmp = row[k]
            row[k] = row[j]
            row[j] = tmp
            k -= 1


permutations_from_words_serial, permutations_from_words_parallel = _twin(_permutations_from_words)


def _rank1_linear_chunk(H, Zt, perms, channels, Wt, ref, aux, code, row_block, out):
    # Logits are H + delta_r * Wt[i]; the model ends at this layer.
    # The loops over row blocks and (channel, repeat) pairs are those of _rank1_hidden_chunk, written
    # out in each kernel so that numba compiles the innermost loop for its own layer shape.
    n_chunk, n_repeats, n_samples = perms.shape
    n_classes = H.shape[1]
    n_pairs = n_chunk * n_repeats
    n_blocks = (n_samples + row_block - 1) // row_block
    partial = np.zeros((n_pairs, n_blocks))
    for b in range(n_blocks):
        r0 = b * row_block
        r1 = min(n_samples, r0 + row_block)
        for p in prange(n_pairs):
            c = p // n_repeats
            m = p - c * n_repeats
            i = channels[c]
            z = Zt[i]
            w = Wt[i]
            perm = perms[c, m]
            logits = np.empty(n_classes, dtype=H.dtype)
            acc = 0.0
            for r in range(r0, r1):
                delta = z[perm[r]] - z[r]
                for k in range(n_classes):
                    logits[k] = H[r, k] + delta * w[k]
                acc += row_distance(logits, ref, r, aux[r], code)
            partial[p, b] = acc
    for p in range(n_pairs):
        acc = 0.0
        for b in range(n_blocks):
            acc += partial[p, b]
        out[p // n_repeats, p % n_repeats] = acc


rank1_linear_chunk_serial, rank1_linear_chunk_parallel = _twin(_rank1_linear_chunk)


def _rank1_linear_mse_chunk(Gt, w_sq, base_total, Zt, perms, channels, out):
    # Squared error of a linear model in O(n) per pair. With E = H - ref the
    # residual of the unpermuted logits, G = E W (so Gt[i, r] = E[r] . W[:, i])
    # and w_sq[i] = |W[:, i]|^2:
    #   sum_r |E[r] + delta_r W[:, i]|^2
    #     = base_total + sum_r delta_r * (2 Gt[i, r] + delta_r w_sq[i]).
    n_chunk, n_repeats, n_samples = perms.shape
    for p in prange(n_chunk * n_repeats):
        c = p // n_repeats
        m = p - c * n_repeats
        i = channels[c]
        z = Zt[i]
        g = Gt[i]
        norm = w_sq[i]
        perm = perms[c, m]
        acc = 0.0
        for r in range(n_samples):
            delta = float(z[perm[r]]) - float(z[r])
            acc += delta * (2.0 * g[r] + delta * norm)
        out[c, m] = base_total + acc


rank1_linear_mse_chunk_serial, rank1_linear_mse_chunk_parallel = _twin(_rank1_linear_mse_chunk)


# The same block-and-pair loop nest as _rank1_linear_chunk, deliberately: each
# kernel fuses its own per-row arithmetic into that nest, so that it compiles
# to one loop nest.
def _rank1_hidden_chunk(H, Zt, perms, channels, Wt, W_out, b_out, ref, aux, code, row_block, out):
    # One hidden ReLU layer: logits = relu(H + delta_r * Wt[i]) @ W_out^T + b_out.
    # Row blocks are the outer loop so that a block of H stays in cache while
    # every pair of the chunk reads it.
    # The same block and pair loops as _rank1_linear_chunk, written out for the same reason.
    n_chunk, n_repeats, n_samples = perms.shape
    width = H.shape[1]
    n_classes = W_out.shape[0]
    n_pairs = n_chunk * n_repeats
    n_blocks = (n_samples + row_block - 1) // row_block
    partial = np.zeros((n_pairs, n_blocks))
    zero = np.zeros(1, dtype=H.dtype)[0]
    for b in range(n_blocks):
        r0 = b * row_block
        r1 = min(n_samples, r0 + row_block)
        for p in prange(n_pairs):
            c = p // n_repeats
            m = p - c * n_repeats
            i = channels[c]
            z = Zt[i]
            w = Wt[i]
            perm = perms[c, m]
            hidden = np.empty(width, dtype=H.dtype)
            logits = np.empty(n_classes, dtype=H.dtype)
            acc = 0.0
            for r in range(r0, r1):
                delta = z[perm[r]] - z[r]
                for j in range(width):
                    value = H[r, j] + delta * w[j]
                    if value < zero:
                        value = zero
                    hidden[j] = value
                for k in range(n_classes):
                    s = b_out[k]
                    for j in range(width):
                        s += hidden[j] * W_out[k, j]
                    logits[k] = s
                acc += row_distance(logits, ref, r, aux[r], code)
            partial[p, b] = acc
    for p in range(n_pairs):
        acc = 0.0
        for b in range(n_blocks):
            acc += partial[p, b]
        out[p // n_repeats, p % n_repeats] = acc


rank1_hidden_chunk_serial, rank1_hidden_chunk_parallel = _twin(_rank1_hidden_chunk)


def _rank1_rows(H, Zt, perms, channels, Wt, seg_pair, seg_start, seg_stop, relu, out, row_src, row_seg):
    # Fill out[o] = act(H[r] + delta_r * Wt[i]) for the rows of a block of
    # segments; segment s covers rows seg_start[s]:seg_stop[s] of pair
    # seg_pair[s]. row_src / row_seg record each output row's sample and segment.
    n_repeats = perms.shape[1]
    width = H.shape[1]
    zero = np.zeros(1, dtype=H.dtype)[0]
    o = 0
    for s in range(seg_pair.shape[0]):
        for r in range(seg_start[s], seg_stop[s]):
            row_src[o] = r
            row_seg[o] = s
            o += 1
    for q in prange(o):
        r = row_src[q]
        p = seg_pair[row_seg[q]]
        c = p // n_repeats
        m = p - c * n_repeats
        i = channels[c]
        delta = Zt[i, perms[c, m, r]] - Zt[i, r]
        w = Wt[i]
        for j in range(width):
            value = H[r, j] + delta * w[j]
            if relu and value < zero:
                value = zero
            out[q, j] = value
    return o


rank1_rows_serial, rank1_rows_parallel = _twin(_rank1_rows)


def _bias_relu_rows(A, bias, n_rows):
    # In place: A[o] = relu(A[o] + bias) for the first n_rows rows.
    width = A.shape[1]
    zero = np.zeros(1, dtype=A.dtype)[0]
    for o in prange(n_rows):
        for j in range(width):
            value = A[o, j] + bias[j]
            if value < zero:
                value = zero
            A[o, j] = value


bias_relu_rows_serial, bias_relu_rows_parallel = _twin(_bias_relu_rows)


def _relu_linear_distance_rows(
    A, bias, W_out, b_out, ref, aux, code, row_src, row_seg, n_rows, logits, row_dist, seg_sums
):
    # Tail of an MLP: logits = relu(A + bias) @ W_out^T + b_out, then the
    # distance of each row to ref[row_src[o]], summed per segment in row order.
    # Rows go four at a time so that each loaded weight serves four rows.
    width = A.shape[1]
    n_classes = W_out.shape[0]
    zero = np.zeros(1, dtype=A.dtype)[0]
    for g in prange((n_rows + 3) // 4):
        o0 = 4 * g
        o1 = min(n_rows, o0 + 4)
        for o in range(o0, o1):
            for j in range(width):
                value = A[o, j] + bias[j]
                if value < zero:
                    value = zero
                A[o, j] = value
        if o1 - o0 == 4:
            for k in range(n_classes):
                s0 = b_out[k]
                s1 = b_out[k]
                s2 = b_out[k]
                s3 = b_out[k]
                for j in range(width):
                    w = W_out[k, j]
                    s0 += A[o0, j] * w
                    s1 += A[o0 + 1, j] * w
                    s2 += A[o0 + 2, j] * w
                    s3 += A[o0 + 3, j] * w
                logits[o0, k] = s0
                logits[o0 + 1, k] = s1
                logits[o0 + 2, k] = s2
                logits[o0 + 3, k] = s3
        else:
            for o in range(o0, o1):
                for k in range(n_classes):
                    s = b_out[k]
                    for j in range(width):
                        s += A[o, j] * W_out[k, j]
                    logits[o, k] = s
        for o in range(o0, o1):
            r = row_src[o]
            row_dist[o] = row_distance(logits[o], ref, r, aux[r], code)
    seg_sums[:] = 0.0
    for o in range(n_rows):
        seg_sums[row_seg[o]] += row_dist[o]


relu_linear_distance_rows_serial, relu_linear_distance_rows_parallel = _twin(_relu_linear_distance_rows)


def _logits_distance_rows(L, ref, aux, code, row_src, row_seg, n_rows, row_dist, seg_sums):
    # Distance of ready-made logits rows, summed per segment in row order.
    for o in prange(n_rows):
        r = row_src[o]
        row_dist[o] = row_distance(L[o], ref, r, aux[r], code)
    seg_sums[:] = 0.0
    for o in range(n_rows):
        seg_sums[row_seg[o]] += row_dist[o]


logits_distance_rows_serial, logits_distance_rows_parallel = _twin(_logits_distance_rows)
