"""The markdown report of a reproduction: trend checks, tables and files.

A reproduction produces a *tidy* frame (one row per run and setting) and
turns it into

* CSV files (:func:`write_csv`), unchanged rows, so any other summary can be
  recomputed;
* a markdown report (:func:`write_report`) made of tables
  (:func:`markdown_table`, which is :meth:`pandas.DataFrame.to_markdown`;
  :func:`sweep_table` for a sweep) of means +- sd (:func:`format_mean_sd`)
  and paired differences with their confidence interval
  (:func:`format_difference`), both from
  :mod:`crossmodal.experiments._summaries`, and trend checks
  (:class:`TrendCheck`, :func:`check_list`) that say what is expected and
  where the expectation comes from (a table or figure of the paper, or this
  library's own promise), what was observed, and PASS or FAIL without ever
  raising.

Figures are drawn by :mod:`crossmodal.experiments._figures`.
"""

import dataclasses
import math
import os

import numpy as np
import pandas as pd

from crossmodal.experiments._summaries import paired_difference, summarize

__all__ = [
    "LIBRARY",
    "TrendCheck",
    "format_number",
    "format_mean_sd",
    "format_difference",
    "markdown_table",
    "check_list",
    "write_csv",
    "write_report",
    "sweep_table",
]


#: The source of an expectation that this library promises itself (e.g. the accuracy of
#: :func:`crossmodal.diagnose`), not the paper.
LIBRARY = "library"


@dataclasses.dataclass(frozen=True)
class TrendCheck:
    """One expectation, where it comes from, and what this reproduction observed.

    Parameters
    ----------
    name : str
        Short name of the claim (``"Fig. 2: KD gain grows with gamma"``).
    passed : bool or None
        Whether the observation meets the expectation; ``None`` when it
        could not be evaluated (e.g. a setting was not run).
    observed : str
        The numbers behind the verdict.
    expected : str, default=""
        What the source reports, implies or promises.
    source : str
        Keyword only. Where the expectation comes from: ``"paper, "`` and the
        table or figure of the paper (Xue et al., ICLR 2023) that reports it,
        e.g. ``"paper, Table 2"``; or :data:`LIBRARY` (``"library"``) for a
        promise of this library itself.

    Examples
    --------
    >>> TrendCheck("Fig. 2: KD gain grows", True, "+2.1 points", "KD helps", source="paper, Fig. 2").line()
    '[PASS] Fig. 2: KD gain grows: observed +2.1 points (paper, Fig. 2: KD helps)'
    >>> TrendCheck("gamma within 0.1", False, "0.12", "<= 0.1", source=LIBRARY).line()
    '[FAIL] gamma within 0.1: observed 0.12 (library: <= 0.1)'
    """

    name: str
    passed: object
    observed: str
    expected: str = ""
    source: str = dataclasses.field(kw_only=True)

    def __post_init__(self):
        if self.source != LIBRARY and not str(self.source).startswith("paper, "):
            raise ValueError(
                f"source must be {LIBRARY!r} or 'paper, ' and the paper's table or figure; got {self.source!r}."
            )

    @property
    def verdict(self):
        """``"PASS"``, ``"FAIL"`` or ``"N/A"``."""
        if self.passed is None:
            return "N/A"
        return "PASS" if self.passed else "FAIL"

    def line(self):
        """One line for a terminal or a markdown list: verdict, name, observation, source and expectation."""
        expected = f": {self.expected}" if self.expected else ""
        return f"[{self.verdict}] {self.name}: observed {self.observed} ({self.source}{expected})"


def format_number(value, digits=3):
    """``value`` with ``digits`` decimals, or ``"n/a"`` for None and NaN.

    Examples
    --------
    >>> format_number(0.91234), format_number(float("nan"))
    ('0.912', 'n/a')
    """
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
    return f"{format_number(mean * scale, digits)} ± {format_number(sd * scale, digits)}"


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
