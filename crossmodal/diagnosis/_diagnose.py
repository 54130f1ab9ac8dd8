"""``diagnose``: will crossmodal knowledge distillation pay off on these data?

Everything here is cross-fitted: each model is fitted on the training folds
of one split and only ever scores the held-out fold of that split. The parts
live next door: the default models (:mod:`._lda`, :mod:`._ridge`), the
cross-fitting (:mod:`._crossfit`), gamma and its intervals
(:mod:`._intervals`), the predicted gain and verdict (:mod:`._gain`, with
the constants of :mod:`._calibration`), the complementarity criterion
(:mod:`._complementarity`), several candidate teachers (:mod:`._ranking`)
and the input checks (:mod:`._checks`).
"""

from collections.abc import Mapping
from types import SimpleNamespace

import numpy as np
from threadpoolctl import threadpool_limits

from crossmodal._utils.random import draw_seeds
from crossmodal._utils.validation import (
    check_float32_range,
    check_modality,
    check_n_jobs,
    check_paired_samples,
    check_positive_int,
)
from crossmodal.diagnosis._checks import _check_classifier, _check_magnitude, _check_mimic, _check_target
from crossmodal.diagnosis._complementarity import complementarity
from crossmodal.diagnosis._crossfit import _centred_log, _cross_fit, _folds, default_models_share
from crossmodal.diagnosis._gain import REGIMES, gain_statistics, predicted_gain, verdict, warn_outside_label_range
from crossmodal.diagnosis._intervals import _corrected_gamma, _extrapolated, _shared_gamma
from crossmodal.diagnosis._replicates import _N_SUBSAMPLES, _subsampled_cross_fits, half_plan, half_stats
from crossmodal.diagnosis._result import DiagnoseResult
from crossmodal.diagnosis._ridge import CentredRows
from crossmodal.diagnosis._teacher_fit import default_teacher_fit_loss

__all__ = ["CALIBRATED_RHO", "diagnose"]

#: The distiller's rho whose gain ``predicted_gain`` is calibrated for (``CrossModalDistiller()``'s default).
CALIBRATED_RHO = 0.5


def diagnose(
    X_a, X_b, y, *, teacher=None, mimic=None, student=None, cv=5, n_bootstrap=200, random_state=None, n_jobs=None
):
    """Predict, before training, whether crossmodal KD from modality a to b will pay, in accuracy points.

    A teacher is fitted on modality ``X_a`` and a student on ``X_b``, both
    cross-fitted on the labelled rows. From their out-of-fold predictions,
    and from students on *b* fitted to the teacher's probabilities on every
    pair, come a predicted accuracy gain of ``CrossModalDistiller()`` over
    labels only (calibrated, in points, with a 90% interval and a verdict),
    ``gamma`` (the share of the teacher's decision predictable from *b*),
    ``shared_gamma`` (the modality Venn diagram's gamma) and the two terms
    of the cross-modal complementarity criterion.

    Parameters
    ----------
    X_a : array-like of shape (n_samples, n_features_a), or mapping of str to array-like
        The teacher's modality. A mapping (name -> view, as
        ``load_mfeat().views``) diagnoses each candidate teacher view against
        ``X_b`` on the same folds and returns a :class:`TeacherRanking`,
        best predicted gain first.
    X_b : array-like of shape (n_samples, n_features_b)
        The student's modality, the same samples (pairs) row for row.
    y : array-like of shape (n_samples,)
        Class labels; -1 (``None`` among string labels) marks a pair without
        a label, as in scikit-learn's semi-supervised estimators and
        :class:`CrossModalDistiller`. With such rows ``diagnose`` describes
        the few-labels regime (``result.regime == "few labels"``).
    teacher : classifier or None, default=None
        Any scikit-learn classifier with ``predict_proba`` (cloned per fold).
        ``None``: linear discriminant analysis on standardised columns with a
        Ledoit-Wolf-shrunk pooled covariance (closed form, fast). The
        calibration of ``predicted_gain`` holds for the default models only.
    mimic : regressor or None, default=None
        The model behind ``gamma``: any multi-output scikit-learn regressor
        from ``X_b`` to the teacher's centred log-probabilities (cloned per
        fold). ``None``: closed-form ridge on standardised columns, its
        penalty chosen per fold from ``10**-2 ... 10**4`` by generalised
        cross-validation (exact leave-one-out with fewer than 10 training
        rows per column).
    student : classifier or None, default=None
        The model on ``X_b``, same rules and default as ``teacher``; fitted
        to the labels, to the teacher's probabilities, and to the
        distiller's targets (weighted copies of each row for a classifier
        whose ``fit`` takes ``sample_weight``, else the argmax).
    cv : int or cross-validation splitter, default=5
        Folds of the cross-fitting. An integer stratifies the labelled rows
        (it needs that many labelled rows of every class) and deals the
        unlabelled rows out evenly; a splitter must put every row in
        exactly one test fold.
    n_bootstrap : int, default=200
        Bootstrap resamples of the rows (of the out-of-fold predictions; no
        refit), behind every interval.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds, the estimators whose ``random_state`` is None, the
        half-data replicates and the bootstrap.
    n_jobs : int or None, default=None
        joblib workers over folds; results do not depend on it.

    Returns
    -------
    DiagnoseResult or TeacherRanking
        ``regime``, ``predicted_gain`` (points), ``predicted_gain_ci``,
        ``verdict``, ``gamma``, ``shared_gamma`` and their intervals, the
        scores, the complementarity terms; ``to_frame()``, ``to_dict()``.

    Warns
    -----
    UserWarning
        In the few-labels regime, where the labelled rows per class lie
        outside the range the map was calibrated on (3 to 50): the predicted
        gain is then extrapolated.

    See Also
    --------
    CrossModalDistiller : the distillation whose pay-off this predicts.
    MVDGenerator : data with a known ``gamma``.

    Notes
    -----
    *What is predicted.* ``predicted_gain`` is the test-accuracy change, in
    points, of ``CrossModalDistiller()`` with its defaults (the library's
    MLP teacher and student, ``rho=0.5``, ``T=1``) against the same
    estimator with ``rho=1`` (labels only, same initial weights and
    batches), both trained on these rows (every pair; the labelled ones for
    the labels). It covers that configuration only: other teachers,
    students, ``rho`` or temperatures are not calibrated.

    *Statistics.* Per fold, the teacher is fitted on the labelled training
    rows and queried on every training pair (on its own rows in-sample, as
    a distiller's teacher is), and the student on *b* is fitted three ways:
    to the labels, to the teacher's out-of-fold probabilities (the
    imitator), and to the distiller's targets with ``rho=0.5`` (labels and
    teacher probabilities, label weight ``n / n_labelled``; the distilled
    model). Their out-of-fold accuracies on the labelled rows give the
    teacher's, the student's and the imitator's accuracy and four
    differences with the label-trained student (teacher: accuracy and
    probability of the true class; imitator; distilled model), each also
    divided by the square root of the labelled rows per class; besides, the
    teacher's in-sample error on the labelled rows it was fitted on, the
    mimic's uncorrected R^2 on every pair, and products of them (see
    :data:`crossmodal.diagnosis._gain.STATISTICS`). With every row
    labelled, also the in-sample loss ``mean(1 - p(true class))`` of the
    distiller's own default teacher, an MLP fitted on a stratified
    subsample of 256 labelled rows (:mod:`crossmodal.diagnosis._teacher_fit`;
    its cost does not grow with the rows, see ``benchmarks/RESULTS.md``).

    *Calibration.* A linear map from those statistics to points was chosen
    per regime among a fixed list of feature sets by leave-one-source-out
    error (the map is meant for kinds of data it never saw; the one-standard-
    error rule prefers fewer statistics), and fitted, on data no report
    uses: scikit-learn's digits cut into ten views (90 ordered pairs), the
    breast-cancer table's three views, six views built like mfeat's
    (pixel blocks, principal components, shape profiles, Zernike moments,
    ring Fourier magnitudes, morphology) of the 2,000 MNIST digits of the
    av-digits archive that no shipped pair uses (30 ordered pairs), 150
    random MVD diagrams (structure seeds 10,000 and up, both directions)
    and 30 wide ones (20 to 300 noise columns, 2 to 10 classes; seeds
    20,000 and up), all labelled or with 3 to 50 labels per class, 4 seeds
    each, the gain measured with the estimator itself
    (``scripts/measure_diagnose_gains.py``,
    ``scripts/calibrate_diagnose.py``; constants in
    :mod:`crossmodal.diagnosis._calibration`). The map's statistics are
    clipped to their range on those data (it is not extrapolated). Every
    row labelled, it reads the imitator's gain times the default teacher's
    in-sample loss (a distiller's targets differ from the labels only
    where its own teacher does not fit them; held-out median error 0.31
    points over 226 cells); with few labels, the accuracy gap's negative part (a
    teacher less accurate than the student drags it towards its errors),
    its positive part times the mimic's R^2 clipped to [0, 1] (a more
    accurate teacher helps as far as *b* can follow its decision, as the
    modality focusing hypothesis has it) and ``1 / sqrt(labelled rows per
    class)`` (held-out median error 3.4 points over 632 cells, 2.0 to 5.4
    depending on source and labels: with few labels, a new kind of data is
    far less predictable). The 90% interval is ``gain +- factor *
    sqrt(floor^2 + sd^2)``, ``sd`` the row bootstrap's, with ``floor`` and
    ``factor`` set so that 90% of each source's held-out predictions fell
    within it of their cell's seed-averaged gain. The verdict's thresholds,
    per regime (:data:`~crossmodal.diagnosis._calibration.VERDICT_THRESHOLDS`,
    points), maximised the held-out agreement with the measured outcome (a
    gain beyond +-0.5 points, or none): 78% every row labelled (63% for the
    most common outcome); with few labels the verdict is the sign of the
    predicted gain, right in 65% of held-out cases (the most common outcome
    alone: 55%).

    *gamma* and *shared gamma*: see :mod:`crossmodal.diagnosis._intervals`
    (extrapolation from half-data refits, interval construction, coverage on
    MVD data). With few labels the teacher is fitted on labelled rows and
    the mimic on every pair.

    Cross-fitting: no model scores a row it was fitted on. BLAS runs with
    one thread throughout ``diagnose`` (its matrices are small); ``n_jobs``
    parallelises over folds instead.

    References
    ----------
    Xue, Z., Gao, Z., Ren, S., Zhao, H. (2023). The Modality Focusing
    Hypothesis: Towards Understanding Crossmodal Knowledge Distillation.
    ICLR 2023. Its modality Venn diagram defines the gamma that
    ``shared_gamma`` estimates.

    Xie, R., Xu, Y., Sanguinetti, G. (2025). Information-Theoretic Criteria
    for Knowledge Distillation in Multimodal Learning. arXiv:2510.13182.
    The cross-modal complementarity criterion.

    Examples
    --------
    >>> import numpy as np
    >>> from crossmodal import diagnose, make_modality_venn
    >>> X_a, X_b, y = make_modality_venn(1000, n_general=8, n_specific_a=1, n_specific_b=1, random_state=0)
    >>> result = diagnose(X_a, X_b, y, random_state=0)
    >>> result.regime, result.gamma > 0.5
    ('labelled', True)
    >>> few = np.where(np.arange(1000) < 100, y, -1)  # 100 labelled pairs, 900 without a label
    >>> diagnose(X_a, X_b, few, random_state=0).regime
    'few labels'
    """
    if isinstance(X_a, Mapping):
        from crossmodal.diagnosis._ranking import rank_teachers

        settings = dict(teacher=teacher, mimic=mimic, student=student, cv=cv, n_bootstrap=n_bootstrap)
        return rank_teachers(X_a, X_b, y, settings, random_state=random_state, n_jobs=n_jobs)
    # Its matrices are small: a second BLAS thread would cost CPU time, not save wall time.
    with threadpool_limits(limits=1, user_api="blas"):
        return _diagnose_pair(X_a, X_b, y, teacher, mimic, student, cv, n_bootstrap, random_state, n_jobs)


def _diagnose_pair(X_a, X_b, y, teacher, mimic, student, cv, n_bootstrap, random_state, n_jobs):
    """:func:`diagnose` of one teacher view (its arguments, validated here)."""
    parts = _cross_fitted(X_a, X_b, y, teacher, mimic, student, cv, n_bootstrap, random_state, n_jobs)
    fits, codes, W = parts.fits, parts.codes, parts.W
    ab = _extrapolated(_centred_log(fits["teacher"]), fits["mimic"], parts.replicates, W)
    gamma, gamma_ci, _ = _corrected_gamma(None, None, None, W, parts=ab)
    ba = _extrapolated(_centred_log(fits["student"]), fits["mimic_back"], parts.replicates_ba, W)
    shared_gamma, shared_gamma_ci = _shared_gamma(ab, ba)
    regime = REGIMES[0] if np.all(codes >= 0) else REGIMES[1]
    gain, gain_ci, _ = predicted_gain(regime, *gain_statistics(fits, codes, W, parts.n_features_b))
    labelled = codes >= 0
    if regime == REGIMES[1]:
        warn_outside_label_range(int(labelled.sum()), len(codes), fits["teacher"].shape[1])
    scores = {
        f"{name}_score": float(np.mean(np.argmax(fits[key][labelled], axis=1) == codes[labelled]))
        for name, key in (
            ("teacher", "teacher"),
            ("student", "student"),
            ("mimic", "imitator"),
            ("distilled", "distilled"),
        )
    }
    information = dict(
        zip(
            ("teacher_student_information", "student_label_information"),
            complementarity(fits["teacher"], fits["student"], codes),
        )
    )
    estimates = dict(gamma=gamma, gamma_ci=gamma_ci, shared_gamma=shared_gamma, shared_gamma_ci=shared_gamma_ci)
    sizes = dict(n_samples=len(codes), n_labelled=int(labelled.sum()), n_splits=len(parts.folds), n_bootstrap=len(W))
    gains = dict(regime=regime, predicted_gain=gain, predicted_gain_ci=gain_ci, verdict=verdict(regime, gain, gain_ci))
    return DiagnoseResult(**gains, **estimates, **scores, **information, **sizes)


def _cross_fitted(X_a, X_b, y, teacher, mimic, student, cv, n_bootstrap, random_state, n_jobs, replicates=True):
    """Validate the input and run every cross-fit of :func:`diagnose`; the bootstrap's row counts ``W``.

    ``replicates=False`` skips gamma's half-data replicates (``None``), which the predicted gain does not use.
    Callers limit BLAS to one thread, as :func:`diagnose` does.
    """
    X_a = _check_magnitude(check_modality(X_a, "X_a"), "X_a")
    X_b = _check_magnitude(check_modality(X_b, "X_b"), "X_b")
    check_paired_samples(X_a, X_b, "X_a", "X_b")
    n_jobs = check_n_jobs(n_jobs)
    classes, codes = _check_target(y, len(X_a))
    teacher = _check_classifier(teacher, "teacher")
    student = _check_classifier(student, "student")
    mimic = _check_mimic(mimic)
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    every_row_labelled = bool(np.all(codes >= 0))
    if every_row_labelled:  # the default MLP teacher of _teacher_fit computes in float32: every row must fit
        check_float32_range(X_a, "X_a")
    fold_seed, fit_seed, boot_seed, half_seed = draw_seeds(random_state, 4)
    folds = _folds(cv, codes, fold_seed, classes)
    n, n_classes = len(codes), len(classes)
    # Seeds of the two directions' half-data replicates, after the main cross-fit's.
    seed_ab, seed_ba = fit_seed + 4 * len(folds), fit_seed + (4 + 2 * _N_SUBSAMPLES) * len(folds)
    # The default mimic reads every fit's rows from one float64, centred copy of each view.
    centred = (CentredRows(X_a), CentredRows(X_b)) if mimic is None else (None, None)
    fits = _cross_fit(
        teacher, student, mimic, X_a, X_b, codes, folds, n_classes, fit_seed, n_jobs, CALIBRATED_RHO, centred
    )
    halves = [None, None]
    if replicates:
        # Both directions refit on the same halves, so the default models share each half's Gram matrices.
        plan = half_plan(folds, codes, np.random.default_rng(half_seed))
        stats = half_stats(X_a, X_b, plan, default_models_share(teacher, student, mimic))
        halves[0] = _subsampled_cross_fits(
            teacher, mimic, X_a, X_b, codes, folds, n_classes, seed_ab, None, n_jobs, plan, stats, centred[1]
        )
        # The other direction: the label-trained student on b, its decision regressed on X_a, same correction.
        swapped = [s[::-1] for s in stats]
        halves[1] = _subsampled_cross_fits(
            student, mimic, X_b, X_a, codes, folds, n_classes, seed_ba, None, n_jobs, plan, swapped, centred[0]
        )
    if every_row_labelled:  # the labelled regime's map reads the default teacher's own fit (see _teacher_fit)
        fits["teacher_fit_loss"] = default_teacher_fit_loss(X_a, codes, n_classes, half_seed)
    # Bootstrap of the rows: multinomial row counts, every statistic a weighted sum.
    draws = np.random.default_rng(boot_seed).integers(0, n, size=(n_bootstrap, n))
    draws += np.arange(n_bootstrap)[:, None] * n  # one bincount for every resample (a third of multinomial's time)
    W = np.bincount(draws.ravel(), minlength=n_bootstrap * n).reshape(n_bootstrap, n).astype(np.float64)
    parts = dict(fits=fits, codes=codes, folds=folds, replicates=halves[0], replicates_ba=halves[1], W=W)
    return SimpleNamespace(**parts, n_features_b=X_b.shape[1])
