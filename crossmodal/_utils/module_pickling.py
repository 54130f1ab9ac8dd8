"""Pickling of skorch nets given a module *instance* as a parameter.

skorch uses a module instance given as a parameter (``module``,
``module_b``) as the fitted ``module_`` itself. It saves ``module_`` so that
it loads on the CPU when CUDA is missing, but pickles the parameter as a
plain attribute (with its CUDA storages). :class:`FittedModuleReferenceMixin`
stores a reference to ``module_`` instead.
"""

import torch

__all__ = ["FittedModuleReferenceMixin"]

_FITTED_MODULE = "<the fitted module_>"


class FittedModuleReferenceMixin:
    """Mixin for skorch nets: a module parameter that is the fitted module pickles as a reference to it."""

    def __getstate__(self):
        state = super().__getstate__()
        for name in self._modules:
            value = self.__dict__.get(name)
            if isinstance(value, torch.nn.Module) and value is self.__dict__.get(name + "_"):
                state[name] = _FITTED_MODULE
        return state

    def __setstate__(self, state):
        shared = [
            name
            for name in state.get("_modules", ())
            if isinstance(state.get(name), str) and state[name] == _FITTED_MODULE
        ]
        super().__setstate__(state)
        for name in shared:
            self.__dict__[name] = self.__dict__[name + "_"]
