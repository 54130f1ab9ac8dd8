"""Summaries over runs of a reproduction's tidy frame: mean and sd per setting, paired differences, rank correlation.

A reproduction's tidy frame has one row per run and setting. :func:`summarize`
gives the mean and sample standard deviation (``ddof=1``) of columns over the
runs of each setting; :func:`paired_difference` compares two columns of the
same runs run by run, with the paired t test of :func:`scipy.stats.ttest_rel`
(its 95% confidence interval and p-value); :func:`spearman` is the rank
correlation of two summaries, NaN where it is undefined.
"""

import numpy as np
import pandas as pd
from scipy.stats import spearmanr, ttest_rel

__all__ = ["summarize", "paired_difference", "spearman", "percentile_interval"]


def summarize(frame, by, columns):
    """Mean and sample sd of ``columns`` over runs, per group.

    Parameters
    ----------
    frame : DataFrame
        Tidy results, one row per run and setting.
    by : list of str
        Grouping columns (the setting).
    columns : list of str
        Numeric columns to summarise.

    Returns
    -------
    DataFrame
        One row per group with ``<column>_mean``, ``<column>_sd`` and
        ``n_runs``, in the order groups first appear.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"g": [0, 0, 1, 1], "acc": [0.5, 0.7, 0.8, 0.8]})
    >>> summarize(df, ["g"], ["acc"]).round(3).to_dict("list")
    {'g': [0, 1], 'acc_mean': [0.6, 0.8], 'acc_sd': [0.141, 0.0], 'n_runs': [2, 2]}
    """
    grouped = frame.groupby(list(by), sort=False)
    out = grouped[list(columns)].agg(["mean", "std"])
    out.columns = [f"{col}_{'sd' if stat == 'std' else stat}" for col, stat in out.columns]
    out["n_runs"] = grouped.size()
    return out.reset_index()


def paired_difference(frame, by, minuend, subtrahend, *, confidence=0.95):
    """Per-run difference ``minuend - subtrahend``, summarised per group.

    Both columns must come from the same runs (same row), so the difference
    removes what the runs share (data draw, initial weights). The interval and
    p-value are those of the paired t test (:func:`scipy.stats.ttest_rel`)
    of the group's runs.

    Parameters
    ----------
    frame : DataFrame
        Tidy results.
    by : list of str
        Grouping columns.
    minuend, subtrahend : str
        Column names.
    confidence : float, default=0.95
        Level of the confidence interval of the mean difference.

    Returns
    -------
    DataFrame
        One row per group, in the order groups first appear, with
        ``diff_mean``, ``diff_sd``, ``ci_low`` and ``ci_high`` (the interval
        of the mean difference; NaN with fewer than two runs, and the mean
        itself when every run has the same difference), ``p_value`` (of the
        two-sided test that the mean difference is 0; NaN where the runs do
        not vary), ``frac_positive`` (share of runs with a difference > 0)
        and ``n_runs``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"g": [0, 0, 0], "kd": [0.6, 0.7, 0.5], "nokd": [0.5, 0.6, 0.6]})
    >>> paired_difference(df, ["g"], "kd", "nokd").round(3).to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'g': [0], 'diff_mean': [0.033], 'diff_sd': [0.115], 'ci_low': [-0.254], 'ci_high': [0.32],
     'p_value': [0.667], 'frac_positive': [0.667], 'n_runs': [3]}
    """
    rows = []
    for key, part in frame.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)  # pandas < 2 gives a scalar for one grouping column
        a = part[minuend].to_numpy(dtype=float)
        b = part[subtrahend].to_numpy(dtype=float)
        diff = a - b
        mean = float(diff.mean())
        low = high = p_value = float("nan")
        # a spread within rounding of equal differences is no spread (scipy would warn of precision loss)
        spread = np.ptp(diff) > 16 * np.finfo(float).eps * max(1.0, float(np.abs(diff).max()))
        if len(diff) > 1 and spread:
            test = ttest_rel(a, b)
            low, high = (float(v) for v in test.confidence_interval(confidence_level=confidence))
            p_value = float(test.pvalue)
        elif len(diff) > 1:  # no spread: the interval has width 0 and there is nothing to test
            low = high = mean
        rows.append(
            (
                *key,
                mean,
                float(diff.std(ddof=1)) if len(diff) > 1 else float("nan"),
                low,
                high,
                p_value,
                float(np.mean(diff > 0)),
                len(diff),
            )
        )
    columns = list(by) + ["diff_mean", "diff_sd", "ci_low", "ci_high", "p_value", "frac_positive", "n_runs"]
    return pd.DataFrame(rows, columns=columns)


def _tied(values, tol=1e-9):
    """``values`` with every run of sorted neighbours closer than ``tol`` set to the run's smallest value."""
    if values.size < 2 or np.isnan(values).any():
        return values
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.concatenate([[True], np.diff(ordered) > tol])
    out = np.empty_like(values)
    out[order] = ordered[np.flatnonzero(starts)[np.cumsum(starts) - 1]]
    return out


def spearman(x, y):
    """Spearman's rank correlation of ``x`` and ``y`` (:func:`scipy.stats.spearmanr`), or NaN where undefined.

    NaN rule: fewer than three pairs, or either side constant (no ranks to
    correlate), gives NaN without a warning; a NaN among the values gives NaN
    too (scipy's ``nan_policy="propagate"``). Values within 1e-9 of their
    sorted neighbour tie (each such run takes its smallest value): means of
    the same accuracies summed in another order differ in their last bits,
    and they must tie, not be ranked by rounding noise.

    Examples
    --------
    >>> round(spearman([1, 2, 3, 4], [10, 30, 20, 40]), 3)
    0.8
    >>> spearman([1, 2, 3], [5, 5, 5])
    nan
    >>> spearman([0.1 + 0.2, 0.3, 1.0], [1, 2, 3]) == spearman([0.3, 0.3, 1.0], [1, 2, 3])
    True
    """
    x, y = (_tied(np.asarray(v, dtype=float)) for v in (x, y))
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def percentile_interval(values, confidence=0.95):
    """The central ``confidence`` percentile interval of ``values``, NaNs left out; ``(nan, nan)`` if none is finite.

    Examples
    --------
    >>> percentile_interval(np.arange(101.0), confidence=0.5)
    (25.0, 75.0)
    >>> percentile_interval([np.nan])
    (nan, nan)
    """
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).any():
        return (float("nan"), float("nan"))
    tail = 100 * (1 - confidence) / 2
    return tuple(float(v) for v in np.nanpercentile(values, [tail, 100 - tail]))
