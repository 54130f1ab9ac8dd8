"""Tables, checks and figures shared by every paper reproduction.

A reproduction produces a *tidy* frame (one row per run and setting) and
turns it into three kinds of output with the helpers here:

* CSV files (:func:`write_csv`), unchanged rows, so any other summary can be
  recomputed;
* a markdown report (:func:`write_report`) made of mean +- sd tables
  (:func:`summarize`, :func:`format_mean_sd`, :func:`markdown_table`, which is
  :meth:`pandas.DataFrame.to_markdown`), paired differences between two
  columns of the same runs (:func:`paired_difference`: mean, sd, the 95%
  confidence interval and p-value of the paired t test
  :func:`scipy.stats.ttest_rel`, and the fraction of runs where the
  difference is positive), and trend checks (:class:`TrendCheck`,
  :func:`check_list`) that say what the paper expects, what was observed, and
  PASS or FAIL without ever raising;
* PNG figures with +-1 sd bands (:func:`new_figure`, :func:`plot_band`,
  :func:`save_figure`). Figures are drawn on an explicit Agg canvas, so no
  global matplotlib backend is selected and no window ever opens.

Standard deviations are sample standard deviations (``ddof=1``) over runs.
"""

import dataclasses
import math
import os

import numpy as np
import pandas as pd
from scipy.stats import ttest_rel

__all__ = [
    "TrendCheck",
    "summarize",
    "paired_difference",
    "format_mean_sd",
    "format_difference",
    "markdown_table",
    "check_list",
    "write_csv",
    "write_report",
    "new_figure",
    "plot_band",
    "save_figure",
    "sweep_table",
    "plot_sweep",
]


@dataclasses.dataclass(frozen=True)
class TrendCheck:
    """One expectation from the paper and what this reproduction observed.

    Parameters
    ----------
    name : str
        Short name of the claim (``"Fig. 2: KD gain grows with gamma"``).
    passed : bool or None
        Whether the observation agrees with the paper; ``None`` when it
        could not be evaluated (e.g. a setting was not run).
    observed : str
        The numbers behind the verdict.
    expected : str, default=""
        What the paper reports or implies.
    """

    name: str
    passed: object
    observed: str
    expected: str = ""

    @property
    def verdict(self):
        """``"PASS"``, ``"FAIL"`` or ``"N/A"``."""
        if self.passed is None:
            return "N/A"
        return "PASS" if self.passed else "FAIL"

    def line(self):
        """One line for a terminal or a markdown list."""
        expected = f" (paper: {self.expected})" if self.expected else ""
        return f"[{self.verdict}] {self.name}: observed {self.observed}{expected}"


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
        rows.append((*key, mean, float(diff.std(ddof=1)) if len(diff) > 1 else float("nan"), low, high, p_value,
                     float(np.mean(diff > 0)), len(diff)))
    columns = list(by) + ["diff_mean", "diff_sd", "ci_low", "ci_high", "p_value", "frac_positive", "n_runs"]
    return pd.DataFrame(rows, columns=columns)


def _num(value, digits):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def format_mean_sd(mean, sd, *, scale=100.0, digits=2):
    """``"89.70 ± 1.23"`` from a mean and sd (scaled, e.g. to percent).

    Examples
    --------
    >>> format_mean_sd(0.8970, 0.0123)
    '89.70 ± 1.23'
    """
    return f"{_num(mean * scale, digits)} ± {_num(sd * scale, digits)}"


def format_difference(row, *, scale=100.0, digits=2):
    """``"+2.10 [+0.52, +3.68] (90% > 0)"``: one row of :func:`paired_difference` as text.

    The mean paired difference, its confidence interval and the share of
    runs with a positive difference (scaled, e.g. to percentage points).

    Examples
    --------
    >>> format_difference(dict(diff_mean=0.021, ci_low=0.0052, ci_high=0.0368, frac_positive=0.9))
    '+2.10 [+0.52, +3.68] (90% > 0)'
    """
    low, high = (_signed(row[k] * scale, digits) for k in ("ci_low", "ci_high"))
    return f"{_signed(row['diff_mean'] * scale, digits)} [{low}, {high}] ({row['frac_positive']:.0%} > 0)"


def _signed(value, digits):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.{digits}f}"


def markdown_table(headers, rows):
    """A GitHub-flavoured markdown table from headers and rows (:meth:`pandas.DataFrame.to_markdown`).

    Cells are printed as given (``str``), never re-parsed as numbers.

    Examples
    --------
    >>> print(markdown_table(["a", "b"], [[1, "+2.50"]]))
    | a   | b     |
    |:----|:------|
    | 1   | +2.50 |
    """
    frame = pd.DataFrame([[str(c) for c in row] for row in rows], columns=[str(h) for h in headers])
    return frame.to_markdown(index=False, disable_numparse=True)


def check_list(checks):
    """The trend checks as a markdown list, one :meth:`TrendCheck.line` each."""
    return "\n".join("- " + c.line() for c in checks)


def write_csv(frame, path):
    """Write a tidy frame to ``path`` (no index, full float precision)."""
    frame.to_csv(path, index=False, float_format="%.10g")
    return os.fspath(path)


def write_report(path, title, sections, *, quick=False, preamble=""):
    """Write a markdown report.

    Parameters
    ----------
    path : path-like
        Output file.
    title : str
        First-level heading.
    sections : list of (heading, body)
        Second-level sections; ``body`` is markdown text.
    quick : bool, default=False
        Put a banner at the top saying the numbers come from a reduced
        ``--quick`` run and are not the paper's protocol.
    preamble : str, default=""
        Text between the title and the first section.

    Returns
    -------
    str
        The path written.
    """
    parts = [f"# {title}", ""]
    if quick:
        parts += [
            "> **QUICK RUN** (`--quick`): fewer runs, epochs, permutations and settings than the "
            "paper. These numbers only show that the pipeline works; rerun without `--quick` to "
            "compare with the paper.",
            "",
        ]
    if preamble:
        parts += [preamble, ""]
    for heading, body in sections:
        parts += [f"## {heading}", "", body.rstrip(), ""]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(parts))
    return os.fspath(path)


def new_figure(ncols=1, *, width=4.8, height=3.6):
    """A matplotlib Figure on an Agg canvas with ``ncols`` axes side by side.

    No backend is selected globally and pyplot is not used, so this works
    headless and leaves the caller's matplotlib state alone.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : list of Axes
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def plot_band(ax, x, mean, sd, *, label, color=None, marker="o", linestyle="-", scale=100.0):
    """Plot ``mean`` against ``x`` with a shaded +-1 sd band (scaled to percent)."""
    x = np.asarray(x, dtype=float)
    mean = np.asarray(mean, dtype=float) * scale
    sd = np.nan_to_num(np.asarray(sd, dtype=float) * scale)
    (line,) = ax.plot(x, mean, marker=marker, linestyle=linestyle, label=label, color=color)
    ax.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def save_figure(fig, path, dpi=120):
    """Save a figure made by :func:`new_figure` as PNG and return the path."""
    fig.savefig(path, dpi=dpi)
    return os.fspath(path)


def sweep_table(frame, by, columns, differences=(), *, labels=None, scale=100.0, digits=2):
    """Markdown table of a sweep: mean +- sd per column and paired differences.

    Parameters
    ----------
    frame : DataFrame
        Tidy results, one row per run and setting.
    by : list of str
        Setting columns; one table row per distinct setting, in order of
        appearance. Their values are printed with 3 significant digits.
    columns : dict of {header: column}
        Columns shown as ``mean ± sd`` (scaled, e.g. to percent).
    differences : dict of {header: (minuend, subtrahend)}, optional
        Paired differences shown as ``mean [95% confidence interval] (share
        of runs > 0)`` (:func:`paired_difference`).
    labels : dict of {column: header}, optional
        Headers for the ``by`` columns (default: their names).
    scale : float, default=100.0
        Multiplier of every mean and sd.
    digits : int, default=2
        Decimals.

    Returns
    -------
    str
        The markdown table.
    """
    by = list(by)
    labels = labels or {}
    summary = summarize(frame, by, list(columns.values()))
    diffs = [paired_difference(frame, by, a, b) for a, b in dict(differences).values()]
    headers = [labels.get(b, b) for b in by] + list(columns) + list(dict(differences)) + ["runs"]
    rows = []
    for i, rec in summary.iterrows():
        row = [f"{rec[b]:.3g}" if isinstance(rec[b], (float, np.floating)) else rec[b] for b in by]
        row += [format_mean_sd(rec[f"{c}_mean"], rec[f"{c}_sd"], scale=scale, digits=digits) for c in columns.values()]
        row += [format_difference(d.loc[i], scale=scale, digits=digits) for d in diffs]
        rows.append(row + [int(rec["n_runs"])])
    return markdown_table(headers, rows)


def plot_sweep(frame, x, curves, path, *, differences=None, xlabel=None, title=None, ylabel="accuracy (%)",
               scale=100.0):
    """PNG of a sweep: curves with +-1 sd bands, and optionally paired differences.

    Parameters
    ----------
    frame : DataFrame
        Tidy results.
    x : str
        Column on the horizontal axis (the sweep variable).
    curves : dict of {label: column}
        Left panel: mean +- sd of each column against ``x``.
    path : path-like
        Output PNG.
    differences : dict of {label: (minuend, subtrahend)}, optional
        Right panel: paired differences (mean +- sd) with a zero line.
    xlabel, title, ylabel : str, optional
        Axis labels and figure title.
    scale : float, default=100.0
        Multiplier of every value (percent by default).

    Returns
    -------
    str
        The path written.
    """
    fig, axes = new_figure(2 if differences else 1)
    summary = summarize(frame, [x], list(curves.values())).sort_values(x)
    for label, col in curves.items():
        plot_band(axes[0], summary[x], summary[f"{col}_mean"], summary[f"{col}_sd"], label=label, scale=scale)
    axes[0].set_ylabel(ylabel)
    if differences:
        for label, (a, b) in differences.items():
            d = paired_difference(frame, [x], a, b).sort_values(x)
            plot_band(axes[1], d[x], d["diff_mean"], d["diff_sd"], label=label, scale=scale)
        axes[1].axhline(0.0, color="0.4", linewidth=0.8, linestyle="--")
        axes[1].set_ylabel("paired difference (points)")
    for ax in axes:
        ax.set_xlabel(xlabel or x)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
