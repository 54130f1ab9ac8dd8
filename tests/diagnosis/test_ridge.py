"""Tests of the ridge mimic, diagnose's default regressor (crossmodal/diagnosis/_ridge.py)."""

import numpy as np
import pytest

from crossmodal.diagnosis._ridge import _GCV_ROWS_PER_COLUMN, _RIDGE_ALPHAS, _ridge_fit_predict


@pytest.mark.parametrize("signal, n_features", [(0.1, 20), (3.0, 20), (1.0, 200)])
def test_default_mimic_with_few_rows_per_column_equals_ridgecv_with_leave_one_out(signal, n_features):
    from sklearn.linear_model import RidgeCV

    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, n_features)) * 3 + 1
    assert len(X) < _GCV_ROWS_PER_COLUMN * n_features
    T = signal * X[:, :3] @ rng.normal(size=(3, 4)) + rng.normal(size=(150, 4))
    X_test = rng.normal(size=(30, n_features))
    mean, sd = X.mean(axis=0), X.std(axis=0)
    reference = RidgeCV(alphas=_RIDGE_ALPHAS).fit((X - mean) / sd, T)
    np.testing.assert_allclose(
        _ridge_fit_predict(X, T, X_test), reference.predict((X_test - mean) / sd), rtol=1e-7, atol=1e-9
    )


@pytest.mark.parametrize("signal", [0.05, 0.3])
def test_default_mimic_with_many_rows_per_column_uses_generalised_cross_validation(signal):
    # Reference: one scikit-learn Ridge per penalty, GCV from its training residuals and the explicit hat matrix.
    from sklearn.linear_model import Ridge

    n, p = 400, 30
    assert n >= _GCV_ROWS_PER_COLUMN * p
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, p)) * 3 + 1
    T = signal * X[:, :3] @ rng.normal(size=(3, 4)) + rng.normal(size=(n, 4))
    X_test = rng.normal(size=(30, p))
    Z, Z_test = (X - X.mean(axis=0)) / X.std(axis=0), (X_test - X.mean(axis=0)) / X.std(axis=0)
    gcv = []
    for alpha in _RIDGE_ALPHAS:
        rss = np.sum((T - Ridge(alpha=alpha).fit(Z, T).predict(Z)) ** 2)
        dof = np.trace(Z @ np.linalg.solve(Z.T @ Z + alpha * np.eye(p), Z.T))
        gcv.append(rss / (n * (1 - dof / n) ** 2))
    best = int(np.argmin(gcv))
    assert 0 < best < len(_RIDGE_ALPHAS) - 1  # an interior choice: the criterion, not the grid's end, decides
    expected = Ridge(alpha=_RIDGE_ALPHAS[best]).fit(Z, T).predict(Z_test)
    np.testing.assert_allclose(_ridge_fit_predict(X, T, X_test), expected, rtol=1e-7, atol=1e-9)


def test_shared_gram_statistics_give_the_same_fits():
    from crossmodal.diagnosis._lda import _ShrunkLDA
    from crossmodal.diagnosis._ridge import _gram_stats, _ridge_fit_predict

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    T = rng.normal(size=(120, 3))
    stats = _gram_stats(X)
    np.testing.assert_allclose(
        _ridge_fit_predict(X, T, X[:10], stats=stats), _ridge_fit_predict(X, T, X[:10]), rtol=1e-10, atol=1e-12
    )
    y = rng.integers(0, 3, 120)
    shared, alone = _ShrunkLDA().fit(X, y, stats=stats), _ShrunkLDA().fit(X, y)
    np.testing.assert_allclose(shared.coef_, alone.coef_, rtol=1e-10)
    np.testing.assert_allclose(shared.intercept_, alone.intercept_, rtol=1e-10)
