"""kd_kl_loss, FusedKLDivergence and teacher_log_proba against torch and NumPy."""

import threading
import warnings

import numba
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import reorder_rtol

from crossmodal.distill.objectives import _gradient_buffer
from crossmodal.distill.objectives import _kl as _kd_loss
from crossmodal.distill.objectives._kl import FusedKLDivergence, kd_kl_loss, tempered_log_proba

DTYPES = [torch.float32, torch.float64]
REDUCTIONS = ["batchmean", "mean", "sum"]


# --------------------------------------------------------------------------- #
# References
# --------------------------------------------------------------------------- #


def torch_reference(s, lt, temperature, reduction, w=None):
    """The loss written with torch ops in float64, and its gradient wrt s."""
    s64 = s.detach().to(torch.float64).requires_grad_()
    lt64 = lt.detach().to(torch.float64)
    log_q = F.log_softmax(s64 / temperature, dim=1)
    elementwise = F.kl_div(log_q, lt64, reduction="none", log_target=True)
    per_row = elementwise.sum(dim=1)
    if w is not None:
        per_row = per_row * torch.as_tensor(w, dtype=torch.float64)
    divisor = {"batchmean": s.shape[0], "mean": s.numel(), "sum": 1}[reduction]
    loss = per_row.sum() / divisor * temperature**2
    (grad,) = torch.autograd.grad(loss, s64)
    return loss.item(), grad


def numpy_reference(s, lt, temperature, reduction, w=None):
    """The same in float64 NumPy: loss only."""
    z = s.detach().numpy().astype(np.float64) / temperature
    lt = lt.detach().numpy().astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_q = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(lt)
    per_row = np.where(p > 0, p * (lt - log_q), 0.0).sum(axis=1)
    if w is not None:
        per_row = per_row * np.asarray(w, dtype=np.float64)
    divisor = {"batchmean": s.shape[0], "mean": s.numel(), "sum": 1}[reduction]
    return per_row.sum() / divisor * temperature**2


def make_problem(n, n_classes, dtype=torch.float32, scale=3.0, temperature=1.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    s = (scale * torch.randn(n, n_classes, generator=gen, dtype=torch.float64)).to(dtype).requires_grad_()
    t = scale * torch.randn(n, n_classes, generator=gen, dtype=torch.float64)
    return s, tempered_log_proba(t.to(dtype), temperature)


def loss_and_grad(s, lt, **kwargs):
    s.grad = None
    loss = kd_kl_loss(s, lt, **kwargs)
    loss.backward()
    return loss, s.grad.clone()


def rel_err(a, b):
    return float((a.to(torch.float64) - b).abs().max() / b.abs().max())


# --------------------------------------------------------------------------- #
# Values and gradients
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", [2, 3, 10, 1000])
@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0])
def test_matches_torch_and_numpy(temperature, n_classes, dtype, reduction):
    for n, scale, weighted in [(1, 3.0, False), (37, 3.0, True), (37, 1e4, False), (5, 1e4, True)]:
        if n_classes == 1000 and n > 5:
            n = 5
        s, lt = make_problem(n, n_classes, dtype, scale, temperature, seed=n)
        w = np.random.RandomState(n).uniform(0, 2, n) if weighted else None
        loss, grad = loss_and_grad(s, lt, temperature=temperature, reduction=reduction, sample_weight=w)
        assert loss.dtype == dtype and grad.dtype == dtype
        ref_loss, ref_grad = torch_reference(s, lt, temperature, reduction, w)
        assert loss.item() == pytest.approx(ref_loss, rel=1e-6)
        assert loss.item() == pytest.approx(numpy_reference(s, lt, temperature, reduction, w), rel=1e-6)
        assert rel_err(grad, ref_grad) < 1e-6
        if dtype == torch.float64:
            assert loss.item() == pytest.approx(ref_loss, rel=1e-12)
            assert rel_err(grad, ref_grad) < 1e-12
        if scale == 3.0 and dtype == torch.float32:
            # Torch in float32 on the same inputs (accurate at this scale;
            # with logits of 1e4 its own float32 rounding exceeds 1e-6).
            s32 = s.detach().clone().requires_grad_()
            log_q = F.log_softmax(s32 / temperature, dim=1)
            per_row = F.kl_div(log_q, lt, reduction="none", log_target=True).sum(dim=1)
            if w is not None:
                per_row = per_row * torch.as_tensor(w, dtype=dtype)
            divisor = {"batchmean": n, "mean": n * n_classes, "sum": 1}[reduction]
            torch_loss = per_row.sum() / divisor * temperature**2
            torch_loss.backward()
            # Within 1e-6 of torch, beyond torch's own float32 error (which
            # reaches a few 1e-6 here, where ours stays below 1e-7).
            torch_err = abs(torch_loss.item() - ref_loss) / abs(ref_loss)
            assert abs(loss.item() - torch_loss.item()) / abs(ref_loss) < 1e-6 + torch_err
            torch_grad_err = rel_err(s32.grad, ref_grad)
            assert rel_err(grad, s32.grad.to(torch.float64)) < 1e-6 + torch_grad_err
            assert abs(loss.item() - ref_loss) / abs(ref_loss) <= max(torch_err, 2e-7)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, n_classes", [(1, 2), (37, 10), (5, 1000), (4000, 10)])  # the last: parallel kernel
def test_numpy_targets_take_the_tensor_path(n, n_classes, dtype, reduction, weighted):
    # A NumPy array (as skorch batches it) takes the same path as the tensor: same bits.
    s, lt = make_problem(n, n_classes, dtype, temperature=2.0, seed=n)
    w = np.random.RandomState(n).uniform(0, 2, n) if weighted else None
    kwargs = {"temperature": 2.0, "reduction": reduction, "sample_weight": w}
    loss, grad = loss_and_grad(s, lt, **kwargs)
    loss_np, grad_np = loss_and_grad(s, lt.numpy(), **kwargs)
    assert loss_np.item() == loss.item() and torch.equal(grad_np, grad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0])
@pytest.mark.parametrize("noise", [1e-3, 1e-2])
def test_accurate_when_the_student_is_close_to_the_teacher(temperature, dtype, noise):
    # KL ~ noise**2 per row: the loss must stay within 1e-6 of the float64
    # reference relative to itself, the gradient relative to its largest
    # magnitude (float32 output: 2**-24).
    gen = torch.Generator().manual_seed(3)
    t = 3.0 * torch.randn(300, 10, generator=gen, dtype=torch.float64)
    s = (t + noise * torch.randn(300, 10, generator=gen, dtype=torch.float64)).to(dtype).requires_grad_()
    lt = tempered_log_proba(t.to(dtype), temperature)
    ref_loss, ref_grad = torch_reference(s, lt, temperature, "batchmean")
    loss, grad = loss_and_grad(s, lt, temperature=temperature)
    assert abs(loss.item() - ref_loss) <= 1e-6 * ref_loss
    assert rel_err(grad, ref_grad) < (1e-7 if dtype == torch.float32 else 1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_student_equal_to_teacher_gives_zero(dtype):
    # The loss is ~0, so the tolerance is absolute: in float64 rounding only;
    # in float32 the targets are rounded, so exp(lt) differs from the
    # student's softmax by ~1e-7 and the true loss is ~1e-8 (as the float64
    # reference fed the same targets says).
    t = torch.randn(50, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    s = t.to(dtype).requires_grad_()
    lt = tempered_log_proba(t.to(dtype), 2.0)
    ref_loss, ref_grad = torch_reference(s, lt, 2.0, "batchmean")
    loss, grad = loss_and_grad(s, lt, temperature=2.0)
    assert abs(loss.item() - ref_loss) < (1e-15 if dtype == torch.float64 else 1e-12)
    assert abs(loss.item()) < (1e-14 if dtype == torch.float64 else 1e-7)
    assert float((grad.to(torch.float64) - ref_grad).abs().max()) < 1e-15


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_reductions_match_torch_kl_div(reduction):
    # Without weights, the torch path is literally F.kl_div(reduction=...).
    s, lt = make_problem(20, 4, torch.float64, temperature=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's notice that "mean" will change
        want = F.kl_div(F.log_softmax(s / 2.0, dim=1), lt, reduction=reduction, log_target=True) * 4.0
    assert kd_kl_loss(s, lt, temperature=2.0, reduction=reduction).item() == pytest.approx(want.item(), rel=1e-13)


def test_kldivloss_mean_is_batchmean_over_classes():
    s, lt = make_problem(12, 5, torch.float64)
    batchmean = kd_kl_loss(s, lt, reduction="batchmean")
    mean = kd_kl_loss(s, lt, reduction="mean")
    total = kd_kl_loss(s, lt, reduction="sum")
    assert mean.item() == pytest.approx(batchmean.item() / 5, rel=1e-14)
    assert total.item() == pytest.approx(batchmean.item() * 12, rel=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        torch_default = torch.nn.KLDivLoss(log_target=True)(F.log_softmax(s, dim=1), lt)
    assert mean.item() == pytest.approx(torch_default.item(), rel=1e-13)


def test_sample_weight_scales_rows_and_keeps_divisor():
    s, lt = make_problem(6, 3, torch.float64)
    w = torch.tensor([1.0, 0.0, 2.0, 1.0, 0.5, 3.0], dtype=torch.float64)
    weighted = kd_kl_loss(s, lt, sample_weight=w)
    rows = torch.stack([kd_kl_loss(s[i : i + 1], lt[i : i + 1], reduction="sum") for i in range(6)])
    assert weighted.item() == pytest.approx((w * rows).sum().item() / 6, rel=1e-13)
    ones = kd_kl_loss(s, lt, sample_weight=np.ones(6))
    assert ones.item() == kd_kl_loss(s, lt).item()


def test_fused_path_is_used_on_cpu_and_torch_path_otherwise():
    s, lt = make_problem(8, 3)
    assert type(kd_kl_loss(s, lt).grad_fn).__name__ == "FusedKLDivergenceBackward"
    # A teacher that requires grad gets its gradient through torch ops.
    lt_trainable = lt.clone().requires_grad_()
    loss = kd_kl_loss(s, lt_trainable)
    assert "FusedKLDivergence" not in type(loss.grad_fn).__name__
    loss.backward()
    assert lt_trainable.grad is not None and s.grad is not None
    # float16 is not a kernel dtype.
    s16 = s.detach().to(torch.float16).requires_grad_()
    loss16 = kd_kl_loss(s16, lt)
    assert loss16.dtype == torch.float16
    assert loss16.item() == pytest.approx(kd_kl_loss(s, lt).item(), rel=1e-2)


def test_fused_function_directly():
    # apply(s, lt, row_weight, 1 / T) = sum_i row_weight_i * KL_i, gradient kept.
    s, lt = make_problem(6, 4, torch.float64, temperature=2.0)
    row_weight = torch.linspace(0.0, 1.0, 6, dtype=torch.float64)
    out = FusedKLDivergence.apply(s, lt, row_weight, 0.5)
    per_row = F.kl_div(F.log_softmax(s / 2.0, dim=1), lt, reduction="none", log_target=True).sum(dim=1)
    want = (row_weight * per_row).sum()
    assert out.item() == pytest.approx(want.item(), rel=1e-13)
    (grad,) = torch.autograd.grad(out, s)
    (want_grad,) = torch.autograd.grad(want, s)
    assert rel_err(grad, want_grad) < 1e-13


def test_large_gradients_reuse_freed_memory_only(monkeypatch):
    # Force the recycling path for a small batch: same values; the memory of
    # a gradient is handed out again only once nothing refers to it.
    s, lt = make_problem(300, 10, torch.float32, temperature=2.0)
    want_loss, want_grad = loss_and_grad(s, lt, temperature=2.0)
    monkeypatch.setattr(_gradient_buffer, "LARGE_GRADIENT_BYTES", 0)
    monkeypatch.setattr(_gradient_buffer, "large_gradients", _gradient_buffer.LargeGradientCache())
    s.grad = None
    kd_kl_loss(s, lt, temperature=2.0).backward()
    first = s.grad
    assert torch.equal(first, want_grad) and first.is_contiguous()
    kept = first.clone()
    view = first[1:3]  # a view keeps the memory in use too
    s.grad = None
    del first
    kd_kl_loss(s, lt, temperature=2.0).backward()
    assert s.grad.data_ptr() != view.data_ptr() - view.element_size() * 10
    view.mul_(2.0)  # writing to the old gradient leaves the new one alone
    assert torch.equal(s.grad, want_grad) and torch.equal(view, 2 * kept[1:3])
    # Freed (gradient dropped, view deleted): the next call reuses the memory.
    ptr = s.grad.data_ptr()
    s.grad = None
    del view
    loss = kd_kl_loss(s, lt, temperature=2.0)
    loss.backward()
    assert s.grad.data_ptr() == ptr and torch.equal(s.grad, want_grad)
    assert loss.item() == want_loss.item()
    # Accumulation into an existing gradient and in-place updates work as usual.
    kd_kl_loss(s, lt, temperature=2.0).backward()
    torch.testing.assert_close(s.grad, 2 * want_grad, rtol=1e-6, atol=0.0)
    s.grad.mul_(0.5)
    torch.testing.assert_close(s.grad, want_grad, rtol=1e-6, atol=0.0)
    # A larger batch gets a new buffer; a float64 batch a view of the right dtype.
    s64, lt64 = make_problem(300, 10, torch.float64, temperature=2.0)
    _, grad64 = loss_and_grad(s64, lt64, temperature=2.0)
    monkeypatch.setattr(_gradient_buffer, "LARGE_GRADIENT_BYTES", 1 << 60)
    _, want64 = loss_and_grad(s64, lt64, temperature=2.0)
    assert grad64.dtype == torch.float64 and torch.equal(grad64, want64)


def test_gradcheck_and_double_backward():
    s, lt = make_problem(4, 3, torch.float64, temperature=2.0)
    w = torch.tensor([1.0, 0.5, 2.0, 0.0], dtype=torch.float64)
    for reduction in REDUCTIONS:

        def f(x, reduction=reduction):
            return kd_kl_loss(x, lt, temperature=2.0, reduction=reduction, sample_weight=w)

        assert torch.autograd.gradcheck(f, (s,))
        assert torch.autograd.gradgradcheck(f, (s,))


def test_double_backward_matches_torch_hessian():
    s, lt = make_problem(3, 4, torch.float64)
    hess = torch.autograd.functional.hessian(lambda x: kd_kl_loss(x, lt, temperature=1.5), s.detach())
    ref = torch.autograd.functional.hessian(
        lambda x: F.kl_div(F.log_softmax(x / 1.5, 1), lt, reduction="batchmean", log_target=True) * 2.25, s.detach()
    )
    assert torch.allclose(hess, ref, rtol=1e-10, atol=1e-13)


def test_grad_output_scales_and_retained_graph_is_reusable():
    s, lt = make_problem(50, 7, torch.float32)
    _, grad = loss_and_grad(s, lt)
    s.grad = None
    loss = kd_kl_loss(s, lt)
    (0.3 * loss).backward(retain_graph=True)
    torch.testing.assert_close(s.grad, 0.3 * grad, rtol=1e-6, atol=0.0)
    s.grad = None
    loss.backward(retain_graph=True)
    loss.backward()
    torch.testing.assert_close(s.grad, 2 * grad, rtol=1e-6, atol=0.0)


def test_logits_without_grad():
    s, lt = make_problem(5, 3)
    loss = kd_kl_loss(s.detach(), lt)
    assert loss.grad_fn is None
    assert loss.item() == pytest.approx(kd_kl_loss(s, lt).item())


def test_non_contiguous_logits():
    s, lt = make_problem(6, 4, torch.float64)
    s_t = s.detach().t().contiguous().t().requires_grad_()  # column-major
    assert not s_t.is_contiguous()
    loss, grad = loss_and_grad(s_t, lt)
    ref_loss, ref_grad = torch_reference(s_t, lt, 1.0, "batchmean")
    assert loss.item() == pytest.approx(ref_loss, rel=1e-12)
    assert rel_err(grad, ref_grad) < 1e-12


# --------------------------------------------------------------------------- #
# Edge values
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_logit_gives_nan_loss(dtype):
    s, lt = make_problem(5, 3, dtype)
    s_nan = s.detach().clone()
    s_nan[2, 1] = float("nan")
    assert torch.isnan(kd_kl_loss(s_nan, lt))
    assert torch.isnan(_kd_loss._kd_kl_loss_torch(s_nan, lt, 1.0, "batchmean", None))
    big_nan = torch.randn(300, 200, dtype=dtype)  # parallel kernel
    big_nan[299, 199] = float("nan")
    assert torch.isnan(kd_kl_loss(big_nan, torch.log_softmax(torch.randn(300, 200, dtype=dtype), 1)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_teacher_with_exact_zeros(dtype):
    proba = np.array([[0.7, 0.3, 0.0], [0.0, 0.0, 1.0], [0.2, 0.5, 0.3]])
    with np.errstate(divide="ignore"):
        log_p = np.log(proba)
    lt = tempered_log_proba(torch.as_tensor(log_p, dtype=dtype), temperature=1.0)
    assert bool(torch.isfinite(lt).all())
    assert torch.equal(lt.exp() == 0, torch.as_tensor(proba == 0))
    s = torch.tensor([[1.0, -1.0, 0.5], [0.0, 2.0, -3.0], [0.1, 0.2, 0.3]], dtype=dtype, requires_grad=True)
    loss, grad = loss_and_grad(s, lt)
    log_q = torch.log_softmax(s.detach().to(torch.float64), 1).numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.where(proba > 0, proba * (log_p - log_q), 0.0).sum() / 3
    assert loss.item() == pytest.approx(want, rel=1e-6)
    want_grad = (np.exp(log_q) - proba) / 3
    np.testing.assert_allclose(grad.to(torch.float64).numpy(), want_grad, rtol=1e-6, atol=1e-7)
    # The torch path gives the same finite value.
    assert _kd_loss._kd_kl_loss_torch(s, lt, 1.0, "batchmean", None).item() == pytest.approx(want, rel=1e-6)


def test_float64_targets_with_float32_logits_stay_finite():
    with np.errstate(divide="ignore"):
        log_p = np.log(np.array([[1.0, 0.0], [0.5, 0.5]]))  # float64, with log(0)
    lt = tempered_log_proba(log_p, 1.0)
    assert lt.dtype == torch.float64 and lt[0, 1] == torch.finfo(torch.float64).min
    s = torch.zeros(2, 2, requires_grad=True)
    loss, _ = loss_and_grad(s, lt)
    assert loss.dtype == torch.float32 and np.isfinite(loss.item())
    assert loss.item() == pytest.approx(np.log(2.0) / 2, rel=1e-6)


def test_empty_batch_falls_back_to_torch():
    s = torch.zeros(0, 3, requires_grad=True)
    lt = torch.zeros(0, 3)
    assert kd_kl_loss(s, lt, reduction="sum").item() == 0.0
    # Like torch's kl_div(reduction="batchmean"): 0 / 0.
    assert np.isnan(kd_kl_loss(s, lt).item())
    assert np.isnan(F.kl_div(s, lt, reduction="batchmean", log_target=True).item())


# --------------------------------------------------------------------------- #
# Determinism
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("dtype", DTYPES)
def test_deterministic_across_calls_and_thread_counts(dtype):
    s, lt = make_problem(5000, 10, dtype, seed=7)  # above the parallel threshold
    assert s.numel() >= _kd_loss._PARALLEL_MIN_ELEMENTS
    ref_loss, ref_grad = loss_and_grad(s, lt, temperature=4.0)
    previous = numba.get_num_threads()
    try:
        for n_threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(n_threads)
            for _ in range(2):
                loss, grad = loss_and_grad(s, lt, temperature=4.0)
                assert loss.item() == ref_loss.item()
                assert torch.equal(grad, ref_grad)
    finally:
        numba.set_num_threads(previous)
    # The single-threaded kernel (small batches) gives the same rows, up to the
    # order of each row's sums (the two kernels are compiled apart).
    _, big_grad = loss_and_grad(s, lt, temperature=4.0, reduction="sum")
    head = s[:100].detach().clone().requires_grad_()
    assert head.numel() < _kd_loss._PARALLEL_MIN_ELEMENTS
    _, small_grad = loss_and_grad(head, lt[:100], temperature=4.0, reduction="sum")
    rtol = reorder_rtol(torch.empty(0, dtype=dtype).numpy().dtype, 10)
    torch.testing.assert_close(small_grad, big_grad[:100], rtol=rtol, atol=rtol * big_grad[:100].abs().max().item())


def test_worker_threads_use_the_serial_kernel(monkeypatch):
    # One level of parallelism: under a joblib threading backend the kernel
    # must not start its own threads.
    s, lt = make_problem(5000, 10, torch.float64)
    want_loss, want_grad = loss_and_grad(s, lt)

    def fail(*args):
        raise AssertionError("parallel kernel called from a worker thread")

    monkeypatch.setattr(_kd_loss, "kl_div_fused", fail)
    results = []
    worker = threading.Thread(target=lambda: results.append(loss_and_grad(s, lt)))
    worker.start()
    worker.join()
    loss, grad = results[0]
    assert loss.item() == want_loss.item() and torch.equal(grad, want_grad)
    with pytest.raises(AssertionError, match="parallel kernel called"):
        kd_kl_loss(s, lt)  # the main thread does use it


# --------------------------------------------------------------------------- #
# teacher_log_proba
# --------------------------------------------------------------------------- #


def test_teacher_log_probs_is_tempered_log_softmax():
    t = torch.randn(10, 4, dtype=torch.float64)
    torch.testing.assert_close(tempered_log_proba(t, 3.0), F.log_softmax(t / 3.0, dim=1))
    # From log-probabilities: the tempered distribution p**(1/T) / sum(p**(1/T)).
    p = torch.softmax(t, dim=1)
    tempered = p ** (1 / 3.0) / (p ** (1 / 3.0)).sum(dim=1, keepdim=True)
    torch.testing.assert_close(tempered_log_proba(p.log().numpy(), 3.0).exp(), tempered)


def test_teacher_log_probs_dtypes_and_inputs():
    assert tempered_log_proba(np.zeros((2, 3), dtype=np.float32)).dtype == torch.float32
    assert tempered_log_proba(np.zeros((2, 3))).dtype == torch.float64
    assert tempered_log_proba(np.zeros((2, 3), dtype=np.int64)).dtype == torch.get_default_dtype()
    t = torch.zeros(2, 3, requires_grad=True)
    out = tempered_log_proba(t)
    assert not out.requires_grad
    torch.testing.assert_close(out, torch.full((2, 3), -np.log(3.0)))
    clipped = tempered_log_proba(torch.tensor([[0.0, -float("inf")]]))
    assert clipped[0, 1] == torch.finfo(torch.float32).min and clipped.exp()[0, 1] == 0


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros(3), r"logits_or_log_proba must be 2-D \(n_samples, n_classes\); got shape \(3,\)"),
        (np.array([[0.0, np.nan]]), "logits_or_log_proba must not contain NaN or \\+inf"),
        (np.array([[0.0, np.inf]]), "logits_or_log_proba must not contain NaN or \\+inf"),
        (np.array([[0.0, 1.0], [-np.inf, -np.inf]]), "Row 1 of logits_or_log_proba is all -inf"),
    ],
)
def test_teacher_log_probs_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        tempered_log_proba(bad)


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), float("inf"), "1", True, None])
def test_invalid_temperature(temperature):
    s, lt = make_problem(2, 3)
    match = rf"temperature must be a finite real number > 0; got {temperature!r}\."
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)")):
        kd_kl_loss(s, lt, temperature=temperature)
    with pytest.raises(ValueError, match="temperature must be a finite real number > 0"):
        tempered_log_proba(np.zeros((2, 3)), temperature)


@pytest.mark.parametrize("reduction", ["avg", "none", None, 1])
def test_invalid_reduction(reduction):
    s, lt = make_problem(2, 3)
    with pytest.raises(ValueError, match=rf"reduction must be one of 'batchmean', 'mean', 'sum'; got {reduction!r}\."):
        kd_kl_loss(s, lt, reduction=reduction)


def test_invalid_shapes_and_types():
    s, lt = make_problem(4, 3)
    with pytest.raises(TypeError, match="student_logits must be a torch.Tensor .*; got ndarray"):
        kd_kl_loss(s.detach().numpy(), lt)
    with pytest.raises(ValueError, match=r"student_logits must be 2-D \(n_samples, n_classes\); got shape \(12,\)"):
        kd_kl_loss(s.detach().reshape(-1), lt)
    with pytest.raises(ValueError, match="student_logits must hold floating-point values; got dtype torch.int64"):
        kd_kl_loss(torch.zeros(4, 3, dtype=torch.int64), lt)
    shape_msg = r"teacher_log_proba must have the shape of student_logits \(4, 3\); got shape \(4, 2\)"
    with pytest.raises(ValueError, match=shape_msg):
        kd_kl_loss(s, lt[:, :2])
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(4,\), one weight per row; got shape \(3,\)"):
        kd_kl_loss(s, lt, sample_weight=np.ones(3))


# --------------------------------------------------------------------------- #
# CUDA (runs where a GPU is present)
# --------------------------------------------------------------------------- #


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_matches_cpu(dtype, reduction):
    s, lt = make_problem(300, 10, dtype, temperature=2.0)
    w = np.random.RandomState(0).uniform(0, 2, 300)
    cpu_loss, cpu_grad = loss_and_grad(s, lt, temperature=2.0, reduction=reduction, sample_weight=w)
    s_cuda = s.detach().cuda().requires_grad_()
    loss = kd_kl_loss(s_cuda, lt, temperature=2.0, reduction=reduction, sample_weight=w)  # lt, w moved over
    loss.backward()
    assert loss.device.type == "cuda" and "FusedKLDivergence" not in type(loss.grad_fn).__name__
    assert loss.item() == pytest.approx(cpu_loss.item(), rel=1e-5 if dtype == torch.float32 else 1e-12)
    assert rel_err(s_cuda.grad.cpu(), cpu_grad.to(torch.float64)) < (1e-5 if dtype == torch.float32 else 1e-12)
