"""The distiller's teacher: what it is fed, how it is fitted and what it says.

A scikit-learn teacher receives the teacher modality as the user gave it (a
DataFrame keeps its column names and dtypes); the library's own nets and a
focus ranker need a float array. :func:`fit_teacher` fits the teacher a
:class:`~crossmodal.CrossModalDistiller` was given (cloned and seeded, or the
library's MLP, or a prefit one as it is) and :func:`teacher_proba` queries it,
with one column per class of the distiller and every output checked.
"""

import numpy as np
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNetClassifier

from crossmodal._utils.proba import KD_PROBA_FLOOR, logits_to_proba
from crossmodal._utils.random import seeded_clone
from crossmodal._utils.skorch_helpers import fitted_net, mlp_template
from crossmodal._utils.torch_helpers import predict_logits
from crossmodal._utils.validation import check_modality, check_paired_samples
from crossmodal.distill._net import as_distillation_net, fit_net
from crossmodal.distill._teacher_io import check_teacher_output, n_rows, teacher_fit_params, to_teacher_dtype

__all__ = ["default_teacher", "fit_teacher", "needs_numbers", "teacher_input", "teacher_proba"]

_FLOAT_DTYPES = (np.float32, np.float64)


def default_teacher():
    """The teacher used when ``teacher=None``: the library's MLP (128 hidden units, Adam, 100 epochs)."""
    return mlp_template()


def needs_numbers(teacher, focus):
    """True when the library's own code reads the teacher's input (its nets, the focus ranker)."""
    return (
        teacher is None
        or isinstance(teacher, NeuralNetClassifier)
        or fitted_net(teacher) is not None
        or (focus is not None)
    )


def _side_by_side(X_teacher, X_given, X):
    """The columns of the DataFrame ``X_teacher`` then the student's, as one DataFrame.

    The student's columns keep their names when ``X_given`` is a DataFrame,
    else they are named ``student_0``, ``student_1``, ...
    """
    import pandas as pd

    if hasattr(X_given, "columns"):
        student = X_given.set_axis(X_teacher.index, axis=0)
    else:
        student = pd.DataFrame(X, index=X_teacher.index, columns=[f"student_{i}" for i in range(X.shape[1])])
    shared = sorted(set(map(str, X_teacher.columns)) & set(map(str, student.columns)))
    if shared:
        raise ValueError(
            f"teacher_input='both' puts the columns of X_teacher and X side by side, but both have columns named "
            f"{shared[:5]}; rename them in one of the two DataFrames."
        )
    return pd.concat([X_teacher, student], axis=1)


def teacher_input(mode, X_given, X, X_teacher, numeric, transform=None):
    """The teacher's input under ``teacher_input=mode``, checked against the student's rows.

    Parameters
    ----------
    mode : {"teacher", "both", "student"}
    X_given, X : array-like, ndarray
        The student's modality as the user gave it and as validated.
    X_teacher : array-like or None
        The teacher's modality.
    numeric : bool
        Whether the teacher needs a float array (see :func:`needs_numbers`).
    transform : callable or None
        Applied to the validated ``X_teacher`` before it is combined with
        ``X`` (an input-column focus ranker's nullification).
    """
    if mode == "student":
        return X if numeric else X_given
    if X_teacher is None:
        raise ValueError(
            "CrossModalDistiller.fit needs X_teacher (the teacher's modality, one row per row of X) "
            f"when teacher_input={mode!r}, or precomputed teacher_proba; got neither."
        )
    frame = hasattr(X_teacher, "columns") and not numeric
    if not frame:
        X_teacher = check_modality(X_teacher, "X_teacher", dtype=_FLOAT_DTYPES)
    check_paired_samples(X, X_teacher, "X", "X_teacher")
    if transform is not None:
        X_teacher = np.asarray(transform(X_teacher))
    if mode == "both":
        if frame:
            return _side_by_side(X_teacher, X_given, X)
        return np.hstack([X_teacher, X.astype(X_teacher.dtype, copy=False)])
    return X_teacher


def fit_teacher(teacher, X_t, y, y_encoded, n_classes, device, seed, sample_weight=None, student_weights=None):
    """The fitted teacher; sample weights reach it where its fit takes them (see :mod:`._teacher_io`).

    Parameters
    ----------
    teacher : estimator, skorch.NeuralNetClassifier or None
        The distiller's ``teacher``: None trains :func:`default_teacher`
        on ``device``, a skorch template trains a copy on its own device, a
        ``FrozenEstimator`` is returned as it is, any other classifier is
        cloned, seeded and fitted.
    X_t : array-like
        The teacher's training input.
    y, y_encoded : ndarray
        Labels and their codes ``0 .. n_classes - 1``.
    n_classes : int
    device : torch.device
    seed : int
    sample_weight, student_weights : ndarray or None
        The user's weights (for a scikit-learn teacher) and the same
        rescaled to mean 1 (for the library's nets).
    """
    if teacher is None or isinstance(teacher, NeuralNetClassifier):
        template = default_teacher() if teacher is None else teacher
        net = as_distillation_net(template, X_t.shape[1], n_classes, device if teacher is None else None)
        X32 = np.ascontiguousarray(X_t, dtype=np.float32)
        return fit_net(net, X32, y_encoded.astype(np.int64), seed, {"sample_weight": student_weights})
    if not (hasattr(teacher, "predict_proba") or hasattr(teacher, "decision_function")):
        raise TypeError(f"teacher must have predict_proba or decision_function; got {type(teacher).__name__}.")
    if isinstance(teacher, FrozenEstimator):
        return teacher  # prefit: fit would do nothing, and sample weights cannot change it
    teacher = seeded_clone(teacher, seed)
    return teacher.fit(X_t, y, **teacher_fit_params(teacher, sample_weight))


def teacher_proba(teacher, X_t, classes):
    """The teacher's class probabilities (float64) on ``X_t``, one column per entry of ``classes``.

    A scikit-learn teacher's ``predict_proba`` (or ``decision_function``,
    through a softmax) is checked, and its columns are placed by its own
    ``classes_``: classes it never saw get probability 0; a class it knows
    that ``classes`` lacks is an error.
    """
    if isinstance(teacher, NeuralNetClassifier):
        return logits_to_proba(predict_logits(teacher.module_, X_t, teacher.device))
    n_classes = len(classes)
    teacher_classes = np.asarray(getattr(teacher, "classes_", classes))
    unknown = np.setdiff1d(teacher_classes, classes)
    if unknown.size:
        raise ValueError(
            f"The teacher predicts classes {unknown.tolist()} that are not in y (classes {classes.tolist()}); "
            "the student can only learn the classes present in y."
        )
    columns = np.searchsorted(classes, teacher_classes)
    n_samples = n_rows(X_t)
    X_t = to_teacher_dtype(teacher, X_t)
    if hasattr(teacher, "predict_proba"):
        raw = check_teacher_output(teacher.predict_proba(X_t), teacher, n_samples, len(teacher_classes))
        proba = np.zeros((n_samples, n_classes))
        proba[:, columns] = raw
        return proba
    scores = check_teacher_output(
        teacher.decision_function(X_t), teacher, n_samples, len(teacher_classes), method="decision_function"
    )
    if scores.ndim == 1:
        scores = np.column_stack([np.zeros_like(scores), scores])
    logits = np.full((n_samples, n_classes), np.log(KD_PROBA_FLOOR))
    logits[:, columns] = scores
    return logits_to_proba(logits)
