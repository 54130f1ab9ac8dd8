"""``diagnose``: will crossmodal knowledge distillation pay off on these data?

Everything here is cross-fitted: each model is fitted on the training folds
of one split and only ever scores the held-out fold of that split. The parts
live next door: the default models (:mod:`._lda`, :mod:`._ridge`), the
cross-fitting (:mod:`._crossfit`), the statistics and verdict
(:mod:`._intervals`) and the input checks (:mod:`._checks`).
"""

from collections.abc import Mapping

import numpy as np
from threadpoolctl import threadpool_limits

from crossmodal._utils.random import draw_seeds
from crossmodal._utils.validation import check_modality, check_paired_samples, check_positive_int
from crossmodal.diagnosis._checks import _check_classifier, _check_mimic, _check_target
from crossmodal.diagnosis._complementarity import complementarity
from crossmodal.diagnosis._crossfit import _N_SUBSAMPLES, _centred_log, _cross_fit, _folds, _subsampled_cross_fits
from crossmodal.diagnosis._gain import REGIMES, gain_statistics, predicted_gain, verdict
from crossmodal.diagnosis._intervals import _corrected_gamma, _extrapolated, _shared_gamma
from crossmodal.diagnosis._result import DiagnoseResult

__all__ = ["CALIBRATED_RHO", "diagnose"]

#: The distiller's rho whose gain ``predicted_gain`` is calibrated for (``CrossModalDistiller()``'s default).
CALIBRATED_RHO = 0.5


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
    extrapolation removes. Its fits are a second mimic (on ``X_a``) and four
    half-data replicates each of the student and of that mimic.

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
    (:data:`~crossmodal.diagnosis._intervals.VERDICT_THRESHOLDS`) were
    calibrated once on random MVD diagrams that no report uses
    (``scripts/calibrate_diagnose.py``: agreement 0.625 with the measured
    outcome over 120 diagrams, against 0.417 for always answering the most
    common one), never on the data a call reports.

    BLAS runs with one thread inside ``diagnose``: its matrices are small,
    so a second thread costs more in start-up and contention than it saves;
    ``n_jobs`` parallelises over folds instead.

    The interval of ``predicted_gain`` resamples rows of fixed out-of-fold
    predictions: it carries the sampling noise of the scored rows, not the
    variability of the fitted models.

    References
    ----------
    Xue, Z., Gao, Z., Ren, S., Zhao, H. (2023). The Modality Focusing
    Hypothesis: Towards Understanding Crossmodal Knowledge Distillation.
    ICLR 2023. Its modality Venn diagram defines the gamma that
    ``shared_gamma`` estimates.

    Examples
    --------
    >>> from crossmodal import diagnose, make_modality_venn
    >>> X_a, X_b, y = make_modality_venn(1000, n_general=8, n_specific_a=1, n_specific_b=1, random_state=0)
    >>> result = diagnose(X_a, X_b, y, random_state=0)
    >>> result.gamma > 0.5
    True
    """
    if isinstance(X_a, Mapping):
        from crossmodal.diagnosis._ranking import rank_teachers

        settings = dict(teacher=teacher, mimic=mimic, student=student, cv=cv, n_bootstrap=n_bootstrap)
        return rank_teachers(X_a, X_b, y, settings, random_state=random_state, n_jobs=n_jobs)
    X_a = check_modality(X_a, "X_a")
    X_b = check_modality(X_b, "X_b")
    check_paired_samples(X_a, X_b, "X_a", "X_b")
    classes, codes = _check_target(y, len(X_a))
    teacher = _check_classifier(teacher, "teacher")
    student = _check_classifier(student, "student")
    mimic = _check_mimic(mimic)
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    fold_seed, fit_seed, boot_seed, half_seed = draw_seeds(random_state, 4)
    folds = _folds(cv, codes, fold_seed)
    n, n_classes = len(codes), len(classes)
    replicate_seeds = (fit_seed + 4 * len(folds), fit_seed + (4 + 2 * _N_SUBSAMPLES) * len(folds))

    with threadpool_limits(limits=1, user_api="blas"):
        fits = _cross_fit(teacher, student, mimic, X_a, X_b, codes, folds, n_classes, fit_seed, n_jobs, CALIBRATED_RHO)
        replicates = _subsampled_cross_fits(
            teacher,
            mimic,
            X_a,
            X_b,
            codes,
            folds,
            n_classes,
            replicate_seeds[0],
            np.random.default_rng(half_seed),
            n_jobs,
        )
        # The other direction: the label-trained student on b, its decision regressed on X_a, same correction.
        replicates_ba = _subsampled_cross_fits(
            student,
            mimic,
            X_b,
            X_a,
            codes,
            folds,
            n_classes,
            replicate_seeds[1],
            np.random.default_rng([half_seed, 1]),
            n_jobs,
        )
    # Bootstrap of the rows: multinomial row counts, every statistic a weighted sum.
    W = np.random.default_rng(boot_seed).multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).astype(np.float64)
    ab = _extrapolated(_centred_log(fits["teacher"]), fits["mimic"], replicates, W)
    gamma, gamma_ci, _ = _corrected_gamma(None, None, None, W, parts=ab)
    shared_gamma, shared_gamma_ci = _shared_gamma(
        ab, _extrapolated(_centred_log(fits["student"]), fits["mimic_back"], replicates_ba, W)
    )
    regime = REGIMES[0] if np.all(codes >= 0) else REGIMES[1]
    statistics, boot = gain_statistics(fits, codes, W)
    gain, gain_ci, _ = predicted_gain(regime, statistics, boot)
    labelled = codes >= 0
    scores = {
        f"{name}_score": float(np.mean(np.argmax(fits[key][labelled], axis=1) == codes[labelled]))
        for name, key in (
            ("teacher", "teacher"),
            ("student", "student"),
            ("mimic", "imitator"),
            ("distilled", "distilled"),
        )
    }
    information = complementarity(fits["teacher"], fits["student"], codes)
    return DiagnoseResult(
        regime=regime,
        gamma=gamma,
        gamma_ci=gamma_ci,
        shared_gamma=shared_gamma,
        shared_gamma_ci=shared_gamma_ci,
        predicted_gain=gain,
        predicted_gain_ci=gain_ci,
        **scores,
        teacher_student_information=information[0],
        student_label_information=information[1],
        verdict=verdict(gain),
        n_samples=n,
        n_labelled=int(labelled.sum()),
        n_splits=len(folds),
        n_bootstrap=n_bootstrap,
    )
