"""Tests of gamma's extrapolation and its intervals (crossmodal/diagnosis/_intervals.py)."""

import numpy as np
import pytest

from crossmodal.diagnosis._intervals import _corrected_gamma, _extrapolated, _shared_gamma, _union_share
from crossmodal.diagnosis._replicates import _N_SUBSAMPLES


def test_union_share_is_the_diagram_gamma_and_bounds_the_interval():
    d0, d_sa, d_sb = 4.0, 6.0, 2.0
    assert _union_share(d0 / (d0 + d_sa), d0 / (d0 + d_sb)) == pytest.approx(d0 / (d0 + d_sa + d_sb), rel=1e-12)
    # Shares are clipped to [0, 1]; nothing shared in either direction gives 0, not NaN.
    np.testing.assert_allclose(
        _union_share(np.array([0.0, -0.2, 1.3]), np.array([0.0, 0.5, 0.5])), [0.0, 0.0, 0.5], atol=1e-15
    )
    rng = np.random.default_rng(0)
    L = rng.normal(size=(400, 3))
    L -= L.mean(axis=1, keepdims=True)
    W = rng.multinomial(400, np.full(400, 1 / 400), size=100).astype(float)
    ab = _extrapolated(L, 0.5 * L, [(L, (0.3 + 0.02 * r) * L) for r in range(_N_SUBSAMPLES)], W)
    ba = _extrapolated(L, 0.4 * L, [(L, (0.2 + 0.03 * r) * L) for r in range(_N_SUBSAMPLES)], W)
    point, (low, high) = _shared_gamma(ab, ba)
    assert point == pytest.approx(float(_union_share(ab[0], ba[0])), rel=1e-12)
    assert low < point < high
    # The interval is the combination of the two directions' own (gamma-style) interval ends.
    a_ci, b_ci = (
        _corrected_gamma(L, 0.5 * L, [(L, (0.3 + 0.02 * r) * L) for r in range(_N_SUBSAMPLES)], W)[1],
        _corrected_gamma(L, 0.4 * L, [(L, (0.2 + 0.03 * r) * L) for r in range(_N_SUBSAMPLES)], W)[1],
    )
    assert low == pytest.approx(float(_union_share(a_ci[0], b_ci[0])), rel=1e-9)
    assert high == pytest.approx(float(_union_share(a_ci[1], b_ci[1])), rel=1e-9)


def test_corrected_gamma_extrapolates_from_half_data_replicates():
    rng = np.random.default_rng(0)
    L = rng.normal(size=(500, 3))
    L -= L.mean(axis=1, keepdims=True)
    M = 0.3 * L  # R^2 = 1 - 0.7^2 = 0.51
    worse = [(L, 0.2 * L)] * _N_SUBSAMPLES  # identical replicates (R^2 0.36): no fit noise
    W = rng.multinomial(500, np.full(500, 1 / 500), size=200).astype(float)
    full = 1 - np.sum((L - M) ** 2) / np.sum((L - L.mean(axis=0)) ** 2)
    half = 1 - np.sum((L - 0.2 * L) ** 2) / np.sum((L - L.mean(axis=0)) ** 2)
    gamma, ci, uncorrected = _corrected_gamma(L, M, worse, W)
    assert uncorrected == pytest.approx(full, rel=1e-12)
    assert gamma == pytest.approx(2 * full - half, rel=1e-12)
    # Here the bootstrap replicates move together, so the interval is narrow but not empty.
    assert ci[0] < gamma < ci[1] and ci[1] - ci[0] < 0.05
    noisy = [(L, (0.2 + 0.05 * r) * L) for r in range(_N_SUBSAMPLES)]
    _, wide, _ = _corrected_gamma(L, M, noisy, W)
    assert wide[1] - wide[0] > ci[1] - ci[0] + 0.1
