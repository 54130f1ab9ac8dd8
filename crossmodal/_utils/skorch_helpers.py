"""skorch nets built from a user's template: copy its module, size it, check
its criterion, train the net under a seed; and the library's own MLP template.

The estimators take skorch ``NeuralNetClassifier`` templates and rebuild them
as nets with their own loss; these helpers read what the template sets.
"""

import copy
import inspect

import torch

from crossmodal._utils.torch_helpers import seeded, threads_for_work, torch_threads

__all__ = ["fit_seeded", "fresh_module", "mlp_template", "replaced_criterion", "sized_module_params"]


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
    elif criterion is not torch.nn.CrossEntropyLoss and criterion is not _default_criterion(type(template)):
        replaced.append(f"criterion={getattr(criterion, '__name__', None) or repr(criterion)}")
    for key in sorted(params):
        if key.startswith("criterion__"):
            name = key[len("criterion__") :]
            if name not in ce_defaults or not _same_default(params[key], ce_defaults[name]):
                replaced.append(key)
    return replaced


def _default_criterion(cls):
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            param = inspect.signature(init).parameters.get("criterion")
            if param is not None and param.default is not inspect.Parameter.empty:
                return param.default
    return None


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


def fit_seeded(net, batch, y, seed):
    """Initialise and train a skorch net under a fixed seed and a deliberate thread count.

    The torch RNG is forked and seeded (weights and shuffling), and a net whose
    training step is tiny trains on one torch thread (see
    :func:`crossmodal._utils.torch_helpers.threads_for_work`).
    """
    n_rows = len(y)
    with seeded(seed, net.device):
        net.initialize()
        n_params = sum(p.numel() for _, p in net.get_all_learnable_params())
        rows = n_rows if net.batch_size in (None, -1) else min(n_rows, int(net.batch_size))
        with torch_threads(threads_for_work(rows, n_params, net.device)):
            net.partial_fit(batch, y)
    return net
