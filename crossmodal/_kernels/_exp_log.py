"""Branch-free float64 ``exp`` and ``log`` for numba kernels.

``np.exp`` and ``np.log`` inside a numba loop compile to scalar calls into
the C math library unless numba finds Intel's SVML vector library, which is
not a dependency of this package; such loops do not vectorise.
:func:`exp_f64` and :func:`log_f64` are written without branches (clamps and
selects, bit manipulation, polynomials), so LLVM vectorises the loops that
call them whatever numba's build. Both are within two units in the last
place of the extended-precision result.

numba's on-disk cache (``cache=True``) keys a kernel on its own source file:
a kernel in another module that calls these functions keeps its compiled
copy after they change here. After editing this file, clear the
``__pycache__`` folder of :mod:`crossmodal._kernels` (or touch the callers).
"""

import numpy as np
from numba import jit

from crossmodal._kernels._config import JIT_SERIAL

__all__ = ["EXP_OVERFLOW", "EXP_UNDERFLOW", "exp_f64", "log_f64"]

# exp(x) is 0.0 for x below EXP_UNDERFLOW = -1021.5 * ln(2) (the true value is
# below 3.2e-308) and inf above EXP_OVERFLOW = log(largest float64); between
# them it is a normal float64.
EXP_UNDERFLOW = -708.0498449419841
EXP_OVERFLOW = 709.782712893384
# The input is clamped to [_EXP_CLAMP_LO, _EXP_CLAMP_HI]: the first rounds to
# k = -1022, for which the bits below give 2**(k - 1) = 0.0, the second to
# k = 1025, which gives inf. So underflow and overflow need no other branch.
_EXP_CLAMP_LO = -708.3
_EXP_CLAMP_HI = 710.5

_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
# ln(2) split so that k * _LN2_HI is exact for |k| < 2**11 (Cody & Waite).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# Adding 1.5 * 2**52 to an integer-valued float64 k puts k in the low
# mantissa bits, from where the exponent field of 2**k is built.
_SHIFTER = 6755399441055744.0
_HIGH_WORD = -4294967296  # int64 with the high 32 bits set

# exp(r) on |r| <= ln(2) / 2: Chebyshev interpolant of degree 11 (computed
# with mpmath.chebyfit at 50 digits), error 2e-17 relative with these rounded
# coefficients; the leading two are exactly 1, so exp(0) == 1.
_E2 = 0.5000000000000019
_E3 = 0.1666666666666668
_E4 = 0.0416666666664881
_E5 = 0.008333333333319601
_E6 = 0.0013888888952314775
_E7 = 0.00019841269890047113
_E8 = 2.4801485482328494e-05
_E9 = 2.755724091857897e-06
_E10 = 2.763263963904103e-07
_E11 = 2.5110037605963777e-08

# log(m) = 2 * atanh(f), f = (m - 1) / (m + 1), |f| <= 0.1716 for
# m in [sqrt(2) / 2, sqrt(2)]: Taylor series 2 * sum f**(2j+1) / (2j+1),
# j <= 10, truncation error below 3e-17 relative.
_SQRT2 = 1.4142135623730951
_TWO_54 = 18014398509481984.0
_TINY = 2.2250738585072014e-308  # smallest normal float64


@jit(**JIT_SERIAL)
def exp_f64(x):
    """Exponential of a float64 scalar, written so that loops calling it vectorise.

    ``exp(x) = 2**k * exp(r)`` with ``k = round(x / ln 2)`` and
    ``|r| <= ln(2) / 2``; ``exp(r)`` is a degree-11 polynomial (Estrin's
    scheme) and ``2**k`` is assembled from its bits. There is no branch: the
    input is clamped by two selects, and the clamped ends give 0 and inf.

    Parameters
    ----------
    x : float
        The exponent.

    Returns
    -------
    float
        ``exp(x)``; ``0.0`` for ``x < EXP_UNDERFLOW`` (including ``-inf``),
        ``inf`` for ``x > EXP_OVERFLOW``, NaN for NaN.

    Notes
    -----
    Relative error below ``5e-16`` (two units in the last place) against
    ``np.exp`` on ``[EXP_UNDERFLOW, EXP_OVERFLOW]``. Below that range the
    true value is smaller than ``3.2e-308`` and ``0.0`` is returned.

    Examples
    --------
    >>> from crossmodal._kernels._exp_log import exp_f64
    >>> float(exp_f64(0.0)), float(exp_f64(-1000.0)), float(exp_f64(1000.0))
    (1.0, 0.0, inf)
    >>> bool(abs(exp_f64(1.0) / 2.718281828459045 - 1) < 5e-16)
    True
    """
    # Selects written as "bound if x beyond bound else x" keep NaN.
    xc = _EXP_CLAMP_LO if x < _EXP_CLAMP_LO else x  # noqa: FURB136
    xc = _EXP_CLAMP_HI if xc > _EXP_CLAMP_HI else xc  # noqa: FURB136
    kf = np.floor(xc * _LOG2E + 0.5)
    # kf is an integer of at most 11 bits, so the low 32 bits of its
    # representation are zero and clearing them gives kf again. LLVM cannot
    # see that: with reassociation allowed (FASTMATH_FLAGS) it would otherwise
    # fold kf * _LN2_HI + kf * _LN2_LO into kf * ln(2) and lose the precision
    # of the split (2e-14 relative error at |k| ~ 1000).
    k_copy = np.int64(np.float64(kf).view(np.int64) & _HIGH_WORD).view(np.float64)
    r = (xc - kf * _LN2_HI) - k_copy * _LN2_LO
    # Estrin's scheme: a shorter dependency chain than Horner's, so more
    # vector iterations overlap in the out-of-order window.
    r2 = r * r
    r4 = r2 * r2
    p01 = r + 1.0
    p23 = _E3 * r + _E2
    p45 = _E5 * r + _E4
    p67 = _E7 * r + _E6
    p89 = _E9 * r + _E8
    p1011 = _E11 * r + _E10
    q0 = p23 * r2 + p01
    q1 = p67 * r2 + p45
    q2 = p1011 * r2 + p89
    poly = (q2 * (r4 * r4) + q1 * r4) + q0
    # kf + 1.5 * 2**52 is exact and holds k in its low bits. k lies in
    # [-1022, 1025]; the biased exponent of 2**(k - 1) is k + 1022, in
    # [0, 2047]: 0 gives 0.0 (underflow), 2047 gives inf (overflow), anything
    # else a normal number, and the result is poly * 2 * 2**(k - 1).
    bits = np.float64(kf + _SHIFTER).view(np.int64)
    scale = np.int64(((bits + 1022) & 2047) << 52).view(np.float64)
    return (poly + poly) * scale


@jit(**JIT_SERIAL)
def log_f64(x):
    """Natural logarithm of a float64 scalar, written so that loops calling it vectorise.

    ``x = 2**e * m`` with ``m`` in ``[sqrt(2) / 2, sqrt(2)]`` taken from the
    bits, then ``log(x) = e * ln 2 + 2 * atanh((m - 1) / (m + 1))``.

    Parameters
    ----------
    x : float
        The argument.

    Returns
    -------
    float
        ``log(x)``; ``-inf`` for 0, ``inf`` for ``inf``, NaN for negative
        numbers and NaN. Subnormal numbers are handled.

    Notes
    -----
    Relative error below ``5e-16`` against ``np.log``. The kernel calls it
    once per row, on ``sum_k exp(z_k - max(z))``, a number in ``[1, n_classes]``.

    Examples
    --------
    >>> from crossmodal._kernels._exp_log import log_f64
    >>> float(log_f64(1.0)), float(log_f64(0.0))
    (0.0, -inf)
    >>> bool(abs(log_f64(10.0) / 2.302585092994046 - 1) < 5e-16)
    True
    """
    subnormal = x < _TINY
    xs = x * _TWO_54 if subnormal else x
    bits = np.float64(xs).view(np.int64)
    # Exponent and mantissa in [1, 2); e fits in int32 (vectorised conversion).
    e = np.float64(np.int32(((bits >> 52) & 2047) - 1023))
    e = e - 54.0 if subnormal else e
    m = np.int64((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000).view(np.float64)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1.0 if big else e
    f = (m - 1.0) / (m + 1.0)
    f2 = f * f
    series = 2.0 / 21.0
    series = series * f2 + 2.0 / 19.0
    series = series * f2 + 2.0 / 17.0
    series = series * f2 + 2.0 / 15.0
    series = series * f2 + 2.0 / 13.0
    series = series * f2 + 2.0 / 11.0
    series = series * f2 + 2.0 / 9.0
    series = series * f2 + 2.0 / 7.0
    series = series * f2 + 2.0 / 5.0
    series = series * f2 + 2.0 / 3.0
    log_m = f * (series * f2) + (f + f)
    y = e * _LN2 + log_m
    y = -np.inf if x == 0.0 else y
    y = np.inf if x == np.inf else y
    y = np.nan if x < 0.0 else y
    y = np.nan if np.isnan(x) else y
    return y
