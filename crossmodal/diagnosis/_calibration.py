"""Constants of :func:`~crossmodal.diagnose`'s predicted gain, fitted on data that no report uses.

Written by ``scripts/calibrate_diagnose.py --write`` from the gains that
``scripts/measure_diagnose_gains.py`` measured (digits and breast-cancer
views, random MVD diagrams; ``scripts/_diagnose_sources.py``); see those
scripts and :func:`crossmodal.diagnose`'s Notes for the data and the method.
Gains are in accuracy points of ``CrossModalDistiller()``'s defaults against
the same estimator with ``rho=1``.

* ``GAIN_MODELS[regime]``: ``intercept + sum(coefficient * statistic)``,
  the statistics named as in :data:`crossmodal.diagnosis._gain.STATISTICS`,
  each clipped to its ``ranges`` entry (its smallest and largest value over
  the calibration draws).
* ``INTERVALS[regime]``: the 90% interval ``gain +- factor * sqrt(floor^2 +
  sd^2)`` around it (``sd``: the row bootstrap's).
* ``VERDICT_THRESHOLDS``: "helps" at or above ``helps``, "likely to hurt" at
  or below ``hurts`` (points).
"""

# BEGIN CALIBRATION (written by scripts/calibrate_diagnose.py)
GAIN_MODELS = {
    "labelled": {
        "intercept": 0.0607,
        "terms": {"imitation_gain_x_teacher_fit_error": 40.7418},
        "ranges": {"imitation_gain_x_teacher_fit_error": [-0.1313, 0.0267]},
    },
    "few labels": {
        "intercept": 1.0721,
        "terms": {
            "teacher_accuracy_x_mimic_r2_x_log2_features_b": 4.5592,
            "student_accuracy_x_log2_features_b": -3.5774,
            "inverse_root_labels": 12.0869,
        },
        "ranges": {
            "teacher_accuracy_x_mimic_r2_x_log2_features_b": [-0.2414, 3.488],
            "student_accuracy_x_log2_features_b": [0.5233, 6.5513],
            "inverse_root_labels": [0.1414, 0.5774],
        },
    },
}
INTERVALS = {"labelled": {"floor": 0.2, "factor": 3.7822}, "few labels": {"floor": 1.5, "factor": 4.9331}}
VERDICT_THRESHOLDS = {
    "labelled": {"helps": 0.25, "hurts": -0.5, "interval_excludes_zero": False},
    "few labels": {"helps": 0.0, "hurts": 0.0, "interval_excludes_zero": False},
}
CALIBRATION_SUMMARY = (
    "labelled: 196 cells, 784 draws, held-out median |error| 0.29 points, 90% interval mean half-width 1.10, "
    "verdict agreement 0.751 (fixed answer 0.612)",
    "few labels: 542 cells, 2168 draws, held-out median |error| 3.35 points, 90% interval mean half-width 9.01, "
    "verdict agreement 0.616 (fixed answer 0.559)",
)
# END CALIBRATION
