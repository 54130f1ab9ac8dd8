"""Labels with rows that carry none: the marker, the split, the encoding.

As in scikit-learn's semi-supervised estimators, ``-1`` marks a row without a
label when the labels are numbers. String labels cannot hold ``-1`` without
ambiguity, so an object array marks such rows with ``None`` instead; a ``-1``
(or the string ``"-1"``) among string labels is an error, never a class.
Every row still carries all its modalities.
"""

import numbers

import numpy as np
import torch.nn.functional as F
from sklearn.utils.multiclass import check_classification_targets

__all__ = [
    "UNLABELLED",
    "check_label_classes",
    "check_labelled_weight",
    "encode_labels",
    "label_weights",
    "labelled_cross_entropy",
    "labelled_mask",
    "reject_missing_strings",
]

#: The label of a row without one, for numeric labels (``None`` for string labels).
UNLABELLED = -1


def _is_marker_number(value):
    return isinstance(value, numbers.Number) and not isinstance(value, bool) and value == UNLABELLED


def _is_missing_scalar(value):
    """NaN or pandas' NA: how pandas stores a missing entry of a string column."""
    return (isinstance(value, float) and value != value) or type(value).__name__ == "NAType"


def reject_missing_strings(y, name="y"):
    """Raise if ``y`` holds NaN (or pandas' NA) among string labels.

    pandas stores a missing string as NaN (or NA), while this library's
    marker of a row without a string label is ``None`` in an object array;
    the message says how to convert. Numeric arrays return at once.
    """
    values = np.asarray(y)
    if values.dtype.kind != "O":
        return
    values = values.ravel().tolist()
    n_missing = sum(_is_missing_scalar(v) for v in values)
    if n_missing and any(isinstance(v, str) for v in values):
        raise ValueError(
            f"{name} holds NaN or NA in {n_missing} row(s) among string labels (pandas stores a missing string "
            "that way). A row without a string label is None in an object array: for a pandas Series pass "
            "y.astype(object).where(y.notna(), None)."
        )


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
    reject_missing_strings(y, name)
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


def check_label_classes(classes, labelled, name="y"):
    """Raise unless the labelled rows hold at least two classes; the message names the marker of unlabelled rows."""
    n_classes = 0 if classes is None else len(classes)
    if n_classes >= 2:
        return
    n_unlabelled = int((~np.asarray(labelled)).sum())
    if n_unlabelled == 0:
        raise ValueError(
            f"{name} has 1 class ({np.asarray(classes).tolist()!r}); a classifier needs at least 2 classes."
        )
    if n_classes == 0:
        raise ValueError(
            f"{name} has no labelled row (all {n_unlabelled} rows are marked as unlabelled); this fit needs "
            "labelled rows of at least 2 classes."
        )
    held = f"1 class ({np.asarray(classes).tolist()[0]!r})"
    raise ValueError(
        f"{name}'s labelled rows hold {held} beside {n_unlabelled} rows marked as unlabelled; at least 2 classes "
        "are needed. -1 marks a row without a label, so labels such as -1 and 1 read as one class and unlabelled "
        "rows: encode them as 0 and 1."
    )


def _check_extra_classes(known, extra, extra_name, name):
    """Raise unless ``extra`` classes are valid classes beside the labelled values ``known`` (same kind, no marker)."""
    extra = list(np.asarray(extra, dtype=object).ravel())
    title = extra_name[:1].upper() + extra_name[1:]
    markers = [v for v in extra if v is None or _is_marker_number(v) or (isinstance(v, str) and v == "-1")]
    if markers:
        raise ValueError(
            f"{title} include {markers[0]!r}, which marks a row without a label here (-1 among numeric labels, "
            f"None among strings), so it cannot be a class; got {extra_name} {extra[:10]!r}. Refit it with other "
            "class labels."
        )
    kinds = {isinstance(v, str) for v in extra} | {isinstance(v, str) for v in known.tolist()}
    if len(kinds) > 1:
        labels = sorted(set(known.tolist()), key=repr)[:5]
        raise ValueError(
            f"{title} ({extra[:5]!r}) and {name}'s labels ({labels!r}) mix strings and numbers; label both with "
            "the same kind of class."
        )


def encode_labels(y, name="y", extra_classes=None, extra_name="extra_classes"):
    """Classes of the labelled rows and every row's code (``-1`` where it has no label).

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Validated labels with the markers of :func:`labelled_mask`.
    name : str, default="y"
        The argument's name in messages.
    extra_classes : array-like or None, default=None
        Classes to add to those of the labelled rows (a prefit teacher's);
        they must be of the labels' kind (strings or numbers) and never the
        marker of an unlabelled row.
    extra_name : str, default="extra_classes"
        Their name in messages.

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
        _check_extra_classes(known, extra_classes, extra_name, name)
        union = np.concatenate([known.astype(object), np.asarray(extra_classes, dtype=object)])
        # One dtype for the union (numbers with numbers, text with text); object labels stay object, as without.
        known = np.asarray(union.tolist(), dtype=object if np.asarray(y).dtype == object else None)
    if known.size == 0:
        return None, codes, labelled
    classes = np.unique(known)
    codes[labelled] = np.searchsorted(classes, np.asarray(y)[labelled])
    return classes, codes, labelled


def check_labelled_weight(sample_weight, labelled, name="sample_weight"):
    """Raise if some rows carry a label but ``sample_weight`` is 0 on all of them: the labels would count for
    nothing, and a teacher could not be fitted on them."""
    if sample_weight is None or not np.any(labelled):
        return
    total = float(np.asarray(sample_weight, dtype=np.float64)[np.asarray(labelled)].sum())
    if not total > 0:
        raise ValueError(
            f"{name} sums to {total} over the {int(np.sum(labelled))} labelled rows of y; the labelled rows need a "
            "positive total weight (mark a row with -1, or None among strings, to leave its label out)."
        )


def label_weights(labelled, weights=None):
    """Per-row factors of the cross-entropy term when some rows carry no label.

    ``w_i / s`` on a labelled row and 0 elsewhere, where ``w`` are the sample
    weights (mean 1; all ones without weights) and ``s`` the labelled rows'
    share of their sum. The mean of ``factor * CE`` over a mini-batch is then
    an unbiased estimate of the weighted mean cross-entropy over the labelled
    training rows, whatever the share of labelled rows, so ``rho`` weighs the
    labels against the teacher as it does when every row is labelled. With no
    labelled row every factor is 0.
    """
    w = np.ones(len(labelled)) if weights is None else np.asarray(weights, dtype=np.float64)
    labelled_sum = w[labelled].sum()
    if labelled_sum == 0:
        return np.zeros(len(labelled), dtype=np.float32)
    return np.where(labelled, w * (w.sum() / labelled_sum), 0.0).astype(np.float32)


def labelled_cross_entropy(logits, y, label_weight=None, sample_weight=None):
    """The cross-entropy term of a mini-batch, over its labelled rows.

    Parameters
    ----------
    logits : torch.Tensor of shape (m, n_classes)
    y : torch.Tensor of shape (m,)
        Codes; -1 on rows without a label (only with ``label_weight``).
    label_weight : torch.Tensor of shape (m,) or None
        The rows' :func:`label_weights` when some training rows carry no
        label and the rows are weighted: ``sum(label_weight * CE) / m`` over
        the labelled rows (the others are skipped).
    sample_weight : torch.Tensor of shape (m,) or None
        Used only when every row is labelled (``label_weight`` includes them).

    Returns
    -------
    torch.Tensor
        0-d. Without ``label_weight`` every row is labelled: the plain mean,
        weighted by ``sample_weight``. (Unweighted rows of which some carry
        no label share one factor, ``n / n_labelled``: the distiller then
        sums one fused cross-entropy that ignores the -1 rows and applies
        the factor with ``rho``.)

    Notes
    -----
    A batch with no labelled row gets 0 (still tied to the logits, so that a
    loss made of this term alone can run backwards: its gradient is 0).
    """
    if label_weight is not None:
        rows = label_weight.nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            return logits.sum() * 0.0
        return (F.cross_entropy(logits[rows], y[rows], reduction="none") * label_weight[rows]).sum() / len(y)
    if sample_weight is None:
        return F.cross_entropy(logits, y)
    return (F.cross_entropy(logits, y, reduction="none") * sample_weight).mean()
