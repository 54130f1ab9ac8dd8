"""Small torch helpers shared by the estimators: device choice, seeding,
thread counts, chunked inference."""

import contextlib

import numpy as np
import torch

__all__ = ["resolve_device", "seeded", "torch_threads", "threads_for_work", "predict_logits", "SEED_MAX"]

SEED_MAX = 2**31 - 1

# Below this many multiply-adds per optimisation step, one torch thread is
# faster than several: the paper's 200 x 50 logistic regression ran 5x slower
# with 2 threads than with 1 on a 2-core machine (thread wake-up dominates).
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
        raise ValueError(f"{name}={device!r} was requested but CUDA is not available on this machine; use 'auto' or 'cpu'.")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"{name} must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.")
    return dev


@contextlib.contextmanager
def seeded(seed, device=None):
    """Run a block with torch's global RNG seeded, restoring it afterwards.

    skorch draws initial weights and shuffling from torch's global generator;
    forking it keeps an estimator's fit deterministic without disturbing the
    caller's random stream.
    """
    devices = []
    if device is not None and torch.device(device).type == "cuda":
        devices = [torch.device(device).index or 0]
    with torch.random.fork_rng(devices=devices):
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
    """Thread count for training a module: 1 for tiny CPU steps, else torch's default."""
    if torch.device(device).type != "cpu":
        return None
    return 1 if rows_per_step * n_parameters < SMALL_STEP_FLOPS else None


def predict_logits(module, X, device, batch_rows=65536):
    """Forward ``X`` (ndarray) through ``module`` in eval mode, in row chunks.

    Returns a float32 (or the module's dtype) NumPy array of logits. The
    module's train/eval mode is restored afterwards.
    """
    was_training = module.training
    module.eval()
    out = []
    try:
        with torch.inference_mode():
            for start in range(0, len(X), batch_rows):
                xb = torch.as_tensor(np.ascontiguousarray(X[start:start + batch_rows]), device=device)
                out.append(module(xb).detach().cpu().numpy())
    finally:
        module.train(was_training)
    if not out:
        return np.empty((0, 0), dtype=np.float32)
    return np.concatenate(out, axis=0)
