"""Kernels of the permutation salience against slow, obvious NumPy references.

Small sizes: this file also runs under NUMBA_DISABLE_JIT=1.
"""

import numpy as np
import pytest

from crossmodal._kernels import _salience as K

DTYPES = [np.float32, np.float64]
CODES = {"mse": K.MSE_CODE, "mae": K.MAE_CODE, "kl": K.KL_CODE}


# --------------------------------------------------------------------------- #
# References
# --------------------------------------------------------------------------- #


def fisher_yates_reference(words_row, n):
    """The documented stream, one step at a time in plain Python."""
    perm = list(range(n))
    for t, k in enumerate(range(n - 1, 0, -1)):
        word = int(words_row[t // 2])
        u = (word >> 32) if t % 2 else (word & 0xFFFFFFFF)
        j = (u * (k + 1)) >> 32
        perm[k], perm[j] = perm[j], perm[k]
    return np.array(perm)


def row_distances_reference(logits, ref, aux, code):
    """Per-row distances in float64, written the obvious way."""
    L = logits.astype(np.float64)
    if code == K.MSE_CODE:
        return ((L - ref) ** 2).sum(axis=1)
    if code == K.MAE_CODE:
        return np.abs(L - ref).sum(axis=1)
    top = L.max(axis=1, keepdims=True)
    log_softmax = L - top - np.log(np.exp(L - top).sum(axis=1, keepdims=True))
    return (ref * (np.log(np.where(ref > 0, ref, 1.0)) - log_softmax)).sum(axis=1)


def make_reference(rng, n, n_classes, code):
    """Reference rows and per-row constants as the Python side builds them."""
    logits_b = rng.randn(n, n_classes)
    if code != K.KL_CODE:
        return logits_b, np.zeros(n)
    q = np.exp(logits_b - logits_b.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    return q, (q * np.log(q)).sum(axis=1)


def permuted_rows(Zt, perms, channel_list, c, m, rows):
    i = channel_list[c]
    return Zt[i, perms[c, m, rows]] - Zt[i, rows]


@pytest.fixture
def problem():
    def build(dtype, n=23, n_channels=5, width=7, n_classes=3, n_repeats=2, code=K.MSE_CODE, seed=0):
        rng = np.random.RandomState(seed)
        Zt = rng.randn(n_channels, n).astype(dtype)
        H = rng.randn(n, width).astype(dtype)
        Wt = rng.randn(n_channels, width).astype(dtype)
        W_out = rng.randn(n_classes, width).astype(dtype)
        b_out = rng.randn(n_classes).astype(dtype)
        channels = np.array([3, 1], dtype=np.intp)
        perms = np.stack([[rng.permutation(n) for _ in range(n_repeats)] for _ in channels]).astype(np.int32)
        ref, aux = make_reference(rng, n, n_classes, code)
        return dict(Zt=Zt, H=H, Wt=Wt, W_out=W_out, b_out=b_out, channels=channels, perms=perms, ref=ref, aux=aux)

    return build


# --------------------------------------------------------------------------- #
# Permutations
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("n", [1, 2, 3, 4, 9, 50])
@pytest.mark.parametrize("variant", ["serial", "parallel"])
def test_permutations_from_words_follow_documented_stream(n, variant):
    rng = np.random.Generator(np.random.PCG64(1))
    words = rng.bit_generator.random_raw((6, n // 2)).reshape(6, n // 2)
    out = np.empty((6, n), dtype=np.int32)
    getattr(K, f"permutations_from_words_{variant}")(words, out)
    for p in range(6):
        np.testing.assert_array_equal(out[p], fisher_yates_reference(words[p], n))
        np.testing.assert_array_equal(np.sort(out[p]), np.arange(n))


def test_permutations_use_extreme_words():
    # u = 2**32 - 1 picks j = k (no swap); u = 0 picks j = 0.
    n = 5
    out = np.empty((2, n), dtype=np.int32)
    words = np.array([[np.uint64(2**64 - 1)] * 2, [np.uint64(0)] * 2], dtype=np.uint64)
    K.permutations_from_words_serial(words, out)
    np.testing.assert_array_equal(out[0], np.arange(n))
    np.testing.assert_array_equal(out[1], fisher_yates_reference(words[1], n))
    assert sorted(out[1]) == list(range(n))


# --------------------------------------------------------------------------- #
# Row distance
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", ["mse", "mae", "kl"])
def test_row_distance_matches_reference(dtype, distance):
    rng = np.random.RandomState(0)
    code = CODES[distance]
    ref, aux = make_reference(rng, 6, 4, code)
    logits = (3 * rng.randn(6, 4)).astype(dtype)
    expected = row_distances_reference(logits, ref, aux, code)
    got = [K.row_distance(logits[r], ref, r, aux[r], code) for r in range(6)]
    # exp/log may use numba's approximate forms ("afn"): ~1e-8 relative.
    np.testing.assert_allclose(got, expected, rtol=1e-7 if distance == "kl" else 1e-10, atol=1e-12)


def test_row_distance_edge_values():
    ref = np.zeros((1, 3))
    zeros = np.zeros(3)
    assert K.row_distance(zeros, ref, 0, 0.0, K.MSE_CODE) == 0.0
    assert K.row_distance(zeros, ref, 0, 0.0, K.MAE_CODE) == 0.0
    assert np.isnan(K.row_distance(np.array([np.nan, 0.0, 0.0]), ref, 0, 0.0, K.MSE_CODE))
    assert np.isinf(K.row_distance(np.array([np.inf, 0.0, 0.0]), ref, 0, 0.0, K.MAE_CODE))
    # KL is stable for large logits (max subtracted before exp) and zero for equal distributions.
    q = np.array([[0.5, 0.5, 0.0]])
    logits = np.array([1000.0, 1000.0, -np.inf])
    aux = float((q[0, :2] * np.log(q[0, :2])).sum())
    assert K.row_distance(logits, q, 0, aux, K.KL_CODE) == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------------------- #
# Chunk kernels
# --------------------------------------------------------------------------- #


def chunk_reference(P, distance, logits_of=lambda pre: pre, as_float64=False):
    """What a chunk kernel writes: per channel ``c`` and repeat ``m``, ``distance`` of the logits
    when channel ``c``'s rank-1 update (``delta * Wt[channel]``) takes its rows in the order ``perms[c, m]``.
    """
    rows = np.arange(P["H"].shape[0])
    out = np.empty(P["perms"].shape[:2])
    for c, m in np.ndindex(out.shape):
        delta = permuted_rows(P["Zt"], P["perms"], P["channels"], c, m, rows)
        w = P["Wt"][P["channels"][c]][None, :]
        if as_float64:
            delta, w = delta.astype(np.float64), w.astype(np.float64)
        out[c, m] = distance(logits_of(P["H"] + delta[:, None] * w))
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", ["mse", "mae", "kl"])
@pytest.mark.parametrize("row_block", [4, 64])
def test_rank1_linear_chunk_matches_reference(problem, dtype, distance, row_block):
    code = CODES[distance]
    P = problem(dtype, width=3, n_classes=3, code=code)
    expected = chunk_reference(P, lambda logits: row_distances_reference(logits, P["ref"], P["aux"], code).sum())
    for kernel in (K.rank1_linear_chunk_serial, K.rank1_linear_chunk_parallel):
        out = np.empty((2, 2))
        kernel(P["H"], P["Zt"], P["perms"], P["channels"], P["Wt"], P["ref"], P["aux"], code, row_block, out)
        np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rank1_linear_mse_chunk_matches_reference(problem, dtype):
    # The O(n) expansion around the residual E = H - ref equals the squared error of H + delta w.
    P = problem(dtype, width=3, n_classes=3)
    W = P["Wt"].T.astype(np.float64)  # (n_classes, n_channels)
    residual = P["H"].astype(np.float64) - P["ref"]
    Gt = np.ascontiguousarray((residual @ W).T)
    w_sq = np.square(W).sum(axis=0)
    base = float(np.square(residual).sum())
    expected = chunk_reference(P, lambda logits: np.square(logits - P["ref"]).sum(), as_float64=True)
    for kernel in (K.rank1_linear_mse_chunk_serial, K.rank1_linear_mse_chunk_parallel):
        out = np.empty((2, 2))
        kernel(Gt, w_sq, base, P["Zt"], P["perms"], P["channels"], out)
        # delta may be formed in float32 or float64 for float32 inputs
        np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-10)


def hidden_chunk_args(P, code, row_block):
    """The arguments of the one-hidden-layer chunk kernels before ``out``."""
    names = ("H", "Zt", "perms", "channels", "Wt", "W_out", "b_out", "ref", "aux")
    return (*(P[name] for name in names), code, row_block)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", ["mse", "kl"])
def test_rank1_hidden_chunk_matches_reference(problem, dtype, distance):
    code = CODES[distance]
    P = problem(dtype, code=code)
    expected = chunk_reference(
        P,
        lambda logits: row_distances_reference(logits, P["ref"], P["aux"], code).sum(),
        logits_of=lambda pre: np.maximum(pre, 0) @ P["W_out"].T + P["b_out"],
    )
    results = []
    for kernel in (K.rank1_hidden_chunk_serial, K.rank1_hidden_chunk_parallel):
        out = np.empty((2, 2))
        kernel(*hidden_chunk_args(P, code, 5), out)
        np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)
        results.append(out)
    np.testing.assert_array_equal(results[0], results[1])


def test_chunk_kernels_propagate_nan(problem):
    P = problem(np.float64, width=3, n_classes=3)
    P["H"][4, 1] = np.nan
    out = np.empty((2, 2))
    K.rank1_linear_chunk_serial(
        P["H"], P["Zt"], P["perms"], P["channels"], P["Wt"], P["ref"], P["aux"], K.MSE_CODE, 8, out
    )
    assert np.isnan(out).all()


def test_chunk_kernels_zero_weight_column_gives_unpermuted_distance(problem):
    P = problem(np.float32)
    P["Wt"][P["channels"]] = 0.0
    out = np.empty((2, 2))
    K.rank1_hidden_chunk_serial(*hidden_chunk_args(P, K.MSE_CODE, 8), out)
    logits = np.maximum(P["H"], 0) @ P["W_out"].T + P["b_out"]
    base = row_distances_reference(logits, P["ref"], P["aux"], K.MSE_CODE).sum()
    np.testing.assert_allclose(out, base, rtol=1e-5)


# --------------------------------------------------------------------------- #
# Row-block kernels
# --------------------------------------------------------------------------- #


def segments():
    # pair 0 rows 0..22 whole, pair 3 rows 5..11: two segments in one block.
    return (np.array([0, 3], dtype=np.intp), np.array([0, 5], dtype=np.intp), np.array([23, 12], dtype=np.intp))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("relu", [False, True])
def test_rank1_rows_matches_reference(problem, dtype, relu):
    P = problem(dtype)
    seg_pair, seg_start, seg_stop = segments()
    total = int((seg_stop - seg_start).sum())
    expected, sources, segs = [], [], []
    for s, (p, r0, r1) in enumerate(zip(seg_pair, seg_start, seg_stop)):
        c, m = divmod(int(p), 2)
        rows = np.arange(r0, r1)
        delta = permuted_rows(P["Zt"], P["perms"], P["channels"], c, m, rows)
        block = P["H"][rows] + delta[:, None] * P["Wt"][P["channels"][c]][None, :]
        expected.append(np.maximum(block, 0) if relu else block)
        sources.append(rows)
        segs.append(np.full(len(rows), s))
    for kernel in (K.rank1_rows_serial, K.rank1_rows_parallel):
        out = np.full((40, P["H"].shape[1]), -7, dtype=dtype)
        row_src = np.empty(40, dtype=np.intp)
        row_seg = np.empty(40, dtype=np.intp)
        n_rows = kernel(
            P["H"],
            P["Zt"],
            P["perms"],
            P["channels"],
            P["Wt"],
            seg_pair,
            seg_start,
            seg_stop,
            relu,
            out,
            row_src,
            row_seg,
        )
        assert n_rows == total
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12)
        np.testing.assert_allclose(out[:total], np.concatenate(expected), **tol)
        np.testing.assert_array_equal(row_src[:total], np.concatenate(sources))
        np.testing.assert_array_equal(row_seg[:total], np.concatenate(segs))
        assert (out[total:] == -7).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_relu_rows_matches_reference(dtype):
    rng = np.random.RandomState(0)
    A = rng.randn(6, 5).astype(dtype)
    bias = rng.randn(5).astype(dtype)
    for kernel in (K.bias_relu_rows_serial, K.bias_relu_rows_parallel):
        out = A.copy()
        kernel(out, bias, 4)
        np.testing.assert_allclose(out[:4], np.maximum(A[:4] + bias, 0), rtol=1e-6)
        np.testing.assert_array_equal(out[4:], A[4:])


def test_bias_relu_rows_keeps_nan():
    A = np.array([[np.nan, -1.0]])
    K.bias_relu_rows_serial(A, np.zeros(2), 1)
    assert np.isnan(A[0, 0]) and A[0, 1] == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", ["mse", "mae", "kl"])
def test_relu_linear_distance_rows_matches_reference(dtype, distance):
    code = CODES[distance]
    rng = np.random.RandomState(1)
    n_rows, width, n_classes = 9, 6, 3
    A = rng.randn(n_rows, width).astype(dtype)
    bias = rng.randn(width).astype(dtype)
    W_out = rng.randn(n_classes, width).astype(dtype)
    b_out = rng.randn(n_classes).astype(dtype)
    ref, aux = make_reference(rng, 20, n_classes, code)
    row_src = rng.randint(0, 20, n_rows).astype(np.intp)
    row_seg = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2], dtype=np.intp)
    logits = np.maximum(A + bias, 0) @ W_out.T + b_out
    dist = row_distances_reference(logits, ref[row_src], aux[row_src], code)
    expected = np.array([dist[:3].sum(), dist[3:5].sum(), dist[5:].sum()])
    for kernel in (K.relu_linear_distance_rows_serial, K.relu_linear_distance_rows_parallel):
        seg_sums = np.empty(3)
        kernel(
            A.copy(),
            bias,
            W_out,
            b_out,
            ref,
            aux,
            code,
            row_src,
            row_seg,
            n_rows,
            np.empty((n_rows, n_classes), dtype=dtype),
            np.empty(n_rows),
            seg_sums,
        )
        np.testing.assert_allclose(seg_sums, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", ["mse", "mae", "kl"])
def test_logits_distance_rows_matches_reference(dtype, distance):
    code = CODES[distance]
    rng = np.random.RandomState(2)
    L = rng.randn(5, 4).astype(dtype)
    ref, aux = make_reference(rng, 8, 4, code)
    row_src = np.array([7, 0, 3, 3, 1], dtype=np.intp)
    row_seg = np.array([0, 1, 1, 1, 1], dtype=np.intp)
    dist = row_distances_reference(L, ref[row_src], aux[row_src], code)
    for kernel in (K.logits_distance_rows_serial, K.logits_distance_rows_parallel):
        seg_sums = np.empty(2)
        kernel(L, ref, aux, code, row_src, row_seg, 5, np.empty(5), seg_sums)
        np.testing.assert_allclose(seg_sums, [dist[0], dist[1:].sum()], rtol=1e-7)
