"""Input checks of :func:`~crossmodal.diagnose` beyond the shared ones of :mod:`crossmodal._utils.validation`."""

import numpy as np
from sklearn.utils.validation import column_or_1d

from crossmodal._utils.labels import check_label_classes, encode_labels
from crossmodal.diagnosis._lda import default_estimator


def _reject_class(estimator, name):
    if isinstance(estimator, type):
        raise TypeError(
            f"{name} must be an estimator instance, not a class; got {estimator.__name__} (call it: "
            f"{estimator.__name__}())."
        )


def _check_classifier(estimator, name):
    if estimator is None:
        return default_estimator()
    _reject_class(estimator, name)
    if not hasattr(estimator, "fit") or not hasattr(estimator, "predict_proba"):
        raise TypeError(
            f"{name} must be a scikit-learn classifier with fit and predict_proba; got {type(estimator).__name__}."
        )
    return estimator


def _check_mimic(mimic):
    if mimic is None:
        return None
    _reject_class(mimic, "mimic")
    if not hasattr(mimic, "fit") or not hasattr(mimic, "predict"):
        raise TypeError(
            f"mimic must be a scikit-learn regressor with fit and predict (multi-output); got {type(mimic).__name__}."
        )
    return mimic


def _check_target(y, n_samples, other="X_a"):
    """Classes of the labelled rows and every row's code (-1 on a row without a label).

    As :class:`~crossmodal.CrossModalDistiller`: -1 marks a row without a
    label among numeric labels, ``None`` among string labels.
    """
    if y is None:
        raise ValueError("y is required; got None.")
    y = column_or_1d(np.asarray(y), warn=False)
    if len(y) != n_samples:
        raise ValueError(f"{other} and y have different numbers of samples: {n_samples} and {len(y)}.")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"y must hold class labels; got {int(np.sum(~np.isfinite(y)))} NaN or infinite value(s).")
    if y.dtype.kind == "O" and any(isinstance(v, float) and not np.isfinite(v) for v in y):
        raise ValueError(
            "y must hold class labels; got NaN values (a row without a label is -1, or None among strings)."
        )
    classes, codes, labelled = encode_labels(y)
    if classes is None:
        raise ValueError(
            f"y has no labelled row (all {len(y)} rows are marked as unlabelled); diagnose fits the teacher and the "
            "label-trained student on labelled rows, so at least 2 labelled rows of each of 2 classes are needed."
        )
    check_label_classes(classes, labelled)
    return classes, codes
