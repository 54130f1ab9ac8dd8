"""Cross-fitting for :func:`~crossmodal.diagnose`: folds, seeded per-fold fits and their shared Gram statistics.

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
from crossmodal.diagnosis._checks import _check_mimic_output, _check_proba_output
from crossmodal.diagnosis._lda import _ShrunkLDA
from crossmodal.diagnosis._ridge import _gram_stats, _leave_block_out_stats, _ridge_fit_predict

# Soft labels below this mass are dropped when a student learns them through sample weights.
_SOFT_LABEL_FLOOR = 1e-3


def _integer_folds(n_splits, codes, seed):
    """Stratified folds of the labelled rows; the unlabelled rows dealt out evenly, in random order."""
    labelled = np.flatnonzero(codes >= 0)
    fold_of = np.empty(len(codes), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(splitter.split(np.zeros((len(labelled), 1)), codes[labelled])):
        fold_of[labelled[test]] = k
    unlabelled = np.flatnonzero(codes < 0)
    fold_of[unlabelled] = np.random.default_rng(seed).permutation(np.arange(len(unlabelled)) % n_splits)
    return [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(n_splits)]


def _class_name(classes, code):
    """The label of class ``code`` for a message: its repr, or its index among y's sorted classes."""
    if classes is None:
        return f"index {code} of y's sorted classes"
    label = np.asarray(classes)[code]
    return repr(label.item() if hasattr(label, "item") else label)


def _folds(cv, codes, seed, classes=None):
    """Test folds of ``cv`` over every row (``codes`` is -1 on unlabelled rows); they must cover every row once.

    ``classes``: the labels behind the codes, named in messages.
    """
    n = len(codes)
    counts = np.bincount(codes[codes >= 0])
    if isinstance(cv, numbers.Integral) and not isinstance(cv, (bool, np.bool_)):
        if cv < 2:
            raise ValueError(f"cv must be an integer >= 2 or a cross-validation splitter; got {cv!r}.")
        if counts.min() < cv:
            hint = f" Pass cv={int(counts.min())} or fewer folds." if counts.min() >= 2 else ""
            raise ValueError(
                f"cv={cv} needs at least {cv} labelled samples of every class; the smallest class has "
                f"{int(counts.min())} (class {_class_name(classes, int(np.argmin(counts)))}).{hint}"
            )
        folds = _integer_folds(int(cv), codes, seed)
    elif hasattr(cv, "split") and hasattr(cv, "get_n_splits"):
        folds = [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(np.zeros((n, 1)), codes)]
    else:
        raise ValueError(f"cv must be an integer >= 2 or a cross-validation splitter; got {cv!r}.")
    seen = np.zeros(n, dtype=int)
    for tr, te in folds:
        np.add.at(seen, te, 1)  # a row repeated in one test fold counts twice
        if np.intersect1d(tr, te).size:
            raise ValueError("cv yields a split whose training and test rows overlap; cross-fitting needs them apart.")
    if len(folds) < 2 or np.any(seen != 1):
        raise ValueError(
            "cv must put every row in exactly one test fold (a partition, like KFold); "
            f"got {len(folds)} split(s) covering {int(np.sum(seen == 1))} of {n} rows once."
        )
    for k, (tr, _) in enumerate(folds):
        held = np.unique(codes[tr][codes[tr] >= 0])
        if len(held) < 2:
            raise ValueError(
                f"cv's split {k} leaves {len(held)} class(es) among its labelled training rows "
                f"({int(np.sum(codes[tr] >= 0))} of {len(tr)} training rows labelled); the teacher and the student "
                "fit every split's labelled training rows, which need at least 2 classes. Pass an integer cv: its "
                "folds are stratified over the labelled rows."
            )
    return folds


def _aligned_proba(estimator, X, n_classes, role):
    """predict_proba with one column per encoded class (classes unseen in training get 0); checked, naming ``role``."""
    raw = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    known = _check_proba_output(estimator, raw, len(X), n_classes, role)
    proba = np.zeros((len(X), n_classes))
    proba[:, known] = raw
    return proba


def _labelled(rows, codes):
    return rows[codes[rows] >= 0]


def _fit_classifier(estimator, X, y, seed, stats=None):
    """A seeded clone of ``estimator`` fitted on ``(X, y)``; the default LDA reuses the rows' ``stats``."""
    if isinstance(estimator, _ShrunkLDA) and stats is not None:
        return clone(estimator).fit(X, y, stats=stats)
    return seeded_clone(estimator, seed).fit(X, y)


def _fold_probabilities(teacher, student, X_a, X_b, codes, train, test, n_classes, seed, stats):
    """One fold: teacher on a and label-trained student on b, fitted on the labelled training rows.

    Returns both models' probabilities on ``test``, and the teacher's on
    ``train``: on its own (labelled) training rows and on the unlabelled
    ones, the targets a distiller's teacher gives its student. ``stats``:
    the training rows' :func:`~._ridge._gram_stats` of a and of b (or
    Nones), shared where the models fit exactly those rows.
    """
    fit_rows = _labelled(train, codes)
    shared = stats if len(fit_rows) == len(train) else (None, None)
    t = _fit_classifier(teacher, X_a[fit_rows], codes[fit_rows], seed, shared[0])
    s = _fit_classifier(student, X_b[fit_rows], codes[fit_rows], seed, shared[1])
    return (
        _aligned_proba(t, X_a[test], n_classes, "teacher"),
        _aligned_proba(s, X_b[test], n_classes, "student"),
        _aligned_proba(t, X_a[train], n_classes, "teacher"),
    )


def _centred_log(proba):
    log_p = clipped_log(proba, CENTRED_LOG_PROBA_FLOOR)
    return log_p - log_p.mean(axis=1, keepdims=True)


def _fit_to_teacher(student, X, proba, seed, sample_weight=None, stats=None):
    """The student template fitted to class probabilities (soft labels), rows weighted by ``sample_weight``."""
    n_classes = proba.shape[1]
    if isinstance(student, _ShrunkLDA):
        return clone(student).fit_soft(X, proba, np.arange(n_classes), sample_weight=sample_weight, stats=stats)
    model = seeded_clone(student, seed)
    if has_fit_parameter(model, "sample_weight"):
        # Soft labels as weighted copies of each row, one per class it is given mass.
        mass = proba if sample_weight is None else proba * np.asarray(sample_weight)[:, None]
        rows, cols = np.nonzero(proba >= _SOFT_LABEL_FLOOR)
        return model.fit(X[rows], cols, sample_weight=mass[rows, cols])
    return model.fit(X, np.argmax(proba, axis=1))


def distillation_targets(codes, teacher_proba, rho):
    """The soft labels and row weights whose weighted cross-entropy is the distiller's loss, up to a constant.

    ``rho * w_i CE(y_i, s_i) + (1 - rho) KL(p_i || s_i)`` summed over rows,
    with ``w_i`` the label weight of :func:`crossmodal._utils.labels.label_weights`
    (``n / n_labelled`` on a labelled row, 0 on an unlabelled one, 1
    everywhere when every row is labelled), is ``sum_i c_i CE(q_i, s_i)`` plus
    terms free of the student, with ``c_i = rho w_i + 1 - rho`` and ``q_i =
    (rho w_i onehot(y_i) + (1 - rho) p_i) / c_i``. Returns ``(q, c)``.
    """
    labelled = codes >= 0
    label_weight = np.where(labelled, len(codes) / labelled.sum(), 0.0)
    onehot = np.zeros_like(teacher_proba)
    onehot[np.flatnonzero(labelled), codes[labelled]] = 1.0
    weight = rho * label_weight + (1.0 - rho)
    targets = (rho * label_weight[:, None] * onehot + (1.0 - rho) * teacher_proba) / weight[:, None]
    return targets, weight


def _fold_distilled(student, X_b, codes, train_proba, train, test, rho, seed, stats=None):
    """One fold: the student trained on the distiller's targets over every training row, scored on test.

    ``stats``: the training rows' :func:`~._ridge._gram_stats` on ``X_b``, which the default student shares.
    """
    targets, weight = distillation_targets(codes[train], train_proba, rho)
    model = _fit_to_teacher(student, X_b[train], targets, seed, sample_weight=weight, stats=stats)
    return _aligned_proba(model, X_b[test], train_proba.shape[1], "student")


def _fold_regress(mimic, X_b, targets, train, test, seed, stats=None, centred=None):
    """One fold of the mimic regressor: fitted to ``targets`` on train, predicting test.

    ``centred``: ``X_b``'s :class:`~._ridge.CentredRows`, which the default mimic reads its rows from.
    """
    if mimic is None and centred is not None:
        rows = centred.rows
        return _ridge_fit_predict(rows[train], targets[train], rows[test], stats=stats, shift=centred.shift)
    if mimic is None:
        return _ridge_fit_predict(X_b[train], targets[train], X_b[test], stats=stats)
    try:
        model = seeded_clone(mimic, seed).fit(X_b[train], targets[train])
    except ValueError as exc:
        raise ValueError(
            f"diagnose's mimic ({type(mimic).__name__}) could not fit its targets, one column per class "
            f"({targets.shape[1]}): it must be a multi-output regressor (wrap a single-output one in "
            f"sklearn.multioutput.MultiOutputRegressor). Its error: {exc}"
        ) from exc
    out = np.asarray(model.predict(X_b[test]), dtype=np.float64)
    return _check_mimic_output(model, out, len(test), targets.shape[1])


def _fold_mimic(mimic, student, X_b, proba, targets, train, test, seed, stats=None, centred=None):
    """One fold: the teacher-imitating student (classifier) and the mimic regressor, scored on test."""
    n_classes = proba.shape[1]
    imitator = _fit_to_teacher(student, X_b[train], proba[train], seed, stats=stats)
    imitated = _aligned_proba(imitator, X_b[test], n_classes, "student")
    return imitated, _fold_regress(mimic, X_b, targets, train, test, seed, stats, centred)


def _fold_teacher(teacher, X_a, codes, train, test, n_classes, seed, stats=None):
    """One fold of the teacher alone, fitted on the labelled training rows, its probabilities on test.

    ``stats``: the training rows' :func:`~._ridge._gram_stats` on ``X_a``, used where every one is labelled.
    """
    fit_rows = _labelled(train, codes)
    shared = stats if len(fit_rows) == len(train) else None
    fitted = _fit_classifier(teacher, X_a[fit_rows], codes[fit_rows], seed, shared)
    return _aligned_proba(fitted, X_a[test], n_classes, "teacher")


def _gram_stats_of(X, sets, blocks):
    """:func:`~._ridge._gram_stats` of ``X[rows]`` for each ``rows`` of ``sets``.

    Where ``sets[k]`` is the union of ``blocks`` without ``blocks[k]`` (a
    fold's training rows, or a replicate's half without the fold's test
    rows; each row once), all come from one pass
    (:func:`~._ridge._leave_block_out_stats`); any other set, and any whose
    shared statistics would lose their digits, gets its own.
    """
    n = len(X)
    in_blocks = np.bincount(np.concatenate(blocks), minlength=n) if len(blocks) else np.zeros(n, dtype=int)
    structured = []
    if in_blocks.max(initial=0) <= 1:  # disjoint blocks of distinct rows
        for rows, block in zip(sets, blocks):
            wanted = in_blocks.copy()
            wanted[block] = 0
            structured.append(np.array_equal(np.bincount(rows, minlength=n), wanted))
    else:
        structured = [False] * len(sets)
    shared = _leave_block_out_stats(X, blocks) if any(structured) else [None] * len(sets)
    return [
        shared[k] if structured[k] and shared[k] is not None else _gram_stats(X[rows]) for k, rows in enumerate(sets)
    ]


def fold_stats(X_a, X_b, sets, blocks, shares):
    """Per set of rows, ``(stats of a, stats of b)`` (:func:`_gram_stats_of`), or Nones where no default model
    shares them."""
    if not shares:
        return [(None, None)] * len(sets)
    return list(zip(_gram_stats_of(X_a, sets, blocks), _gram_stats_of(X_b, sets, blocks)))


def default_models_share(teacher, student, mimic):
    """Whether a default model is among ``diagnose``'s: then fits on the same rows share their Gram statistics."""
    return mimic is None or isinstance(student, _ShrunkLDA) or isinstance(teacher, _ShrunkLDA)


def _cross_fit(teacher, student, mimic, X_a, X_b, codes, folds, n_classes, seed, n_jobs, rho, centred=(None, None)):
    """Out-of-fold probabilities of the teacher, the label-trained, teacher-imitating and distilled students; mimics.

    The teacher and the label-trained student fit the labelled training
    rows of each fold; the imitating student (fitted to the teacher's
    out-of-fold probabilities) and the distilled one (fitted to the
    distiller's targets: the labels and the fold teacher's probabilities on
    its training rows, :func:`distillation_targets`) fit every training row.
    The mimics: the regressor from ``X_b`` to the teacher's centred
    out-of-fold log-probabilities, and the one from ``X_a`` to the
    label-trained student's (the shared gamma's second direction). Returns a
    dict of ``(n_samples, ...)`` arrays. ``centred``: the
    :class:`~._ridge.CentredRows` of ``X_a`` and ``X_b`` for the default
    mimic (or Nones).
    """
    n = len(codes)
    parallel = Parallel(n_jobs=n_jobs)
    # The default models on the same training rows share one standardisation and Gram matrix per fold and view.
    shares = default_models_share(teacher, student, mimic)
    stats = fold_stats(X_a, X_b, [tr for tr, _ in folds], [te for _, te in folds], shares)
    fitted = parallel(
        delayed(_fold_probabilities)(teacher, student, X_a, X_b, codes, tr, te, n_classes, seed + k, stats[k])
        for k, (tr, te) in enumerate(folds)
    )
    out = {name: np.zeros((n, n_classes)) for name in ("teacher", "student", "imitator", "distilled", "mimic")}
    # Per labelled row, how often the teachers fitted on it get it wrong (in-sample): what a distiller's teacher
    # feeds its student on that row beside the label.
    wrong, count = np.zeros(n), np.zeros(n)
    for (tr, te), (pt, ps, p_train) in zip(folds, fitted):
        out["teacher"][te], out["student"][te] = pt, ps
        fit_rows = codes[tr] >= 0
        wrong[tr[fit_rows]] += np.argmax(p_train[fit_rows], axis=1) != codes[tr[fit_rows]]
        count[tr[fit_rows]] += 1
    out["teacher_fit_error"] = wrong / np.maximum(count, 1)
    distilled = parallel(
        delayed(_fold_distilled)(student, X_b, codes, fit[2], tr, te, rho, seed + 3 * len(folds) + k, stats[k][1])
        for k, ((tr, te), fit) in enumerate(zip(folds, fitted))
    )
    L_t = _centred_log(out["teacher"])
    mimicked = parallel(
        delayed(_fold_mimic)(
            mimic, student, X_b, out["teacher"], L_t, tr, te, seed + len(folds) + k, stats[k][1], centred[1]
        )
        for k, (tr, te) in enumerate(folds)
    )
    for (_, te), (pm, m), pd in zip(folds, mimicked, distilled):
        out["imitator"][te], out["mimic"][te], out["distilled"][te] = pm, m, pd
    L_s = _centred_log(out["student"])
    back = parallel(
        delayed(_fold_regress)(mimic, X_a, L_s, tr, te, seed + 2 * len(folds) + k, stats[k][0], centred[0])
        for k, (tr, te) in enumerate(folds)
    )
    out["mimic_back"] = np.zeros_like(L_s)
    for (_, te), m in zip(folds, back):
        out["mimic_back"][te] = m
    return out
