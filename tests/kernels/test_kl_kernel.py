"""The fused KL kernel against slow, obvious NumPy references (its exp/log: tests/kernels/test_exp_log.py).

Small sizes: this file also runs under NUMBA_DISABLE_JIT=1.
"""

import numba
import numpy as np
import pytest
from conftest import reorder_rtol

from crossmodal._kernels import _kl as K

DTYPES = [np.float32, np.float64]

# --------------------------------------------------------------------------- #
# References
# --------------------------------------------------------------------------- #


def kl_reference(s, lt, inv_temperature, w):
    """Weighted KL sum and its gradient in float64, written the obvious way.

    The gradient is the derivative of the sum as written, ``w * (P * q - p) / T``
    with ``P = sum_k p_k``: rounded targets do not sum to exactly 1, and the
    difference matters when the student is close to the teacher.
    """
    z = s.astype(np.float64) * inv_temperature
    lt = lt.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_q = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(lt)
    with np.errstate(invalid="ignore"):
        terms = np.where(p > 0, p * (lt - log_q), 0.0)
    per_row = terms.sum(axis=1)
    grad = w[:, None] * (np.exp(log_q) * p.sum(axis=1, keepdims=True) - p) * inv_temperature
    return float((w * per_row).sum()), grad


def log_softmax(t):
    t = t - t.max(axis=1, keepdims=True)
    return t - np.log(np.exp(t).sum(axis=1, keepdims=True))


def make_problem(n, n_classes, dtype, scale=3.0, seed=0):
    rng = np.random.RandomState(seed)
    s = (scale * rng.randn(n, n_classes)).astype(dtype)
    lt = log_softmax(scale * rng.randn(n, n_classes)).astype(dtype)
    w = rng.uniform(0.0, 2.0, n)
    return s, lt, w


def run_kernel(kernel, s, lt, inv_temperature, w):
    grad = np.empty_like(s)
    total = kernel(s, lt, inv_temperature, w, grad)
    return total, grad


def close_student(n, n_classes, dtype, temperature, noise, seed=0):
    """Teacher targets and a student whose logits differ from the teacher's by ``noise``."""
    rng = np.random.RandomState(seed)
    t = 3.0 * rng.randn(n, n_classes)
    s = (t + noise * rng.randn(n, n_classes)).astype(dtype)
    lt = log_softmax(t / temperature).astype(dtype)
    return s, lt, rng.uniform(0.5, 2.0, n)


# --------------------------------------------------------------------------- #
# kl_div_fused against the reference
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0])
@pytest.mark.parametrize("n_samples, n_classes", [(1, 1), (1, 2), (7, 2), (5, 3), (130, 10), (3, 67), (2, 1000)])
@pytest.mark.parametrize("scale", [3.0, 1e4])
def test_kl_div_fused_matches_reference(dtype, temperature, n_samples, n_classes, scale):
    s, lt, w = make_problem(n_samples, n_classes, dtype, scale=scale)
    inv_t = 1.0 / temperature
    total, grad = run_kernel(K.kl_div_fused, s, lt, inv_t, w)
    want_total, want_grad = kl_reference(s, lt, inv_t, w)
    assert grad.dtype == dtype
    if n_classes == 1:
        assert abs(total) < 1e-12
    else:
        assert total == pytest.approx(want_total, rel=1e-10)
    # Computed in float64; only the float32 output is rounded (2**-24 relative).
    rtol = 1e-7 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(grad, want_grad, rtol=rtol, atol=1e-13 * np.abs(want_grad).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_samples, n_classes", [(700, 3), (230, 10), (5, 300)])
def test_blocks_and_chunks_do_not_change_rows(dtype, n_samples, n_classes):
    # Several blocks per chunk, ragged last blocks: every row as if alone.
    s, lt, w = make_problem(n_samples, n_classes, dtype, seed=3)
    total, grad = run_kernel(K.kl_div_fused, s, lt, 0.5, w)
    want_total, want_grad = kl_reference(s, lt, 0.5, w)
    assert total == pytest.approx(want_total, rel=1e-11)
    rtol = 1e-7 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(grad, want_grad, rtol=rtol, atol=1e-13 * np.abs(want_grad).max())
    # A row alone through the serial kernel: the same per-row arithmetic, but
    # the serial and the parallel kernel are compiled apart (and may be loaded
    # from numba's cache), so their vectorised row sums may add up in another
    # order: equal up to the reordering of n_classes terms.
    rtol = reorder_rtol(dtype, n_classes)
    for i in (0, n_samples // 2, n_samples - 1):
        row = slice(i, i + 1)
        _, row_grad = run_kernel(K.kl_div_fused_serial, s[row], lt[row], 0.5, w[row])
        np.testing.assert_allclose(row_grad[0], grad[i], rtol=rtol, atol=rtol * np.abs(grad[i]).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0])
@pytest.mark.parametrize("n_samples, n_classes", [(40, 2), (40, 10), (3, 1000)])
@pytest.mark.parametrize("noise", [1e-3, 1e-2, 0.1])
def test_accurate_when_the_student_is_close_to_the_teacher(dtype, temperature, n_samples, n_classes, noise):
    # The KL divergence is small (down to ~1e-8 per row) and the gradient
    # softmax(s/T) - p is a small difference of two probabilities: no float32
    # intermediate may enter. Errors are measured against the float64
    # reference fed the same (float32) inputs: the loss relative to itself,
    # the gradient relative to its largest magnitude.
    s, lt, w = close_student(n_samples, n_classes, dtype, temperature, noise)
    total, grad = run_kernel(K.kl_div_fused, s, lt, 1.0 / temperature, w)
    want_total, want_grad = kl_reference(s, lt, 1.0 / temperature, w)
    assert 0 < want_total < n_samples * noise
    # A relative bound of 1e-6; the terms p * (lt - log q) are of order 1 and
    # cancel to KL ~ noise**2, so float64 rounding alone is ~1e-16 / noise**2.
    assert abs(total - want_total) <= 1e-6 * want_total
    grad_err = np.abs(grad.astype(np.float64) - want_grad).max() / np.abs(want_grad).max()
    # float32 storage of the gradient: 2**-24 of each element.
    assert grad_err < (1e-7 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_teacher_zeros_contribute_nothing(dtype):
    # -inf, the dtype's most negative number and values whose exp underflows
    # all mean probability 0: no NaN, and the gradient there is softmax(s/T).
    s, _, w = make_problem(4, 5, dtype, seed=1)
    p = np.array(
        [[0.5, 0.5, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0], [0.2, 0.2, 0.2, 0.2, 0.2], [0.0, 0.0, 0.0, 0.0, 1.0]]
    )
    with np.errstate(divide="ignore"):
        lt = np.log(p)
    lt[0, 2] = np.finfo(dtype).min
    lt[0, 3] = -800.0
    lt = lt.astype(dtype)
    total, grad = run_kernel(K.kl_div_fused, s, lt, 1.0, w)
    z = s.astype(np.float64)
    log_q = log_softmax(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        want_rows = np.where(p > 0, p * (np.log(p) - log_q), 0.0).sum(axis=1)
    assert np.isfinite(total)
    assert total == pytest.approx(float((w * want_rows).sum()), rel=1e-6 if dtype == np.float32 else 1e-12)
    zero = p == 0
    np.testing.assert_allclose(grad[zero], (w[:, None] * np.exp(log_q))[zero], rtol=1e-6)


@pytest.mark.parametrize("kernel", [K.kl_div_fused, K.kl_div_fused_serial])
@pytest.mark.parametrize("n_classes, position", [(4, 0), (4, 2), (5, 4), (9, 8), (9, 5)])
def test_nan_in_a_row_makes_that_row_and_the_sum_nan(kernel, n_classes, position):
    # Positions in and after the four-wide part of the row maximum.
    s, lt, w = make_problem(6, n_classes, np.float64, seed=2)
    s[3, position] = np.nan
    total, grad = run_kernel(kernel, s, lt, 1.0, w)
    assert np.isnan(total)
    assert np.all(np.isnan(grad[3]))
    others = np.array([0, 1, 2, 4, 5])
    _, want_grad = kl_reference(s[others], lt[others], 1.0, w[others])
    np.testing.assert_allclose(grad[others], want_grad, rtol=1e-12, atol=1e-15)


def test_inf_student_logit_gives_nan_not_a_number():
    s, lt, w = make_problem(3, 4, np.float64)
    s[1, 1] = np.inf
    total, grad = run_kernel(K.kl_div_fused, s, lt, 1.0, w)
    assert np.isnan(total) and np.all(np.isnan(grad[1]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", [2, 6, 1000])
def test_identical_distributions_give_zero(dtype, n_classes):
    # The loss is 0 up to rounding, so the tolerances are absolute (float64
    # rounding of terms of size log(n_classes)). In float32 the targets
    # log_softmax(s / T) are rounded, so exp(lt) is not quite softmax(s / T):
    # the true loss is then ~1e-8, and the kernel must still match the
    # float64 reference fed the same rounded targets.
    s, _, w = make_problem(9 if n_classes < 1000 else 2, n_classes, dtype)
    lt = log_softmax(s.astype(np.float64) / 2.0).astype(dtype)
    total, grad = run_kernel(K.kl_div_fused, s, lt, 0.5, w)
    want_total, want_grad = kl_reference(s, lt, 0.5, w)
    assert abs(total - want_total) < 1e-13
    np.testing.assert_allclose(grad, want_grad, rtol=0, atol=1e-15 if dtype == np.float64 else 1e-13)
    if dtype == np.float64:
        assert abs(total) < 1e-13
        assert np.abs(grad).max() < 1e-15


def test_zero_weights_remove_rows():
    s, lt, w = make_problem(8, 5, np.float64)
    w[[1, 4]] = 0.0
    total, grad = run_kernel(K.kl_div_fused, s, lt, 1.0, w)
    keep = np.array([0, 2, 3, 5, 6, 7])
    want_total, _ = kl_reference(s[keep], lt[keep], 1.0, w[keep])
    assert total == pytest.approx(want_total, rel=1e-12)
    assert np.all(grad[[1, 4]] == 0.0)


def test_empty_input():
    s = np.empty((0, 3))
    total, grad = run_kernel(K.kl_div_fused, s, s.copy(), 1.0, np.empty(0))
    assert total == 0.0 and grad.shape == (0, 3)


# --------------------------------------------------------------------------- #
# Determinism
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_counts_agree_bitwise_and_serial_agrees_to_rounding(dtype):
    # The parallel kernel's chunks do not depend on the thread count or the
    # schedule, and rows are summed in order: the same compiled code on the
    # same chunks, so the same bits. The serial kernel is compiled apart.
    s, lt, w = make_problem(400, 10, dtype, seed=5)
    serial_total, serial_grad = run_kernel(K.kl_div_fused_serial, s, lt, 0.25, w)
    ref_total, ref_grad = run_kernel(K.kl_div_fused, s, lt, 0.25, w)
    rtol = reorder_rtol(dtype, 10)
    assert ref_total == pytest.approx(serial_total, rel=reorder_rtol(np.float64, 10))
    np.testing.assert_allclose(ref_grad, serial_grad, rtol=rtol, atol=rtol * np.abs(serial_grad).max())
    previous = numba.get_num_threads()
    try:
        for n_threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(n_threads)
            for chunksize in (0, 1):  # static and dynamic schedules
                with numba.parallel_chunksize(chunksize):
                    total, grad = run_kernel(K.kl_div_fused, s, lt, 0.25, w)
                assert total == ref_total
                assert np.array_equal(grad, ref_grad)
    finally:
        numba.set_num_threads(previous)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(K)
    assert result.attempted > 0 and result.failed == 0
