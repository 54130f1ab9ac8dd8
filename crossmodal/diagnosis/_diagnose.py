"""``diagnose``: will crossmodal knowledge distillation pay off on these data?

Everything here is cross-fitted: each model is fitted on the training folds
of one split and only ever scores the held-out fold of that split.
"""

import numbers

import numpy as np
from scipy.stats import norm
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import column_or_1d, has_fit_parameter
from threadpoolctl import threadpool_limits

from crossmodal._utils.proba import CENTRED_LOG_PROBA_FLOOR, clipped_log
from crossmodal._utils.random import SEED_MAX, seeded_clone
from crossmodal._utils.validation import (
    check_at_least_two_classes,
    check_modality,
    check_paired_samples,
    check_positive_int,
)
from crossmodal.diagnosis._result import DiagnoseResult

__all__ = ["diagnose", "DiagnoseResult", "VERDICT_THRESHOLDS"]

#: Verdict thresholds on the predicted gain (fractions of accuracy), calibrated
#: once by ``scripts/calibrate_diagnose.py`` on 120 random MVD diagrams (seeds
#: 10_000 and up, 200 and 2,000 training rows) that no report of the library
#: uses: they maximised the agreement (0.625; 0.417 for always answering the
#: most common outcome) of the verdict with the sign of the KD gain measured
#: under the paper's synthetic protocol (+-0.5 points counting as no change).
#: Any "helps" threshold from 0 to 0.05 tied; ties go to the smaller one.
VERDICT_THRESHOLDS = {"helps": 0.0, "hurts": -0.03}

# Ridge penalties the default mimic chooses from (cross-validation), on standardised columns.
_RIDGE_ALPHAS = tuple(np.logspace(-2, 4, 13))
# Most values of the (rows, penalties, targets) array of leave-one-out ridge fits held at once (32 MiB of float64).
_RIDGE_CHUNK = 2**22
# From this many training rows per column on, the mimic's penalty is chosen by generalised cross-validation
# instead of exact leave-one-out: leverages average at most 1/10 there, so the two criteria agree closely, and GCV
# needs no (rows x columns) products beyond the Gram matrix (it made diagnose ~12% faster at 10,000 x 200).
_GCV_ROWS_PER_COLUMN = 10
# Soft labels below this mass are dropped when a student learns them through sample weights.
_SOFT_LABEL_FLOOR = 1e-3
_CONFIDENCE = 0.95
# Replicates of the gamma cross-fit on half of each fold's training rows, behind gamma's bias correction.
# Chosen on MVD data that no report uses (run seeds 100+, 260 draws at n=200; harness:
# scripts/study_diagnose_intervals.py): the intervals covered the teacher's true decision share in 81% of the
# draws with 2 replicates and 87% with 4. Each costs about half of the main cross-fit's teacher and mimic fits.
_N_SUBSAMPLES = 4
# Var(2 F_n - mean_r F_r) <= (4 + 1) Var(F_n) for fit noise F of the full and the half-size replicates,
# uncorrelated and of equal variance (the spread of the replicates estimates Var(F_n)): see diagnose's Notes.
_FIT_NOISE_FACTOR = 5.0


class _ShrunkLDA(ClassifierMixin, BaseEstimator):
    """Linear discriminant analysis on standardised columns, pooled covariance shrunk by Ledoit-Wolf.

    The default teacher and student of :func:`diagnose`: closed form, one
    shrinkage estimate and one linear solve per fit (scikit-learn's
    ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")`` estimates
    a shrunk covariance per class and was several times slower here).
    Internal: it trusts its (validated) input.
    """

    def fit(self, X, y):
        classes, y_idx = np.unique(y, return_inverse=True)
        return self.fit_soft(X, np.eye(len(classes))[y_idx], classes)

    def fit_soft(self, X, Q, classes):
        """Fit to soft class memberships ``Q`` (rows summing to 1): weighted class means and scatter."""
        self.classes_ = np.asarray(classes)
        self.mean_, self.scale_, Z = _standardised(X)
        n = len(Z)
        weight = np.maximum(Q.sum(axis=0), np.finfo(np.float64).tiny)
        means = (Q.T @ Z) / weight[:, None]
        gram = Z.T @ Z
        between = (means.T * weight) @ means
        # The residuals R = Z - Q @ means enter the shrinkage through R^T R and their row norms, both taken
        # from the Gram matrix (Q^T Z = diag(weight) means): no second (n, p) array and no second O(n p^2) product.
        residual_scatter = gram - 2.0 * between + means.T @ (Q.T @ Q) @ means
        row_sq = (
            np.einsum("ij,ij->i", Z, Z)
            - 2.0 * np.einsum("ik,ik->i", Z @ means.T, Q)
            + np.einsum("ik,ik->i", Q @ (means @ means.T), Q)
        )
        shrink = _ledoit_wolf_shrinkage(residual_scatter / n, row_sq)
        cov = (gram - between) / n
        mu = np.trace(cov) / cov.shape[0]
        cov *= 1.0 - shrink
        cov[np.diag_indices_from(cov)] += shrink * mu
        self.coef_ = np.linalg.solve(cov, means.T).T
        self.intercept_ = -0.5 * np.einsum("kd,kd->k", means, self.coef_) + np.log(weight / weight.sum())
        return self

    def decision_function(self, X):
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        return Z @ self.coef_.T + self.intercept_

    def predict_proba(self, X):
        scores = self.decision_function(X)
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        return scores / scores.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


def _ledoit_wolf_shrinkage(S, row_sq):
    """Ledoit-Wolf shrinkage intensity of the covariance ``S = R^T R / n`` of centred rows ``R``.

    The formula of :func:`sklearn.covariance.ledoit_wolf_shrinkage` with
    ``assume_centered=True``, written with the rows' squared norms
    ``row_sq`` (its sum over squared outer products is ``sum(row_sq**2)``),
    so that neither ``R`` nor a second O(n p^2) product is needed.
    """
    n, p = len(row_sq), S.shape[0]
    trace = row_sq.sum() / n
    mu = trace / p
    frob = float(np.sum(S * S))
    beta = (float(row_sq @ row_sq) / n - frob) / (p * n)
    delta = (frob - 2.0 * mu * trace + p * mu**2) / p
    beta = min(beta, delta)
    return 0.0 if beta == 0 else beta / delta


def default_estimator():
    """The default teacher and student: closed-form shrunk LDA (see :class:`_ShrunkLDA`)."""
    return _ShrunkLDA()


# ---------------------------------------------------------------- validation
def _check_classifier(estimator, name):
    if estimator is None:
        return default_estimator()
    if not hasattr(estimator, "fit") or not hasattr(estimator, "predict_proba"):
        raise TypeError(
            f"{name} must be a scikit-learn classifier with fit and predict_proba; got {type(estimator).__name__}."
        )
    return estimator


def _check_mimic(mimic):
    if mimic is None:
        return None
    if not hasattr(mimic, "fit") or not hasattr(mimic, "predict"):
        raise TypeError(
            f"mimic must be a scikit-learn regressor with fit and predict (multi-output); got {type(mimic).__name__}."
        )
    return mimic


def _check_target(y, n_samples):
    if y is None:
        raise ValueError("y is required; got None.")
    y = column_or_1d(np.asarray(y), warn=False)
    if len(y) != n_samples:
        raise ValueError(f"X_a and y have different numbers of samples: {n_samples} and {len(y)}.")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"y must hold class labels; got {int(np.sum(~np.isfinite(y)))} NaN or infinite value(s).")
    if y.dtype.kind == "O" and any(v is None or (isinstance(v, float) and not np.isfinite(v)) for v in y):
        raise ValueError("y must hold class labels; got None or NaN values.")
    classes, y_encoded = np.unique(y, return_inverse=True)
    check_at_least_two_classes(classes, "y")
    return classes, y_encoded


def _check_folds(cv, y_encoded, seed):
    """Test folds of ``cv``; they must cover every row exactly once."""
    n = len(y_encoded)
    counts = np.bincount(y_encoded)
    if isinstance(cv, numbers.Integral) and not isinstance(cv, (bool, np.bool_)):
        if cv < 2:
            raise ValueError(f"cv must be an integer >= 2 or a cross-validation splitter; got {cv!r}.")
        if counts.min() < cv:
            raise ValueError(
                f"cv={cv} needs at least {cv} samples of every class; the smallest class has {int(counts.min())}."
            )
        splitter = StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=seed)
    elif hasattr(cv, "split") and hasattr(cv, "get_n_splits"):
        splitter = cv
    else:
        raise ValueError(f"cv must be an integer >= 2 or a cross-validation splitter; got {cv!r}.")
    folds = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(np.zeros((n, 1)), y_encoded)]
    seen = np.zeros(n, dtype=int)
    for tr, te in folds:
        seen[te] += 1
        if np.intersect1d(tr, te).size:
            raise ValueError("cv yields a split whose training and test rows overlap; cross-fitting needs them apart.")
    if len(folds) < 2 or np.any(seen != 1):
        raise ValueError(
            "cv must put every row in exactly one test fold (a partition, like KFold); "
            f"got {len(folds)} split(s) covering {int(np.sum(seen == 1))} of {n} rows once."
        )
    return folds


# ---------------------------------------------------------------- cross-fitting
def _aligned_proba(estimator, X, n_classes):
    """predict_proba with one column per encoded class (classes unseen in training get 0)."""
    raw = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    proba = np.zeros((len(X), n_classes))
    proba[:, np.asarray(estimator.classes_, dtype=int)] = raw
    return proba


def _fold_probabilities(teacher, student, X_a, X_b, y_encoded, train, test, n_classes, seed):
    """One fold: teacher on a and label-trained student on b, fitted on train, scored on test."""
    t = seeded_clone(teacher, seed).fit(X_a[train], y_encoded[train])
    s = seeded_clone(student, seed).fit(X_b[train], y_encoded[train])
    return _aligned_proba(t, X_a[test], n_classes), _aligned_proba(s, X_b[test], n_classes)


def _centred_log(proba):
    log_p = clipped_log(proba, CENTRED_LOG_PROBA_FLOOR)
    return log_p - log_p.mean(axis=1, keepdims=True)


def _standardised(X):
    """Column means, scales (1 where constant) and the standardised ``X`` (float64), on one centred copy.

    ``X.mean(axis=0)``, ``X.std(axis=0)`` and ``(X - mean) / scale`` up to
    rounding (the squares are summed without a temporary array).
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
    scale[scale == 0] = 1.0
    Z /= scale
    return mean, scale, Z


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


def _ridge_fit_predict(X_train, T_train, X_test, alphas=_RIDGE_ALPHAS):
    """Closed-form ridge on columns standardised on the training rows, penalty chosen by cross-validation.

    One eigendecomposition ``Z^T Z = V diag(lam) V^T`` of the Gram matrix
    gives every penalty's fit. With at least ``_GCV_ROWS_PER_COLUMN`` rows
    per column the penalty minimises generalised cross-validation (cost
    independent of the rows once the Gram matrix is formed; there every
    row's leverage is small and GCV approximates leave-one-out); with fewer
    it minimises the exact leave-one-out error ``sum |e_i / (1 - h_ii)|^2``
    (which GCV misjudges when leverages approach 1). Errors are summed over
    target columns; ties go to the first, smallest penalty.
    """
    mean, scale, Z = _standardised(X_train)
    t_mean = T_train.mean(axis=0)
    T = T_train - t_mean
    eigval, eigvec = np.linalg.eigh(Z.T @ Z)
    eigval = np.clip(eigval, 0.0, None)
    B = eigvec.T @ (Z.T @ T)  # (p, targets)
    inv = 1.0 / (eigval[:, None] + np.asarray(alphas, dtype=np.float64)[None, :])  # (p, n_alphas)
    if len(T) >= _GCV_ROWS_PER_COLUMN * Z.shape[1]:
        errors = _gcv_errors(T, eigval, B, inv)
    else:
        errors = _loo_errors(Z, T, eigval, eigvec, inv)
    best = int(np.argmin(errors))  # ties: the first, smallest penalty
    coef = eigvec @ (B * inv[:, best][:, None])
    return ((np.asarray(X_test, dtype=np.float64) - mean) / scale) @ coef + t_mean


def _fit_to_teacher(student, X, proba, seed):
    """The student template fitted to the teacher's class probabilities (a classifier imitating it)."""
    n_classes = proba.shape[1]
    if isinstance(student, _ShrunkLDA):
        return clone(student).fit_soft(X, proba, np.arange(n_classes))
    model = seeded_clone(student, seed)
    if has_fit_parameter(model, "sample_weight"):
        # Soft labels as weighted copies of each row, one per class it is given mass.
        rows, cols = np.nonzero(proba >= _SOFT_LABEL_FLOOR)
        return model.fit(X[rows], cols, sample_weight=proba[rows, cols])
    return model.fit(X, np.argmax(proba, axis=1))


def _fold_regress(mimic, X_b, targets, train, test, seed):
    """One fold of the mimic regressor: fitted to ``targets`` on train, predicting test."""
    if mimic is None:
        return _ridge_fit_predict(X_b[train], targets[train], X_b[test])
    model = seeded_clone(mimic, seed).fit(X_b[train], targets[train])
    return np.asarray(model.predict(X_b[test]), dtype=np.float64).reshape(len(test), targets.shape[1])


def _fold_mimic(mimic, student, X_b, proba, targets, train, test, seed):
    """One fold: the teacher-imitating student (classifier) and the mimic regressor, scored on test."""
    n_classes = proba.shape[1]
    imitator = _fit_to_teacher(student, X_b[train], proba[train], seed)
    imitated = _aligned_proba(imitator, X_b[test], n_classes)
    return imitated, _fold_regress(mimic, X_b, targets, train, test, seed)


def _fold_teacher(teacher, X_a, y_encoded, train, test, n_classes, seed):
    """One fold of the teacher alone, fitted on train, its probabilities on test."""
    return _aligned_proba(seeded_clone(teacher, seed).fit(X_a[train], y_encoded[train]), X_a[test], n_classes)


def _half_of(train, y_encoded, rng):
    """A random half of the rows ``train`` (rounded up), stratified by class."""
    labels = y_encoded[train]
    halves = [rng.permutation(train[labels == c])[: (int(np.sum(labels == c)) + 1) // 2] for c in np.unique(labels)]
    return np.sort(np.concatenate(halves))


def _subsampled_cross_fits(teacher, mimic, X_a, X_b, y_encoded, folds, n_classes, seed, rng, n_jobs):
    """Teacher and mimic cross-fitted again, each fold's models fitted on a random half of its training rows.

    ``teacher`` is the classifier on ``X_a`` whose decision the mimic
    predicts from ``X_b`` (the label-trained student on *b* for
    ``shared_gamma``'s other direction, with the views swapped). Returns one
    ``(L, M)`` per replicate: the centred out-of-fold log-probabilities of
    the half-data classifiers and the half-data mimic's out-of-fold
    predictions of them. Every row is still scored only by
    models fitted on rows of other folds.
    """
    n = len(y_encoded)
    plan = [(r, te, _half_of(tr, y_encoded, rng)) for r in range(_N_SUBSAMPLES) for tr, te in folds]
    parallel = Parallel(n_jobs=n_jobs)
    probas = parallel(
        delayed(_fold_teacher)(teacher, X_a, y_encoded, half, te, n_classes, seed + i)
        for i, (r, te, half) in enumerate(plan)
    )
    P = np.zeros((_N_SUBSAMPLES, n, n_classes))
    for (r, te, _), proba in zip(plan, probas):
        P[r, te] = proba
    L = [_centred_log(P_r) for P_r in P]
    regressed = parallel(
        delayed(_fold_regress)(mimic, X_b, L[r], half, te, seed + len(plan) + i) for i, (r, te, half) in enumerate(plan)
    )
    M = np.zeros_like(P)
    for (r, te, _), m in zip(plan, regressed):
        M[r, te] = m
    return list(zip(L, M))


def _cross_fit(teacher, student, mimic, X_a, X_b, y_encoded, folds, n_classes, seed, n_jobs):
    """Out-of-fold probabilities of teacher, label-trained student and teacher-imitating student; both mimics.

    The mimics: the regressor from ``X_b`` to the teacher's centred
    out-of-fold log-probabilities, and the one from ``X_a`` to the
    label-trained student's (the shared gamma's second direction).
    """
    n = len(y_encoded)
    parallel = Parallel(n_jobs=n_jobs)
    fitted = parallel(
        delayed(_fold_probabilities)(teacher, student, X_a, X_b, y_encoded, tr, te, n_classes, seed + k)
        for k, (tr, te) in enumerate(folds)
    )
    P_t, P_s, P_m, M = (np.zeros((n, n_classes)) for _ in range(4))
    for (_, te), (pt, ps) in zip(folds, fitted):
        P_t[te], P_s[te] = pt, ps
    L_t = _centred_log(P_t)
    mimicked = parallel(
        delayed(_fold_mimic)(mimic, student, X_b, P_t, L_t, tr, te, seed + len(folds) + k)
        for k, (tr, te) in enumerate(folds)
    )
    for (_, te), (pm, m) in zip(folds, mimicked):
        P_m[te], M[te] = pm, m
    L_s = _centred_log(P_s)
    back = parallel(
        delayed(_fold_regress)(mimic, X_a, L_s, tr, te, seed + 2 * len(folds) + k) for k, (tr, te) in enumerate(folds)
    )
    M_s = np.zeros_like(L_s)
    for (_, te), m in zip(folds, back):
        M_s[te] = m
    return P_t, P_s, P_m, M, M_s


# ---------------------------------------------------------------- statistics
def _r2_from_sums(sse, s1, s2, n):
    """Variance-weighted R^2 = 1 - SSE / SST from per-class sums (vectorised over resamples); not clipped."""
    sst = (s2 - s1**2 / n[..., None]).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - sse / sst
    return np.where(sst > 0, r2, 0.0)


def _weighted_r2(W, L, M):
    """R^2 of the mimic ``M`` on the targets ``L`` for each row of row weights ``W`` (shape (B, n))."""
    return _r2_from_sums(W @ ((L - M) ** 2).sum(axis=1), W @ L, W @ L**2, W.sum(axis=1))


def _extrapolated(L, M, replicates, W):
    """``2 R^2 - mean(R^2_half)`` for all rows and per row resample, the half-data R^2s, and the plain R^2."""
    # One product of the row weights (all rows, then each resample) with every fit's per-row sums: one pass
    # over the large weight matrix instead of three per fit.
    k = L.shape[1]
    weights = np.vstack([np.ones((1, len(L))), W])
    pairs = [(L, M), *replicates]
    sums = weights @ np.hstack([np.column_stack([((L_r - M_r) ** 2).sum(axis=1), L_r, L_r**2]) for L_r, M_r in pairs])
    sums = sums.reshape(len(weights), len(pairs), 1 + 2 * k)
    r2 = np.stack(
        [
            _r2_from_sums(sums[:, i, 0], sums[:, i, 1 : 1 + k], sums[:, i, 1 + k :], weights.sum(axis=1))
            for i in range(len(pairs))
        ]
    )  # (fits, 1 + resamples)
    full, full_boot = r2[0, 0], r2[0, 1:]
    half, half_boot = r2[1:, 0], r2[1:, 1:].mean(axis=0)
    return 2.0 * full - half.mean(), 2.0 * full_boot - half_boot, half, full


def _margin(rows_var, fit_var):
    return norm.ppf(0.5 + _CONFIDENCE / 2) * np.sqrt(rows_var + _FIT_NOISE_FACTOR * fit_var)


def _interval(parts):
    """``(estimate, low, high)``, not clipped, from ``_extrapolated``'s output: the row bootstrap's variance
    plus ``_FIT_NOISE_FACTOR`` times the half-data replicates' (see diagnose's Notes)."""
    estimate, boot, half, _ = parts
    rows_var = float(np.var(boot, ddof=1)) if len(boot) > 1 else 0.0
    margin = _margin(rows_var, float(np.var(half, ddof=1)))
    return estimate, estimate - margin, estimate + margin


def _corrected_gamma(L, M, replicates, W, parts=None):
    """gamma extrapolated to unlimited training rows, and its 95% interval (see diagnose's Notes).

    ``parts``: ``_extrapolated(L, M, replicates, W)`` where the caller has it already.
    """
    parts = _extrapolated(L, M, replicates, W) if parts is None else parts
    point, low, high, uncorrected = (float(v) for v in np.clip([*_interval(parts), parts[3]], 0.0, 1.0))
    return point, (low, high), uncorrected


def _union_share(g_ab, g_ba):
    """``g_ab g_ba / (g_ab + g_ba - g_ab g_ba)`` of shares clipped to [0, 1] (0 where both are 0); vectorised.

    With ``g_ab = d0 / (d0 + d_sa)`` and ``g_ba = d0 / (d0 + d_sb)`` it is
    ``d0 / (d0 + d_sa + d_sb)``: ``1 / g = 1 / g_ab + 1 / g_ba - 1``.
    """
    a, b = np.clip(g_ab, 0.0, 1.0), np.clip(g_ba, 0.0, 1.0)
    denom = a + b - a * b
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, a * b / np.where(denom > 0, denom, 1.0), 0.0)


def _shared_gamma(ab, ba):
    """The diagram's gamma from both directions' extrapolated shares (``_extrapolated``'s output), 95% interval.

    Each direction gets gamma's interval (row bootstrap plus
    ``_FIT_NOISE_FACTOR`` times its half-data spread); the combination is
    increasing in both shares, so its interval runs from the combination of
    the two lower ends to that of the two upper ends (it covers whenever both
    intervals do).
    """
    point, low, high = (float(_union_share(a, b)) for a, b in zip(_interval(ab), _interval(ba)))
    return point, (low, high)


def _verdict(gain, ci):
    if gain >= VERDICT_THRESHOLDS["helps"] and ci[0] > 0:
        return "helps"
    if gain <= VERDICT_THRESHOLDS["hurts"] and ci[1] < 0:
        return "likely to hurt"
    return "unlikely to help"


# The docstring's References and Examples open as in every public docstring, on purpose (numpydoc pages stand alone).
def diagnose(
    X_a, X_b, y, *, teacher=None, mimic=None, student=None, cv=5, n_bootstrap=200, random_state=None, n_jobs=None
):
    """Predict, before training, whether crossmodal KD from modality a to b will help.

    A teacher is fitted on modality ``X_a`` and a student on ``X_b``, both
    cross-fitted. The teacher's out-of-fold log-probabilities (centred per
    row) are regressed on ``X_b``, again cross-fitted: the *mimic*, the part
    of the teacher's decision that a model on *b* can reproduce. From these
    out-of-fold predictions come ``gamma`` (the share of the teacher's
    decision predictable from *b*), the accuracies of teacher, student and
    mimic, and the predicted gain of distillation. The same regression the
    other way round (the label-trained student's decision from ``X_a``)
    gives ``shared_gamma``, the modality Venn diagram's gamma.

    Parameters
    ----------
    X_a : array-like of shape (n_samples, n_features_a)
        The teacher's modality.
    X_b : array-like of shape (n_samples, n_features_b)
        The student's modality, the same samples row for row.
    y : array-like of shape (n_samples,)
        Class labels.
    teacher : classifier or None, default=None
        Any scikit-learn classifier with ``predict_proba`` (cloned per fold).
        ``None``: linear discriminant analysis on standardised columns with a
        Ledoit-Wolf-shrunk pooled covariance (closed form, fast).
    mimic : regressor or None, default=None
        The model behind ``gamma``: any multi-output scikit-learn regressor
        from ``X_b`` to the teacher's centred log-probabilities (cloned per
        fold; for ``shared_gamma`` also fitted from ``X_a`` to the
        label-trained student's). ``None``: closed-form ridge on columns
        standardised per fold, its penalty chosen per fold from ``10**-2 ...
        10**4`` (13 values) by generalised cross-validation where the fold
        has at least 10 training rows per column, by exact leave-one-out
        error where it has fewer.
    student : classifier or None, default=None
        The model on ``X_b``, same rules and default as ``teacher``; fitted
        to the labels, to the teacher's probabilities, and to the labels on
        half of each fold's training rows for ``shared_gamma``'s correction.
    cv : int or cross-validation splitter, default=5
        Folds of the cross-fitting: an integer gives shuffled
        :class:`~sklearn.model_selection.StratifiedKFold`; a splitter must
        put every row in exactly one test fold.
    n_bootstrap : int, default=200
        Bootstrap resamples of the rows (of the out-of-fold predictions; no
        refit): the 95% percentile interval of ``predicted_gain`` and the
        row-sampling part of ``gamma_ci`` (see Notes).
    random_state : int, RandomState instance or None, default=None
        Seeds the folds, the estimators whose ``random_state`` is None, the
        half-data replicates and the bootstrap. The same seed gives the same
        result.
    n_jobs : int or None, default=None
        joblib workers over folds; results do not depend on it.

    Returns
    -------
    DiagnoseResult
        ``gamma``, ``gamma_ci``, ``shared_gamma``, ``shared_gamma_ci``,
        ``predicted_gain``, ``predicted_gain_ci``,
        ``teacher_score``, ``student_score``, ``mimic_score``,
        ``verdict``; ``to_frame()`` and ``to_dict()`` for tables and JSON.

    See Also
    --------
    CrossModalDistiller : the distillation whose pay-off this predicts.
    MVDGenerator : data with a known ``gamma``.

    Notes
    -----
    *gamma* builds on ``R^2 = 1 - SSE / SST`` summed over classes, where SSE
    is the mimic's out-of-fold squared error on the centred teacher
    log-probabilities and SST their total sum of squares: classes whose
    log-probability varies more weigh more. Fitted on finite data this
    ``R^2`` is biased low: the fitted teacher's estimation noise is part of
    the decision to be predicted but not predictable from *b*, and the mimic
    is fitted on finite rows too. The bias shrinks with the training rows
    ``m`` about as ``c / m``, so ``gamma`` is extrapolated to unlimited
    rows: the cross-fit of teacher and mimic is repeated 4 times with each
    fold's models fitted on a random half of its training rows (stratified;
    every row still scored only by models not fitted on it), and ``gamma =
    2 R^2 - mean(R^2_half)``, clipped to [0, 1]. Its interval is
    ``gamma +- 1.96 sd`` (clipped), where ``sd^2`` adds the row-bootstrap
    variance of ``2 R^2 - mean(R^2_half)`` (the predictions held fixed) and
    5 times the variance of the four ``R^2_half``, the spread that refitting
    the models on other rows brings: if the fit noise of the full and of
    the half-data models were uncorrelated and of equal size, it would
    contribute ``(2^2 + 1)`` times it. On :class:`MVDGenerator` data,
    ``gamma`` estimates the share of the teacher's decision that *b* sees,
    ``d0 / (d0 + d_sa)`` with equal decision weights, which is the
    diagram's ``gamma_ = d0 / (d0 + d_sa + d_sb)`` when *b* has no specific
    latents (a teacher on *a* cannot see the ``d_sb`` ones). There, 95%
    intervals covered that share in 87% of 260 draws at 200 rows and 95% of
    130 at 2,000 (13 settings with ``hyperplane="ones"``, data no report
    uses; ``scripts/study_diagnose_intervals.py``); the uncorrected row
    bootstrap covered 18% and 48%. The replicates cost about as much again
    as the teacher and mimic fits of the main cross-fit.

    *shared gamma* is the diagram's (the paper's) gamma: the share of the
    decisive information of both modalities that both modalities hold. The
    label-trained student's centred out-of-fold log-probabilities are
    regressed on ``X_a`` (cross-fitted, same mimic), and corrected the same
    way (4 replicates of student and mimic on half of each fold's training
    rows): ``g_ba``, the share of *b*'s decision predictable from *a*. With
    ``g_ab = gamma``, ``shared_gamma = g_ab g_ba / (g_ab + g_ba - g_ab
    g_ba)``, which is ``d0 / (d0 + d_sa + d_sb)`` when ``g_ab = d0 / (d0 +
    d_sa)`` and ``g_ba = d0 / (d0 + d_sb)`` (``1 / shared = 1 / g_ab + 1 /
    g_ba - 1``). Each direction gets an interval as ``gamma_ci`` (before
    clipping); the combination increases in both, so ``shared_gamma_ci``
    combines the two lower ends and the two upper ends, and covers whenever
    both do. On the same MVD draws as above it covered the diagram's
    ``gamma_`` in 82% at 200 rows and 95% at 2,000, where ``gamma_ci``
    covered it in 88% and 67%. At 200 rows ``shared_gamma`` is biased low
    (mean error -0.08): a label-trained student with few decisive among many
    columns is mostly its own estimation noise, more than the linear
    extrapolation removes. Its fits add about a third to ``diagnose``'s time.

    *predicted gain* is ``mimic_score - student_score``: the out-of-fold
    accuracy of the student fitted to the teacher's out-of-fold class
    probabilities alone (what distillation feeds it) minus that of the
    student fitted to the labels. It is positive when the teacher's decision,
    as far as modality *b* can follow it, beats what *b* learns from the
    labels; it is negative when the teacher is worse than the student, or
    relies on information *b* cannot see. The default student learns soft
    labels in closed form (weighted class means and scatter); any other
    student learns them as weighted copies of each row when its ``fit`` takes
    ``sample_weight``, and the teacher's predicted class otherwise. This
    formula was chosen among eight gain-shaped candidates on data that no
    report uses (``scripts/select_gain_formula.py``): it ranked the measured
    KD gains best on both selection sets, the 30 ordered pairs of six pixel
    views of scikit-learn's digits under the report's real-data protocol
    (Spearman 0.82) and 60 random MVD diagrams under the paper's synthetic
    protocol (0.54), so the report's mfeat figure is out-of-sample.

    Cross-fitting: every model scores only rows it was not fitted on. The
    mimic's training targets are the teacher's out-of-fold predictions on its
    training rows (as in stacking), so a held-out row can reach them only
    through a teacher fitted on it, a second-order effect of size ~1/n.

    *Verdict*: ``"helps"`` when the lower end of the predicted gain's
    interval is above 0 (and ``predicted_gain >= 0``); ``"likely to hurt"``
    when ``predicted_gain <= -0.03`` and the upper end of its interval is
    below 0; otherwise ``"unlikely to help"``. The thresholds
    (:data:`VERDICT_THRESHOLDS`) were calibrated once on random MVD diagrams
    that no report uses (``scripts/calibrate_diagnose.py``: agreement 0.625
    with the measured outcome over 120 diagrams, against 0.417 for always
    answering the most common one), never on the data a call reports.

    BLAS runs with one thread inside ``diagnose`` (its matrices are small:
    on a busy 2-core machine a 1,000-row call took 0.2 s with one thread and
    3 s with two); ``n_jobs`` parallelises over folds instead.

    The interval of ``predicted_gain`` resamples rows of fixed out-of-fold
    predictions: it carries the sampling noise of the scored rows, not the
    variability of the fitted models.

    References
    ----------
    Xue, Z., Gao, Z., Ren, S., Zhao, H. (2023). The Modality Focusing
    Hypothesis: Towards Understanding Crossmodal Knowledge Distillation.
    ICLR 2023.

    Examples
    --------
    >>> from crossmodal import diagnose, make_modality_venn
    >>> X_a, X_b, y = make_modality_venn(1000, n_general=8, n_specific_a=1, n_specific_b=1, random_state=0)
    >>> result = diagnose(X_a, X_b, y, random_state=0)
    >>> result.gamma > 0.5
    True
    """
    X_a = check_modality(X_a, "X_a")
    X_b = check_modality(X_b, "X_b")
    check_paired_samples(X_a, X_b, "X_a", "X_b")
    classes, y_encoded = _check_target(y, len(X_a))
    teacher = _check_classifier(teacher, "teacher")
    student = _check_classifier(student, "student")
    mimic = _check_mimic(mimic)
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    rng = check_random_state(random_state)
    fold_seed, fit_seed, boot_seed, half_seed = (int(s) for s in rng.randint(0, SEED_MAX, size=4))
    folds = _check_folds(cv, y_encoded, fold_seed)
    n, n_classes = len(y_encoded), len(classes)

    with threadpool_limits(limits=1, user_api="blas"):
        P_t, P_s, P_m, M, M_s = _cross_fit(
            teacher, student, mimic, X_a, X_b, y_encoded, folds, n_classes, fit_seed, n_jobs
        )
        replicates = _subsampled_cross_fits(
            teacher,
            mimic,
            X_a,
            X_b,
            y_encoded,
            folds,
            n_classes,
            fit_seed + 4 * len(folds),
            np.random.default_rng(half_seed),
            n_jobs,
        )
        # The other direction: the label-trained student on b, its decision regressed on X_a, same correction.
        replicates_ba = _subsampled_cross_fits(
            student,
            mimic,
            X_b,
            X_a,
            y_encoded,
            folds,
            n_classes,
            fit_seed + (4 + 2 * _N_SUBSAMPLES) * len(folds),
            np.random.default_rng([half_seed, 1]),
            n_jobs,
        )
    L_t = _centred_log(P_t)

    correct = {
        name: (np.argmax(S, axis=1) == y_encoded).astype(np.float64)
        for name, S in (("teacher", P_t), ("student", P_s), ("mimic", P_m))
    }
    # The predicted gain: soft-label mimic's accuracy minus the label-trained student's, chosen out of sample
    # (digits pixel views and random MVD diagrams, scripts/select_gain_formula.py; see the docstring's Notes).
    gain_rows = correct["mimic"] - correct["student"]

    # Bootstrap of the rows: multinomial row counts, every statistic a weighted sum.
    boot_rng = np.random.default_rng(boot_seed)
    W = boot_rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).astype(np.float64)
    ab = _extrapolated(L_t, M, replicates, W)
    gamma, gamma_ci, _ = _corrected_gamma(L_t, M, replicates, W, parts=ab)
    shared_gamma, shared_gamma_ci = _shared_gamma(ab, _extrapolated(_centred_log(P_s), M_s, replicates_ba, W))
    gains = W @ gain_rows / n
    alpha = (1.0 - _CONFIDENCE) / 2
    gain_ci = tuple(float(v) for v in np.quantile(gains, [alpha, 1 - alpha]))
    predicted_gain = float(gain_rows.mean())
    return DiagnoseResult(
        gamma=gamma,
        gamma_ci=gamma_ci,
        shared_gamma=shared_gamma,
        shared_gamma_ci=shared_gamma_ci,
        predicted_gain=predicted_gain,
        predicted_gain_ci=gain_ci,
        teacher_score=float(correct["teacher"].mean()),
        student_score=float(correct["student"].mean()),
        mimic_score=float(correct["mimic"].mean()),
        verdict=_verdict(predicted_gain, gain_ci),
        n_samples=n,
        n_splits=len(folds),
        n_bootstrap=n_bootstrap,
    )
