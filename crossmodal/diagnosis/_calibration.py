"""Constants of :func:`~crossmodal.diagnose`'s predicted gain, fitted on data that no report uses.

Written by ``scripts/calibrate_diagnose.py --write`` from the gains that
``scripts/measure_diagnose_gains.py`` measured (digits and breast-cancer
views, six mfeat-like views of MNIST digits no shipped pair uses, random MVD
diagrams; ``scripts/_diagnose_sources.py``); see those
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
        "intercept": -0.0734,
        "terms": {"imitation_gain_x_teacher_fit_loss": 47.7028},
        "ranges": {"imitation_gain_x_teacher_fit_loss": [-0.1186, 0.0289]},
    },
    "few labels": {
        "intercept": -4.3698,
        "terms": {
            "accuracy_gap_below_zero": 34.1777,
            "accuracy_gap_above_zero_x_mimic_share": 107.7849,
            "inverse_root_labels": 11.1233,
        },
        "ranges": {
            "accuracy_gap_below_zero": [-0.6, 0.0],
            "accuracy_gap_above_zero_x_mimic_share": [0.0, 0.1672],
            "inverse_root_labels": [0.1414, 0.5774],
        },
    },
}
INTERVALS = {"labelled": {"floor": 0.2, "factor": 5.3935}, "few labels": {"floor": 4.0, "factor": 2.2307}}
VERDICT_THRESHOLDS = {
    "labelled": {"helps": 0.25, "hurts": -0.5, "interval_excludes_zero": False},
    "few labels": {"helps": 0.0, "hurts": 0.0, "interval_excludes_zero": False},
}
CALIBRATION_SUMMARY = (
    "labelled: 226 cells, 904 draws, held-out median |error| 0.31 points, 90% interval mean half-width 1.34, "
    "verdict agreement 0.779 (fixed answer 0.633)",
    "few labels: 632 cells, 2528 draws, held-out median |error| 3.41 points, 90% interval mean half-width "
    "10.75, verdict agreement 0.647 (fixed answer 0.547)",
)
# END CALIBRATION
