"""The default mimic of :func:`~crossmodal.diagnose`: closed-form ridge, its penalty chosen by cross-validation.

Columns are standardised on the training rows (:func:`_standardised`, also
used by the shrunk LDA); one decomposition of the Gram matrix gives the fit
of every penalty, chosen by generalised cross-validation (a tridiagonal
reduction, :func:`_gcv_coefficients`) or by exact leave-one-out error (an
eigendecomposition, :func:`_loo_errors`).
"""

import numpy as np
from scipy.linalg import lapack

# Ridge penalties the default mimic chooses from (cross-validation), on standardised columns.
_RIDGE_ALPHAS = tuple(np.logspace(-2, 4, 13))
# Most values of the (rows, penalties, targets) array of leave-one-out ridge fits held at once (32 MiB of float64).
_RIDGE_CHUNK = 2**22
# From this many columns on, GCV reads a tridiagonal reduction of the Gram matrix instead of its eigendecomposition:
# below it the eigendecomposition is the faster (benchmarks/RESULTS.md).
_TRIDIAGONAL_MIN_COLUMNS = 96
# From this many training rows per column on, the mimic's penalty is chosen by generalised cross-validation
# instead of exact leave-one-out: leverages average at most 1/10 there, so the two criteria agree closely, and GCV
# needs no (rows x columns) products beyond the Gram matrix, so it is the cheaper of the two where both serve.
_GCV_ROWS_PER_COLUMN = 10


def _standardised(X):
    """Column means, scales and the standardised ``X`` (float64), on one centred copy.

    ``X.mean(axis=0)``, ``X.std(axis=0)`` and ``(X - mean) / scale`` up to
    rounding (the squares are summed without a temporary array). A column
    constant on the rows (its largest value equals its smallest) gets that
    value as its mean, scale 1 and standardised values exactly 0, whatever
    rounding the mean would leave.
    """
    X = np.asarray(X)
    if X.dtype == np.float64:
        mean = X.mean(axis=0)
        Z = X - mean
    else:  # the float64 copy is ours: centre it in place
        Z = X.astype(np.float64)
        mean = Z.mean(axis=0)
        Z -= mean
    scale = np.sqrt(np.einsum("ij,ij->j", Z, Z) / len(Z))
    constant = np.ptp(X, axis=0) == 0 if len(X) else np.ones(X.shape[1], dtype=bool)
    if constant.any():
        mean[constant] = X[0, constant] if len(X) else 0.0
        Z[:, constant] = 0.0
    scale[constant | (scale == 0)] = 1.0
    Z /= scale
    return mean, scale, Z


def _gram_stats(X):
    """``(mean, scale, Z^T Z)`` of ``X`` standardised: what a fit on these rows shares with another on them."""
    mean, scale, Z = _standardised(X)
    return mean, scale, Z.T @ Z


# The shared statistics of a set of rows are kept where at most this share of a column's digits can be lost to
# subtracting a block's cross-products (the block's rows much larger than the kept ones' spread); elsewhere the
# caller computes them from the rows.
_MAX_CANCELLATION = 1e6


def _leave_block_out_stats(X, blocks):
    """:func:`_gram_stats` of the rows of every block but one, for each block left out, from one pass over the rows.

    ``blocks``: disjoint arrays of distinct row indices of ``X``. Each
    block's column sums, cross-products, smallest and largest values are
    taken once, the sums and products on rows shifted by the mean of all
    blocks' rows (so that the moments subtracted below are of nearly
    centred data); the statistics of the union without block ``k`` are the
    totals minus block ``k``'s. Equal to ``_gram_stats(X[rows])`` up to
    rounding, at the cost of one Gram matrix of the union instead of one per
    block left out. A column constant on the kept rows (their largest value
    equals their smallest) gets that value as its mean, scale 1 and zero
    cross-products, as in :func:`_standardised`. Where subtracting a block
    would leave a column's spread to rounding (its kept rows' sum of
    squares below ``1 / _MAX_CANCELLATION`` of all rows'), the entry is None.
    """
    parts = [np.asarray(X[b], dtype=np.float64) for b in blocks]
    n = sum(len(b) for b in blocks)
    shift = sum(part.sum(axis=0) for part in parts) / n
    lows = [part.min(axis=0) if len(part) else np.full(part.shape[1], np.inf) for part in parts]
    highs = [part.max(axis=0) if len(part) else np.full(part.shape[1], -np.inf) for part in parts]
    sums, grams = [], []
    for part in parts:  # copies (X indexed by arrays of rows): shifted in place
        part -= shift
        sums.append(part.sum(axis=0))
        grams.append(part.T @ part)
    total_sum, total_gram = sum(sums), sum(grams)
    out = []
    for k, (block, block_sum, block_gram) in enumerate(zip(blocks, sums, grams)):
        m = n - len(block)
        others = [j for j in range(len(blocks)) if j != k]
        low = np.min([lows[j] for j in others], axis=0)
        constant = low == np.max([highs[j] for j in others], axis=0)
        s = total_sum - block_sum
        offset = s / m
        scatter = (total_gram - block_gram) - np.outer(s, offset)
        spread = np.diag(scatter)
        if np.any(~constant & (spread * _MAX_CANCELLATION <= np.diag(total_gram))):
            out.append(None)
            continue
        mean, scale = shift + offset, np.sqrt(np.clip(spread / m, 0.0, None))
        mean[constant], scale[constant] = low[constant], 1.0
        scatter[constant, :] = 0.0
        scatter[:, constant] = 0.0
        out.append((mean, scale, scatter / np.outer(scale, scale)))
    return out


def _standardised_as(X, stats):
    """``(mean, scale, Z, gram)``: ``X`` standardised, with the means, scales and Gram matrix of ``stats``
    (:func:`_gram_stats` of the same rows) or computed here when ``stats`` is None."""
    if stats is None:
        mean, scale, Z = _standardised(X)
        return mean, scale, Z, Z.T @ Z
    mean, scale, gram = stats
    Z = np.array(X, dtype=np.float64)  # our copy, standardised in place
    Z -= mean
    Z /= scale
    return mean, scale, Z, gram


def _loo_errors(Z, T, eigval, eigvec, inv):
    """Exact leave-one-out errors ``sum_i |e_i / (1 - h_ii)|^2`` of the ridge fits, one per column of ``inv``.

    ``Z`` is centred, so the hat matrix of the ridge with its (unpenalised)
    intercept is ``1 1^T / n + Z (Z^T Z + alpha I)^-1 Z^T``: each leverage
    ``h_ii`` includes ``1 / n``.
    """
    Q = Z @ eigvec
    QT = Q.T @ T
    Q2 = Q**2
    # Several penalties per product (one wide matrix product instead of one narrow one per penalty), in chunks
    # of at most _RIDGE_CHUNK values of the (rows, penalties, targets) fitted array.
    n_rows, n_targets = T.shape
    step = max(1, _RIDGE_CHUNK // max(1, n_rows * n_targets))
    errors = []
    for start in range(0, inv.shape[1], step):
        block = inv[:, start : start + step]
        fitted = (Q @ (QT[:, None, :] * block[:, :, None]).reshape(len(eigval), -1)).reshape(n_rows, -1, n_targets)
        loo = np.subtract(T[:, None, :], fitted, out=fitted)
        loo /= (1.0 - 1.0 / n_rows - Q2 @ block)[:, :, None]  # the intercept's leverage 1/n included
        errors.extend(np.einsum("iak,iak->a", loo, loo))
    return np.asarray(errors)


def _gcv_errors(T, eigval, B, inv):
    """Generalised cross-validation ``RSS / (n (1 - trace(H) / n)^2)`` of the ridge fits, one per column of ``inv``.

    From ``p``-sized quantities alone (Golub, Heath and Wahba, 1979): with
    ``B = V^T Z^T T`` and ``s = 1 / (lam + alpha)``, ``RSS = |T|^2 -
    sum_j (2 s_j - lam_j s_j^2) |B_j|^2`` and ``trace(H) = sum_j lam_j s_j``.
    """
    n_rows = len(T)
    energy = np.einsum("jk,jk->j", B, B)
    rss = np.einsum("ij,ij->", T, T) - ((2.0 * inv - eigval[:, None] * inv**2) * energy[:, None]).sum(axis=0)
    dof = (eigval[:, None] * inv).sum(axis=0)
    return np.maximum(rss, 0.0) / (n_rows * (1.0 - dof / n_rows) ** 2)


class CentredRows:
    """A view's rows in float64, less their column means: what the ridge mimics fitted on its row subsets read.

    One conversion and centring per view instead of one per fit. A subset
    of nearly centred rows multiplies centred targets without losing digits
    to the columns' offsets, so a fit on it needs no centred copy of its own
    (:func:`_ridge_fit_predict`'s ``shift``).

    Attributes
    ----------
    rows : ndarray of shape (n_samples, n_features), float64
        ``X - shift``.
    shift : ndarray of shape (n_features,)
        The column means of ``X``.
    """

    def __init__(self, X):
        self.rows = np.array(X, dtype=np.float64)
        self.shift = self.rows.mean(axis=0)
        self.rows -= self.shift


def _apply_tridiagonal_q(reflectors, tau, C, transpose):
    """``Q^T C`` (``transpose``) or ``Q C``, ``Q`` the orthogonal factor of ``?sytrd`` with ``uplo='L'``.

    ``Q = H_0 ... H_{p-2}`` with ``H_i`` the Householder reflector whose
    vector is 1 at ``i + 1`` and ``reflectors[i + 2:, i]`` below it: the
    reflectors of a QR factorisation of ``reflectors[1:, :-1]``, applied to
    rows ``1:`` of ``C`` by ``?ormqr`` (what LAPACK's ``?ormtr``, which
    SciPy does not wrap, does).
    """
    out = np.array(C, dtype=np.float64)
    if len(out) > 1:
        trans = "T" if transpose else "N"
        sub = reflectors[1:, :-1]
        lwork = max(1, int(lapack.dormqr("L", trans, sub, tau, out[1:], lwork=-1)[1][0]))
        out[1:] = lapack.dormqr("L", trans, sub, tau, out[1:], lwork=lwork)[0]
    return out


def _gcv_coefficients(gram, ZT, T, alphas):
    """Ridge coefficients on standardised columns, the penalty minimising generalised cross-validation.

    The criterion of :func:`_gcv_errors`, computed from one tridiagonal
    reduction ``Q^T G Q = S`` of the Gram matrix (LAPACK ``?sytrd``; with
    the steps below, about half the time of the eigendecomposition that
    :func:`_eigen_coefficients` takes, ``benchmarks/RESULTS.md``): with ``C = Q^T Z^T T`` and ``x`` the
    solution of ``(S + alpha I) x = C`` (a tridiagonal positive definite
    solve), ``RSS = |T|^2 - <x, C> - alpha |x|^2``, the degrees of freedom
    ``sum lam / (lam + alpha)`` come from ``S``'s eigenvalues alone
    (``?sterf``), and the coefficients are ``Q x``. A negative eigenvalue of
    ``S`` (rounding, where the Gram matrix is singular) enters the degrees of
    freedom as 0, as in the eigendecomposition's route, and the solves as it
    is, which differs from that route by its size relative to the penalty.
    With fewer than ``_TRIDIAGONAL_MIN_COLUMNS`` columns, where ``?sterf``
    does not converge, or where a solve finds ``S + alpha I`` not positive
    definite (an eigenvalue at or below ``-alpha``), the eigendecomposition's
    route is taken instead.
    """
    # (At least 2 columns: LAPACK's wrappers reject a 1 x 1 matrix's empty off-diagonal.)
    if len(gram) < max(_TRIDIAGONAL_MIN_COLUMNS, 2):
        return _eigen_coefficients(gram, ZT, T, alphas)
    n_rows = len(T)
    lwork = int(lapack.dsytrd_lwork(len(gram))[0])
    reflectors, diag, off, tau, _ = lapack.dsytrd(gram, lower=1, lwork=lwork)
    eigval, info = lapack.dsterf(diag, off)
    if info != 0:
        return _eigen_coefficients(gram, ZT, T, alphas)
    eigval = np.clip(eigval, 0.0, None)
    C = _apply_tridiagonal_q(reflectors, tau, ZT, transpose=True)
    energy = np.einsum("ij,ij->", T, T)
    errors, solutions = [], []
    for alpha in np.asarray(alphas, dtype=np.float64):
        x, info = lapack.dptsv(diag + alpha, off, C)[2:]
        if info != 0:
            return _eigen_coefficients(gram, ZT, T, alphas)
        rss = energy - np.einsum("ij,ij->", x, C) - alpha * np.einsum("ij,ij->", x, x)
        dof = np.sum(eigval / (eigval + alpha))
        errors.append(max(rss, 0.0) / (n_rows * (1.0 - dof / n_rows) ** 2))
        solutions.append(x)
    best = int(np.argmin(errors))  # ties: the first, smallest penalty
    return _apply_tridiagonal_q(reflectors, tau, solutions[best], transpose=False)


def _eigen_coefficients(gram, ZT, T, alphas, Z=None):
    """Ridge coefficients on standardised columns from one eigendecomposition of the Gram matrix.

    The penalty minimises generalised cross-validation (:func:`_gcv_errors`)
    or, given the standardised rows ``Z``, the exact leave-one-out error
    (:func:`_loo_errors`). Negative eigenvalues (rounding) count as 0.
    """
    eigval, eigvec = np.linalg.eigh(gram)
    eigval = np.clip(eigval, 0.0, None)
    B = eigvec.T @ ZT  # (p, targets)
    inv = 1.0 / (eigval[:, None] + np.asarray(alphas, dtype=np.float64)[None, :])  # (p, n_alphas)
    errors = _gcv_errors(T, eigval, B, inv) if Z is None else _loo_errors(Z, T, eigval, eigvec, inv)
    best = int(np.argmin(errors))  # ties: the first, smallest penalty
    return eigvec @ (B * inv[:, best][:, None])


def _ridge_fit_predict(X_train, T_train, X_test, alphas=_RIDGE_ALPHAS, stats=None, shift=None):
    """Closed-form ridge on columns standardised on the training rows, penalty chosen by cross-validation.

    One decomposition of the Gram matrix ``Z^T Z`` gives every penalty's
    fit. With at least ``_GCV_ROWS_PER_COLUMN`` rows per column the penalty
    minimises generalised cross-validation (cost independent of the rows
    once the Gram matrix is formed; there every row's leverage is small and
    GCV approximates leave-one-out; :func:`_gcv_coefficients`); with fewer
    it minimises the exact leave-one-out error ``sum |e_i / (1 - h_ii)|^2``
    (which GCV misjudges when leverages approach 1;
    :func:`_eigen_coefficients`). Errors are summed over
    target columns; ties go to the first, smallest penalty. ``stats``: the
    rows' :func:`_gram_stats`, when another fit has them already.
    ``shift``: ``X_train`` and ``X_test`` are float64 rows less ``shift``
    (:class:`CentredRows`), ``stats`` still those of the rows themselves.
    """
    gcv = len(T_train) >= _GCV_ROWS_PER_COLUMN * np.shape(X_train)[1]
    t_mean = T_train.mean(axis=0)
    T = T_train - t_mean
    if stats is not None and shift is not None:
        stats = (stats[0] - shift, *stats[1:])
    if gcv and stats is not None:
        # The standardised rows are not needed: Z^T T = ((X - mean)^T T) / scale.
        mean, scale, gram = stats
        if shift is None:
            ZT = ((np.asarray(X_train, dtype=np.float64) - mean).T @ T) / scale[:, None]
        else:  # nearly centred rows: their means enter through T's column sums (zero up to rounding)
            ZT = (X_train.T @ T - np.outer(mean, T.sum(axis=0))) / scale[:, None]
            ZT[np.diag(gram) == 0] = 0.0  # columns constant on the rows: standardised to exactly 0
    else:
        mean, scale, Z, gram = _standardised_as(X_train, stats)
        ZT = Z.T @ T
    if gcv:
        coef = _gcv_coefficients(gram, ZT, T, alphas)
    else:
        coef = _eigen_coefficients(gram, ZT, T, alphas, Z)
    coef /= scale[:, None]  # per centred raw column
    if shift is None:
        return (np.asarray(X_test, dtype=np.float64) - mean) @ coef + t_mean
    return X_test @ coef + (t_mean - mean @ coef)
