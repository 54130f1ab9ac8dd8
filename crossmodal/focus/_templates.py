"""Step 1 of Algorithm 1 from the user's skorch templates.

The ranker trains ``f_a`` and ``f_b`` in one
:class:`crossmodal.focus._joint_net.JointPairNet`, whose training settings
come from one template (``estimator_a``, or ``estimator_b`` when
``estimator_a`` is prefit) and whose modules come from both. Settings that
step 1 does not use are named in a ``UserWarning``.
"""

import warnings
from numbers import Integral, Real

from skorch import NeuralNetClassifier

from crossmodal._utils.skorch_helpers import (
    fit_seeded,
    fitted_net,
    fresh_module,
    mlp_template,
    replaced_criterion,
    sized_module_params,
    skorch_defaults,
    unwrap_frozen,
)
from crossmodal.focus._joint_net import JointPairNet

__all__ = ["default_pair_template", "fit_pair", "is_prefit"]

# Settings of the template that trains the pair (estimator_a, or estimator_b when
# estimator_a is prefit) that JointPairNet takes over. Callbacks or a train_split
# other than "disable"/None run skorch's own loop, as for the distiller's student.
_TRAINING_KEYS = (
    "optimizer",
    "lr",
    "max_epochs",
    "batch_size",
    "iterator_train",
    "iterator_valid",
    "dataset",
    "train_split",
    "callbacks",
    "verbose",
)
_TRAINING_PREFIXES = ("optimizer__", "iterator_train__", "iterator_valid__", "dataset__", "callbacks__")
# Settings that do not bear on step 1: the ranker encodes y itself, builds fresh
# modules on its own device and compares the modules' raw outputs.
_UNUSED_KEYS = (
    "module",
    "criterion",
    "classes",
    "warm_start",
    "use_caching",
    "torch_load_kwargs",
    "predict_nonlinearity",
    "device",
)


def is_prefit(estimator):
    """True for a fitted skorch net, bare or in a ``FrozenEstimator``: step 1 uses it as it is."""
    return fitted_net(estimator) is not None


def default_pair_template():
    """Training settings of the jointly trained pair when no estimator is given (the default MLP template)."""
    return mlp_template()


def fit_pair(ranker, X, X_b, y, n_classes, device, seed, label_weight=None):
    """Step 1: ``(f_a, f_b, pair_net)`` for the templates of ``ranker``.

    With both templates prefit their modules are used as they are and
    ``pair_net`` is None; otherwise the pair is trained jointly on
    ``X``, ``X_b`` and the encoded labels ``y`` under ``seed`` (with a prefit
    ``estimator_a``, only ``f_b`` learns). ``label_weight`` (rows without a
    label, code -1, have weight 0) limits the cross-entropy terms to the
    labelled rows; the alignment term covers every row.
    """
    est_a, est_b = ranker.estimator_a, ranker.estimator_b
    if is_prefit(est_a) and is_prefit(est_b):
        return fitted_net(est_a).module_, fitted_net(est_b).module_, None
    freeze_a = is_prefit(est_a)
    for name, est in (("estimator_a", est_a), ("estimator_b", est_b)):
        if est is not None and not isinstance(unwrap_frozen(est), NeuralNetClassifier):
            raise TypeError(
                f"{name} must be a skorch.NeuralNetClassifier (template or fitted) or None; got {type(est).__name__}."
            )
    template_b = unwrap_frozen(est_b) if est_b is not None else default_pair_template()
    if freeze_a:
        module_a, params_a = fitted_net(est_a).module_, {}
        template_train = template_b
    else:
        template_a = est_a if est_a is not None else default_pair_template()
        module_a, params_a = fresh_module(template_a.module), sized_module_params(template_a, X.shape[1], n_classes)
        template_train = template_a
    module_b = fresh_module(template_b.module)
    params_b = sized_module_params(template_b, X_b.shape[1], n_classes, prefix="module_b")
    train = _training_params(template_train)
    _warn_unused(ranker, "estimator_b" if freeze_a else "estimator_a", template_train, train, device)
    if not freeze_a and est_b is not None:
        by = "estimator_a's" if est_a is not None else "the default template's (estimator_a=None)"
        _warn_unused(ranker, "estimator_b", template_b, train, device, trained_by=by)
    net = JointPairNet(
        module_a,
        module_b,
        distance=ranker.distance,
        freeze_a=freeze_a,
        device=str(device),
        **{"train_split": None, "callbacks": "disable", **train},
        **params_a,
        **params_b,
    )
    batch = {"X": X, "X_b": X_b} if label_weight is None else {"X": X, "X_b": X_b, "label_weight": label_weight}
    fit_seeded(net, batch, y, seed)
    return net.module_, net.module_b_, net


def _training_params(template):
    """The settings of ``template`` that train the pair."""
    return {
        k: v
        for k, v in template.get_params(deep=False).items()
        if k in _TRAINING_KEYS or k.startswith(_TRAINING_PREFIXES)
    }


def _same(a, b):
    """Equal settings; objects compared by type, so clones of one template agree."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, (type, str, Integral, Real, bool, type(None), dict)):
        try:
            return bool(a == b)
        except (RuntimeError, TypeError, ValueError):
            return False
    return True


def _warn_unused(ranker, name, template, train, device, trained_by=None):
    """Warn about the settings of ``template`` that step 1 does not use.

    ``stacklevel`` points at the caller of ``ranker.fit`` (through
    :func:`fit_pair`, ``fit`` and scikit-learn's ``_fit_context``).
    """
    params = {k: v for k, v in template.get_params(deep=False).items() if not k.startswith("_")}
    defaults = skorch_defaults(NeuralNetClassifier)
    ignored = replaced_criterion(template)
    if trained_by is None:
        ignored += [
            k
            for k, v in params.items()
            if k not in _UNUSED_KEYS
            and k not in train
            and not k.startswith(("module__", "criterion__"))
            and not (k in defaults and _same(v, defaults[k]))
        ]
    else:
        ignored += [
            k
            for k, v in params.items()
            if (k in _TRAINING_KEYS or k.startswith(_TRAINING_PREFIXES))
            and not (k in defaults and _same(v, defaults[k]))
            and not (k in train and _same(v, train[k]))
        ]
    template_device = params.get("device")
    if template_device is not None and str(template_device) not in ("cpu", str(device)):
        ignored.append(f"device={str(template_device)!r}")
    if not ignored:
        return
    why = (
        f"the pair trains in one loop with {trained_by} training settings"
        if trained_by
        else f"step 1 trains f_a and f_b on Dist + CE + CE from the modules' outputs, on the ranker's device ({device})"
    )
    warnings.warn(
        f"{type(ranker).__name__}: {name} sets {', '.join(sorted(ignored))}, which step 1 does not use: {why}.",
        UserWarning,
        stacklevel=5,
    )
