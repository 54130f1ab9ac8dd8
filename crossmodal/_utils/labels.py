"""Labels with rows that carry none: the marker, the split, the encoding.

As in scikit-learn's semi-supervised estimators, ``-1`` marks a row without a
label when the labels are numbers. String labels cannot hold ``-1`` without
ambiguity, so an object array marks such rows with ``None`` instead; a ``-1``
(or the string ``"-1"``) among string labels is an error, never a class.
Every row still carries all its modalities.
"""

import numbers

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

__all__ = ["UNLABELLED", "encode_labels", "labelled_mask"]

#: The label of a row without one, for numeric labels (``None`` for string labels).
UNLABELLED = -1


def _is_marker_number(value):
    return isinstance(value, numbers.Number) and not isinstance(value, bool) and value == UNLABELLED


def labelled_mask(y, name="y"):
    """Which rows of ``y`` (a validated 1-D array) carry a label.

    Numeric labels: every row but those equal to -1. String labels (an
    array of str, or an object array of str): every row but the ``None``
    entries of an object array. Raises a ValueError naming ``name`` for
    ``-1`` or ``"-1"`` among string labels, ``None`` among numeric labels,
    and strings mixed with numbers.
    """
    y = np.asarray(y)
    if y.dtype.kind in "iufb":
        return y != UNLABELLED
    if y.dtype.kind in "US":
        _reject_string_marker(y == "-1", name)
        return np.ones(len(y), dtype=bool)
    values = list(y)
    missing = np.array([v is None for v in values], dtype=bool)
    present = [v for v, m in zip(values, missing) if not m]
    strings = [isinstance(v, str) for v in present]
    if any(strings) and not all(strings):
        numeric = sorted({repr(v) for v in present if not isinstance(v, str)})[:3]
        if any(_is_marker_number(v) for v in present):
            raise ValueError(
                f"{name} mixes string labels with -1. String labels mark a row without a label with None "
                "(in an object array), not -1; got -1 beside string labels."
            )
        raise ValueError(f"{name} mixes string labels with numbers ({', '.join(numeric)}); use one kind of label.")
    if not present or all(strings):  # string labels, or no label at all
        _reject_string_marker(np.array([v == "-1" for v in values]), name)
        return ~missing
    if missing.any():
        raise ValueError(
            f"{name} holds None in {int(missing.sum())} row(s) of numeric labels; numeric labels mark a row "
            "without a label with -1."
        )
    return np.array([not _is_marker_number(v) for v in values], dtype=bool)


def _reject_string_marker(is_marker, name):
    if np.any(is_marker):
        raise ValueError(
            f"{name} holds the string '-1' in {int(np.sum(is_marker))} row(s) of string labels. String labels mark "
            "a row without a label with None (in an object array); rename the class if '-1' is one."
        )


def encode_labels(y, name="y", extra_classes=None):
    """Classes of the labelled rows and every row's code (``-1`` where it has no label).

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Validated labels with the markers of :func:`labelled_mask`.
    name : str, default="y"
        The argument's name in messages.
    extra_classes : array-like or None, default=None
        Classes to add to those of the labelled rows (a prefit teacher's).

    Returns
    -------
    classes : ndarray or None
        Sorted classes; None when no row is labelled and no extra class is given.
    codes : ndarray of int64, shape (n_samples,)
        Index into ``classes``, ``-1`` on unlabelled rows.
    labelled : ndarray of bool, shape (n_samples,)
    """
    labelled = labelled_mask(y, name)
    codes = np.full(len(y), UNLABELLED, dtype=np.int64)
    known = np.asarray(y)[labelled]
    if labelled.all():
        check_classification_targets(y)
    elif labelled.any():
        check_classification_targets(known)
    if extra_classes is not None:
        known = np.concatenate([known.astype(object), np.asarray(extra_classes, dtype=object)])
        known = np.asarray(known.tolist())
    if known.size == 0:
        return None, codes, labelled
    classes = np.unique(known)
    codes[labelled] = np.searchsorted(classes, np.asarray(y)[labelled])
    return classes, codes, labelled
