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
    "labelled": {"intercept": 0.2797, "terms": {"imitation_gain": 13.9699}},
    "few labels": {
        "intercept": -3.9826,
        "terms": {"accuracy_gap": 23.1521, "accuracy_gap_per_root_label": 14.3824, "mimic_r2": 7.5307},
    },
}
INTERVALS = {"labelled": {"floor": 0.3, "factor": 2.6529}, "few labels": {"floor": 1.5, "factor": 3.1055}}
VERDICT_THRESHOLDS = {"helps": 0.5, "hurts": -0.5}
CALIBRATION_SUMMARY = (
    "labelled: 196 cells, 784 draws, held-out median |error| 0.36 points, 90% interval mean half-width 1.21",
    "few labels: 482 cells, 1928 draws, held-out median |error| 2.91 points, 90% interval mean half-width 8.56",
    "verdict agreement 0.660 held out (fixed answer 0.482)",
)
# END CALIBRATION
