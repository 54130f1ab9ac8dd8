"""The distiller's teacher: what it is fed, how it is fitted and what it says.

A scikit-learn teacher receives the teacher modality as the user gave it (a
DataFrame keeps its column names and dtypes); the library's own nets and a
focus ranker need a float array. :func:`fit_teacher` fits the teacher a
:class:`~crossmodal.CrossModalDistiller` was given (cloned and seeded, or the
library's MLP, or a prefit one as it is) and :func:`teacher_proba` queries it,
with one column per class of the distiller and every output checked.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNetClassifier

from crossmodal._utils.compat import _safe_indexing
from crossmodal._utils.labels import check_label_classes, encode_labels, labelled_mask
from crossmodal._utils.proba import KD_PROBA_FLOOR, logits_to_proba
from crossmodal._utils.random import seeded_clone
from crossmodal._utils.skorch_helpers import fitted_net, mlp_template
from crossmodal._utils.torch_helpers import predict_logits, resolve_device
from crossmodal._utils.validation import check_float32_range, check_modality, check_paired_samples
from crossmodal.distill import _cache
from crossmodal.distill._features import teacher_features
from crossmodal.distill._joint_teacher import check_joint_focus, joint_teacher, joint_teacher_proba
from crossmodal.distill._net import as_distillation_net, fit_net
from crossmodal.distill._teacher_io import (
    check_teacher_output,
    n_rows,
    teacher_fit_params,
    teacher_name,
    to_teacher_dtype,
)
from crossmodal.distill._teacher_outputs import FittedTeacher, objectives_for_any_teacher, torch_module
from crossmodal.focus._templates import is_prefit

__all__ = [
    "TeacherData",
    "default_teacher",
    "encode_targets",
    "fit_and_query",
    "fit_teacher",
    "needs_numbers",
    "teacher_input",
    "teacher_proba",
]

_FLOAT_DTYPES = (np.float32, np.float64)


def default_teacher():
    """The teacher used when ``teacher=None``: the library's MLP (128 hidden units, Adam, 100 epochs)."""
    return mlp_template()


def encode_targets(y, teacher, rho, teacher_proba):
    """A distiller's ``classes_``, every row's code (-1 without a label) and which rows carry a label.

    The classes are those of the labelled rows. With unlabelled rows, a
    prefit teacher's ``classes_`` are added (it may know classes that the
    few labelled rows lack); with no labelled row at all they come from
    the prefit teacher or from the columns of ``teacher_proba``.
    """
    partial = not labelled_mask(y).all()
    uses_teacher = rho < 1 and teacher_proba is None and isinstance(teacher, FrozenEstimator)
    extra = getattr(teacher, "classes_", None) if partial and uses_teacher else None
    classes, codes, labelled = encode_labels(y, extra_classes=extra, extra_name="the prefit teacher's classes_")
    if classes is None:
        if rho < 1 and teacher_proba is not None:
            n_columns = check_modality(teacher_proba, "teacher_proba").shape[1]
            if n_columns < 2:
                raise ValueError(
                    f"teacher_proba has {n_columns} column; with no labelled row in y its columns are the classes "
                    "(classes_ = 0, 1, ...), and a classifier needs at least 2."
                )
            classes = np.arange(n_columns)
        else:
            raise ValueError(
                f"y has no labelled row (all {len(y)} rows are marked as unlabelled). Distilling without any "
                "label (supervision transfer) needs a teacher that is already trained: a prefit teacher wrapped "
                "in sklearn.frozen.FrozenEstimator, or teacher_proba; and rho < 1."
            )
    check_label_classes(classes, labelled)
    return classes, codes, labelled


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
    else they are named ``student_0``, ``student_1``, ... next to string
    names. scikit-learn takes column names that are all strings or none:
    where neither frame has a string name, the columns are numbered by
    position; a mix of both is an error.
    """
    import pandas as pd

    def strings(columns):
        return {isinstance(name, str) for name in columns}

    if hasattr(X_given, "columns"):
        student = X_given.set_axis(X_teacher.index, axis=0)
    else:
        names = [f"student_{i}" for i in range(X.shape[1])] if strings(X_teacher.columns) == {True} else None
        student = pd.DataFrame(X, index=X_teacher.index, columns=names)
    kinds = strings(X_teacher.columns) | strings(student.columns)
    if kinds == {False}:
        return pd.concat([X_teacher, student], axis=1).set_axis(pd.RangeIndex(X_teacher.shape[1] + X.shape[1]), axis=1)
    if kinds != {True}:
        raise ValueError(
            "teacher_input='both' puts the columns of X_teacher and X side by side, and scikit-learn needs column "
            f"names that are all strings or none; X_teacher's are {list(X_teacher.columns)[:5]}, X's are "
            f"{list(student.columns)[:5]}. Give both DataFrames string column names, or pass arrays."
        )
    shared = sorted(set(X_teacher.columns) & set(student.columns))
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
        if X_teacher.ndim != 2 or len(X_teacher) != len(X):
            raise ValueError(
                f"focus.transform returned shape {X_teacher.shape}; required: ({len(X)}, n_features), one row per "
                "row of X_teacher."
            )
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
        if teacher is not None:  # a skorch teacher trains on its own device: one this machine has
            resolve_device(teacher.device, name="teacher.device")
        net = as_distillation_net(template, X_t.shape[1], n_classes, device if teacher is None else None)
        X32 = np.ascontiguousarray(check_float32_range(np.asarray(X_t), "The teacher's input"), dtype=np.float32)
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
        proba = logits_to_proba(predict_logits(teacher.module_, X_t, teacher.device))
        return check_teacher_output(proba, teacher, len(X_t), len(classes))
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


@dataclass
class TeacherData:
    """What one fit of a :class:`~crossmodal.CrossModalDistiller` gives its teacher.

    ``X_given`` is the student's modality as the user passed it, ``X`` as
    validated; ``y`` the labels (with the markers of unlabelled rows),
    ``codes`` their codes into ``classes`` (-1 where unlabelled) and
    ``labelled`` which rows carry one; ``sample_weight`` the user's weights
    and ``weights`` the same rescaled to mean 1 (both None without weights).
    """

    X_given: object
    X: np.ndarray
    y: np.ndarray
    codes: np.ndarray
    labelled: np.ndarray
    classes: np.ndarray
    X_teacher: object = None
    teacher_proba: object = None
    sample_weight: np.ndarray = None
    weights: np.ndarray = None


def _labelled_part(data, X_t):
    """The teacher's training rows: the labelled ones (all rows when every row is labelled)."""
    if data.labelled.all():
        return X_t, data.y, data.codes, data.sample_weight, data.weights
    rows = np.flatnonzero(data.labelled)
    sample_weight = None if data.sample_weight is None else data.sample_weight[rows]
    weights = None
    if data.weights is not None:
        weights = (data.weights[rows] * (len(rows) / data.weights[rows].sum())).astype(np.float32)
    return _safe_indexing(X_t, rows), data.y[rows], data.codes[rows], sample_weight, weights


def fit_and_query(params, data, device, teacher_seed, focus_seed, feature_layer=None):
    """Fit the focus ranker and the teacher of a distiller, and query the teacher on every training row.

    The teacher trains on the labelled rows; a focus ranker (and the pair of
    ``teacher="joint"``) on every row, its alignment term needing no label.

    Parameters
    ----------
    params : dict
        The distiller's ``get_params(deep=False)``.
    data : TeacherData
    device : torch.device
    teacher_seed, focus_seed : int
    feature_layer : tuple or None, default=None
        ``("layer", spec)`` to also take the teacher's hidden features at
        ``spec`` (see :func:`~crossmodal.distill._features.feature_layer`).

    Returns
    -------
    FittedTeacher
    """
    teacher, focus, mode, memory = params["teacher"], params["focus"], params["teacher_input"], params["memory"]
    layer = getattr(focus, "layer", None)
    if mode == "student" and focus is not None:
        raise ValueError(
            "focus ranks the teacher modality against the student's; it needs teacher_input='teacher' or 'both'."
        )
    numeric = needs_numbers(teacher, focus)
    fitted = {}

    def fit_focus(X_a, **focus_params):
        fitted["focus"] = _cache.fit_focus(memory, seeded_clone(focus, focus_seed, **focus_params), X_a, data.y, data.X)
        return fitted["focus"]

    if isinstance(teacher, str):
        check_joint_focus(focus, data.teacher_proba)
    trains_pair = focus is not None and not (is_prefit(focus.estimator_a) and is_prefit(focus.estimator_b))
    if trains_pair and data.sample_weight is not None:
        warnings.warn(
            "teacher='joint' trains the focus ranker's pair unweighted: sample_weight weighs the student only."
            if isinstance(teacher, str)
            else "The focus ranker's pair trains unweighted: sample_weight does not reach its ranking.",
            UserWarning,
            stacklevel=4,
        )
    if isinstance(teacher, str):  # "joint": the paper's real-data protocol
        X_t = teacher_input(mode, data.X_given, data.X, data.X_teacher, numeric)
        joint = joint_teacher(fit_focus(X_t))
        features = None if feature_layer is None else teacher_features(joint, feature_layer[1], X_t)
        return FittedTeacher(joint, fitted["focus"], joint_teacher_proba(joint, X_t), features, X_t)

    transform = (lambda X_a: fit_focus(X_a).transform(X_a)) if focus is not None and layer is None else None
    X_t = teacher_input(mode, data.X_given, data.X, data.X_teacher, numeric, transform)
    with_proba = focus is None or layer is None  # a hidden-layer focus changes the teacher after its fit

    def features_of(model):
        if feature_layer is None:
            return None
        module = torch_module(model)
        if module is None:
            raise TypeError(
                f"the objective distils a hidden layer of a torch teacher; {teacher_name(model)} has none. "
                f"Objectives that any teacher serves: {objectives_for_any_teacher()}."
            )
        return teacher_features(module, feature_layer[1], X_t)

    def work():
        X_fit, y_fit, codes_fit, sample_weight, weights = _labelled_part(data, X_t)
        n_classes = len(data.classes)
        model = fit_teacher(teacher, X_fit, y_fit, codes_fit, n_classes, device, teacher_seed, sample_weight, weights)
        return model, (teacher_proba(model, X_t, data.classes) if with_proba else None)

    features_work = features_of if with_proba and feature_layer is not None else None
    model, proba, features = _cache.fit_teacher(
        memory, params, device, X_t, data.y, data.sample_weight, teacher_seed, work, features_work, feature_layer
    )
    if not with_proba:
        if not isinstance(model, NeuralNetClassifier):
            raise TypeError(
                f"focus with layer={layer!r} masks a hidden layer of a torch teacher; "
                f"teacher must be None or a skorch NeuralNetClassifier, got {type(model).__name__}."
            )
        fit_focus(X_t, estimator_a=model).nullify_module(model.module_)
        proba, features = teacher_proba(model, X_t, data.classes), features_of(model)
    return FittedTeacher(model, fitted.get("focus"), proba, features, X_t)
