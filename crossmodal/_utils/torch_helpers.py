"""Small torch helpers shared by the estimators: device choice, seeding,
thread counts, dtypes, eval mode, chunked inference under a working-memory
bound."""

import contextlib
import copy
import os
import threading

import numpy as np
import torch
from sklearn import get_config

from crossmodal._utils.validation import check_positive_real

__all__ = [
    "activation_bytes",
    "eval_mode",
    "forward_in_chunks",
    "module_device_and_dtype",
    "module_dtype",
    "numpy_dtype",
    "predict_logits",
    "resolve_device",
    "seeded",
    "state_with_cpu_nets",
    "threads_for_work",
    "torch_dtype",
    "torch_threads",
    "working_memory_bytes",
]

#: Below this many multiply-adds per step (an optimisation step, a forward
#: pass), one torch thread is faster than several: waking the other threads
#: costs more than the step, and far more when the cores are shared
#: (benchmarks/RESULTS.md, "Distiller overhead").
SMALL_STEP_FLOPS = 2_000_000


def resolve_device(device, name="device"):
    """Turn ``"auto"``/``"cpu"``/``"cuda"``/``"cuda:1"`` into a :class:`torch.device`."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{name} must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{name}={device!r} was requested but CUDA is not available on this machine; use 'auto' or 'cpu'."
        )
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"{name} must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.")
    return dev


#: Held by every :func:`seeded` block: torch's global generator (and its thread count) is one per process.
_GLOBAL_RNG_LOCK = threading.RLock()


def _fresh_lock_after_fork():
    # A child forked while another thread held the lock would wait on it forever.
    global _GLOBAL_RNG_LOCK
    _GLOBAL_RNG_LOCK = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_lock_after_fork)


@contextlib.contextmanager
def seeded(seed, device=None):
    """Run a block with torch's global RNG seeded, restoring it afterwards.

    skorch draws initial weights and shuffling from torch's global generator;
    forking it keeps an estimator's fit deterministic without disturbing the
    caller's random stream. One block runs at a time per process (a
    re-entrant lock): fits in concurrent threads (joblib's threading backend,
    a Dask worker's threads) would otherwise reseed the generator under each
    other's draws, so they run one after the other, each with its own seed.
    """
    devices = []
    if device is not None and torch.device(device).type == "cuda":
        devices = [torch.device(device).index or 0]
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


@contextlib.contextmanager
def torch_threads(n_threads):
    """Temporarily set torch's intra-op thread count (``None`` leaves it)."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    if previous == n_threads:
        yield
        return
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def threads_for_work(rows_per_step, n_parameters, device):
    """Torch threads for a step over ``rows_per_step`` rows of a model with ``n_parameters``: 1 when tiny.

    One thread for a CPU step of fewer than ``SMALL_STEP_FLOPS``
    multiply-adds (training steps, forward passes of the salience), else
    None: torch's own setting (for :func:`torch_threads`).
    """
    if torch.device(device).type != "cpu":
        return None
    return 1 if rows_per_step * n_parameters < SMALL_STEP_FLOPS else None


def working_memory_bytes(working_memory=None, name="working_memory"):
    """The byte budget for temporary arrays: ``working_memory`` MiB.

    ``None`` takes scikit-learn's ``working_memory`` setting
    (:func:`sklearn.get_config`, 1024 MiB unless changed with
    :func:`sklearn.set_config` or :func:`sklearn.config_context`), the bound
    that scikit-learn's own chunked computations use.
    """
    if working_memory is None:
        working_memory = get_config()["working_memory"]
        name = "sklearn.get_config()['working_memory']"
    return int(check_positive_real(working_memory, name, "a finite number of MiB > 0") * 2**20)


def activation_bytes(module, run):
    """Bytes of every leaf module's output while ``run()`` (a forward pass through ``module``) runs.

    Hooks on the leaf modules measure what a forward pass allocates,
    whatever the architecture. Returns ``(bytes, run())``.
    """
    sizes = []

    def record(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            sizes.append(output.numel() * output.element_size())

    leaves = [m for m in module.modules() if not list(m.children())] or [module]
    handles = [m.register_forward_hook(record) for m in leaves]
    try:
        out = run()
    finally:
        for handle in handles:
            handle.remove()
    return sum(sizes), out


def module_device_and_dtype(module):
    """Device and dtype of ``module``'s first floating parameter, else its first floating buffer.

    A module with neither reports the CPU and torch's default dtype.
    """
    for tensor in (*module.parameters(), *module.buffers()):
        if tensor.is_floating_point():
            return tensor.device, tensor.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def state_with_cpu_nets(state, name="nets_"):
    """A copy of an estimator's pickled ``state`` whose torch module ``name``, or tuple of modules, is a CPU copy
    where a module has a CUDA parameter or buffer, so that a CUDA fit loads on a machine without CUDA.

    Any other value of ``name`` (None, a skorch net, which saves itself so
    that it loads without CUDA) is left as it is.
    """
    state = dict(state)
    value = state.get(name)
    single = isinstance(value, torch.nn.Module)
    modules = (value,) if single else value
    if not isinstance(modules, tuple) or not all(isinstance(m, torch.nn.Module) for m in modules):
        return state
    if any(t.is_cuda for m in modules for t in (*m.parameters(), *m.buffers())):
        copies = tuple(copy.deepcopy(m).to("cpu") for m in modules)
        state[name] = copies[0] if single else copies
    return state


def module_dtype(module):
    """The floating dtype of ``module`` (see :func:`module_device_and_dtype`)."""
    return module_device_and_dtype(module)[1]


_NUMPY_DTYPES = {
    torch.float16: np.dtype(np.float16),
    torch.float32: np.dtype(np.float32),
    torch.float64: np.dtype(np.float64),
}


def numpy_dtype(dtype):
    """The NumPy dtype of a floating torch dtype.

    float16, float32 and float64 map to their NumPy namesakes; a dtype NumPy
    lacks (bfloat16) maps to float32.
    """
    return _NUMPY_DTYPES.get(dtype, np.dtype(np.float32))


def torch_dtype(dtype):
    """The torch dtype of a NumPy float16, float32 or float64 dtype (the inverse of :func:`numpy_dtype`)."""
    dtype = np.dtype(dtype)
    for torch_type, numpy_type in _NUMPY_DTYPES.items():
        if numpy_type == dtype:
            return torch_type
    raise ValueError(f"dtype must be float16, float32 or float64; got {dtype}.")


@contextlib.contextmanager
def eval_mode(*modules):
    """Run a block with ``modules`` in eval mode; every submodule's own mode is restored afterwards."""
    states = [(m, m.training) for module in modules for m in module.modules()]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for m, training in states:
            m.training = training


def forward_in_chunks(module, X, device, dtype=None, max_bytes=None, max_rows=65536):
    """``module(X)`` as one tensor on ``device``, computed in chunks of rows.

    Each chunk of rows is converted to ``dtype`` on its own, so an input of
    another dtype (float64 for a float32 network) is never copied as a whole.
    The chunk size keeps one chunk's converted input and the outputs of all
    of the module's layers within ``max_bytes``, measured on a probe pass of
    two rows. The caller chooses the mode (eval, ``torch.inference_mode``).

    Parameters
    ----------
    module : torch.nn.Module
    X : ndarray of shape (n_samples, ...), n_samples >= 1
    device : str or torch.device
        Where ``module`` lives.
    dtype : torch.dtype or None, default=None
        The input dtype; None: the module's (:func:`module_dtype`).
    max_bytes : int or None, default=None
        Bytes for one chunk; None: scikit-learn's ``working_memory`` setting
        (:func:`working_memory_bytes`).
    max_rows : int, default=65536
        Upper bound on rows per chunk.

    Returns
    -------
    torch.Tensor of shape (n_samples, ...)
    """
    budget = working_memory_bytes() if max_bytes is None else max_bytes
    dtype = module_dtype(module) if dtype is None else dtype
    np_dtype = numpy_dtype(dtype)
    n_samples = len(X)

    def chunk(start, stop):
        return torch.from_numpy(np.ascontiguousarray(X[start:stop], dtype=np_dtype)).to(device)

    probe_rows = min(n_samples, 2)
    probe = chunk(0, probe_rows)
    activations, first = activation_bytes(module, lambda: module(probe))
    per_row = activations / probe_rows + probe[0].numel() * probe.element_size()
    rows = int(max(1, min(max_rows, budget // max(1.0, per_row))))
    out = torch.empty((n_samples,) + tuple(first.shape[1:]), dtype=first.dtype, device=first.device)
    # The probe's outputs are not reused: a 2-row product may round differently
    # from the same rows in a larger one, and a row's output must not depend on
    # the rows it is batched with beyond what torch itself does.
    for start in range(0, n_samples, rows):
        stop = min(n_samples, start + rows)
        out[start:stop] = module(chunk(start, stop))
    return out


def predict_logits(module, X, device, working_memory=None):
    """Forward ``X`` (ndarray) through ``module`` in eval mode, in row chunks.

    See :func:`forward_in_chunks` for the chunking; ``X`` is never copied
    as a whole.

    Returns
    -------
    logits : ndarray of shape (n_samples, n_outputs)
        In the module's dtype. The train/eval mode of the module and of
        each of its submodules is restored.
    """
    if len(X) == 0:
        return np.empty((0, 0), dtype=np.float32)
    with eval_mode(module), torch.inference_mode():
        return forward_in_chunks(module, X, device, max_bytes=working_memory_bytes(working_memory)).cpu().numpy()
