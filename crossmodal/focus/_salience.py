"""Permutation salience: step 2 of Algorithm 1 of Xue et al. (ICLR 2023).

The public function validates its inputs, draws the permutation indices,
picks an execution plan and spreads channel chunks over joblib workers. A
*plan* holds everything one path needs to score permuted copies of the
channel matrix ``Z`` (the input of ``module_a``, or the output of its hidden
layer ``layer``) against the partner's logits, and evaluates a contiguous
range of channels given their permutation indices:
:class:`crossmodal.focus._rank_one_plan.RankOnePlan` (compiled, CPU) or
:class:`crossmodal.focus._torch_plan.TorchPlan` (any module). Both return, per pair
``(channel, repeat)``, the distance summed over rows (and classes); the
caller divides by the number of terms.
"""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import torch
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.parallel import Parallel, delayed
from torch import nn

from crossmodal._kernels import _salience as kernels
from crossmodal._utils.random import SEED_MAX
from crossmodal._utils.skorch_helpers import module_of
from crossmodal._utils.torch_helpers import (
    activation_bytes,
    eval_mode,
    forward_in_chunks,
    module_device_and_dtype,
    numpy_dtype,
    threads_for_work,
    torch_threads,
    working_memory_bytes,
)
from crossmodal._utils.validation import check_modality, check_paired_samples, check_positive_int
from crossmodal.focus._layers import capture_layer, split_module
from crossmodal.focus._rank_one_plan import PARALLEL_MIN_WORK, build_rank_one_plan
from crossmodal.focus._torch_plan import TorchPlan, reference_rows

__all__ = ["minmax_normalize", "permutation_salience"]


def minmax_normalize(values):
    """``(v - min) / (max - min)``, spread over [0, 1]; all zeros when every value is equal.

    The authors' normalisation of salience; it keeps the order of ``values``.
    """
    values = np.asarray(values, dtype=np.float64)
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


DISTANCES = ("mse", "mae", "kl")

#: Bytes of one activation block of the compiled "mlp"/"head" pipelines when
#: batch_size is None: rows = FAST_BLOCK_BYTES / (widest layer * itemsize),
#: clipped to [FAST_MIN_ROWS, FAST_MAX_ROWS] (512 rows for 256-wide float32
#: layers). Blocks that stay in cache between the rank-1 kernel, the matrix
#: product and the tail beat larger ones when the cores are busy, and are as
#: fast on idle cores (``benchmarks/bench_salience.py --modes``; figures in
#: ``benchmarks/RESULTS.md``).
FAST_BLOCK_BYTES = 2**19
FAST_MIN_ROWS = 128
FAST_MAX_ROWS = 4096
#: Upper bound on rows per forward pass of the generic path on the CPU; on a
#: GPU only the working-memory bound applies.
CPU_MAX_FORWARD_ROWS = 16384
#: Fewer permutation indices than this are drawn by the serial kernel.
PARALLEL_MIN_INDICES = 2**17


def permutation_salience(
    module_a,
    module_b,
    X_a,
    X_b,
    *,
    n_repeats=10,
    distance="mse",
    layer=None,
    random_state=None,
    n_jobs=None,
    batch_size=None,
    working_memory=None,
):
    """Permutation salience of the channels of modality *a* (Algorithm 1, step 2).

    For every channel ``i`` of ``X_a`` (or of the hidden layer ``layer`` of
    ``module_a``) and every repeat ``m``, column ``i`` is permuted across
    samples and ``Dist(module_a(X_a_perm), module_b(X_b))`` is recorded. A
    large distance means the channel carries much of what aligns the two
    modalities' outputs: modality-general decisive information.

    Parameters
    ----------
    module_a, module_b : torch.nn.Module or fitted skorch net
        The two networks trained jointly in step 1 of Algorithm 1 (a skorch
        net is replaced by its ``module_``). ``module_b(X_b)`` is computed
        once. Both return logits of the same shape ``(n_samples, n_classes)``.
        They are put in eval mode for the computation and restored afterwards.
    X_a : array-like or torch.Tensor of shape (n_samples, n_channels, ...)
        Modality *a*, whose channels (axis 1) are ranked.
    X_b : array-like or torch.Tensor of shape (n_samples, ...)
        Modality *b*, paired row by row with ``X_a``.
    n_repeats : int, default=10
        Permutations per channel (the paper's ``M``).
    distance : {"mse", "mae", "kl"}, default="mse"
        ``"mse"``: mean over rows and classes of the squared difference of
        the logits (the authors' choice); ``"mae"``: same with absolute
        differences; ``"kl"``: ``KL(softmax(b) || softmax(a_perm))`` averaged
        over rows ("batchmean"), i.e. ``torch.nn.functional.kl_div(
        log_softmax(a_perm), softmax(b), reduction="batchmean")``: module *b*
        is the reference distribution.
    layer : int, str or None, default=None
        ``None`` ranks the input channels. An int indexes ``module_a``'s
        children (negative counts from the end); a str is a name from
        ``module_a.named_modules()``. The output of that layer is computed
        once, its channels (axis 1) are permuted, and the rest of the network
        is run, as the paper does for RAVDESS and VGGSound.
    random_state : int, RandomState instance or None, default=None
        Seeds the permutations; see Notes for the exact stream.
    n_jobs : int or None, default=None
        Parallel jobs over chunks of channels, through
        :class:`sklearn.utils.parallel.Parallel` (``prefer="threads"``; a
        backend chosen with :func:`joblib.parallel_config` is respected).
        ``None`` means 1 unless inside a :func:`joblib.parallel_config`
        context. The result does not depend on ``n_jobs``.
    batch_size : int or None, default=None
        Maximum rows per forward pass. ``None``: on the compiled path
        blocks of about 512 KiB of activations (512 rows of a 256-wide float32
        layer); on the generic
        path as many rows as fit in half of ``working_memory``, estimated
        from one small forward pass, and at most 16384 on the CPU.
    working_memory : float or None, default=None
        Bound, in MiB, on the temporary arrays: the forward passes over
        ``X_b`` (and over ``X_a`` up to ``layer``) run in row chunks within
        it, and channels are evaluated in ranges whose permutation indices
        and columns share half of it among the concurrent workers. ``None``
        takes scikit-learn's ``working_memory`` setting (1024 MiB unless set
        with :func:`sklearn.set_config` or :func:`sklearn.config_context`).
        The inputs are not copied as a whole (a float64 ``X_a`` for a float32
        module is converted block by block), except by the generic path,
        which holds ``X_a`` (or the permuted layer's output) as one tensor
        in the module's dtype. Arrays of one row per sample are extra: the
        partner's logits, and on the compiled path the first layer's output
        ``(n_samples, width)``. For a given bound the result is reproducible
        and does not depend on ``n_jobs``; another bound may change it at
        rounding level (matrix products round a row according to the rows it
        is computed with).

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        importances_mean : ndarray of shape (n_channels,)
            Mean distance over repeats (the paper's ``p_i`` before its
            normalisation by ``max_i p_i``).
        importances_std : ndarray of shape (n_channels,)
            Standard deviation over repeats.
        importances : ndarray of shape (n_channels, n_repeats)
            Raw distances.
        baseline_distance : float
            ``Dist(module_a(X_a), module_b(X_b))`` with nothing permuted,
            computed by the same path; ``importances - baseline_distance``
            is each permutation's increase over it (what
            :class:`ModalityGeneralRanker` reports as ``importances_``).

    See Also
    --------
    crossmodal.ModalityGeneralRanker : trains the pair (step 1), calls this
        function and selects channels.
    sklearn.inspection.permutation_importance : the same idea for one
        estimator and a score.

    Notes
    -----
    **Permutations.** One seed ``s = check_random_state(random_state).randint(
    2**31 - 1)`` is drawn (as scikit-learn's ``permutation_importance`` does), and
    all indices come from the 64-bit stream of ``numpy.random.PCG64(s)`` in
    channel-major order: pair ``(i, m)`` owns words ``[(i * n_repeats + m) * W,
    (i * n_repeats + m + 1) * W)`` with ``W = n_samples // 2``. Its
    permutation is a Fisher-Yates shuffle of ``arange(n_samples)`` that, at step
    ``t = 0, 1, ...`` (position ``k = n_samples - 1 - t``), reads the low (even
    ``t``) or high (odd ``t``) 32 bits ``u`` of word ``t // 2`` and swaps
    ``k`` with ``floor(u * (k + 1) / 2**32)`` (bias below ``n_samples / 2**32``).
    Row ``r`` of the permuted channel takes the value of row ``perm[r]``. The
    indices of a channel range are drawn where that range is computed (by
    jumping the stream with ``PCG64.advance``), so memory does not grow with
    ``n_channels * n_repeats * n_samples`` and every path, chunking and
    ``n_jobs`` sees the same permutations.

    **Paths.** On the CPU, when the part of ``module_a`` after the permuted
    channels (all of it when ``layer`` is None) is an ``nn.Sequential`` chain
    starting with ``nn.Linear``, that layer's output ``H = Z W^T + b`` is
    computed once and each permutation is applied as the rank-1 update
    ``H + (z_perm - z) W[:, i]^T`` in compiled numba kernels; a linear model
    or a permuted layer that feeds the output layer costs O(n_samples *
    n_classes) per permutation (O(n_samples) for "mse", expanded around the
    unpermuted residual). Any other module (convolutions, a GPU module)
    runs through torch with many permuted copies per forward pass. Both paths
    equal a plain loop over ``(i, m)``.

    **Parallelism.** One level per call path. With one job, the compiled
    kernels of a linear model or a one-hidden-layer MLP use numba's ``prange``
    threads, the generic path uses torch's intra-op threads, and the compiled
    pipeline of deeper MLPs (numba kernels alternating with torch matrix
    products) runs channel ranges on ``torch.get_num_threads()`` Python
    threads, each with serial ``nogil`` kernels and single-threaded products
    (no per-call barrier, and numba's and torch's OpenMP pools never spin
    against each other). Small problems run on one thread. With several jobs,
    each joblib task runs serial kernels with ``cpu_count // n_jobs`` torch
    threads (set by the caller for thread backends, inside the task for
    process backends, and restored afterwards).

    References
    ----------
    .. [1] Z. Xue, Z. Gao, S. Ren and H. Zhao, "The Modality Focusing
       Hypothesis: Towards Understanding Crossmodal Knowledge Distillation",
       ICLR 2023, Appendix B.4, Algorithm 1.
    .. [2] L. Breiman, "Random Forests", Machine Learning 45, 2001.

    Examples
    --------
    >>> import numpy as np
    >>> from crossmodal import permutation_salience
    >>> from crossmodal.nets import MLP
    >>> rng = np.random.RandomState(0)
    >>> X_a = rng.randn(100, 4).astype(np.float32)
    >>> X_b = X_a[:, :2].copy()
    >>> f_a, f_b = MLP(4, 2, hidden_sizes=()), MLP(2, 2, hidden_sizes=())
    >>> result = permutation_salience(f_a, f_b, X_a, X_b, n_repeats=3, random_state=0)
    >>> result.importances.shape
    (4, 3)
    >>> bool(np.all(result.importances_mean > 0))
    True
    """
    module_a = module_of(module_a, "module_a")
    module_b = module_of(module_b, "module_b")
    n_repeats = check_positive_int(n_repeats, "n_repeats")
    if not isinstance(distance, str) or distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}; got {distance!r}.")
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
    wm_bytes = working_memory_bytes(working_memory)
    device_a, dtype_a = module_device_and_dtype(module_a)
    device_b, dtype_b = module_device_and_dtype(module_b)
    X_a = _as_array(X_a, "X_a")
    X_b = _as_array(X_b, "X_b")
    check_paired_samples(X_a, X_b, "X_a", "X_b")
    prefix, suffix, target = split_module(module_a, layer)
    seed = int(check_random_state(random_state).randint(SEED_MAX))
    n_samples = X_a.shape[0]

    n_params = sum(p.numel() for p in module_a.parameters()) + sum(p.numel() for p in module_b.parameters())
    threads = torch_threads(threads_for_work(n_samples, n_params, device_a))
    with threads, eval_mode(module_a, module_b), torch.inference_mode():
        try:
            logits_b = forward_in_chunks(module_b, X_b, device_b, dtype_b, wm_bytes // 2, CPU_MAX_FORWARD_ROWS).to(
                device_a, torch.float64
            )
        except RuntimeError as exc:
            raise ValueError(f"module_b cannot be applied to X_b of shape {X_b.shape}: {exc}") from exc
        try:
            probe = module_a(_to_tensor(X_a[:2], device_a, dtype_a))
        except RuntimeError as exc:
            raise ValueError(f"module_a cannot be applied to X_a of shape {X_a.shape}: {exc}") from exc
        if logits_b.ndim != 2 or tuple(probe.shape) != (min(n_samples, 2), logits_b.shape[1]):
            raise ValueError(
                "module_a and module_b must return logits of the same shape (n_samples, n_classes); got "
                f"{tuple(probe.shape)} from module_a on X_a[:2] and {tuple(logits_b.shape)} from module_b on X_b."
            )
        ref, aux = reference_rows(logits_b, distance)
        plan = _build_plan(
            module_a, X_a, prefix, suffix, target, device_a, dtype_a, ref, aux, distance, batch_size, wm_bytes
        )
        sums = _evaluate(plan, seed, n_samples, n_repeats, plan.Z.shape[1], n_jobs, wm_bytes)
        baseline_sum = _baseline(plan, n_samples)

    terms = n_samples if distance == "kl" else n_samples * logits_b.shape[1]
    importances = sums / terms
    return Bunch(
        importances_mean=importances.mean(axis=1),
        importances_std=importances.std(axis=1),
        importances=importances,
        baseline_distance=baseline_sum / terms,
    )


def _baseline(plan, n_samples):
    """Summed unpermuted distance, by the plan that computed the permuted ones.

    The identity permutation of channel 0 leaves the input unchanged, so the
    baseline goes through the same arithmetic as every permuted distance.
    """
    identity = np.arange(n_samples, dtype=np.int32 if n_samples < 2**31 else np.int64).reshape(1, 1, n_samples)
    return float(plan.evaluate(np.arange(1), identity, False)[0, 0])


# --------------------------------------------------------------------------- #
# Permutations
# --------------------------------------------------------------------------- #


def draw_permutations(seed, n_samples, n_repeats, start, stop, parallel=False):
    """Permutation indices of channels ``start .. stop - 1``.

    Returns an int32 array (int64 from 2**31 samples) of shape
    ``(stop - start, n_repeats, n_samples)``; the stream is described in the
    Notes of :func:`permutation_salience`.
    """
    n_perms = (stop - start) * n_repeats
    words_per_perm = n_samples // 2
    bit_generator = np.random.PCG64(seed)
    if words_per_perm and n_perms:
        bit_generator.advance(start * n_repeats * words_per_perm)
        words = bit_generator.random_raw(n_perms * words_per_perm).reshape(n_perms, words_per_perm)
    else:
        words = np.zeros((n_perms, 0), dtype=np.uint64)
    out = np.empty((n_perms, n_samples), dtype=np.int32 if n_samples < 2**31 else np.int64)
    parallel = parallel and out.size >= PARALLEL_MIN_INDICES
    kernel = kernels.permutations_from_words_parallel if parallel else kernels.permutations_from_words_serial
    kernel(words, out)
    return out.reshape(stop - start, n_repeats, n_samples)


# --------------------------------------------------------------------------- #
# Dispatch
# --------------------------------------------------------------------------- #


def _evaluate(plan, seed, n_samples, n_repeats, n_channels, n_jobs, wm_bytes):
    """Summed distances of every (channel, repeat), shape (n_channels, n_repeats).

    Half of ``wm_bytes`` is shared by the concurrent workers for their
    channel ranges (:func:`_channels_per_step`).
    """
    n_workers = joblib.effective_n_jobs(n_jobs)
    if n_workers == 1 or n_channels == 1:
        fan_out = min(torch.get_num_threads(), n_channels)
        if (
            fan_out > 1
            and getattr(plan, "alternates_with_torch", False)
            and plan.work(n_channels * n_repeats) >= PARALLEL_MIN_WORK
        ):
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


# --------------------------------------------------------------------------- #
# Plans
# --------------------------------------------------------------------------- #


def _build_plan(module_a, X_a, prefix, suffix, target, device, dtype, ref, aux, distance, batch_size, wm_bytes):
    """The execution plan; forward passes and blocks of rows use half of ``wm_bytes``."""
    half = wm_bytes // 2
    if target is None:
        if prefix:
            Z = forward_in_chunks(nn.Sequential(*prefix), X_a, device, dtype, half, CPU_MAX_FORWARD_ROWS)
            Z_np = Z.numpy() if device.type == "cpu" and Z.ndim == 2 else None
        else:
            Z, Z_np = None, X_a if X_a.ndim == 2 else None
        if device.type == "cpu" and Z_np is not None and dtype in (torch.float32, torch.float64):
            itemsize = torch.empty((), dtype=dtype).element_size()
            rows = batch_size or fast_block_rows(suffix, itemsize)
            chunk_rows = max(1, half // max(1, Z_np.shape[1] * (itemsize + Z_np.itemsize)))
            plan = build_rank_one_plan(
                suffix,
                Z_np,
                numpy_dtype(dtype),
                ref.cpu().numpy(),
                aux.cpu().numpy(),
                kernels.DISTANCE_CODES[distance],
                rows,
                chunk_rows,
            )
            if plan is not None:
                return plan
        if Z is None:
            Z = _to_tensor(X_a, device, dtype)
        forward = suffix[0] if len(suffix) == 1 else nn.Sequential(*suffix)
        plan = TorchPlan(Z=Z, forward=forward, ref=ref, aux=aux, distance=distance, rows=1)
    else:
        X_t = _to_tensor(X_a, device, dtype)
        Z = capture_layer(
            module_a,
            target,
            (X_t[start : start + CPU_MAX_FORWARD_ROWS] for start in range(0, len(X_t), CPU_MAX_FORWARD_ROWS)),
        )
        plan = TorchPlan(
            Z=Z, forward=None, ref=ref, aux=aux, distance=distance, rows=1, module=module_a, target=target, X=X_t
        )
    plan.rows = batch_size or _rows_for_memory(plan, half)
    return plan


def fast_block_rows(suffix, itemsize):
    """Default rows per block of the compiled pipelines (see FAST_BLOCK_BYTES).

    Independent of the working-memory bound (a block's buffers take about
    ``2 * FAST_BLOCK_BYTES`` per thread), so that the result is too: the
    hidden layers' matrix products may round differently for other block sizes.
    """
    width = max([m.out_features for m in suffix if isinstance(m, nn.Linear)] or [1])
    return int(min(FAST_MAX_ROWS, max(FAST_MIN_ROWS, FAST_BLOCK_BYTES // (width * itemsize))))


def _rows_for_memory(plan, wm_bytes):
    """Rows per forward that keep the activations of one pass within ``wm_bytes``."""
    k = min(len(plan.Z), 4)
    watched = plan.module if plan.target is not None else plan.forward
    activations, _ = activation_bytes(
        watched, lambda: plan.run(plan.Z[:k].clone(), torch.arange(k, device=plan.Z.device))
    )
    per_row = (activations + 2 * plan.Z[:k].numel() * plan.Z.element_size()) / k + 64
    rows = max(1, int(wm_bytes // per_row))
    if plan.Z.device.type == "cpu":
        rows = min(rows, CPU_MAX_FORWARD_ROWS)
    return rows


# --------------------------------------------------------------------------- #
# Inputs
# --------------------------------------------------------------------------- #


def _as_array(X, name):
    """``X`` as a float32/float64 ndarray with at least 2 axes, all finite; never copied when it already is."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    shape = np.shape(X)
    if len(shape) < 2:
        raise ValueError(f"{name} must have shape (n_samples, n_channels, ...); got shape {shape}.")
    # An O(1)-memory test first: the sum of finite numbers is finite unless it
    # overflows. Anything else gets sklearn's checks and messages (NaN, inf,
    # dtype, empty), which may need memory of the order of X.
    fast = isinstance(X, np.ndarray) and X.dtype in (np.float32, np.float64) and X.size and np.isfinite(X.sum())
    if not fast:
        X = check_modality(X, name, allow_nd=True)
    return X


def _to_tensor(X, device, dtype):
    return torch.from_numpy(np.ascontiguousarray(X)).to(device=device, dtype=dtype)
