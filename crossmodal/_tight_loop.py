"""A tight training loop for skorch nets whose per-epoch machinery is idle.

skorch's ``fit_loop`` builds a DataLoader, notifies callbacks and records the
history batch by batch. With ``callbacks="disable"`` and ``train_split=None``
none of that does anything useful, yet on a 200-row problem it costs many
times the optimisation step itself. :class:`TightLoopMixin` runs the same
steps (same batches in the same order, same optimizer calls) directly on
tensors and records ``train_loss`` per epoch in the history afterwards.

The tight loop implements ``batch_size``, ``iterator_train__shuffle``, the
optimizer and ``max_epochs``. A net that sets anything else about how
batches are made (another ``iterator_train`` or ``dataset``, any other
``iterator_train__*`` such as a ``sampler``, ``drop_last`` or
``collate_fn``, or any ``dataset__*``) trains in skorch's own loop, which
honours it.
"""

import copy
import inspect
from collections.abc import Mapping

import numpy as np
import torch
from skorch import NeuralNet

from ._torch_utils import seeded, threads_for_work, torch_threads

__all__ = ["TightLoopMixin", "fit_seeded", "fresh_module", "sized_module_params", "replaced_criterion"]


_FITTED_MODULE = "<the fitted module_>"
# The only iterator_train__* setting the tight loop implements.
_TIGHT_ITERATOR_PARAMS = ("iterator_train__shuffle",)
_SKORCH_DEFAULTS = {name: p.default for name, p in inspect.signature(NeuralNet.__init__).parameters.items()}


class TightLoopMixin:
    """Mixin for skorch nets: implement ``batch_loss(batch, y)``."""

    # skorch uses a module *instance* given as a parameter (module, module_b)
    # as the fitted module_ itself. It saves module_ so that it loads on the
    # CPU when CUDA is missing, but pickles the parameter as a plain attribute
    # (with its CUDA storages): store a reference to module_ instead.
    def __getstate__(self):
        state = super().__getstate__()
        for name in self._modules:
            value = self.__dict__.get(name)
            if isinstance(value, torch.nn.Module) and value is self.__dict__.get(name + "_"):
                state[name] = _FITTED_MODULE
        return state

    def __setstate__(self, state):
        shared = [name for name in state.get("_modules", ())
                  if isinstance(state.get(name), str) and state[name] == _FITTED_MODULE]
        super().__setstate__(state)
        for name in shared:
            self.__dict__[name] = self.__dict__[name + "_"]

    def batch_loss(self, batch, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def _uses_fast_loop(self, fit_params):
        return (self.callbacks == "disable" and self.train_split is None and not fit_params
                and not self.settings_for_skorch_loop())

    def settings_for_skorch_loop(self):
        """Names of this net's settings that the tight loop does not implement.

        When there is any, :meth:`fit_loop` runs skorch's own loop, which
        honours them.
        """
        names = [key for key in vars(self)
                 if key.startswith(("iterator_train__", "dataset__")) and key not in _TIGHT_ITERATOR_PARAMS]
        names += [key for key in ("iterator_train", "dataset") if getattr(self, key) is not _SKORCH_DEFAULTS[key]]
        return sorted(names)

    def fit_loop(self, X, y=None, epochs=None, *, _routing_method="fit", **fit_params):
        if not self._uses_fast_loop(fit_params):
            first_epoch = len(self.history)
            super().fit_loop(X, y, epochs=epochs, _routing_method=_routing_method, **fit_params)
            if self.callbacks == "disable":  # skorch's train_loss callback is off: record it as the tight loop does
                self._record_epoch_means(first_epoch)
            return self
        self.check_data(X, y)
        epochs = self.max_epochs if epochs is None else epochs
        batch = X if isinstance(X, Mapping) else {"X": X}
        device = self.device
        tensors = {k: torch.as_tensor(v, device=device) for k, v in batch.items() if v is not None}
        y_t = torch.as_tensor(y, device=device)
        n = len(y_t)
        batch_size = n if self.batch_size in (None, -1) or self.batch_size >= n else int(self.batch_size)
        shuffle = bool(getattr(self, "iterator_train__shuffle", False)) and batch_size < n
        optimizer = self.optimizer_
        needs_closure = isinstance(optimizer, torch.optim.LBFGS)
        self._set_training(True)
        epoch_losses = []
        for _ in range(epochs):
            # drawn on the CPU generator so that a seed gives the same batches on every device
            order = torch.randperm(n).to(device) if shuffle else None
            total = None
            for start in range(0, n, batch_size):
                if order is None and batch_size == n:
                    part, yb = tensors, y_t
                elif order is None:
                    stop = start + batch_size
                    part = {k: v[start:stop] for k, v in tensors.items()}
                    yb = y_t[start:stop]
                else:
                    idx = order[start:start + batch_size]
                    part = {k: v[idx] for k, v in tensors.items()}
                    yb = y_t[idx]

                def closure(part=part, yb=yb):
                    optimizer.zero_grad(set_to_none=True)
                    loss = self.batch_loss(part, yb)
                    loss.backward()
                    return loss

                if needs_closure:
                    loss = optimizer.step(closure)
                else:
                    loss = closure()
                    optimizer.step()
                weighted = loss.detach() * len(yb)
                total = weighted if total is None else total + weighted
            epoch_losses.append(total / n)
        self._record_epoch_losses(epoch_losses)
        return self

    def _record_epoch_means(self, first_epoch):
        """``train_loss`` of each epoch from ``first_epoch`` on: its batches' mean, weighted by batch size."""
        for epoch in self.history[first_epoch:]:
            sizes = [batch["train_batch_size"] for batch in epoch["batches"] if "train_loss" in batch]
            if sizes:
                losses = [batch["train_loss"] for batch in epoch["batches"] if "train_loss" in batch]
                epoch["train_loss"] = float(np.average(losses, weights=sizes))

    def _record_epoch_losses(self, epoch_losses):
        if not epoch_losses:
            return
        for value in torch.stack(epoch_losses).cpu().tolist():
            self.history.new_epoch()
            self.history.record("epoch", len(self.history))
            self.history.record("train_loss", value)


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
    (see :class:`crossmodal._kd_net.DistillationNet`). A template that asks
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
        changed = [name for name in ("weight", "ignore_index", "reduction", "label_smoothing")
                   if not _same_default(getattr(criterion, name, ce_defaults[name]), ce_defaults[name])]
        if changed:
            replaced.append(f"criterion=CrossEntropyLoss instance with {', '.join(changed)} set")
    elif criterion is not torch.nn.CrossEntropyLoss and criterion is not _default_criterion(type(template)):
        replaced.append(f"criterion={getattr(criterion, '__name__', None) or repr(criterion)}")
    for key in sorted(params):
        if key.startswith("criterion__"):
            name = key[len("criterion__"):]
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
    return {prefix + key[len("module"):]: value for key, value in params.items()}


def fit_seeded(net, batch, y, seed):
    """Initialise and train a skorch net under a fixed seed and a deliberate thread count.

    The torch RNG is forked and seeded (weights and shuffling), and a net whose
    training step is tiny trains on one torch thread (see
    :func:`crossmodal._torch_utils.threads_for_work`).
    """
    n_rows = len(y)
    with seeded(seed, net.device):
        net.initialize()
        n_params = sum(p.numel() for _, p in net.get_all_learnable_params())
        rows = n_rows if net.batch_size in (None, -1) else min(n_rows, int(net.batch_size))
        with torch_threads(threads_for_work(rows, n_params, net.device)):
            net.partial_fit(batch, y)
    return net
