"""A tight training loop for skorch nets whose per-epoch machinery is idle.

skorch's ``fit_loop`` builds a DataLoader, notifies callbacks and records the
history batch by batch. With ``callbacks="disable"`` and ``train_split=None``
none of that does anything useful, yet on a 200-row problem it costs many
times the optimisation step itself. :class:`TightLoopMixin` runs the same
kind of steps (batches of ``batch_size`` rows, unshuffled or in a fresh
random order each epoch, one optimizer step per batch) directly on tensors
and records ``train_loss`` per epoch in the history afterwards. Its random
order is ``torch.randperm`` on torch's global generator, while skorch's
DataLoader seeds its own generator from that one and draws once more per
epoch even unshuffled: a net that trains in skorch's loop (callbacks on,
say) takes other random draws than the tight loop under the same seed, and
so ends at a slightly different fit.

The tight loop implements ``batch_size``, ``iterator_train__shuffle``, the
optimizer and ``max_epochs``. A net that sets anything else about how
batches are made (another ``iterator_train`` or ``dataset``, any other
``iterator_train__*`` such as a ``sampler``, ``drop_last`` or
``collate_fn``, or any ``dataset__*``) trains in skorch's own loop, which
honours it.
"""

from collections.abc import Mapping

import numpy as np
import torch
from skorch import NeuralNet

from crossmodal._utils.skorch_helpers import skorch_defaults

__all__ = ["TightLoopMixin"]


# The only iterator_train__* setting the tight loop implements.
_TIGHT_ITERATOR_PARAMS = ("iterator_train__shuffle",)


class TightLoopMixin:
    """Mixin for skorch nets: implement ``batch_loss(batch, y)``."""

    def batch_loss(self, batch, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def _uses_fast_loop(self, fit_params):
        return (
            self.callbacks == "disable"
            and self.train_split is None
            and not fit_params
            and not self.settings_for_skorch_loop()
        )

    def settings_for_skorch_loop(self):
        """Names of this net's settings that the tight loop does not implement.

        When there is any, :meth:`fit_loop` runs skorch's own loop, which
        honours them.
        """
        names = [
            key
            for key in vars(self)
            if key.startswith(("iterator_train__", "dataset__")) and key not in _TIGHT_ITERATOR_PARAMS
        ]
        defaults = skorch_defaults(NeuralNet)
        names += [key for key in ("iterator_train", "dataset") if getattr(self, key) is not defaults[key]]
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
                    idx = order[start : start + batch_size]
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
