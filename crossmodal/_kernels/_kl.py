"""Fused temperature log-softmax + KL divergence kernel (forward and gradient).

The knowledge-distillation term of the paper's eq. (1) with a temperature,
``T**2 * KL(softmax(t / T) || softmax(s / T))``, needs ``exp`` of every
student logit (the softmax) and the teacher's probabilities
``p = exp(log_softmax(t / T))``: two exponentials per element. They and the
per-row logarithms are :func:`crossmodal._kernels._exp_log.exp_f64` and
:func:`~crossmodal._kernels._exp_log.log_f64`, branch-free so that LLVM
vectorises the loops that call them. Rows are processed in blocks of about
``_BLOCK_ELEMENTS`` elements laid out flat, so the exponentials vectorise
whatever the number of classes. (Taking ``p`` once per fit instead was
measured and dropped: reading float64 probabilities costs as much as the
exponential saves; ``benchmarks/RESULTS.md``.)

Everything is computed in float64, also for float32 inputs; only the gradient
is stored in the input dtype. float32 exponentials (twice as many lanes) were
considered and rejected: simulated in NumPy (exponentials rounded to
float32, sums in float64), a student whose logits are within 0.03 of the
teacher's gets loss errors up to 4e-5 and gradient errors up to 6e-6 (the
loss is ~noise**2 per row, the gradient ``P * q - p`` a small difference of
two probabilities), against the 1e-6 required.
"""

import numpy as np
from numba import jit, prange

from crossmodal._kernels._config import JIT_PARALLEL, JIT_SERIAL
from crossmodal._kernels._exp_log import exp_f64, log_f64

__all__ = ["kl_div_fused", "kl_div_fused_serial"]

# Target number of elements per block of rows: the two float64 scratch
# buffers of this length stay in the L1 cache.
_BLOCK_ELEMENTS = 1024
# Number of chunks of rows that kl_div_fused hands to its threads.
_N_CHUNKS = 64


@jit(**JIT_SERIAL, inline="always")
def _row_max(s_row):
    """Largest value of a row; NaN values are skipped (they make the row NaN later).

    Four running maxima break the dependency chain of one. The selects are
    written out (not ``max``) so that a NaN is skipped the same way compiled
    and under ``NUMBA_DISABLE_JIT=1``.
    """
    n = s_row.size
    m0 = s_row[0]
    m1 = m0
    m2 = m0
    m3 = m0
    k = 0
    while k + 4 <= n:
        v0 = s_row[k]
        v1 = s_row[k + 1]
        v2 = s_row[k + 2]
        v3 = s_row[k + 3]
        m0 = v0 if v0 > m0 else m0  # noqa: FURB136
        m1 = v1 if v1 > m1 else m1  # noqa: FURB136
        m2 = v2 if v2 > m2 else m2  # noqa: FURB136
        m3 = v3 if v3 > m3 else m3  # noqa: FURB136
        k += 4
    while k < n:
        v0 = s_row[k]
        m0 = v0 if v0 > m0 else m0  # noqa: FURB136
        k += 1
    m0 = m1 if m1 > m0 else m0  # noqa: FURB136
    m2 = m3 if m3 > m2 else m2  # noqa: FURB136
    return m2 if m2 > m0 else m0  # noqa: FURB136


@jit(**JIT_SERIAL)
def _kl_block(
    s, lt, inv_temperature, w, w_step, grad, kl_rows, start, stop, e_buf, p_buf, cross_buf, total_buf, mass_buf, log_buf
):
    """Rows ``start:stop`` of :func:`kl_div_fused`.

    ``e_buf`` and ``p_buf`` hold at least ``(stop - start) * n_classes``
    floats, ``cross_buf``, ``total_buf``, ``mass_buf`` and ``log_buf`` at
    least ``stop - start``.
    """
    n_classes = s.shape[1]
    n_rows = stop - start
    n_flat = n_rows * n_classes
    # The np.float64 casts below are free when compiled (numba promotes);
    # they keep float32 inputs in float64 under NUMBA_DISABLE_JIT=1 too.
    # 2-D views indexed by loop counters only: an index such as
    # r * n_classes + k would get numba's negative-index wraparound, which
    # turns vector stores into scalar ones.
    s_blk = s[start:stop]
    lt_blk = lt[start:stop]
    grad_blk = grad[start:stop]
    e_2d = e_buf[:n_flat].reshape((n_rows, n_classes))
    p_flat = p_buf[:n_flat]
    p_2d = p_flat.reshape((n_rows, n_classes))
    # 0. The teacher's probabilities into the scratch buffer, flat, so that
    #    the exponentials vectorise for any n_classes.
    lt_flat = lt_blk.reshape(n_flat)
    for j in range(n_flat):
        p_flat[j] = exp_f64(np.float64(lt_flat[j]))
    # 1. Row maxima of z = s / T, the shifted logits y = z - max(z), the
    #    teacher's mass P = sum_k p_k (1 up to the rounding of lt) and
    #    cross = sum_k p_k * (lt_k - y_k). With log q = y - log(sum exp(y)),
    #    KL = cross + P * log(sum exp(y)). The terms lt_k - y_k are small
    #    where p_k matters and the student is close to the teacher, so
    #    nothing of the size of the logits cancels.
    for r in range(n_rows):
        # Multiplying by 1 / T > 0 is monotone, so this is max_k z_rk exactly;
        # a NaN in the row makes its own y NaN.
        z_max = np.float64(_row_max(s_blk[r])) * inv_temperature
        mass = 0.0
        cross = 0.0
        for k in range(n_classes):
            y = np.float64(s_blk[r, k]) * inv_temperature - z_max
            e_2d[r, k] = y
            p_k = p_2d[r, k]
            mass += p_k
            term = p_k * (np.float64(lt_blk[r, k]) - y)
            cross += 0.0 if p_k == 0.0 else term
        mass_buf[r] = mass
        cross_buf[r] = cross
    # 2. The exponentials over the whole block, flat, so that they vectorise
    #    for any n_classes.
    e_flat = e_buf[:n_flat]
    for j in range(n_flat):
        e_flat[j] = exp_f64(e_flat[j])
    # 3. Normalisers sum exp(y) and the KL divergences, all rows.
    for r in range(n_rows):
        total = 0.0
        for k in range(n_classes):
            total += e_2d[r, k]
        total_buf[r] = total
    # The logarithms in a loop of their own, which vectorises (one row per
    # lane); inside the loop below they would stay scalar.
    for r in range(n_rows):
        log_buf[r] = log_f64(total_buf[r])
    for r in range(n_rows):
        total = total_buf[r]
        mass = mass_buf[r]
        kl_rows[start + r] = w[(start + r) * w_step] * (cross_buf[r] + mass * log_buf[r])
        # d KL / d z = P * softmax(z) - p: the exact gradient of the KL
        # divergence as computed, also when P != 1.
        total_buf[r] = mass / total
    # 4. The gradient, row by row.
    for r in range(n_rows):
        mass_over_total = total_buf[r]
        grad_scale = w[(start + r) * w_step] * inv_temperature
        for k in range(n_classes):
            grad_blk[r, k] = grad_scale * (e_2d[r, k] * mass_over_total - p_2d[r, k])


@jit(**JIT_SERIAL)
def _kl_rows(s, lt, inv_temperature, w, grad, kl_rows, start, stop):
    """Rows ``start:stop`` in blocks of about ``_BLOCK_ELEMENTS`` elements."""
    n_classes = s.shape[1]
    rows_per_block = max(1, _BLOCK_ELEMENTS // n_classes)
    m = rows_per_block * n_classes
    e_buf = np.empty(m, dtype=np.float64)
    p_buf = np.empty(m, dtype=np.float64)
    cross_buf = np.empty(rows_per_block, dtype=np.float64)
    total_buf = np.empty(rows_per_block, dtype=np.float64)
    mass_buf = np.empty(rows_per_block, dtype=np.float64)
    log_buf = np.empty(rows_per_block, dtype=np.float64)
    # One weight per row, or one for all rows (w_step = 0).
    w_step = 1 if w.size == s.shape[0] else 0
    for block_start in range(start, stop, rows_per_block):
        block_stop = min(block_start + rows_per_block, stop)
        _kl_block(
            s,
            lt,
            inv_temperature,
            w,
            w_step,
            grad,
            kl_rows,
            block_start,
            block_stop,
            e_buf,
            p_buf,
            cross_buf,
            total_buf,
            mass_buf,
            log_buf,
        )


@jit(**JIT_SERIAL)
def _sum_in_order(values):
    total = 0.0
    for v in values:
        total += v
    return total


@jit(**JIT_PARALLEL)
def kl_div_fused(student_logits, teacher_log_proba, inv_temperature, sample_weight, grad):
    """Weighted ``KL(p || softmax(s / T))`` summed over rows, and its gradient.

    Parallel over contiguous chunks of rows (``prange``); inside a chunk, one
    fused pass per block of rows. Call it inside
    ``numba.parallel_chunksize(1)`` to hand the chunks out one at a time (a
    dynamic schedule: on a shared machine, a thread that is descheduled then
    takes fewer chunks instead of holding up the others).

    Parameters
    ----------
    student_logits : ndarray of shape (n_samples, n_classes), float32 or float64
        Student logits ``s``, C-contiguous, ``n_samples, n_classes >= 1``.
    teacher_log_proba : ndarray of shape (n_samples, n_classes)
        Teacher log-probabilities ``lt = log_softmax(t / T)``, same dtype,
        C-contiguous, no NaN or ``+inf`` (``-inf`` means probability 0).
    inv_temperature : float
        ``1 / T``, finite and > 0.
    sample_weight : ndarray of shape (n_samples,) or (1,), float64
        Row weights ``w``; one value is the weight of every row.
    grad : ndarray of shape (n_samples, n_classes), dtype of student_logits
        Output, C-contiguous: ``w_i * (P_i * softmax(s_i / T)_k - p_ik) / T``
        with ``P_i = sum_k p_ik``, the gradient of the returned sum with
        respect to ``s`` (``P_i`` is 1 up to the rounding of ``lt``; it
        matters when the student is within ~1e-3 of the teacher).

    Returns
    -------
    float
        ``sum_i w_i * KL_i`` with ``KL_i = sum_k p_ik * (lt_ik - log_softmax(s_i / T)_k)``;
        terms with ``p_ik == 0`` contribute 0.

    See Also
    --------
    kl_div_fused_serial : The same on one thread.

    Notes
    -----
    The per-row values are written to an array and summed in row order
    afterwards, so the result does not depend on the number of threads or on
    their schedule. NaN in a row of
    ``student_logits`` makes that row's KL, its gradient and the sum NaN.
    Inputs are not checked here.

    The loss is the KD term of eq. (1) of [1]_ with a temperature; the caller
    multiplies by ``T**2`` and divides by the reduction's divisor through
    ``sample_weight``.

    References
    ----------
    .. [1] Xue, Z., Gao, Z., Ren, S., & Zhao, H. (2023). The Modality Focusing
       Hypothesis: Towards Understanding Crossmodal Knowledge Distillation.
       ICLR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from crossmodal._kernels._kl import kl_div_fused
    >>> s = np.zeros((1, 2))                     # student: uniform
    >>> lt = np.log(np.array([[0.75, 0.25]]))    # teacher
    >>> grad = np.empty_like(s)
    >>> round(float(kl_div_fused(s, lt, 1.0, np.ones(1), grad)), 6)  # log 2 - H(0.75, 0.25)
    0.130812
    >>> grad
    array([[-0.25,  0.25]])
    """
    n_samples = student_logits.shape[0]
    kl_rows = np.empty(n_samples, dtype=np.float64)
    # Contiguous chunks of rows, a fixed number of them (not the thread
    # count, which would stop numba caching the kernel); each chunk allocates
    # its scratch buffers once.
    n_chunks = min(n_samples, _N_CHUNKS)
    for c in prange(n_chunks):
        start = (c * n_samples) // n_chunks
        stop = ((c + 1) * n_samples) // n_chunks
        _kl_rows(student_logits, teacher_log_proba, inv_temperature, sample_weight, grad, kl_rows, start, stop)
    return _sum_in_order(kl_rows)


@jit(**JIT_SERIAL)
def kl_div_fused_serial(student_logits, teacher_log_proba, inv_temperature, sample_weight, grad):
    """Single-threaded :func:`kl_div_fused`: same arguments, same result to the last bit.

    For small batches, where waking threads costs more than the work, and for
    callers that already run in parallel (one level of parallelism).
    """
    n_samples = student_logits.shape[0]
    kl_rows = np.empty(n_samples, dtype=np.float64)
    _kl_rows(student_logits, teacher_log_proba, inv_temperature, sample_weight, grad, kl_rows, 0, n_samples)
    return _sum_in_order(kl_rows)
