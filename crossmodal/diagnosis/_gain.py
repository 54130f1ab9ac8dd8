"""The predicted gain of :func:`~crossmodal.diagnose`: cheap statistics, a calibrated linear map, its interval.

The statistics are differences of cross-fitted accuracies on the labelled
rows and the mimic's R^2 on every row (:func:`gain_statistics`): weighted
sums over rows, so a row bootstrap (a matrix of multinomial row counts)
gives all of them per resample at once. The map from the statistics to accuracy points, the
interval's width and the verdict's thresholds come from
:mod:`._calibration`, where their provenance is recorded.
"""

import warnings

import numpy as np

from crossmodal.diagnosis._calibration import GAIN_MODELS, INTERVALS, VERDICT_THRESHOLDS
from crossmodal.diagnosis._crossfit import _centred_log
from crossmodal.diagnosis._intervals import _weighted_r2

__all__ = ["REGIMES", "STATISTICS", "gain_statistics", "predicted_gain", "verdict"]

#: The two regimes: every row labelled, or some rows without a label (-1, or None among strings).
REGIMES = ("labelled", "few labels")

# Per labelled row, each statistic is the difference of two of these (correct: 1 or 0; probability of the true class).
_BASE = {
    "accuracy_gap": ("teacher", "student", "correct"),
    "probability_gap": ("teacher", "student", "probability"),
    "imitation_gain": ("imitator", "student", "correct"),
    "distillation_gain": ("distilled", "student", "correct"),
}
#: Names of the statistics a calibrated map may use: the four differences, each divided by the square root of the
#: labelled rows per class (the few-labels regime's gains shrink as labels grow); the teacher's in-sample error on
#: the labelled rows it was fitted on (where a distiller's targets contradict the labels); and the mimic's
#: uncorrected R^2 (the share of the teacher's decision that b follows, on every pair: it needs no label).
STATISTICS = tuple(_BASE) + tuple(f"{name}_per_root_label" for name in _BASE) + ("teacher_fit_error", "mimic_r2")
#: The accuracy gap times the mimic's R^2 (and the same per root label): the part of the teacher's advantage that b
#: can follow, as the modality focusing hypothesis has it.
STATISTICS += ("accuracy_gap_x_mimic_r2", "accuracy_gap_per_root_label_x_mimic_r2")
#: The imitation gain times the (shrunk-LDA) teacher's in-sample error: with every row labelled, a distiller's targets
#: differ from the labels only where its teacher does not fit them, so that is where imitating the teacher can change
#: the student. (The calibrated map reads the default MLP teacher's own in-sample loss instead, below: it fits rows
#: that a linear teacher cannot.)
STATISTICS += ("imitation_gain_x_teacher_fit_error",)
#: The cross-fitted accuracies themselves (not only their differences): how far each model is from the ceiling.
_LEVELS = ("teacher", "student", "imitator")
STATISTICS += tuple(f"{name}_accuracy" for name in _LEVELS)
#: The teacher's accuracy times the mimic's R^2 (what a student that follows the teacher on every pair can reach), and
#: ``1 / sqrt(labelled rows per class)`` itself.
STATISTICS += ("teacher_accuracy_x_mimic_r2", "inverse_root_labels")
#: ``log2`` of b's column count, and the last two accuracies times it: with few labels, a student with more inputs
#: follows its teacher on the unlabelled pairs more closely (its gain per point of accuracy gap grows with them).
STATISTICS += ("log2_features_b", "student_accuracy_x_log2_features_b", "teacher_accuracy_x_mimic_r2_x_log2_features_b")
#: The accuracy gap's negative part, its positive part, and the positive part times the mimic's R^2 clipped to
#: [0, 1]: with few labels, a teacher less accurate than the student drags it towards the teacher's errors, while a
#: more accurate one helps only as far as b can follow its decision (the modality focusing hypothesis).
STATISTICS += ("accuracy_gap_below_zero", "accuracy_gap_above_zero", "accuracy_gap_above_zero_x_mimic_share")
#: With every row labelled: the default MLP teacher's in-sample loss, ``mean(1 - p(true class))`` on (a subsample
#: of) its training rows (:mod:`._teacher_fit`; NaN with few labels), and the imitation gain times it: a distiller's
#: targets differ from the labels only as far as its own teacher does not fit them.
STATISTICS += ("teacher_fit_loss", "imitation_gain_x_teacher_fit_loss")


def _row_values(fits, codes):
    """Per labelled row: each base statistic's difference (columns in ``_BASE`` order), then each of ``_LEVELS``'
    correctness (1 or 0); and the teacher's in-sample error."""
    labelled = np.flatnonzero(codes >= 0)
    y = codes[labelled]

    def per_row(name, kind):
        P = fits[name][labelled]
        return (np.argmax(P, axis=1) == y).astype(np.float64) if kind == "correct" else P[np.arange(len(y)), y]

    columns = [per_row(first, kind) - per_row(second, kind) for first, second, kind in _BASE.values()]
    columns += [per_row(name, "correct") for name in _LEVELS]
    return np.column_stack(columns), fits["teacher_fit_error"][labelled]


def gain_statistics(fits, codes, W, n_features_b):
    """Every statistic of :data:`STATISTICS`, on all labelled rows and per bootstrap resample.

    Parameters
    ----------
    fits : dict
        Out-of-fold probabilities (``teacher``, ``student``, ``imitator``,
        ``distilled``), the mimic's predictions (``mimic``) and the teacher's
        in-sample error per row (``teacher_fit_error``) of ``_cross_fit``; with
        every row labelled also the default teacher's in-sample loss
        (``teacher_fit_loss``, a number, not resampled).
    codes : ndarray of shape (n_samples,)
        Encoded labels, -1 on unlabelled rows.
    W : ndarray of shape (n_bootstrap, n_samples)
        Multinomial row counts; resamples weigh the labelled rows by them.
    n_features_b : int
        Columns of the student's modality.

    Returns
    -------
    point : dict
        Statistic name -> value on the rows as they are.
    boot : ndarray of shape (n_bootstrap, len(STATISTICS))
    """
    labelled = codes >= 0
    rows, fit_error = _row_values(fits, codes)
    weights = W[:, labelled]
    total = np.maximum(weights.sum(axis=1), 1.0)
    # One line per evaluation: the rows as they are (line 0), then each resample.
    means = np.vstack([rows.mean(axis=0), (weights @ rows) / total[:, None]])
    fit = np.concatenate([[fit_error.mean()], (weights @ fit_error) / total])[:, None]
    n_base = len(_BASE)
    diffs, levels = means[:, :n_base], means[:, n_base:]
    scale = 1.0 / np.sqrt(labelled.sum() / fits["teacher"].shape[1])
    L = _centred_log(fits["teacher"])
    r2 = _weighted_r2(np.vstack([np.ones((1, len(codes))), W]), L, fits["mimic"])[:, None]
    gap = diffs[:, :1]
    imitation = diffs[:, list(_BASE).index("imitation_gain")][:, None]
    teacher, student = levels[:, :1], levels[:, 1:2]
    log_features = float(np.log2(n_features_b))
    constant = np.ones_like(r2)
    loss = float(fits.get("teacher_fit_loss", np.nan))
    values = np.hstack(
        [
            diffs,
            scale * diffs,
            fit,
            r2,
            gap * r2,
            scale * gap * r2,
            imitation * fit,
            levels,
            teacher * r2,
            scale * constant,
            log_features * constant,
            student * log_features,
            teacher * r2 * log_features,
            np.minimum(gap, 0.0),
            np.maximum(gap, 0.0),
            np.maximum(gap, 0.0) * np.clip(r2, 0.0, 1.0),
            loss * constant,
            imitation * loss,
        ]
    )
    return dict(zip(STATISTICS, (float(v) for v in values[0]))), values[1:]


def _apply(model, values):
    """The calibrated map: intercept plus coefficients times statistics, in accuracy points.

    Each statistic is first clipped to its range on the calibration data (``model["ranges"]``): the linear map is
    not extrapolated beyond the data that fitted it.
    """
    ranges = model.get("ranges", {})
    return model["intercept"] + sum(
        coef * np.clip(values[..., STATISTICS.index(name)], *ranges.get(name, (-np.inf, np.inf)))
        for name, coef in model["terms"].items()
    )


def warn_outside_label_range(n_labelled, n_samples, n_classes):
    """Warn where the few-labels map meets more or fewer labelled rows per class than it was calibrated on."""
    low, high = GAIN_MODELS[REGIMES[1]]["ranges"].get("inverse_root_labels", (0.0, np.inf))
    per_class = n_labelled / n_classes
    if low - 1e-4 <= 1.0 / np.sqrt(per_class) <= high + 1e-4:
        return
    warnings.warn(
        f"diagnose's few-labels prediction is calibrated on {1 / high**2:.0f} to {1 / low**2:.0f} labelled rows per "
        f"class; these data have {per_class:.1f} ({n_labelled} of {n_samples} rows labelled, {n_classes} classes), "
        "so its statistics are clipped to that range and the predicted gain and verdict are extrapolated."
        + (
            " Where the unlabelled rows are few, the labelled regime (every row labelled) may describe them better."
            if per_class > 1 / low**2
            else ""
        ),
        UserWarning,
        stacklevel=3,
    )


def predicted_gain(regime, point, boot):
    """Calibrated gain (accuracy points), its 90% interval and the bootstrap's standard deviation.

    The interval is ``gain +- factor * sqrt(floor^2 + sd^2)``, where ``sd``
    is the row bootstrap's standard deviation of the gain and ``floor`` and
    ``factor`` come from the calibration (:data:`._calibration.INTERVALS`).
    """
    model = GAIN_MODELS[regime]
    values = np.array([point[name] for name in STATISTICS])
    gain = float(_apply(model, values))
    sd = float(np.std(_apply(model, boot), ddof=1)) if len(boot) > 1 else 0.0
    width = INTERVALS[regime]["factor"] * np.hypot(INTERVALS[regime]["floor"], sd)
    return gain, (gain - float(width), gain + float(width)), sd


def verdict(regime, gain, ci):
    """``"helps"``, ``"likely to hurt"`` or ``"unlikely to help"`` from the predicted gain and its interval (points).

    The regime's thresholds; where the calibration chose so, the interval must also exclude 0.
    """
    rule = VERDICT_THRESHOLDS[regime]
    strict = rule["interval_excludes_zero"]
    if gain >= rule["helps"] and (ci[0] > 0 or not strict):
        return "helps"
    if gain <= rule["hurts"] and (ci[1] < 0 or not strict):
        return "likely to hurt"
    return "unlikely to help"
