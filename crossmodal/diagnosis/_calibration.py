"""Constants of :func:`~crossmodal.diagnose`'s predicted gain, fitted on data that no report uses.

Written by ``scripts/calibrate_diagnose.py`` (``--write``); see that
script and :func:`crossmodal.diagnose`'s Notes for the data and the method.
Gains are in accuracy points of ``CrossModalDistiller()``'s defaults
against the same estimator with ``rho=1``.
"""

# BEGIN CALIBRATION (written by scripts/calibrate_diagnose.py)
GAIN_MODELS = {
    "labelled": {"intercept": 0.0, "terms": {"imitation_gain": 10.0}},
    "few labels": {"intercept": 0.0, "terms": {"accuracy_gap": 30.0}},
}
INTERVALS = {"labelled": {"floor": 0.5, "factor": 1.645}, "few labels": {"floor": 2.0, "factor": 1.645}}
VERDICT_THRESHOLDS = {"helps": 0.5, "hurts": -0.5}
CALIBRATION_SUMMARY = "placeholder"
# END CALIBRATION
