"""Where the channels of :func:`crossmodal.permutation_salience` are evaluated: ranges over threads or joblib workers.

A plan (:mod:`crossmodal.focus._plans`) evaluates a contiguous range of
channels given their permutation indices. This module cuts the channels into
ranges that fit the working-memory budget, draws each range's permutations
where it is evaluated, and spreads the ranges over one level of parallelism:
``prange`` kernels or torch's intra-op threads in one job, a private thread
pool for the compiled block pipelines, or joblib workers with serial kernels
(see the Notes of :func:`crossmodal.permutation_salience`).
"""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import torch
from sklearn.utils.parallel import Parallel, delayed

from crossmodal._utils.torch_helpers import torch_threads
from crossmodal.focus._permutations import draw_permutations

__all__ = ["evaluate_channels"]


def evaluate_channels(plan, seed, n_samples, n_repeats, n_channels, n_jobs, wm_bytes):
    """Summed distances of every (channel, repeat), shape (n_channels, n_repeats).

    Half of ``wm_bytes`` is shared by the concurrent workers for their
    channel ranges (:func:`_channels_per_step`).
    """
    n_workers = joblib.effective_n_jobs(n_jobs)
    if n_workers == 1 or n_channels == 1:
        fan_out = min(torch.get_num_threads(), n_channels)
        if fan_out > 1 and plan.threads_over_channels(n_channels * n_repeats):
            step = _channels_per_step(plan, n_samples, n_repeats, wm_bytes // (2 * fan_out))
            return _evaluate_on_threads(plan, seed, n_samples, n_repeats, n_channels, fan_out, step)
        step = _channels_per_step(plan, n_samples, n_repeats, wm_bytes // 2)
        return _evaluate_range(plan, seed, n_samples, n_repeats, 0, n_channels, step, parallel=True)
    threads = max(1, joblib.cpu_count() // n_workers)
    step = _channels_per_step(plan, n_samples, n_repeats, wm_bytes // (2 * n_workers))
    with torch_threads(threads):
        parts = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(_evaluate_in_worker)(plan, seed, n_samples, n_repeats, a, b, step, threads, os.getpid())
            for a, b in _channel_ranges(n_channels, 2 * n_workers)
        )
    return np.concatenate(parts, axis=0)


def _channels_per_step(plan, n_samples, n_repeats, budget):
    """Channels whose permutation indices (and columns) fit in ``budget`` bytes; at least 1."""
    return int(max(1, budget // max(1, plan.bytes_per_channel(n_samples, n_repeats))))


def _channel_ranges(n_channels, n_parts):
    bounds = np.linspace(0, n_channels, min(n_channels, n_parts) + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _evaluate_on_threads(plan, seed, n_samples, n_repeats, n_channels, n_threads, step):
    """One job, several threads: channel ranges on a private thread pool.

    For the compiled pipelines that alternate numba kernels and torch matrix
    products, threads over channels (serial nogil kernels, single-threaded
    products) beat threads inside each call: there is no barrier per call and
    numba's and torch's OpenMP pools never spin against each other.
    """

    def task(bounds):
        with torch.inference_mode():
            return _evaluate_range(plan, seed, n_samples, n_repeats, bounds[0], bounds[1], step, parallel=False)

    with torch_threads(1), ThreadPoolExecutor(n_threads) as pool:
        parts = list(pool.map(task, _channel_ranges(n_channels, 2 * n_threads)))
    return np.concatenate(parts, axis=0)


def _evaluate_in_worker(plan, seed, n_samples, n_repeats, start, stop, step, threads, parent_pid):
    """One joblib task: serial kernels; torch threads set here in a separate process."""
    threads_here = torch_threads(threads) if os.getpid() != parent_pid else contextlib.nullcontext()
    with threads_here, torch.inference_mode():
        return _evaluate_range(plan, seed, n_samples, n_repeats, start, stop, step, parallel=False)


def _evaluate_range(plan, seed, n_samples, n_repeats, start, stop, step, parallel):
    """Channels ``start .. stop - 1``, ``step`` at a time (permutations drawn per step)."""
    parts = []
    for a in range(start, stop, step):
        b = min(stop, a + step)
        perms = draw_permutations(seed, n_samples, n_repeats, a, b, parallel=parallel)
        parts.append(plan.evaluate(np.arange(a, b), perms, parallel))
    return np.concatenate(parts, axis=0)
