"""Cross-fitting for :func:`~crossmodal.diagnose`: folds, seeded per-fold fits and half-data replicates.

Every model is fitted on the training rows of one split and only ever scores
that split's held-out fold; each fit gets its own integer seed
(:func:`~crossmodal._utils.random.seeded_clone`), so results do not depend on
the joblib workers.
"""

import numbers

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import has_fit_parameter

from crossmodal._utils.proba import CENTRED_LOG_PROBA_FLOOR, clipped_log
from crossmodal._utils.random import seeded_clone
from crossmodal.diagnosis._lda import _ShrunkLDA
from crossmodal.diagnosis._ridge import _ridge_fit_predict

# Soft labels below this mass are dropped when a student learns them through sample weights.
_SOFT_LABEL_FLOOR = 1e-3
# Replicates of the gamma cross-fit on half of each fold's training rows, behind gamma's bias correction.
# Chosen on MVD data that no report uses (run seeds 100+, 260 draws at n=200; harness:
# scripts/study_diagnose_intervals.py): the intervals covered the teacher's true decision share in 81% of the
# draws with 2 replicates and 87% with 4. Each costs about half of the main cross-fit's teacher and mimic fits.
_N_SUBSAMPLES = 4


def _folds(cv, y_encoded, seed):
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
