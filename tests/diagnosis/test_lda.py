"""Tests of the shrunk LDA, diagnose's default teacher and student (crossmodal/diagnosis/_lda.py)."""

import numpy as np
import pytest

from crossmodal import make_modality_venn
from crossmodal.diagnosis._lda import _ledoit_wolf_shrinkage, _ShrunkLDA


def test_shrunk_lda_soft_labels_match_hard_labels_for_one_hot():
    X_a, _, y = make_modality_venn(
        300, n_general=6, n_specific_a=2, n_specific_b=2, n_noise_a=5, n_noise_b=5, random_state=0
    )
    hard = _ShrunkLDA().fit(X_a, y)
    soft = _ShrunkLDA().fit_soft(X_a, np.eye(2)[y], np.array([0, 1]))
    np.testing.assert_allclose(hard.coef_, soft.coef_, rtol=1e-7, atol=1e-10)
    assert hard.score(X_a, y) > 0.7


@pytest.mark.parametrize("shape", [(50, 80), (300, 20), (2, 3)])
def test_ledoit_wolf_shrinkage_matches_scikit_learn(shape):
    from sklearn.covariance import ledoit_wolf_shrinkage

    R = np.random.default_rng(0).normal(size=shape) * np.linspace(0.1, 3.0, shape[1])
    expected = ledoit_wolf_shrinkage(R, assume_centered=True)
    got = _ledoit_wolf_shrinkage(R.T @ R / len(R), np.einsum("ij,ij->i", R, R))
    assert got == pytest.approx(expected, rel=1e3 * np.finfo(np.float64).eps, abs=0.0)


@pytest.mark.parametrize("soft", [False, True])
def test_shrunk_lda_matches_the_textbook_computation(soft):
    # Reference: explicit residuals R = Z - Q M and scikit-learn's shrinkage, against fit_soft's Gram-matrix route.
    from sklearn.covariance import ledoit_wolf_shrinkage

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 12)) * np.linspace(0.5, 4.0, 12) + 3.0
    y = rng.integers(0, 3, 300)
    X[y == 1, :4] += 1.5
    Q = rng.dirichlet(np.ones(3), size=300) if soft else np.eye(3)[y]
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    weight = Q.sum(axis=0)
    M = (Q.T @ Z) / weight[:, None]
    R = Z - Q @ M
    shrink = ledoit_wolf_shrinkage(R, assume_centered=True)
    cov = (Z.T @ Z - (M.T * weight) @ M) / len(Z)
    mu = np.trace(cov) / 12
    cov = (1.0 - shrink) * cov + shrink * mu * np.eye(12)
    expected = np.linalg.solve(cov, M.T).T
    model = _ShrunkLDA().fit_soft(X, Q, np.arange(3))
    # 300-term sums and a 12x12 solve of a well-conditioned matrix: far inside 1e-10 relative.
    np.testing.assert_allclose(model.coef_, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("weights", ["distiller", "equal", "mostly_distinct"])
def test_weighted_fit_from_shared_gram_statistics_matches_the_fit_from_the_rows(weights):
    # With the rows' Gram statistics, the weighted Gram matrix is built from the unweighted one plus the rows
    # weighted above the smallest weight; without them, from every row. Both must give the same model.
    from crossmodal.diagnosis._crossfit import distillation_targets
    from crossmodal.diagnosis._ridge import _gram_stats

    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 15)) * np.linspace(0.5, 4.0, 15) + 2.0
    codes = rng.integers(0, 3, 400)
    proba = rng.dirichlet(np.ones(3), size=400)
    if weights == "distiller":  # 30 labelled rows weighted above the 370 unlabelled ones
        codes[30:] = -1
        Q, w = distillation_targets(codes, proba, 0.5)
    elif weights == "equal":
        Q, w = proba, np.full(400, 3.0)
    else:
        Q, w = proba, rng.uniform(0.5, 2.0, 400)
    from_rows = _ShrunkLDA().fit_soft(X, Q, np.arange(3), sample_weight=w)
    shared = _ShrunkLDA().fit_soft(X, Q, np.arange(3), sample_weight=w, stats=_gram_stats(X))
    # 400-term sums in float64, a 15x15 well-conditioned solve: far inside 1e-9 relative.
    np.testing.assert_allclose(shared.coef_, from_rows.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(shared.intercept_, from_rows.intercept_, rtol=1e-9, atol=1e-12)
    if weights != "equal":  # a weighted fit differs from the unweighted one, so the weights were used
        plain = _ShrunkLDA().fit_soft(X, Q, np.arange(3), stats=_gram_stats(X))
        assert np.max(np.abs(plain.coef_ - shared.coef_)) > 1e-3
