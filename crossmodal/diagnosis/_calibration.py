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
    "labelled": {"intercept": 0.8398, "terms": {"imitation_gain": 9.6434, "teacher_fit_error": -4.4474}},
    "few labels": {
        "intercept": -4.0609,
        "terms": {
            "accuracy_gap_x_mimic_r2": 1.3972,
            "accuracy_gap_per_root_label_x_mimic_r2": 230.4045,
            "mimic_r2": 8.3519,
        },
    },
}
INTERVALS = {"labelled": {"floor": 0.1, "factor": 5.107}, "few labels": {"floor": 4.0, "factor": 3.076}}
VERDICT_THRESHOLDS = {
    "labelled": {"helps": 1.0, "hurts": -0.75, "interval_excludes_zero": False},
    "few labels": {"helps": 0.0, "hurts": 0.0, "interval_excludes_zero": False},
}
CALIBRATION_SUMMARY = (
    "labelled: 196 cells, 784 draws, held-out median |error| 0.35 points, 90% interval mean half-width 1.05, "
    "verdict agreement 0.754 (fixed answer 0.612)",
    "few labels: 482 cells, 1928 draws, held-out median |error| 5.01 points, 90% interval mean half-width "
    "13.40, verdict agreement 0.320 (fixed answer 0.550)",
)
# END CALIBRATION
