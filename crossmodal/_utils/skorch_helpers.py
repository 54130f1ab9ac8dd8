"""skorch nets: find the fitted one inside what a user passed, read what a
template sets (module, size, criterion, skorch's defaults), train a net under
a seed; and the library's own MLP template.

The estimators take skorch ``NeuralNetClassifier`` templates and rebuild them
as nets with their own loss; these helpers read what the template sets.
"""

import copy
import functools
import inspect

import torch
from sklearn.frozen import FrozenEstimator

from crossmodal._utils.torch_helpers import module_dtype, seeded, threads_for_work, torch_threads

__all__ = [
    "fit_seeded",
    "fitted_net",
    "fresh_module",
    "mlp_template",
    "module_name",
    "module_of",
    "replaced_criterion",
    "sized_module_params",
    "skorch_defaults",
    "unwrap_frozen",
]


def unwrap_frozen(estimator):
    """The estimator inside a :class:`~sklearn.frozen.FrozenEstimator`, else ``estimator`` itself."""
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


def fitted_net(estimator):
    """The fitted skorch net that ``estimator`` is or wraps (in a ``FrozenEstimator``), else None.

    A net counts as fitted once it is initialised and holds its ``module_``.
    """
    from skorch import NeuralNet

    net = unwrap_frozen(estimator)
    if isinstance(net, NeuralNet) and getattr(net, "initialized_", False) and hasattr(net, "module_"):
        return net
    return None


def module_of(obj, name):
    """The torch module of ``obj``: itself, or the ``module_`` of a fitted skorch net (possibly frozen).

    Raises a ValueError for a skorch net that is not initialised and a
    TypeError for anything else, both naming the argument ``name``.
    """
    if isinstance(obj, torch.nn.Module):
        return obj
    inner = unwrap_frozen(obj)
    module = getattr(inner, "module_", None)
    if isinstance(module, torch.nn.Module):
        return module
    if hasattr(inner, "initialize") and hasattr(inner, "module"):
        raise ValueError(f"{name} is a skorch net without module_ (not initialized); fit or initialize it first.")
    raise TypeError(f"{name} must be a torch.nn.Module or a fitted skorch net; got {type(obj).__name__}.")


@functools.cache
def skorch_defaults(cls):
    """Default of every ``__init__`` parameter of the skorch net class ``cls`` (a subclass's default wins)."""
    defaults = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for name, param in inspect.signature(init).parameters.items():
            if param.default is not inspect.Parameter.empty:
                defaults[name] = param.default
    return defaults


def mlp_template(hidden_sizes=(128,), *, max_epochs=100, lr=1e-3, batch_size=64, **params):
    """The library's skorch template of :class:`crossmodal.nets.MLP`: Adam, shuffled mini-batches.

    No validation split and no callbacks, so the estimators train it in their
    tight loop; ``in_features`` and ``n_classes`` are filled in at fit. Used
    for the distiller's default student and teacher, the ranker's default
    pair and the reproductions' nets.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(128,)
        ``()`` is the paper's logistic regression.
    max_epochs, lr, batch_size : int, float, int
        Training settings.
    **params
        Further ``NeuralNetClassifier`` parameters.

    Returns
    -------
    skorch.NeuralNetClassifier
        Unfitted.
    """
    from skorch import NeuralNetClassifier

    from crossmodal.nets import MLP

    settings = dict(
        module__hidden_sizes=tuple(hidden_sizes),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        iterator_train__shuffle=True,
        train_split=None,
        callbacks="disable",
        verbose=0,
    )
    settings.update(params)
    return NeuralNetClassifier(MLP, **settings)


def fresh_module(module):
    """A copy of a module *instance* given as a template's parameter; classes pass through.

    skorch trains such an instance in place: estimators train the copy, so
    the user's template is never changed and refits start from the same
    weights.
    """
    return copy.deepcopy(module) if isinstance(module, torch.nn.Module) else module


def replaced_criterion(template):
    """The criterion settings of a skorch template that a net with its own loss ignores.

    The distiller's and the ranker's nets compute cross-entropy themselves
    (see :class:`crossmodal.distill._net.DistillationNet`). A template that asks
    for another criterion, or passes ``criterion__*`` settings that differ
    from :class:`torch.nn.CrossEntropyLoss`'s defaults, gets a loss it did
    not ask for. Left at its class's default (skorch's ``NLLLoss`` for a
    ``NeuralNetClassifier``), the criterion counts as not set.

    Parameters
    ----------
    template : skorch.NeuralNet

    Returns
    -------
    list of str
        Each replaced setting (``"criterion=MSELoss"``, ``"criterion__weight"``);
        empty when none.
    """
    params = template.get_params(deep=False)
    criterion = params.get("criterion")
    ce_defaults = {name: p.default for name, p in inspect.signature(torch.nn.CrossEntropyLoss).parameters.items()}
    replaced = []
    if isinstance(criterion, torch.nn.CrossEntropyLoss):
        changed = [
            name
            for name in ("weight", "ignore_index", "reduction", "label_smoothing")
            if not _same_default(getattr(criterion, name, ce_defaults[name]), ce_defaults[name])
        ]
        if changed:
            replaced.append(f"criterion=CrossEntropyLoss instance with {', '.join(changed)} set")
    elif criterion not in (torch.nn.CrossEntropyLoss, skorch_defaults(type(template)).get("criterion")):
        replaced.append(f"criterion={getattr(criterion, '__name__', None) or repr(criterion)}")
    for key in sorted(params):
        if key.startswith("criterion__"):
            name = key[len("criterion__") :]
            if name not in ce_defaults or not _same_default(params[key], ce_defaults[name]):
                replaced.append(key)
    return replaced


def _same_default(value, default):
    try:
        return bool(value == default)
    except (RuntimeError, TypeError, ValueError):  # a tensor compared with None or a number
        return False


def sized_module_params(template, n_features, n_classes, prefix="module"):
    """The ``module__*`` parameters of a skorch template, renamed to ``prefix`` and sized.

    ``in_features`` and ``n_classes`` are filled in when the module class takes
    them and the template does not set them (as for :class:`crossmodal.nets.MLP`).
    """
    params = {k: v for k, v in template.get_params(deep=False).items() if k.startswith("module__")}
    module = template.module
    if inspect.isclass(module):
        try:
            accepted = inspect.signature(module).parameters
        except (TypeError, ValueError):
            accepted = {}
        if "in_features" in accepted:
            params.setdefault("module__in_features", n_features)
        if "n_classes" in accepted:
            params.setdefault("module__n_classes", n_classes)
    return {prefix + key[len("module") :]: value for key, value in params.items()}


def module_name(net):
    """The name of a skorch net's (or template's) module, class or instance, for messages."""
    return getattr(net.module, "__name__", type(net.module).__name__)


def fit_seeded(net, batch, y, seed):
    """Initialise and train a skorch net under a fixed seed and a deliberate thread count.

    The torch RNG is forked and seeded (weights and shuffling), and a net whose
    training step is tiny trains on one torch thread (see
    :func:`crossmodal._utils.torch_helpers.threads_for_work`). A step's work
    is counted from the net's learnable parameters and the buffers of its
    modules: a buffer such as a memory of embeddings that every row is scored
    against costs per row what a parameter does.
    """
    n_rows = len(y)
    if net.batch_size is None:  # skorch's own loop would read it as batches of single rows, the fast one as one batch
        raise ValueError(
            f"batch_size=None in the skorch template of {module_name(net)} is ambiguous; pass -1 for one batch of "
            "every row, or a positive batch size."
        )
    with seeded(seed, net.device):
        net.initialize()
        dtype = module_dtype(net.module_)
        if dtype != torch.float32:
            raise ValueError(
                f"The module of the skorch template of {module_name(net)} holds {dtype} parameters; the library "
                "trains its nets on float32 inputs, so their modules must be float32 too: build the module in "
                "float32 (module.float(), or torch.set_default_dtype(torch.float32) before fitting)."
            )
        n_params = sum(p.numel() for _, p in net.get_all_learnable_params())
        modules = [v for k, v in vars(net).items() if k.endswith("_") and isinstance(v, torch.nn.Module)]
        n_params += sum(b.numel() for module in modules for b in module.buffers())
        rows = n_rows if net.batch_size in (None, -1) else min(n_rows, int(net.batch_size))
        with torch_threads(threads_for_work(rows, n_params, net.device)):
            net.partial_fit(batch, y)
    return net
