"""The cache behind ``CrossModalDistiller(memory=...)``.

A grid search over the student's parameters (``rho``, ``temperature``,
``kl_reduction``, ``student``) or the focus ranker's selection (``mode``,
``ratio``, ``nullify``) refits, per candidate, a teacher and a ranker that
those parameters do not change. Two units are cached, each under a key made
of everything that determines its result and nothing else:

* the fitted focus ranker (:func:`fit_focus`): the ranker's class and
  parameters except ``mode``, ``ratio``, ``nullify`` and ``verbose`` (they act
  after fit), a prefit ``estimator_a``/``estimator_b`` by its module's
  architecture and weights, the resolved device, and the data ``(X_a, y, X_b)``;
* the fitted teacher with its class probabilities on the training rows
  (:func:`fit_teacher`): the distiller's parameters except the student's
  (the focus ranker keyed as above), the resolved device, the teacher's seed,
  the teacher's input *after* the focus transform (so the selection is in the
  key through the data), ``y`` and ``sample_weight``.

Every key also holds a digest of this package's source and the versions of
the libraries that compute a result, so an entry written by other code is
never read. Results are pickled by :class:`joblib.Memory` (atomic writes, safe
for parallel workers sharing a directory). A cache that cannot be created,
written or read gives a :class:`CacheFallbackWarning` (or joblib's
``CacheWarning``) and the uncached result, never another result.
"""

import functools
import hashlib
import os
import warnings
from pathlib import Path

import joblib
import numpy as np
from sklearn import get_config
from sklearn.utils.validation import check_memory

from crossmodal._utils.skorch_helpers import unwrap_frozen
from crossmodal._utils.torch_helpers import resolve_device
from crossmodal.focus._ranker import ModalityGeneralRanker
from crossmodal.focus._templates import is_prefit

__all__ = ["CacheFallbackWarning", "fit_focus", "fit_teacher"]

# Parameters of CrossModalDistiller that do not change the teacher or the focus
# ranker (random_state enters the keys as the seeds drawn from it).
_STUDENT_ONLY = ("student", "rho", "temperature", "kl_reduction", "objective", "memory", "random_state", "verbose")
# Parameters of ModalityGeneralRanker that act after fit.
_AFTER_FIT = ("mode", "ratio", "nullify", "verbose")
_LIBRARIES = ("numpy", "scipy", "sklearn", "joblib", "torch", "skorch", "numba")


class CacheFallbackWarning(UserWarning):
    """The fit cache could not be used; the result was computed without it."""


@functools.lru_cache(maxsize=1)
def code_version():
    """Digest of this package's source and the versions of the libraries it computes with."""
    import importlib

    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent  # the crossmodal package
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    versions = []
    for name in _LIBRARIES:
        try:
            versions.append((name, importlib.import_module(name).__version__))
        except ImportError:  # pragma: no cover - every one is a dependency
            versions.append((name, None))
    return digest.hexdigest(), tuple(versions)


def _module_token(module):
    """A torch module as a key: its class, architecture, weights and hooks.

    Not its train/eval flag: skorch flips it on every ``predict``, and the
    library sets the mode itself wherever it runs a prefit net.
    """
    state = {name: value.detach().cpu().numpy() for name, value in module.state_dict().items()}
    hooks = [
        (name, list(m._forward_pre_hooks.values()), list(m._forward_hooks.values()))
        for name, m in module.named_modules()
        if m._forward_pre_hooks or m._forward_hooks
    ]
    return type(module), repr(module), state, hooks


def _device_token(device):
    try:
        return str(resolve_device(device))
    except ValueError:  # the estimator's own fit reports a bad device
        return device


def _parameter_token(value):
    """One parameter as a key: a prefit skorch net by its module, anything else by its own digest.

    Each parameter is hashed on its own, so objects that two parameters
    happen to share (one ``hidden_sizes`` tuple in three nets), which
    :func:`~sklearn.base.clone` copies apart, do not change the key.
    """
    if is_prefit(value):
        net = unwrap_frozen(value)
        outputs = getattr(net, "predict_nonlinearity", None)
        return (
            "prefit",
            type(value),
            type(net),
            outputs if isinstance(outputs, str) else type(outputs),
            _module_token(net.module_),
        )
    return joblib.hash(value, coerce_mmap=True)


def focus_key(focus):
    """The focus ranker as a key: what determines its fit, not its selection."""
    params = focus.get_params(deep=False)
    for name in _AFTER_FIT:
        params.pop(name, None)
    params["device"] = _device_token(params.get("device"))
    return type(focus), sorted((name, _parameter_token(value)) for name, value in params.items())


def teacher_key(params, device):
    """The distiller's parameters that determine the teacher: not the student's."""
    params = dict(params)
    for name in _STUDENT_ONLY:
        params.pop(name, None)
    if params.get("focus") is not None:
        params["focus"] = focus_key(params["focus"])
    params["device"] = str(device)
    # whether sample_weight reaches the teacher can depend on metadata routing (see teacher_fit_params)
    params["metadata_routing"] = bool(get_config()["enable_metadata_routing"])
    return "teacher", sorted((name, _parameter_token(value)) for name, value in params.items())


class _Outcome:
    """What the wrapped computation did (not part of the key)."""

    def __init__(self):
        self.done = False
        self.failed = False
        self.value = None


def _compute(key, work, outcome):
    """Run ``work()``. joblib hashes ``key`` only; ``work`` and ``outcome`` ride along."""
    del key  # it only names the result
    try:
        value = work()
    except BaseException:
        outcome.failed = True
        raise
    outcome.done, outcome.value = True, value
    return value


def _fallback(memory, exc):
    warnings.warn(
        f"memory={memory!r} could not be used as a cache ({type(exc).__name__}: {exc}); "
        "this fit was computed without it (same result, no time saved).",
        CacheFallbackWarning,
        stacklevel=4,
    )


def cached(memory, key, work):
    """``work()``, or its result stored under ``key`` in ``memory``.

    Parameters
    ----------
    memory : None, str, path-like or joblib.Memory
        The ``memory`` parameter of the estimator.
    key : object or callable
        Everything that determines ``work()``'s result (hashed by joblib);
        a callable returns it, called only when ``memory`` stores results.
    work : callable
        Computes the result; run on a miss only.

    Returns
    -------
    result : object
        A fresh object on a hit (loaded from the store), ``work()`` on a miss.
    """
    if memory is None:
        return work()
    try:
        memory = check_memory(os.fspath(memory) if isinstance(memory, os.PathLike) else memory)
    except Exception as exc:  # e.g. a location whose parent is a file
        _fallback(memory, exc)
        return work()
    if getattr(memory, "location", True) is None:  # joblib.Memory(None) stores nothing
        return work()
    outcome = _Outcome()
    try:
        # one digest of the key: joblib then hashes and records a short string
        digest = joblib.hash(key() if callable(key) else key, coerce_mmap=True)
        return memory.cache(_compute, ignore=["work", "outcome"])(digest, work, outcome)
    except Exception as exc:
        if outcome.failed:  # the computation itself failed, not the cache
            raise
        _fallback(memory, exc)
        return outcome.value if outcome.done else work()


def fit_focus(memory, focus, X_a, y, X_b):
    """``focus.fit(X_a, y, X_b=X_b)``, or the same fit loaded from ``memory``.

    Parameters
    ----------
    memory : None, str, path-like or joblib.Memory
    focus : ModalityGeneralRanker
        Unfitted (seeded) ranker; a loaded fit takes its ``mode``, ``ratio``,
        ``nullify`` and ``verbose``, and its prefit estimators themselves.
    X_a, y, X_b : array-like
        The ranked modality, the labels, the partner modality.

    Returns
    -------
    focus : ModalityGeneralRanker
        Fitted.
    """
    fitted = cached(
        memory, lambda: ("focus", code_version(), focus_key(focus), X_a, y, X_b), lambda: focus.fit(X_a, y, X_b=X_b)
    )
    if fitted is not focus and isinstance(focus, ModalityGeneralRanker):
        fitted.set_params(**{name: getattr(focus, name) for name in _AFTER_FIT})
        _rebind_prefit(fitted, focus)
    return fitted


def _rebind_prefit(fitted, focus):
    """Point a loaded ranker at the caller's prefit nets instead of its pickled copies.

    Without the cache the ranker's ``nets_`` (and step 1's net) *are* the
    modules of a prefit ``estimator_a``/``estimator_b``, so a hook that the
    distiller puts on the teacher's module is seen through ``focus_.nets_``.
    The key holds their weights, so the copies equal them.
    """
    nets = list(fitted.nets_)
    for index, name in enumerate(("estimator_a", "estimator_b")):
        live = getattr(focus, name)
        if not is_prefit(live):
            continue
        module, copy = unwrap_frozen(live).module_, nets[index]
        setattr(fitted, name, live)
        nets[index] = module
        pair = getattr(fitted, "pair_net_", None)
        if pair is not None:
            # Step 1's net holds the prefit module itself; skorch pickles its module apart from nets_, so a
            # loaded pair holds a copy of its own, found by its place and not by identity.
            for attr in ("module", "module_") if index == 0 else ("module_b", "module_b_"):
                if isinstance(getattr(pair, attr, None), type(copy)):
                    setattr(pair, attr, module)
    fitted.nets_ = tuple(nets)


def fit_teacher(memory, params, device, X_t, y, sample_weight, seed, work, features_work=None, layer=None):
    """``work()`` (the fitted teacher and its probabilities), or the same loaded from ``memory``.

    Two units are cached: the teacher with its probabilities, and, when
    ``features_work`` is given, the teacher's hidden features under a key
    that adds ``layer``, so objectives that read other layers (or none)
    share one fitted teacher.

    Parameters
    ----------
    memory : None, str, path-like or joblib.Memory
    params : dict
        The distiller's ``get_params(deep=False)``; the key keeps those that
        determine the teacher (:func:`teacher_key`).
    device : torch.device
        Resolved device of the distiller.
    X_t, y : array-like
        The teacher's input (after the focus transform) and the labels.
    sample_weight : ndarray or None
        Per-sample weights as the user gave them.
    seed : int
        The teacher's seed.
    work : callable
        Fits the teacher and returns ``(teacher, proba)``; run on a miss only.
    features_work : callable or None, default=None
        ``features_work(teacher)`` computes the hidden features; run on a miss only.
    layer : object, default=None
        Which hidden layer ``features_work`` reads (part of the features' key).

    Returns
    -------
    teacher : estimator
    proba : ndarray of shape (n_samples, n_classes) or None
    features : ndarray of shape (n_samples, n_features) or None
    """
    weights = None if sample_weight is None else np.asarray(sample_weight)
    key = functools.cache(lambda: ("teacher", code_version(), teacher_key(params, device), X_t, y, weights, int(seed)))
    teacher, proba = cached(memory, key, work)
    if features_work is None:
        return teacher, proba, None
    return teacher, proba, cached(memory, lambda: ("features", key(), layer), lambda: features_work(teacher))
