"""Tests of the ridge mimic, diagnose's default regressor (crossmodal/diagnosis/_ridge.py)."""

import numpy as np
import pytest

from crossmodal.diagnosis._ridge import _GCV_ROWS_PER_COLUMN, _RIDGE_ALPHAS, _ridge_fit_predict
from crossmodal.diagnosis._ridge import _apply_tridiagonal_q as _apply_tridiagonal_q_original


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


def _explicit_tridiagonal_q(reflectors, tau):
    # Reference: Q = H_0 H_1 ... H_{p-2}, H_i = I - tau_i v v^T, v = (0,..,0, 1, reflectors[i+2:, i]).
    p = len(reflectors)
    Q = np.eye(p)
    for i in range(p - 1):
        v = np.zeros(p)
        v[i + 1] = 1.0
        v[i + 2 :] = reflectors[i + 2 :, i]
        Q = Q @ (np.eye(p) - tau[i] * np.outer(v, v))
    return Q


@pytest.mark.parametrize("p", [1, 2, 3, 17])
def test_tridiagonal_q_is_the_factor_of_lapacks_reduction(p):
    from scipy.linalg import lapack

    from crossmodal.diagnosis._ridge import _apply_tridiagonal_q

    rng = np.random.default_rng(p)
    A = rng.normal(size=(3 * p, p))
    G = A.T @ A
    reflectors, diag, off, tau, info = lapack.dsytrd(G, lower=1, lwork=max(1, int(lapack.dsytrd_lwork(p)[0])))
    assert info == 0
    Q = _explicit_tridiagonal_q(reflectors, tau)
    S = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
    scale = np.abs(G).max()
    np.testing.assert_allclose(Q.T @ G @ Q, S, atol=1e3 * np.finfo(float).eps * scale)  # the reference is right
    C = rng.normal(size=(p, 4))
    np.testing.assert_allclose(_apply_tridiagonal_q(reflectors, tau, C, transpose=True), Q.T @ C, atol=1e-12)
    np.testing.assert_allclose(_apply_tridiagonal_q(reflectors, tau, C, transpose=False), Q @ C, atol=1e-12)


@pytest.mark.parametrize("p", [1, 2, 5, 60, 120])
def test_gcv_through_the_tridiagonal_reduction_matches_the_eigendecomposition(p, monkeypatch):
    # Near-collinear columns (tiny eigenvalues) and a column constant on the rows (a zero row and column); the
    # reduction taken from 2 columns on (the library takes it only where it is the faster).
    import crossmodal.diagnosis._ridge as ridge
    from crossmodal.diagnosis._ridge import _eigen_coefficients, _gcv_coefficients, _standardised

    monkeypatch.setattr(ridge, "_TRIDIAGONAL_MIN_COLUMNS", 1)
    rng = np.random.default_rng(p)
    X = rng.normal(size=(40 * p, p))
    if p >= 5:
        X[:, 1] = X[:, 0] + 1e-6 * rng.normal(size=len(X))
        X[:, 2] = 7.0
    _, _, Z = _standardised(X)
    T = Z[:, :1] @ rng.normal(size=(1, 3)) + rng.normal(size=(len(X), 3))
    T -= T.mean(axis=0)
    gram, ZT = Z.T @ Z, Z.T @ T
    expected = _eigen_coefficients(gram, ZT, T, _RIDGE_ALPHAS)
    np.testing.assert_allclose(_gcv_coefficients(gram, ZT, T, _RIDGE_ALPHAS), expected, rtol=1e-8, atol=1e-12)


def test_gcv_falls_back_to_the_eigendecomposition_when_the_penalised_matrix_is_not_positive_definite(monkeypatch):
    import crossmodal.diagnosis._ridge as ridge
    from crossmodal.diagnosis._ridge import _eigen_coefficients, _gcv_coefficients

    monkeypatch.setattr(ridge, "_TRIDIAGONAL_MIN_COLUMNS", 2)
    rng = np.random.default_rng(0)
    V = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    gram = V @ np.diag([-1.0, 0.5, 2.0, 3.0, 40.0, 90.0]) @ V.T  # -1 + 0.01 < 0: the first solve fails
    ZT, T = rng.normal(size=(6, 2)), rng.normal(size=(120, 2))
    np.testing.assert_array_equal(
        _gcv_coefficients(gram, ZT, T, _RIDGE_ALPHAS), _eigen_coefficients(gram, ZT, T, _RIDGE_ALPHAS)
    )


@pytest.mark.parametrize("n_rows", [60, 600])  # leave-one-out (6 rows per column) and GCV (60)
@pytest.mark.parametrize("shared", [False, True])
def test_fits_on_centred_rows_match_fits_on_the_rows(n_rows, shared):
    # Columns far from zero, and one constant on the training rows but not on the test rows.
    from crossmodal.diagnosis._ridge import CentredRows, _gram_stats

    rng = np.random.default_rng(n_rows)
    X = rng.normal(size=(n_rows + 40, 10)) * np.linspace(0.1, 5.0, 10) + np.linspace(-1e4, 1e4, 10)
    X[:n_rows, 3] = 250.0
    X[n_rows:, 3] = 1e9  # any weight on the constant column would show
    T = X[:n_rows, :2] @ rng.normal(size=(2, 3)) * 1e-3 + rng.normal(size=(n_rows, 3))
    train, test = np.arange(n_rows), np.arange(n_rows, n_rows + 40)
    stats = _gram_stats(X[train]) if shared else None
    centred = CentredRows(X)
    np.testing.assert_allclose(centred.rows.mean(axis=0), 0.0, atol=1e-9)
    expected = _ridge_fit_predict(X[train], T, X[test], stats=stats)
    got = _ridge_fit_predict(centred.rows[train], T, centred.rows[test], stats=stats, shift=centred.shift)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


def test_gcv_takes_the_eigendecomposition_below_the_tridiagonal_columns_and_the_reduction_from_them(monkeypatch):
    import crossmodal.diagnosis._ridge as ridge
    from crossmodal.diagnosis._ridge import _TRIDIAGONAL_MIN_COLUMNS, _eigen_coefficients, _gcv_coefficients

    calls = []

    def recording(*args, **kwargs):
        calls.append(1)
        return _apply_tridiagonal_q_original(*args, **kwargs)

    monkeypatch.setattr(ridge, "_apply_tridiagonal_q", recording)
    rng = np.random.default_rng(0)
    for p, reduced in ((_TRIDIAGONAL_MIN_COLUMNS - 1, False), (_TRIDIAGONAL_MIN_COLUMNS, True)):
        Z = rng.normal(size=(12 * p, p))
        T = rng.normal(size=(12 * p, 3))
        gram, ZT = Z.T @ Z, Z.T @ T
        calls.clear()
        got = _gcv_coefficients(gram, ZT, T, _RIDGE_ALPHAS)
        assert bool(calls) == reduced
        np.testing.assert_allclose(got, _eigen_coefficients(gram, ZT, T, _RIDGE_ALPHAS), rtol=1e-8, atol=1e-12)
