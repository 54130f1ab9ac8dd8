"""The knowledge-distillation term of the paper's eq. (1), with a temperature.

``kd_kl_loss`` computes ``T**2 * KL(softmax(t / T) || softmax(s / T))`` from
student logits ``s`` and the teacher's log-probabilities
``log_softmax(t / T)`` (made once per fit by :func:`tempered_log_proba`).

On CPU, float32/float64 tensors go through :class:`FusedKLDivergence`: one
numba pass computes the loss and its gradient together (the gradient is kept
for ``backward``), several times faster than ``log_softmax`` + ``kl_div`` +
autograd (``benchmarks/bench_kl.py``). Large gradients reuse the memory of the previous one once it has
been freed (:mod:`crossmodal.distill.objectives._gradient_buffer`), instead of having fresh
pages faulted in and zeroed at every step. Elsewhere (CUDA, other dtypes, a teacher
or weights that require grad) the same quantity is computed with torch
operations.
"""

import threading

import numba
import numpy as np
import torch
import torch.nn.functional as F

from crossmodal._kernels._kl import kl_div_fused, kl_div_fused_serial
from crossmodal._utils.proba import KD_PROBA_FLOOR
from crossmodal._utils.validation import check_positive_real
from crossmodal.distill.objectives._gradient_buffer import empty_gradient

__all__ = ["FusedKLDivergence", "kd_kl_loss", "teacher_targets", "tempered_log_proba"]

_REDUCTIONS = ("batchmean", "mean", "sum")

# Below this many elements the single-threaded kernel is used: waking the
# worker threads costs more than the work.
_PARALLEL_MIN_ELEMENTS = 1 << 15


def _check_temperature(temperature):
    return check_positive_real(temperature, "temperature")


def _check_reduction(reduction):
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, _REDUCTIONS))}; got {reduction!r}.")
    return reduction


def _divisor(reduction, n_samples, n_classes):
    if reduction == "batchmean":
        return n_samples
    if reduction == "mean":
        return n_samples * n_classes
    return 1


class FusedKLDivergence(torch.autograd.Function):
    """Weighted KL divergence with a fused CPU forward/backward (numba).

    ``FusedKLDivergence.apply(student_logits, teacher_log_proba, row_weight,
    inv_temperature)`` returns ``sum_i row_weight_i *
    KL(p_i || softmax(s_i * inv_temperature))`` with ``p = exp(teacher_log_proba)``,
    as a 0-d tensor of the logits'
    dtype (see :meth:`forward` for the arguments). The forward pass also
    computes the gradient with respect to the logits and keeps it;
    ``backward`` only scales it by ``grad_output``.

    See Also
    --------
    kd_kl_loss : The function to call; it validates and picks this path.

    Notes
    -----
    Only ``student_logits`` receives a gradient. A backward pass with
    ``create_graph=True`` (double backward) recomputes the gradient with
    differentiable torch operations, so higher derivatives are exact.
    Batches of at least ``_PARALLEL_MIN_ELEMENTS`` elements use the parallel
    kernel when called from the main thread; other threads (a joblib
    threading backend, say) use the single-threaded one, so that there is
    one level of parallelism. Both give the same bits.
    The parallel kernel hands out its chunks of rows one at a time
    (``numba.parallel_chunksize(1)``), so a thread that the operating system
    deschedules holds up the others less.
    """

    @staticmethod
    def forward(ctx, student_logits, teacher_log_proba, row_weight, inv_temperature):
        """Run the kernel.

        Parameters
        ----------
        ctx : torch.autograd.function.FunctionCtx
            Autograd's context.
        student_logits : torch.Tensor of shape (n_samples, n_classes)
            CPU, float32 or float64, ``n_samples * n_classes > 0``.
        teacher_log_proba : torch.Tensor of the same shape and dtype
            Finite log-probabilities (``-inf`` also means probability 0).
        row_weight : torch.Tensor of shape (n_samples,) or (1,), float64
            Per-row factors: sample weights times ``T**2`` divided by the
            reduction's divisor; one value applies to every row.
        inv_temperature : float
            ``1 / T``.

        Returns
        -------
        torch.Tensor
            The weighted sum, 0-d, in the logits' dtype.
        """
        s = student_logits.detach().contiguous()
        lt = teacher_log_proba.detach().to(dtype=s.dtype).contiguous()
        w = row_weight.detach().to(dtype=torch.float64).contiguous()
        grad = empty_gradient(s)
        if s.numel() >= _PARALLEL_MIN_ELEMENTS and threading.current_thread() is threading.main_thread():
            with numba.parallel_chunksize(1):
                total = kl_div_fused(s.numpy(), lt.numpy(), inv_temperature, w.numpy(), grad.numpy())
        else:
            total = kl_div_fused_serial(s.numpy(), lt.numpy(), inv_temperature, w.numpy(), grad.numpy())
        ctx.inv_temperature = inv_temperature
        ctx.save_for_backward(grad, student_logits, lt, w)
        return torch.tensor(total, dtype=s.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        grad, student_logits, lt, w = ctx.saved_tensors
        if torch.is_grad_enabled():
            # create_graph=True: rebuild the gradient from differentiable ops.
            inv_t = ctx.inv_temperature
            q = torch.softmax(student_logits * inv_t, dim=1)
            p = lt.exp()
            grad = (q * p.sum(dim=1, keepdim=True) - p) * (w.to(q.dtype) * inv_t).unsqueeze(1)
        elif grad_output.numel() == 1 and grad_output.item() == 1.0:
            # loss.backward() on this term alone: no copy. Autograd takes the
            # tensor over, or copies it when the graph is retained.
            return grad, None, None, None
        return grad_output * grad, None, None, None


def _as_student_logits(student_logits):
    if not isinstance(student_logits, torch.Tensor):
        raise TypeError(
            f"student_logits must be a torch.Tensor (the student's output); got {type(student_logits).__name__}."
        )
    if student_logits.ndim != 2:
        raise ValueError(f"student_logits must be 2-D (n_samples, n_classes); got shape {tuple(student_logits.shape)}.")
    if not student_logits.is_floating_point():
        raise ValueError(f"student_logits must hold floating-point values; got dtype {student_logits.dtype}.")
    return student_logits


def _as_teacher_log_proba(teacher_log_proba, student_logits):
    lt = torch.as_tensor(teacher_log_proba, device=student_logits.device)
    if tuple(lt.shape) != tuple(student_logits.shape):
        raise ValueError(
            "teacher_log_proba must have the shape of student_logits "
            f"{tuple(student_logits.shape)}; got shape {tuple(lt.shape)}."
        )
    if lt.dtype != student_logits.dtype:
        lt = lt.to(student_logits.dtype)
        if lt.is_floating_point():
            # A float64 log(0) stand-in becomes -inf in float32: keep it finite.
            lt = lt.clamp_min(torch.finfo(lt.dtype).min)
    return lt


def _as_sample_weight(sample_weight, n_samples, device):
    if sample_weight is None:
        return None
    w = torch.as_tensor(sample_weight, device=device)
    if tuple(w.shape) != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), one weight per row; got shape {tuple(w.shape)}."
        )
    if not w.is_floating_point():
        w = w.to(torch.float64)
    return w


def _kd_kl_loss_torch(s, lt, temperature, reduction, w):
    """The same loss with torch operations (CUDA, any dtype, trainable targets)."""
    log_q = F.log_softmax(s / temperature, dim=1)
    # The divisor is applied here, not by kl_div: torch announces that its
    # reduction="mean" will change meaning.
    divisor = _divisor(reduction, *s.shape)
    factor = temperature * temperature / divisor if divisor else float("nan")  # 0 / 0, as torch
    if w is None:
        return F.kl_div(log_q, lt, reduction="sum", log_target=True) * factor
    per_row = F.kl_div(log_q, lt, reduction="none", log_target=True).sum(dim=1)
    return (per_row * w.to(per_row.dtype)).sum() * factor


def kd_kl_loss(student_logits, teacher_log_proba, *, temperature=1.0, reduction="batchmean", sample_weight=None):
    """Knowledge-distillation loss ``T**2 * KL(softmax(t / T) || softmax(s / T))``.

    The KD term of the paper's eq. (1) with Hinton's temperature ``T``.

    Parameters
    ----------
    student_logits : torch.Tensor of shape (n_samples, n_classes)
        Student logits ``s`` (the module's output, before softmax).
    teacher_log_proba : torch.Tensor or array-like of shape (n_samples, n_classes)
        Teacher targets ``log_softmax(t / T)`` for the same temperature, as
        returned by :func:`tempered_log_proba`; finite values (the stand-in for
        ``log(0)`` gives probability 0). Converted to the logits' dtype and device.
    temperature : float, default=1.0
        ``T > 0``. The paper uses ``T = 1``.
    reduction : {"batchmean", "mean", "sum"}, default="batchmean"
        How the elementwise terms are reduced: ``"batchmean"`` divides their
        sum by ``n_samples`` (the KL divergence per sample, torch's
        ``batchmean``); ``"mean"`` by ``n_samples * n_classes`` (torch's default
        ``KLDivLoss()``, used by the paper authors' code); ``"sum"`` not at all.
    sample_weight : torch.Tensor or array-like of shape (n_samples,), default=None
        Each row's KL divergence is multiplied by its weight before the
        reduction; the divisor is unchanged.

    Returns
    -------
    loss : torch.Tensor
        A 0-d tensor of the logits' dtype, differentiable with respect to
        ``student_logits``.

    Raises
    ------
    TypeError
        If ``student_logits`` is not a tensor.
    ValueError
        If ``temperature`` or ``reduction`` is invalid, or the shapes disagree.

    See Also
    --------
    tempered_log_proba : Makes the targets once per fit.
    FusedKLDivergence : The CPU path.

    Notes
    -----
    CPU float32/float64 logits use :class:`FusedKLDivergence`: the log-softmax,
    the KL divergence and its gradient ``w_i * (P_i * softmax(s_i / T) - p_i) * T / divisor``
    (``P_i = sum_k p_ik``, 1 up to the rounding of the targets) in one
    parallel numba pass, computed in float64; the result does not depend on
    the number of threads. The
    loss and the gradient stay within 1e-6 of a float64 reference (loss
    relative to itself, gradient relative to its largest magnitude) also when
    the student is within 1e-3 of the teacher; when they are equal, the loss
    is 0 up to ~1e-13 (absolute). CUDA tensors, other dtypes, and teacher
    log-probabilities or weights that require grad use
    ``log_softmax`` + ``kl_div(log_target=True)`` instead, with the same value.
    A NaN in the logits gives a NaN loss. The factor ``T**2`` keeps the
    gradient's scale independent of ``T`` (Hinton et al.).

    References
    ----------
    .. [1] Xue, Z., Gao, Z., Ren, S., & Zhao, H. (2023). The Modality Focusing
       Hypothesis: Towards Understanding Crossmodal Knowledge Distillation.
       ICLR 2023, eq. (1).
    .. [2] Hinton, G., Vinyals, O., & Dean, J. (2015). Distilling the Knowledge
       in a Neural Network. arXiv:1503.02531.

    Examples
    --------
    >>> import torch
    >>> from crossmodal.distill.objectives._kl import kd_kl_loss, tempered_log_proba
    >>> teacher_logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    >>> targets = tempered_log_proba(teacher_logits, temperature=2.0)
    >>> student_logits = torch.zeros(2, 3, requires_grad=True)
    >>> loss = kd_kl_loss(student_logits, targets, temperature=2.0)
    >>> loss.backward()
    >>> round(loss.item(), 4)
    0.4456
    >>> student_logits.grad.shape
    torch.Size([2, 3])
    """
    temperature = _check_temperature(temperature)
    reduction = _check_reduction(reduction)
    s = _as_student_logits(student_logits)
    lt = _as_teacher_log_proba(teacher_log_proba, s)
    n_samples, n_classes = s.shape
    w = _as_sample_weight(sample_weight, n_samples, s.device)

    fused = (
        s.device.type == "cpu"
        and s.dtype in (torch.float32, torch.float64)
        and s.numel() > 0
        and not lt.requires_grad
        and not (w is not None and w.requires_grad)
    )
    if not fused:
        return _kd_kl_loss_torch(s, lt, temperature, reduction, w)

    factor = temperature * temperature / _divisor(reduction, n_samples, n_classes)
    if w is None:
        row_weight = torch.full((1,), factor, dtype=torch.float64)  # one weight for all rows
    else:
        row_weight = w.to(torch.float64) * factor
    return FusedKLDivergence.apply(s, lt, row_weight, 1.0 / temperature)


def tempered_log_proba(logits_or_log_proba, temperature=1.0):
    """Teacher targets for :func:`kd_kl_loss`: finite ``log_softmax(t / T)``.

    Computed once per fit, then batched beside the student's inputs.

    Parameters
    ----------
    logits_or_log_proba : torch.Tensor or array-like of shape (n_samples, n_classes)
        Teacher logits, or log-probabilities such as ``np.log(predict_proba(X))``
        (``log_softmax`` of log-probabilities divided by ``T`` is the tempered
        distribution ``p**(1/T) / sum(p**(1/T))``). ``-inf`` (``log(0)``) is
        allowed; NaN and ``+inf`` are not.
    temperature : float, default=1.0
        ``T > 0``.

    Returns
    -------
    log_proba : torch.Tensor of shape (n_samples, n_classes)
        Detached, on the input's device; float32/float64 inputs keep their
        dtype, other inputs become torch's default dtype. ``-inf`` (a class
        of probability 0) is replaced by the dtype's most negative finite
        number, whose exponential is exactly 0, so ``kl_div`` sees
        ``0 * finite = 0`` instead of ``0 * inf = nan``.

    Raises
    ------
    ValueError
        If the input is not 2-D, holds NaN or ``+inf``, or a row is all
        ``-inf``; or if ``temperature`` is not a finite number > 0.

    See Also
    --------
    kd_kl_loss : Uses these targets.

    Examples
    --------
    >>> import numpy as np
    >>> from crossmodal.distill.objectives._kl import tempered_log_proba
    >>> proba = np.array([[0.5, 0.5, 0.0]])
    >>> with np.errstate(divide="ignore"):
    ...     lp = tempered_log_proba(np.log(proba), temperature=2.0)
    >>> lp.exp()
    tensor([[0.5000, 0.5000, 0.0000]], dtype=torch.float64)
    >>> bool(lp.isfinite().all())
    True
    """
    temperature = _check_temperature(temperature)
    if isinstance(logits_or_log_proba, torch.Tensor):
        t = logits_or_log_proba.detach()
    else:
        t = torch.as_tensor(np.asarray(logits_or_log_proba))
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    if t.ndim != 2:
        raise ValueError(f"logits_or_log_proba must be 2-D (n_samples, n_classes); got shape {tuple(t.shape)}.")
    if bool(torch.isnan(t).any()) or bool(torch.isposinf(t).any()):
        raise ValueError("logits_or_log_proba must not contain NaN or +inf; got at least one.")
    all_neginf = torch.isneginf(t).all(dim=1)
    if bool(all_neginf.any()):
        row = int(torch.nonzero(all_neginf)[0, 0])
        raise ValueError(
            f"Row {row} of logits_or_log_proba is all -inf (every class has probability 0); "
            "each row needs at least one finite value."
        )
    with torch.no_grad():
        log_proba = F.log_softmax(t / temperature, dim=1)
        return log_proba.clamp_min(torch.finfo(log_proba.dtype).min)


def teacher_targets(proba, temperature=1.0):
    """The KD targets of a teacher's class probabilities: float32 ``log_softmax(log(p) / T)``.

    ``proba`` (any shape ending in classes) is clipped at
    :data:`~crossmodal._utils.proba.KD_PROBA_FLOOR`, its logarithm taken in
    float32 and tempered by :func:`tempered_log_proba` over the last axis.

    Parameters
    ----------
    proba : array-like of shape (..., n_classes)
        Probabilities, rows summing to 1.
    temperature : float, default=1.0

    Returns
    -------
    torch.Tensor of the shape of ``proba``, float32
    """
    proba = np.asarray(proba)
    log_p = torch.log(torch.as_tensor(np.clip(proba, KD_PROBA_FLOOR, 1.0), dtype=torch.float32))
    n_classes = proba.shape[-1]
    return tempered_log_proba(log_p.reshape(-1, n_classes), temperature).reshape(proba.shape)
