"""Input checks of :func:`~crossmodal.diagnose` beyond the shared ones of :mod:`crossmodal._utils.validation`."""

import numpy as np
from sklearn.utils.validation import column_or_1d

from crossmodal._utils.labels import check_label_classes, encode_labels, reject_missing_strings
from crossmodal._utils.proba import rows_are_probabilities
from crossmodal._utils.validation import check_magnitude
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
    reject_missing_strings(y)  # pandas' NaN among string labels: the distiller's message, with the conversion
    y = column_or_1d(np.asarray(y), warn=False)
    if len(y) != n_samples:
        raise ValueError(f"{other} and y have different numbers of samples: {n_samples} and {len(y)}.")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(
            f"y must hold class labels; got {int(np.sum(~np.isfinite(y)))} NaN or infinite value(s) (a row without a "
            "label is -1 among numeric labels)."
        )
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


#: Beyond this magnitude the squares in diagnose's Gram matrices overflow float64 (1e154 ** 2 ~ 1e308).
_MAX_MAGNITUDE = 1e150


def _check_magnitude(X, name):
    """``X`` unless a value is so large that its square overflows float64; then a ValueError naming ``name``."""
    beyond = f"; diagnose's sums of squares overflow float64 beyond about {_MAX_MAGNITUDE:.0e}"
    return check_magnitude(X, name, _MAX_MAGNITUDE, beyond + ": rescale it (a StandardScaler, say).")


def _check_proba_output(estimator, raw, n_rows, n_classes, role):
    """The column of each of ``estimator``'s classes, once its ``predict_proba`` output ``raw`` is checked: what a
    user's teacher or student returns is input too (``role`` names it)."""
    known = np.asarray(estimator.classes_)
    if (
        raw.shape != (n_rows, len(known))
        or not np.all(np.isfinite(raw))
        or not rows_are_probabilities(raw)
        or not np.isin(known, np.arange(n_classes)).all()
    ):
        finite = raw[np.isfinite(raw)]
        span = f"finite values in [{finite.min():.4g}, {finite.max():.4g}]" if finite.size else "none finite"
        raise ValueError(
            f"diagnose's {role} ({type(estimator).__name__}) returned predict_proba of shape {raw.shape} ({span}, "
            f"{raw.size - finite.size} not finite) for classes_ {known.tolist()}; required: shape "
            f"({n_rows}, {len(known)}), finite probabilities whose rows sum to 1, classes_ among the codes 0 to "
            f"{n_classes - 1} it was fitted on."
        )
    return known.astype(int)


def _check_mimic_output(model, out, n_rows, n_classes):
    """``out``, the mimic's prediction on ``n_rows`` rows, once it is finite and has one column per class."""
    if out.shape != (n_rows, n_classes) or not np.all(np.isfinite(out)):
        raise ValueError(
            f"diagnose's mimic ({type(model).__name__}) predicted shape {out.shape} with "
            f"{int(np.sum(~np.isfinite(out)))} NaN or infinite values; required: finite values of shape "
            f"({n_rows}, {n_classes}), one column per class (a multi-output regressor)."
        )
    return out
