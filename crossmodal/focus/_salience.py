"""Permutation salience: step 2 of Algorithm 1 of Xue et al. (ICLR 2023).

The public function validates its inputs, computes the partner's logits and
the distance's reference rows, builds an execution plan
(:mod:`crossmodal.focus._plans`) and has the channels evaluated
(:mod:`crossmodal.focus._schedule`) with the permutations of
:mod:`crossmodal.focus._permutations`.
"""

import numpy as np
import torch
from sklearn.utils import Bunch

from crossmodal._utils.random import draw_seeds
from crossmodal._utils.skorch_helpers import module_of
from crossmodal._utils.torch_helpers import (
    eval_mode,
    forward_in_chunks,
    module_device_and_dtype,
    threads_for_work,
    torch_threads,
    working_memory_bytes,
)
from crossmodal._utils.validation import (
    check_float32_range,
    check_modality,
    check_n_jobs,
    check_paired_samples,
    check_positive_int,
)
from crossmodal.focus._distances import document_distances, get_distance
from crossmodal.focus._layers import split_module
from crossmodal.focus._plans import CPU_MAX_FORWARD_ROWS, to_tensor
from crossmodal.focus._plans import build_plan as _build_plan
from crossmodal.focus._schedule import evaluate_channels

__all__ = ["minmax_normalize", "permutation_salience"]


def minmax_normalize(values):
    """``(v - min) / (max - min)``, spread over [0, 1]; all zeros when every value is equal.

    The authors' normalisation of salience; it keeps the order of ``values``.
    """
    values = np.asarray(values, dtype=np.float64)
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


@document_distances
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
    distance : {distance_names}, default="mse"
        ``Dist``, a name from the registry of distances
        (:mod:`crossmodal.focus._distances`), with ``a`` the logits of
        ``module_a`` on permuted channels and ``b`` those of ``module_b``:

        {distance_summaries}

        A distance without a compiled kernel takes the generic torch path.
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
        blocks of about 512 KiB of activations (512 rows of a 256-wide
        float32 layer); on the generic path as many rows as fit in half of
        ``working_memory``, estimated from one small forward pass, and at
        most 16384 on the CPU.
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
            :class:`crossmodal.ModalityGeneralRanker` reports as ``importances_``).

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
    n_jobs = check_n_jobs(n_jobs)
    dist = get_distance(distance)
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
    wm_bytes = working_memory_bytes(working_memory)
    device_a, dtype_a = module_device_and_dtype(module_a)
    device_b, dtype_b = module_device_and_dtype(module_b)
    X_a = _as_array(X_a, "X_a", dtype_a)
    X_b = _as_array(X_b, "X_b", dtype_b)
    check_paired_samples(X_a, X_b, "X_a", "X_b")
    prefix, suffix, target = split_module(module_a, layer)
    (seed,) = draw_seeds(random_state, 1)
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
            probe = module_a(to_tensor(X_a[:2], device_a, dtype_a))
        except RuntimeError as exc:
            raise ValueError(f"module_a cannot be applied to X_a of shape {X_a.shape}: {exc}") from exc
        if logits_b.ndim != 2 or tuple(probe.shape) != (min(n_samples, 2), logits_b.shape[1]):
            raise ValueError(
                "module_a and module_b must return logits of the same shape (n_samples, n_classes); got "
                f"{tuple(probe.shape)} from module_a on X_a[:2] and {tuple(logits_b.shape)} from module_b on X_b."
            )
        ref, aux = dist.reference_rows(logits_b)
        plan = _build_plan(
            module_a, X_a, prefix, suffix, target, device_a, dtype_a, ref, aux, dist, batch_size, wm_bytes
        )
        sums = evaluate_channels(plan, seed, n_samples, n_repeats, plan.Z.shape[1], n_jobs, wm_bytes)
        baseline_sum = _baseline(plan, n_samples)

    terms = dist.terms(n_samples, logits_b.shape[1])
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


def _as_array(X, name, dtype=torch.float64):
    """``X`` as a float32/float64 ndarray with at least 2 axes, all finite (in ``dtype``, the module's, too);
    never copied when it already is."""
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
    return check_float32_range(X, name) if dtype == torch.float32 else X
