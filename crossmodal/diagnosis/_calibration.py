"""Constants of :func:`~crossmodal.diagnose`'s predicted gain, fitted on data that no report uses.

Written by ``scripts/calibrate_diagnose.py --write`` from the gains that
``scripts/measure_diagnose_gains.py`` measured (digits and breast-cancer
views, random MVD diagrams; ``scripts/_diagnose_sources.py``); see those
scripts and :func:`crossmodal.diagnose`'s Notes for the data and the method.
Gains are in accuracy points of ``CrossModalDistiller()``'s defaults against
the same estimator with ``rho=1``.

* ``GAIN_MODELS[regime]``: ``intercept + sum(coefficient * statistic)``,
  the statistics named as in :data:`crossmodal.diagnosis._gain.STATISTICS`.
* ``INTERVALS[regime]``: the 90% interval ``gain +- factor * sqrt(floor^2 +
  sd^2)`` around it (``sd``: the row bootstrap's).
* ``VERDICT_THRESHOLDS``: "helps" at or above ``helps``, "likely to hurt" at
  or below ``hurts`` (points).
"""

# BEGIN CALIBRATION (written by scripts/calibrate_diagnose.py)
GAIN_MODELS = {
    "labelled": {"intercept": 0.0607, "terms": {"imitation_gain_x_teacher_fit_error": 40.7418}},
    "few labels": {
        "intercept": 12.0883,
        "terms": {"teacher_accuracy_x_mimic_r2": 28.7974, "student_accuracy": -35.2955, "inverse_root_labels": 11.337},
    },
}
INTERVALS = {"labelled": {"floor": 0.2, "factor": 3.7504}, "few labels": {"floor": 4.0, "factor": 2.4057}}
VERDICT_THRESHOLDS = {
    "labelled": {"helps": 0.5, "hurts": -0.5, "interval_excludes_zero": False},
    "few labels": {"helps": 0.0, "hurts": 0.0, "interval_excludes_zero": False},
}
CALIBRATION_SUMMARY = (
    "labelled: 196 cells, 784 draws, held-out median |error| 0.29 points, 90% interval mean half-width 1.09, "
    "verdict agreement 0.755 (fixed answer 0.612)",
    "few labels: 482 cells, 1928 draws, held-out median |error| 3.73 points, 90% interval mean half-width "
    "11.15, verdict agreement 0.535 (fixed answer 0.550)",
)
# END CALIBRATION
