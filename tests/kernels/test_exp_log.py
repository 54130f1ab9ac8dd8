"""The branch-free exp and log of the numba kernels against extended-precision NumPy.

Small sizes: this file also runs under NUMBA_DISABLE_JIT=1.
"""

import numba
import numpy as np
import pytest

from crossmodal._kernels import _exp_log as E
from crossmodal._kernels._config import JIT_SERIAL

# The helpers are tested inside compiled loops, as the kernel uses them (the
# loops vectorise, so this is the code that runs). No cache: a cached loop
# would keep an inlined copy of an older helper.
_TEST_JIT = {**JIT_SERIAL, "cache": False}


def _compiled_loop(helper):
    """``helper`` applied to each element of a float64 array in a compiled loop."""

    @numba.jit(**_TEST_JIT)
    def loop(x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = helper(x[i])
        return out

    return loop


exp_loop = _compiled_loop(E.exp_f64)
log_loop = _compiled_loop(E.log_f64)


def test_exp_f64_matches_the_extended_precision_exp_over_its_whole_range():
    rng = np.random.RandomState(0)
    x = np.concatenate(
        [
            rng.uniform(E.EXP_UNDERFLOW + 1e-9, E.EXP_OVERFLOW - 1e-9, 20000),
            rng.uniform(-20.0, 20.0, 20000),
            rng.uniform(-1e-3, 1e-3, 2000),
            np.linspace(E.EXP_UNDERFLOW + 1e-9, E.EXP_UNDERFLOW + 1.0, 500),
            np.linspace(E.EXP_OVERFLOW - 1.0, E.EXP_OVERFLOW - 1e-9, 500),
            np.arange(-700.0, 701.0),  # integer multiples: k changes
            np.log(2.0) * np.arange(-1000, 1001) + 0.5 * np.log(2.0),  # rounding ties of k
        ]
    )
    got = exp_loop(x)
    # The reference in extended precision: np.exp in float64 is itself off by
    # up to an ulp, differently per NumPy version and CPU.
    want = np.exp(x.astype(np.longdouble))
    assert np.all(np.isfinite(got)) and np.all(got > 0)
    assert np.max(np.abs(got - want) / want) < 5e-16


def test_exp_f64_special_values():
    tiny = np.finfo(np.float64).tiny
    x = np.array(
        [
            0.0,
            -0.0,
            1.0,
            -1.0,
            np.inf,
            -np.inf,
            np.nan,
            -1e308,
            1e308,
            E.EXP_UNDERFLOW - 1e-9,
            -745.2,
            -1e4,
            E.EXP_OVERFLOW + 1e-9,
            710.2,
            1e4,
        ]
    )
    got = exp_loop(x)
    assert got[0] == 1.0 and got[1] == 1.0
    # Within the documented two units in the last place (np.exp itself is
    # implemented differently per NumPy version and CPU).
    assert got[2] == pytest.approx(np.e, rel=5e-16) and got[3] == pytest.approx(np.exp(-1.0), rel=5e-16)
    assert got[4] == np.inf and got[5] == 0.0 and np.isnan(got[6])
    assert got[7] == 0.0 and got[8] == np.inf
    # Underflow is exactly 0 (the true values are below 3.2e-308), overflow inf.
    assert np.all(got[9:12] == 0.0) and np.exp(x[9]) < 1.5 * tiny
    assert np.all(got[12:] == np.inf)
    # The scalar function (not vectorised) agrees.
    for xi, gi in zip(x, got):
        assert E.exp_f64(xi) == gi or (np.isnan(gi) and np.isnan(E.exp_f64(xi)))


def test_exp_f64_is_monotone_across_the_reduction_boundaries():
    # Around x = (k + 0.5) ln 2 the reduction switches k; no jump there.
    x = np.sort(np.concatenate([np.log(2.0) * (np.arange(-50, 50) + 0.5) + d for d in (-1e-12, 0.0, 1e-12)]))
    got = exp_loop(x)
    assert np.all(np.diff(got) >= 0)


def test_log_f64_matches_the_extended_precision_log():
    rng = np.random.RandomState(1)
    x = np.concatenate(
        [
            10.0 ** rng.uniform(-307.0, 308.0, 20000),
            1.0 + rng.uniform(-0.3, 0.5, 20000),  # near 1, where log is small
            rng.uniform(1.0, 1000.0, 5000),  # the kernel's range: sums in [1, n_classes]
            10.0 ** rng.uniform(-323.0, -308.0, 1000),  # subnormal
            np.array([np.sqrt(2.0), np.sqrt(0.5), 2.0, 0.5, np.finfo(np.float64).max]),
        ]
    )
    got = log_loop(x)
    want = np.log(x.astype(np.longdouble))  # extended precision, as for exp
    assert np.max(np.abs(got - want) / np.abs(want)) < 5e-16


def test_log_f64_special_values():
    x = np.array([1.0, 0.0, -0.0, np.inf, -1.0, -np.inf, np.nan, 5e-324])
    got = log_loop(x)
    assert got[0] == 0.0
    assert got[1] == -np.inf and got[2] == -np.inf
    assert got[3] == np.inf
    assert np.all(np.isnan(got[4:7]))
    assert got[7] == pytest.approx(np.log(5e-324), rel=5e-16)
