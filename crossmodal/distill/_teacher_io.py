"""What goes into a user's teacher and what comes out of it, checked.

:class:`CrossModalDistiller` hands the teacher modality to any scikit-learn
classifier as the user gave it (a DataFrame keeps its column names and
dtypes), casts it to the module's dtype for a fitted skorch net, passes
``sample_weight`` where the teacher's ``fit`` takes it, and checks that what
``predict_proba`` returns is a probability matrix before anything is
distilled from it.
"""

import warnings

import numpy as np
from sklearn import get_config
from sklearn.frozen import FrozenEstimator
from sklearn.utils.metadata_routing import MetadataRouter, get_routing_for_object
from sklearn.utils.validation import has_fit_parameter

from crossmodal._utils.proba import PROBA_ATOL, rows_are_probabilities
from crossmodal._utils.skorch_helpers import fitted_net
from crossmodal._utils.torch_helpers import numpy_dtype

__all__ = ["check_teacher_output", "n_rows", "teacher_fit_params", "teacher_name", "to_teacher_dtype"]


def teacher_name(teacher):
    """``"LogisticRegression"``, or ``"FrozenEstimator(NeuralNetClassifier)"`` for a wrapped one."""
    if isinstance(teacher, FrozenEstimator):
        return f"FrozenEstimator({type(teacher.estimator).__name__})"
    return type(teacher).__name__


def n_rows(X):
    """Number of rows of an array, DataFrame, sparse matrix or list."""
    shape = getattr(X, "shape", None)
    if shape is None and hasattr(X, "__array__"):
        shape = np.asarray(X).shape
    return int(shape[0]) if shape is not None and len(shape) else len(X)


def to_teacher_dtype(teacher, X):
    """``X`` as a prefit skorch teacher's module expects it (its parameters' dtype); else ``X`` itself."""
    net = fitted_net(teacher)
    if net is None:
        return X
    param = next(iter(net.module_.parameters()), None)
    if param is None or not param.dtype.is_floating_point:
        return X
    return np.ascontiguousarray(X, dtype=numpy_dtype(param.dtype))


def teacher_fit_params(teacher, sample_weight):
    """``{"sample_weight": ...}`` when the teacher's ``fit`` should get it, else ``{}``.

    With metadata routing enabled, the teacher's own request decides (set with
    ``teacher.set_fit_request(sample_weight=True)``); an unset request warns.
    Without routing, the weights go to every ``fit`` that takes
    ``sample_weight``; a teacher whose ``fit`` does not take them trains
    unweighted, with a warning.
    """
    if sample_weight is None:
        return {}
    name = teacher_name(teacher)
    if get_config()["enable_metadata_routing"]:
        routing = get_routing_for_object(teacher)
        if isinstance(routing, MetadataRouter):  # a Pipeline or another meta-estimator: its steps' requests
            if routing.consumes("fit", ["sample_weight"]):
                return {"sample_weight": sample_weight}
            advice = (
                "none of its steps requests sample_weight in fit by that name (a request under an alias is not "
                "reached: the distiller passes sample_weight). Call step.set_fit_request(sample_weight=True) on the "
                "steps to weigh"
            )
        else:
            requests = getattr(getattr(routing, "fit", None), "requests", {})
            if "sample_weight" not in requests:
                return _unweighted(name)
            wanted = requests["sample_weight"]
            if wanted is True or isinstance(wanted, str):  # requested, or under an alias
                return {"sample_weight": sample_weight}
            if wanted is False:
                return {}
            advice = (
                "its fit request for sample_weight is not set. Call teacher.set_fit_request(sample_weight=True) to "
                "train it weighted, or set_fit_request(sample_weight=False) to train it unweighted without this "
                "warning"
            )
        warnings.warn(
            f"sample_weight is not routed to the teacher {name}: {advice}. The student is weighted either way.",
            UserWarning,
            stacklevel=3,
        )
        return {}
    if has_fit_parameter(teacher, "sample_weight"):
        return {"sample_weight": sample_weight}
    return _unweighted(name, pipeline_hint=True)


def _unweighted(name, pipeline_hint=False):
    warnings.warn(
        f"The teacher {name} has no sample_weight in its fit signature, so it trains unweighted; "
        "the student is weighted."
        + (
            " (With a Pipeline teacher, enable metadata routing and request sample_weight on its steps.)"
            if pipeline_hint
            else ""
        ),
        UserWarning,
        stacklevel=4,
    )
    return {}


def check_teacher_output(raw, teacher, n_samples, n_columns, method="predict_proba"):
    """Check what a teacher's ``predict_proba`` (or ``decision_function``) returned.

    Parameters
    ----------
    raw : object
        The returned value.
    teacher : estimator
        The teacher, named in messages.
    n_samples, n_columns : int
        The required shape: one row per sample, one column per teacher class
        (``decision_function`` may return one column for two classes).
    method : {"predict_proba", "decision_function"}

    Returns
    -------
    out : ndarray of float64
        For ``predict_proba``, clipped to ``[0, 1]`` (only rounding is clipped).

    Raises
    ------
    ValueError
        Wrong shape, NaN or inf, or (``predict_proba``) values that are not
        probabilities: outside ``[0, 1]`` or rows not summing to 1 beyond
        ``PROBA_ATOL``.
    """
    name = teacher_name(teacher)
    try:
        out = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The teacher {name}.{method} returned something that is not numeric: {exc}") from exc
    shapes = [(n_samples, n_columns)]
    if method == "decision_function" and n_columns == 2:
        shapes.append((n_samples,))
    if out.shape not in shapes:
        raise ValueError(
            f"The teacher {name}.{method} returned shape {out.shape}; expected "
            f"{' or '.join(str(s) for s in shapes)} (one row per sample, one column per class in its classes_)."
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(
            f"The teacher {name}.{method} returned {int(np.sum(~np.isfinite(out)))} NaN or infinite values; "
            "check the teacher's input and training."
        )
    if method != "predict_proba":
        return out
    if not rows_are_probabilities(out):
        low, high = float(out.min()), float(out.max())
        sums = out.sum(axis=1)
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(
            f"The teacher {name}.predict_proba did not return probabilities: values in [{low:.4g}, {high:.4g}], "
            f"row {worst} sums to {sums[worst]:.6g} (required: values in [0, 1], rows summing to 1 within "
            f"{PROBA_ATOL}). A skorch net whose module returns logits needs "
            "criterion=torch.nn.CrossEntropyLoss (skorch then applies a softmax in predict_proba), "
            "or a module that ends in a softmax."
        )
    return np.clip(out, 0.0, 1.0)
