"""Input checks shared by the crossmodal estimators and functions.

Every message names the argument, the value seen and what is required.
Validation happens once, here, at the Python boundary; kernels trust their input.
"""

import math
import numbers
from collections import Counter

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

from crossmodal._utils.labels import reject_missing_strings
from crossmodal._utils.proba import PROBA_ATOL

__all__ = [
    "FLOAT32_MAX",
    "check_at_least_two_classes",
    "check_flag",
    "check_float32_range",
    "check_magnitude",
    "check_modality",
    "check_n_jobs",
    "check_paired_samples",
    "check_positive_int",
    "check_positive_real",
    "check_probabilities",
    "validate_numeric_data",
]


def check_modality(X, name, *, dtype=(np.float32, np.float64), ensure_2d=True, allow_nd=False):
    """Validate one modality's array: numeric, finite, non-empty.

    Parameters
    ----------
    X : array-like
        The data.
    name : str
        Argument name used in error messages (``"X_teacher"``, ``"X_b"``).
    dtype : dtype or tuple of dtypes
        Accepted dtypes; anything else is converted to the first one.
    ensure_2d, allow_nd : bool
        Passed to :func:`sklearn.utils.check_array`.

    Returns
    -------
    X : ndarray
    """
    if X is None:
        raise ValueError(f"{name} is required; got None.")
    if not hasattr(X, "__array__") and not hasattr(X, "shape"):
        X = np.asarray(X, dtype=object)
    shape = getattr(X, "shape", None)
    if shape is not None:
        ndim = len(shape)
        if ensure_2d and not allow_nd and ndim != 2:
            raise ValueError(
                f"{name} must be a 2-D array of shape (n_samples, n_features); "
                f"got {ndim}-D input of shape {tuple(shape)}."
            )
        if ndim >= 1 and shape[0] == 0:
            raise ValueError(f"{name} must have at least one row; got shape {tuple(shape)}.")
    try:
        X = check_array(X, dtype=dtype, ensure_2d=ensure_2d, allow_nd=allow_nd, ensure_all_finite=True, input_name=name)
    except (TypeError, ValueError) as exc:
        if name in str(exc):
            raise
        text = str(exc).lower()
        numbers_problem = any(k in text for k in ("convert", "complex", "dtype", "sparse", "string"))
        raise ValueError(f"{name} must hold numbers: {exc}" if numbers_problem else f"{name}: {exc}") from exc
    return X


#: The largest magnitude float32 holds; the torch networks compute in float32 by default.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_magnitude(X, name, limit, beyond):
    """Return ``X`` (a validated numeric array) unless a value's magnitude exceeds ``limit``; then raise
    "``name`` holds values up to ... in magnitude" followed by ``beyond`` (why that is too large, what to do)."""
    top = max(float(X.max()), -float(X.min())) if X.size else 0.0  # no copy of X
    if top > limit:
        raise ValueError(f"{name} holds values up to {top:.3g} in magnitude{beyond}")
    return X


def check_float32_range(X, name):
    """Return ``X`` (a validated array) unless a value is beyond float32's range, where a float32 network would
    see infinity and answer NaN; then raise, naming ``name``. Arrays of 4-byte items or fewer fit by construction."""
    if X.dtype.itemsize <= 4:
        return X
    beyond = f", beyond float32's range ({FLOAT32_MAX:.3g}) in which the networks compute"
    return check_magnitude(X, name, FLOAT32_MAX, beyond + "; rescale it (a StandardScaler in a Pipeline, say).")


def validate_numeric_data(estimator, X, y="no_validation", **kwargs):
    """:func:`sklearn.utils.validation.validate_data`, naming ``X`` when it holds non-numbers and ``y`` when it holds
    NaN among string labels (:func:`~crossmodal._utils.labels.reject_missing_strings`).

    The labels are checked before scikit-learn sees them: what it raises on pandas' NA differs between its
    versions (ValueError, TypeError or AttributeError).
    """
    if not (isinstance(y, str) and y == "no_validation") and y is not None:
        reject_missing_strings(y)
    try:
        return validate_data(estimator, X, y, **kwargs)
    except ValueError as exc:
        if "could not convert" in str(exc):
            raise ValueError(f"X must hold numbers (a string was found): {exc}") from exc
        raise


def check_paired_samples(X, X_other, name="X", other_name="X_teacher"):
    """Raise if two modalities do not hold the same number of samples (rows: ``shape[0]``, else ``len``)."""
    n, m = (int(A.shape[0]) if getattr(A, "shape", None) else len(A) for A in (X, X_other))
    if n != m:
        raise ValueError(
            f"{name} and {other_name} have different numbers of samples: {n} and {m}. "
            f"Each row of {other_name} must be the paired view of the same row of {name}."
        )


def _label_key(value):
    """A class or column label as a value to compare: a number (numeric text too) as a float, anything else as
    text (a bool as "True" or "False")."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def check_probabilities(P, n_samples, n_classes, name="teacher_proba", atol=PROBA_ATOL, classes=None):
    """Validate an (n_samples, n_classes) matrix of class probabilities.

    Columns are read by position. A DataFrame whose column labels are the
    ``classes`` in another order is an error, not silently misread.
    """
    labels = getattr(P, "columns", None)
    if classes is not None and labels is not None and len(labels) == len(classes):
        wanted = np.asarray(classes).tolist()
        # Labels and classes compared as values: a CSV's "0" is the class 0, its "True" the class True.
        keys, wanted_keys = [_label_key(label) for label in labels], [_label_key(c) for c in wanted]
        distinct = len(set(wanted_keys)) == len(wanted_keys)
        if distinct and keys != wanted_keys and Counter(keys) == Counter(wanted_keys):
            by_class = dict(zip(keys, list(labels)))
            order = [by_class[key] for key in wanted_keys]
            raise ValueError(
                f"{name}'s columns are labelled {list(labels)}, the classes in another order; its columns are read "
                f"by position as classes_ {wanted}: pass {name}[{order!r}]."
            )
    try:
        ndim = np.ndim(P)
    except ValueError:  # rows of unequal lengths: check_modality's message says so
        ndim = 2
    if ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_classes) = ({n_samples}, {n_classes}); "
            f"got {ndim} dimension(s)."
        )
    P = check_modality(P, name)
    if P.shape != (n_samples, n_classes):
        raise ValueError(
            f"{name} must have shape (n_samples, n_classes) = ({n_samples}, {n_classes}) "
            f"(one column per class in classes_, sorted as np.unique of y's labelled rows); got shape {P.shape}."
        )
    if np.any(P < 0) or np.any(P > 1):
        raise ValueError(
            f"{name} must hold probabilities in [0, 1]; got values in [{float(P.min()):.4g}, {float(P.max()):.4g}]."
        )
    sums = P.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
    if bad.size:
        raise ValueError(
            f"Each row of {name} must sum to 1; row {int(bad[0])} sums to {float(sums[bad[0]]):.6g} "
            f"({bad.size} rows are off by more than {atol})."
        )
    return P


def check_at_least_two_classes(classes, name="y"):
    """Raise if a classification target has fewer than two classes."""
    if len(classes) < 2:
        raise ValueError(f"{name} has {len(classes)} class ({list(classes)!r}); a classifier needs at least 2 classes.")


def check_positive_real(value, name, required="a finite real number > 0"):
    """Return ``value`` as float if it is a finite real number > 0 (not a bool), else raise."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be {required}; got {value!r}.")
    return float(value)


def check_flag(value, name):
    """Return ``value`` if it is a bool (numpy's too), else raise: a truthy string is not a yes."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def check_n_jobs(n_jobs):
    """Return ``n_jobs`` if it is None or an integer (joblib's meaning: -1 for every core), else raise."""
    if n_jobs is not None and (isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, numbers.Integral)):
        raise ValueError(f"n_jobs must be None or an integer (-1 for every core); got {n_jobs!r}.")
    return n_jobs


def check_positive_int(value, name, minimum=1):
    """Return ``value`` as int if it is an integer >= minimum, else raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)
