"""gamma, shared gamma and their intervals, from :func:`~crossmodal.diagnose`'s out-of-fold predictions.

Every statistic is a weighted sum over rows, so the bootstrap is a matrix of
multinomial row counts (no refit): variance-weighted R^2 from per-class sums,
its extrapolation from the half-data replicates, the intervals that add the
replicates' spread, and the two directions' union share.

*gamma* builds on ``R^2 = 1 - SSE / SST`` summed over classes, where SSE
is the mimic's out-of-fold squared error on the centred teacher
log-probabilities and SST their total sum of squares: classes whose
log-probability varies more weigh more. Fitted on finite data this
``R^2`` is biased low: the fitted teacher's estimation noise is part of
the decision to be predicted but not predictable from *b*, and the mimic
is fitted on finite rows too. The bias shrinks with the training rows
``m`` about as ``c / m``, so ``gamma`` is extrapolated to unlimited
rows: the cross-fit of teacher and mimic is repeated 4 times with each
fold's models fitted on a random half of its training rows (stratified;
every row still scored only by models not fitted on it; one half of all
rows per replicate, so that the folds' halves overlap as much as their
full training rows do, and the procedure is the full one at half the
rows), and ``gamma =
2 R^2 - mean(R^2_half)``, clipped to [0, 1]. Its interval is
``gamma +- 1.96 sd`` (clipped), where ``sd^2`` adds the row-bootstrap
variance of ``2 R^2 - mean(R^2_half)`` (the predictions held fixed) and
5 times the variance of the four ``R^2_half``, the spread that refitting
the models on other rows brings: if the fit noise of the full and of
the half-data models were uncorrelated and of equal size, it would
contribute ``(2^2 + 1)`` times it. On :class:`MVDGenerator` data,
``gamma`` estimates the share of the teacher's decision that *b* sees,
``d0 / (d0 + d_sa)`` with equal decision weights, which is the
diagram's ``gamma_ = d0 / (d0 + d_sa + d_sb)`` when *b* has no specific
latents (a teacher on *a* cannot see the ``d_sb`` ones). There, 95%
intervals covered that share in 88% of 260 draws at 200 rows and 98% of
130 at 2,000 (13 settings with ``hyperplane="ones"``, data no report
uses; ``scripts/study_diagnose_intervals.py``; mean error -0.06 and
+0.01); the uncorrected row bootstrap covered 18% and 48%. Student's t
quantile at the Welch-Satterthwaite degrees of freedom of the two variances
(the refits' has 3) instead of 1.96 covered 91% and 98%, with intervals a
fifth wider at 200 rows and half again as wide at 2,000, where 1.96
already covers 98%; the library keeps 1.96. The replicates cost about as much again
as the teacher and mimic fits of the main cross-fit.

*shared gamma* is the diagram's (the paper's) gamma: the share of the
decisive information of both modalities that both modalities hold. The
label-trained student's centred out-of-fold log-probabilities are
regressed on ``X_a`` (cross-fitted, same mimic), and corrected the same
way (4 replicates of student and mimic on half of each fold's training
rows): ``g_ba``, the share of *b*'s decision predictable from *a*. With
``g_ab = gamma``, ``shared_gamma = g_ab g_ba / (g_ab + g_ba - g_ab
g_ba)``, which is ``d0 / (d0 + d_sa + d_sb)`` when ``g_ab = d0 / (d0 +
d_sa)`` and ``g_ba = d0 / (d0 + d_sb)`` (``1 / shared = 1 / g_ab + 1 /
g_ba - 1``). Each direction gets an interval as ``gamma_ci`` (before
clipping); the combination increases in both, so ``shared_gamma_ci``
combines the two lower ends and the two upper ends, and covers whenever
both do. On the same MVD draws as above it covered the diagram's
``gamma_`` in 82% at 200 rows and 98% at 2,000, where ``gamma_ci``
covered it in 90% and 84%. At 200 rows ``shared_gamma`` is biased low
(mean error -0.11): a label-trained student with few decisive among many
columns is mostly its own estimation noise, more than the linear
extrapolation removes. Its fits are a second mimic (on ``X_a``) and four
half-data replicates each of the student and of that mimic.
"""

import numpy as np
from scipy.stats import norm

__all__ = []

_CONFIDENCE = 0.95
# Var(2 F_n - mean_r F_r) <= (4 + 1) Var(F_n) for fit noise F of the full and the half-size replicates,
# uncorrelated and of equal variance (the spread of the replicates estimates Var(F_n)): see diagnose's Notes.
_FIT_NOISE_FACTOR = 5.0


def _r2_from_sums(sse, s1, s2, n):
    """Variance-weighted R^2 = 1 - SSE / SST from per-class sums (vectorised over resamples); not clipped."""
    sst = (s2 - s1**2 / n[..., None]).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - sse / sst
    return np.where(sst > 0, r2, 0.0)


def _weighted_r2(W, L, M):
    """R^2 of the mimic ``M`` on the targets ``L`` for each row of row weights ``W`` (shape (B, n))."""
    return _r2_from_sums(W @ ((L - M) ** 2).sum(axis=1), W @ L, W @ L**2, W.sum(axis=1))


def _extrapolated(L, M, replicates, W):
    """``2 R^2 - mean(R^2_half)`` for all rows and per row resample, the half-data R^2s, and the plain R^2."""
    # One product of the row weights (all rows, then each resample) with every fit's per-row sums: one pass
    # over the large weight matrix instead of three per fit.
    k = L.shape[1]
    weights = np.vstack([np.ones((1, len(L))), W])
    pairs = [(L, M), *replicates]
    sums = weights @ np.hstack([np.column_stack([((L_r - M_r) ** 2).sum(axis=1), L_r, L_r**2]) for L_r, M_r in pairs])
    sums = sums.reshape(len(weights), len(pairs), 1 + 2 * k)
    r2 = np.stack(
        [
            _r2_from_sums(sums[:, i, 0], sums[:, i, 1 : 1 + k], sums[:, i, 1 + k :], weights.sum(axis=1))
            for i in range(len(pairs))
        ]
    )  # (fits, 1 + resamples)
    full, full_boot = r2[0, 0], r2[0, 1:]
    half, half_boot = r2[1:, 0], r2[1:, 1:].mean(axis=0)
    return 2.0 * full - half.mean(), 2.0 * full_boot - half_boot, half, full


def _margin(rows_var, fit_var):
    return norm.ppf(0.5 + _CONFIDENCE / 2) * np.sqrt(rows_var + _FIT_NOISE_FACTOR * fit_var)


def _interval(parts):
    """``(estimate, low, high)``, not clipped, from ``_extrapolated``'s output: the row bootstrap's variance
    plus ``_FIT_NOISE_FACTOR`` times the half-data replicates' (see diagnose's Notes)."""
    estimate, boot, half, _ = parts
    rows_var = float(np.var(boot, ddof=1)) if len(boot) > 1 else 0.0
    margin = _margin(rows_var, float(np.var(half, ddof=1)))
    return estimate, estimate - margin, estimate + margin


def _corrected_gamma(L, M, replicates, W, parts=None):
    """gamma extrapolated to unlimited training rows, and its 95% interval (see diagnose's Notes).

    ``parts``: ``_extrapolated(L, M, replicates, W)`` where the caller has it already.
    """
    parts = _extrapolated(L, M, replicates, W) if parts is None else parts
    point, low, high, uncorrected = (float(v) for v in np.clip([*_interval(parts), parts[3]], 0.0, 1.0))
    return point, (low, high), uncorrected


def _union_share(g_ab, g_ba):
    """``g_ab g_ba / (g_ab + g_ba - g_ab g_ba)`` of shares clipped to [0, 1] (0 where both are 0); vectorised.

    With ``g_ab = d0 / (d0 + d_sa)`` and ``g_ba = d0 / (d0 + d_sb)`` it is
    ``d0 / (d0 + d_sa + d_sb)``: ``1 / g = 1 / g_ab + 1 / g_ba - 1``.
    """
    a, b = np.clip(g_ab, 0.0, 1.0), np.clip(g_ba, 0.0, 1.0)
    denom = a + b - a * b
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, a * b / np.where(denom > 0, denom, 1.0), 0.0)


def _shared_gamma(ab, ba):
    """The diagram's gamma from both directions' extrapolated shares (``_extrapolated``'s output), 95% interval.

    Each direction gets gamma's interval (row bootstrap plus
    ``_FIT_NOISE_FACTOR`` times its half-data spread); the combination is
    increasing in both shares, so its interval runs from the combination of
    the two lower ends to that of the two upper ends (it covers whenever both
    intervals do).
    """
    point, low, high = (float(_union_share(a, b)) for a, b in zip(_interval(ab), _interval(ba)))
    return point, (low, high)
