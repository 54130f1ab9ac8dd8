"""The distances ``Dist`` of Algorithm 1, in one registry.

A distance compares the logits of ``f_a`` with those of its partner ``f_b``
(the reference). Each is a :class:`Distance` holding what every path needs:

- ``training_loss``: the differentiable ``Dist(f_a(X_a), f_b(X_b))`` that
  :class:`crossmodal.focus._joint_net.JointPairNet` trains the pair on
  (step 1, eq. 28);
- ``reference_rows`` and ``row_sums``: what the generic torch plan of
  :func:`crossmodal.permutation_salience` computes: reference rows and per-row
  constants from the partner's logits (once), then the distance of each row
  of permuted logits, summed over classes, in float64;
- ``per_class``: whether the mean runs over rows and classes (else over rows);
- ``kernel_code``: the code of the compiled kernels
  (:func:`crossmodal._kernels._salience.row_distance`), or None when there is
  no compiled kernel: ``permutation_salience`` then takes the generic torch
  path for this distance;
- ``numpy_rows``: a slow, obvious NumPy version of the per-row distances,
  the reference the tests hold every path to.

The ranker's ``distance`` constraint, the validation messages and the docs
listing the options read the registry.

Adding a distance
-----------------
Write one module, e.g. ``crossmodal/focus/_cosine_distance.py``, that builds
a :class:`Distance` and registers it::

    from crossmodal.focus._distances import Distance, register

    register(Distance(name="cosine", summary="...", training_loss=..., reference_rows=...,
                      row_sums=..., per_class=False, kernel_code=None, numpy_rows=...))

and add its registration line to ``crossmodal/focus/__init__.py``::

    from crossmodal.focus import _cosine_distance  # noqa: F401 (registers "cosine")

That import sorts before the estimators' imports, so the docstrings that
list the options (:func:`document_distances`) name the new distance too.
With ``kernel_code=None`` the distance runs on the generic torch path; a
compiled version needs a new code in
:func:`crossmodal._kernels._salience.row_distance` as well. Every
registered distance is checked against its ``numpy_rows`` by
``tests/focus/test_distances.py``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from crossmodal._kernels import _salience as kernels
from crossmodal._utils.compat import StrOptions

__all__ = [
    "Distance",
    "distance_constraint",
    "distance_names",
    "document_distances",
    "get_distance",
    "register",
    "unregister",
]


@dataclass(frozen=True)
class Distance:
    """One distance of Algorithm 1 and what each path needs to compute it.

    Parameters
    ----------
    name : str
        The value of the ``distance`` parameters.
    summary : str
        One sentence for the docs.
    training_loss : callable ``(logits_a, logits_b) -> scalar tensor``
        The differentiable mean distance trained on in step 1.
    reference_rows : callable ``(logits_b) -> (ref, aux)``
        From the partner's float64 logits ``(n_samples, n_classes)``: the
        reference rows ``ref`` (same shape) and per-row constants ``aux``
        ``(n_samples,)``, both float64 on the logits' device.
    row_sums : callable ``(logits, ref, aux) -> tensor``
        Per-row distance of float64 ``logits`` to the matching rows of
        ``ref`` and ``aux``, summed over classes, shape ``(n_rows,)``.
    per_class : bool
        True: the distance is the mean over rows and classes of the row sums'
        terms; False: the mean over rows of the row sums.
    kernel_code : int or None
        Code of the compiled kernels for this distance; None: no compiled kernel.
    numpy_rows : callable ``(logits_a, logits_b) -> ndarray``
        Slow, obvious NumPy reference: per-row distance of float64 logits,
        summed over classes, shape ``(n_samples,)``.
    """

    name: str
    summary: str
    training_loss: Callable
    reference_rows: Callable
    row_sums: Callable
    per_class: bool
    kernel_code: int | None
    numpy_rows: Callable

    def terms(self, n_samples, n_classes):
        """The number of terms that the summed distance is divided by."""
        return n_samples * n_classes if self.per_class else n_samples


_REGISTRY = {}


def register(distance):
    """Add ``distance`` (a :class:`Distance`) to the registry; its name must be new."""
    if not isinstance(distance, Distance):
        raise TypeError(f"register expects a Distance; got {type(distance).__name__}.")
    if distance.name in _REGISTRY:
        raise ValueError(f"a distance named {distance.name!r} is already registered.")
    _REGISTRY[distance.name] = distance
    return distance


def unregister(name):
    """Remove the distance ``name`` from the registry."""
    del _REGISTRY[name]


def distance_names():
    """Names of the registered distances, in registration order."""
    return tuple(_REGISTRY)


def get_distance(name):
    """The registered :class:`Distance` called ``name``; a ValueError naming the options otherwise."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"distance must be one of {distance_names()}; got {name!r}.")
    return _REGISTRY[name]


def distance_constraint():
    """scikit-learn parameter constraint accepting every registered name, registered now or later."""
    return StrOptions(_REGISTRY.keys())  # a live view of the registry


def document_distances(obj):
    """Fill the registry into ``obj``'s docstring; returns ``obj``.

    ``{distance_names}`` becomes ``{"mse", "mae", "kl"}`` (the registered
    names), and a line holding only ``{distance_summaries}`` becomes one
    bullet per distance, at that line's indentation.
    """
    names = "{" + ", ".join(f'"{name}"' for name in _REGISTRY) + "}"
    lines = []
    for line in obj.__doc__.replace("{distance_names}", names).splitlines():
        if line.strip() == "{distance_summaries}":
            indent = line[: len(line) - len(line.lstrip())]
            lines += [f'{indent}- ``"{d.name}"``: {d.summary}' for d in _REGISTRY.values()]
        else:
            lines.append(line)
    obj.__doc__ = "\n".join(lines)
    return obj


# --------------------------------------------------------------------------- #
# The built-in distances
# --------------------------------------------------------------------------- #


def _squared_row_sums(L, ref, aux):
    return (L - ref).square().sum(dim=1)


def _squared_numpy_rows(logits_a, logits_b):
    return ((logits_a - logits_b) ** 2).sum(axis=1)


def _absolute_row_sums(L, ref, aux):
    return (L - ref).abs().sum(dim=1)


def _absolute_numpy_rows(logits_a, logits_b):
    return np.abs(logits_a - logits_b).sum(axis=1)


def _no_constants(logits_b):
    return logits_b, torch.zeros(len(logits_b), dtype=torch.float64, device=logits_b.device)


def _softmax_reference(logits_b):
    q = torch.softmax(logits_b, dim=1)
    return q, torch.xlogy(q, q).sum(dim=1)


def _kl_training_loss(logits_a, logits_b):
    return F.kl_div(F.log_softmax(logits_a, 1), F.log_softmax(logits_b, 1), reduction="batchmean", log_target=True)


def _kl_row_sums(L, ref, aux):
    # KL(q || softmax(l)) = sum q log q - sum q l + logsumexp(l); a class that q rules out adds nothing
    cross = torch.where(ref == 0, torch.zeros((), dtype=L.dtype, device=L.device), ref * L)
    return aux - cross.sum(dim=1) + torch.logsumexp(L, dim=1)


def _numpy_log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _kl_numpy_rows(logits_a, logits_b):
    log_q = _numpy_log_softmax(logits_b)
    q = np.exp(log_q)
    return np.where(q > 0, q * (log_q - _numpy_log_softmax(logits_a)), 0.0).sum(axis=1)


# One declaration per distance: the entries are alike in shape because each fills the same fields.
register(
    Distance(
        name="mse",
        summary="mean over rows and classes of the squared difference of the logits (the authors' choice).",
        training_loss=F.mse_loss,
        reference_rows=_no_constants,
        row_sums=_squared_row_sums,
        per_class=True,
        kernel_code=kernels.MSE_CODE,
        numpy_rows=_squared_numpy_rows,
    )
)
register(
    Distance(
        name="mae",
        summary="the same with absolute differences.",
        training_loss=F.l1_loss,
        reference_rows=_no_constants,
        row_sums=_absolute_row_sums,
        per_class=True,
        kernel_code=kernels.MAE_CODE,
        numpy_rows=_absolute_numpy_rows,
    )
)
register(
    Distance(
        name="kl",
        summary=(
            "``KL(softmax(b) || softmax(a))`` averaged over rows (``torch.nn.functional.kl_div(log_softmax(a), "
            'softmax(b), reduction="batchmean")``): module *b* is the reference distribution.'
        ),
        training_loss=_kl_training_loss,
        reference_rows=_softmax_reference,
        row_sums=_kl_row_sums,
        per_class=False,
        kernel_code=kernels.KL_CODE,
        numpy_rows=_kl_numpy_rows,
    )
)
