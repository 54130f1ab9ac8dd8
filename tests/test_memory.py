"""Salience and prediction under a working-memory bound.

The peak at n=200000, d=2048 is measured by ``benchmarks/bench_memory.py``;
here the same mechanisms are checked at small sizes: the bound drives the
chunking, chunking does not change results, and nothing of the size of the
input is copied (NumPy allocations are traced with ``tracemalloc``).
"""

import tracemalloc

import numpy as np
import pytest
import torch
from conftest import reorder_rtol
from sklearn import config_context
from skorch import NeuralNetClassifier
from torch import nn

from crossmodal import CrossModalDistiller, permutation_salience
from crossmodal._utils.torch_helpers import forward_in_chunks, predict_logits, working_memory_bytes
from crossmodal.nets import MLP


def _pair(d_a, d_b, n_classes, hidden_sizes, seed=0):
    torch.manual_seed(seed)
    return MLP(d_a, n_classes, hidden_sizes=hidden_sizes), MLP(d_b, n_classes, hidden_sizes=())


def _data(n, d_a, d_b, seed=0, dtype=np.float32):
    rng = np.random.RandomState(seed)
    return rng.randn(n, d_a).astype(dtype), rng.randn(n, d_b).astype(dtype)


class _CountingLinear(nn.Linear):
    """A Linear layer that counts its forward calls and the rows it saw."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches = []

    def forward(self, x):
        self.batches.append(len(x))
        return super().forward(x)


def test_working_memory_bytes_default_and_errors():
    assert working_memory_bytes(3) == 3 * 2**20
    with config_context(working_memory=7):
        assert working_memory_bytes() == 7 * 2**20
    for bad in (0, -1.0, float("nan"), float("inf"), True, "64"):
        with pytest.raises(ValueError, match=r"working_memory must be a finite number of MiB > 0; got"):
            working_memory_bytes(bad)


def test_forward_chunks_follow_the_bound_and_do_not_change_logits():
    torch.manual_seed(0)
    layer = _CountingLinear(64, 3)
    X = np.random.RandomState(0).randn(1000, 64)  # float64 input, float32 module
    with torch.inference_mode():
        whole = layer(torch.as_tensor(X, dtype=torch.float32)).numpy()
    layer.batches.clear()
    # Per row: 64 float32 inputs + 3 float32 outputs = 268 bytes; 268 * 100 rows fit in 26800 bytes.
    with torch.inference_mode():
        chunked = forward_in_chunks(layer, X, "cpu", max_bytes=268 * 100).numpy()
    assert layer.batches[0] == 2  # the probe
    assert layer.batches[1:] == [100] * 10
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-6)


def test_predict_logits_respects_sklearn_working_memory():
    torch.manual_seed(0)
    net = nn.Sequential(_CountingLinear(32, 8), nn.ReLU(), nn.Linear(8, 2))
    X = np.random.RandomState(1).randn(5000, 32).astype(np.float32)
    default = predict_logits(net, X, "cpu")
    assert net[0].batches == [2, 5000]
    net[0].batches.clear()
    with config_context(working_memory=0.05):  # 52428 bytes: 32*4 + (8+8+2)*4 = 200 bytes per row
        small = predict_logits(net, X, "cpu")
    assert max(net[0].batches[1:]) == 52428 // 200
    assert sum(net[0].batches[1:]) == 5000
    np.testing.assert_allclose(small, default, rtol=1e-6, atol=1e-6)
    assert net.training  # mode restored


@pytest.mark.parametrize("hidden_sizes", [(), (16,), (16, 16)], ids=["linear", "one_hidden", "mlp"])
@pytest.mark.parametrize("distance", ["mse", "kl"])
def test_salience_is_the_same_under_any_bound_and_input_dtype(hidden_sizes, distance):
    X_a, X_b = _data(300, 24, 5)
    f_a, f_b = _pair(24, 5, 3, hidden_sizes)
    kwargs = dict(n_repeats=3, distance=distance, random_state=0)
    reference = permutation_salience(f_a, f_b, X_a, X_b, **kwargs).importances
    # 0.02 MiB: a few channels per range, and a float64 X_a converted block by block.
    tight = permutation_salience(f_a, f_b, X_a, X_b, working_memory=0.02, **kwargs).importances
    from_f64 = permutation_salience(f_a, f_b, X_a.astype(np.float64), X_b, working_memory=0.02, **kwargs).importances
    # A bound changes how many rows and channels go through each matrix
    # product, and BLAS rounds a product by its shape: float32 forwards over
    # 24 inputs, so their sums may differ in order.
    rtol = reorder_rtol(np.float32, 24, accumulate=np.float32)
    np.testing.assert_allclose(tight, reference, rtol=rtol, atol=rtol * np.abs(reference).max())
    np.testing.assert_allclose(from_f64, reference, rtol=rtol, atol=rtol * np.abs(reference).max())
    # The layout alone changes nothing the forward sees: same bits.
    fortran = permutation_salience(f_a, f_b, np.asfortranarray(X_a), X_b, **kwargs).importances
    np.testing.assert_array_equal(fortran, reference)


def test_salience_generic_path_under_a_tight_bound():
    X_a, X_b = _data(200, 6, 4)
    torch.manual_seed(0)
    conv_a = nn.Sequential(nn.Unflatten(1, (1, 6)), nn.Conv1d(1, 2, 3), nn.Flatten(), nn.Linear(8, 3))
    f_b = MLP(4, 3, hidden_sizes=())
    kwargs = dict(n_repeats=2, random_state=0)
    reference = permutation_salience(conv_a, f_b, X_a, X_b, **kwargs).importances
    tight = permutation_salience(conv_a, f_b, X_a, X_b, working_memory=0.01, **kwargs).importances
    np.testing.assert_allclose(tight, reference, rtol=1e-6)


def test_salience_bad_working_memory_names_the_argument():
    X_a, X_b = _data(20, 4, 2)
    f_a, f_b = _pair(4, 2, 2, ())
    with pytest.raises(ValueError, match=r"working_memory must be a finite number of MiB > 0; got -5"):
        permutation_salience(f_a, f_b, X_a, X_b, working_memory=-5)


def _numpy_peak(fn):
    """Peak bytes of NumPy allocations (traced by tracemalloc) while ``fn`` runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize("hidden_sizes", [(), (8,)], ids=["linear", "one_hidden"])
def test_salience_does_not_copy_the_input(hidden_sizes):
    # X_a: 20000 x 512 float32 = 41 MB, and a float64 copy would be 82 MB. With
    # a 4 MiB bound the NumPy side stays far below the input's size: no
    # transposed copy of X_a, no float32 copy of a float64 X_a, no finiteness
    # mask of X_a's shape.
    X_a, X_b = _data(20000, 512, 4)
    X_a64 = X_a.astype(np.float64)
    f_a, f_b = _pair(512, 4, 3, hidden_sizes)

    def run():
        return permutation_salience(f_a, f_b, X_a64, X_b, n_repeats=1, random_state=0, working_memory=4)

    result, peak = _numpy_peak(run)
    assert result.importances.shape == (512, 1)
    assert peak < 0.25 * X_a.nbytes, f"peak NumPy allocation {peak / 2**20:.1f} MiB"


def test_distiller_predict_does_not_copy_the_input():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 16)
    y = (X[:, 0] > 0).astype(int)
    student = NeuralNetClassifier(MLP, module__hidden_sizes=(8,), max_epochs=2, train_split=None, verbose=0)
    kd = CrossModalDistiller(student=student, random_state=0).fit(
        X, y, teacher_proba=np.column_stack([1.0 - y, y]) * 0.8 + 0.1
    )
    X_big = rng.randn(40000, 16)  # 5 MB float64; a float32 copy would be 2.5 MB
    with config_context(working_memory=0.25):
        (proba, peak) = _numpy_peak(lambda: kd.predict_proba(X_big))
    expected = kd.predict_proba(X_big)
    # Chunks of rows change the shapes of the student's float32 products (16 inputs).
    rtol = reorder_rtol(np.float32, 16, accumulate=np.float32)
    np.testing.assert_allclose(proba, expected, rtol=rtol, atol=rtol)
    # The result itself is 40000 x 2 float64 (0.6 MB) plus float32 logits (0.3 MB).
    assert peak < 0.5 * X_big.nbytes / 2, f"peak NumPy allocation {peak / 2**20:.2f} MiB"
