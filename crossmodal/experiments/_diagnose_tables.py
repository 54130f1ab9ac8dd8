"""Tables, figure and report of ``crossmodal reproduce diagnose`` (the checks are in :mod:`._diagnose_report`)."""

import os

import numpy as np

from crossmodal import __version__
from crossmodal.diagnosis._calibration import CALIBRATION_SUMMARY, VERDICT_THRESHOLDS
from crossmodal.experiments._diagnose_mvd import FEW_BUDGETS, FEW_SETTING, N_BIG, N_PAIRS
from crossmodal.experiments._diagnose_report import MARGIN, cell_rows, cell_summary, covers, outcome, regrets
from crossmodal.experiments._figures import new_figure, save_figure
from crossmodal.experiments._report import check_list, format_number, markdown_table
from crossmodal.experiments._summaries import spearman

__all__ = ["write_report"]

_TAGS = ("200", str(N_BIG))
# The rivals of the predicted gain: (column, label, whether its sign is a prediction, whether it is in points).
_PREDICTORS = (
    ("predicted_gain", "predicted gain (points)", True, True),
    ("teacher_score", "teacher accuracy", False, False),
    ("accuracy_gap", "teacher - student accuracy", True, False),
    ("complementarity", "complementarity I(T;S) - I(S;Y)", True, False),
    ("gamma", "gamma", False, False),
)


def _rival_table(cells):
    groups = [(g, cells["group"] == g) for g in cells["group"].unique()]
    groups.append(("supervision-transfer cells", cells["transfer"]))
    rows = []
    for name, mask in groups:
        part = cells[mask]
        for column, label, signed, points in _PREDICTORS:
            sign = np.mean(np.sign(part[column]) == np.sign(part["measured_gain"])) if signed else np.nan
            error = part["error"].median() if points else np.nan
            rho = spearman(part[column], part["measured_gain"])
            rows.append([name, len(part), label, format_number(rho), format_number(sign, 2), format_number(error, 2)])
    headers = ["cells", "n", "predictor", "Spearman with measured gain", "sign agreement", "median |error| (points)"]
    return markdown_table(headers, rows) + (
        "\n\nSign agreement: the predictor's sign against the measured gain's (teacher accuracy and gamma have no "
        "sign to compare); the complementarity criterion predicts a gain when it is positive. n/a: not defined "
        "(fewer than 3 cells, or a constant column)."
    )


def _cell_table(cells):
    rows = [
        [
            r.group,
            r.cell,
            f"{r.predicted_gain:+.2f}",
            f"{r.measured_gain:+.2f}",
            f"{r.error:.2f}",
            f"{r.covered:.0%}",
            outcome(r.measured_gain).item(),
            f"{r.agrees:.0%}",
        ]
        for r in cells.itertuples()
    ]
    headers = [
        "group",
        "cell",
        "predicted (points)",
        "measured (points)",
        "|error|",
        "covered",
        "outcome",
        "verdict agrees",
    ]
    return markdown_table(headers, rows)


def _choice_table(rows):
    regret = regrets(rows)
    if not len(regret):
        return "(no mfeat cells with every row labelled)"
    table = regret.groupby("student_view").agg(
        chosen=("chosen", lambda s: ", ".join(sorted(set(s)))),
        best=("best", "first"),
        chosen_gain=("chosen_gain", "mean"),
        best_gain=("best_gain", "first"),
        regret=("regret", "mean"),
    )
    lines = [
        [v, r.chosen, r.best, f"{r.chosen_gain:+.2f}", f"{r.best_gain:+.2f}", f"{r.regret:.2f}"]
        for v, r in table.iterrows()
    ]
    headers = ["student view", "top-ranked teacher (per seed)", "best measured", "its gain", "best gain", "regret"]
    return markdown_table(headers, lines) + f"\n\nMean regret over student views: {table['regret'].mean():.2f} points."


def _gamma_table(mvd):
    rows = []
    for family in ("fig2", "table2"):
        for hp in ("normal", "ones") if family == "fig2" else ("ones",):
            part = mvd[(mvd["family"] == family) & (mvd["hyperplane"] == hp)]
            for setting, grp in part.groupby("setting", sort=False):
                cover = [int(covers(grp, "gamma", "teacher_share", t).sum()) for t in _TAGS]
                shared = [int(covers(grp, "shared_gamma", "true_gamma", t).sum()) for t in _TAGS]
                rows.append(
                    [family, hp, setting, f"{grp['true_gamma'].iloc[0]:.3f}", f"{grp['teacher_share'].mean():.3f}"]
                    + [f"{grp[f'gamma_{t}'].mean():.3f} ± {grp[f'gamma_{t}'].std():.3f}" for t in _TAGS]
                    + [
                        f"{cover[0]}/{len(grp)}, {cover[1]}/{len(grp)}",
                        f"{shared[0]}/{len(grp)}, {shared[1]}/{len(grp)}",
                    ]
                )
    headers = [
        "family",
        "hyperplane",
        "setting",
        "true gamma",
        "teacher share",
        "gamma n=200",
        f"gamma n={N_BIG}",
        f"gamma intervals covering the share (n=200, n={N_BIG})",
        f"shared-gamma intervals covering true gamma (n=200, n={N_BIG})",
    ]
    return markdown_table(headers, rows)


def _scatter(cells, mvd, path):
    fig, axes = new_figure(2, width=4.6, height=4.0)
    ax = axes[0]
    for family, marker in (("fig2", "o"), ("table2", "s")):
        means = mvd[mvd["family"] == family].groupby(["setting", "hyperplane"])[["true_gamma", f"gamma_{N_BIG}"]].mean()
        ax.scatter(means["true_gamma"], means[f"gamma_{N_BIG}"], marker=marker, label=f"{family}, n={N_BIG}")
    ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=0.8)
    ax.set_xlabel("true gamma (MVD)")
    ax.set_ylabel("estimated gamma")
    ax.set_title("MVD: estimated vs true gamma")
    ax = axes[1]
    for group, marker in zip(cells["group"].unique(), "o^sDv"):
        part = cells[cells["group"] == group]
        ax.scatter(part["predicted_gain"], part["measured_gain"], marker=marker, label=group)
    low = float(min(cells["predicted_gain"].min(), cells["measured_gain"].min(), -1.0))
    high = float(max(cells["predicted_gain"].max(), cells["measured_gain"].max(), 1.0))
    ax.plot([low, high], [low, high], color="0.5", linestyle="--", linewidth=0.8)
    ax.set_xlabel("predicted gain (points)")
    ax.set_ylabel("measured gain of CrossModalDistiller() (points)")
    ax.set_title("Predicted vs measured, per cell")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    return save_figure(fig, path)


def _rules():
    """The verdict's thresholds per regime, in words."""
    words = []
    for regime, rule in VERDICT_THRESHOLDS.items():
        extra = " with the interval excluding 0" if rule["interval_excludes_zero"] else ""
        words.append(
            f"{regime}: helps at >= {rule['helps']:+.2f}, likely to hurt at <= {rule['hurts']:+.2f} points{extra}"
            + (
                " (it never says 'unlikely to help', so a cell whose outcome is no change cannot agree)"
                if rule["helps"] <= rule["hurts"]
                else ""
            )
        )
    return "; ".join(words)


def _protocol(out, n_boot, datasets, quick=None):
    ran = "" if quick is None else f"**This `--quick` run computed part of what follows**: {quick} "
    return ran + (
        "`crossmodal.diagnose` with its defaults (shrunk-LDA teacher and students, ridge mimic, 5-fold "
        f"cross-fitting, fewer folds where a class has fewer labelled rows, {n_boot} bootstrap resamples). "
        "**Measured gain** (points): test accuracy of `CrossModalDistiller()` with its defaults (MLP teacher and "
        "student, rho=0.5, T=1) minus that of the same estimator with rho=1 (labels only; same initial weights and "
        "batches), both fitted on the training rows as a user would (with few labels: the teacher on the labelled "
        "rows, the student on every pair). **MVD**: the paper's Fig. 2 (both hyperplanes) and Table 2 settings, "
        f"200 training rows, 1,000 test rows, every row labelled; gamma also at n={N_BIG}. Few labels: Table 2's "
        f"(xs1, xs2) = {FEW_SETTING}, {N_PAIRS} training pairs, {' and '.join(map(str, FEW_BUDGETS))} labelled "
        f"per class. **Real data** ({', '.join(datasets)}): per seed a 50/50 stratified split, views standardised "
        "on the training half; mfeat's 30 ordered pairs with every row labelled and with 10 labels per class; the "
        "supervision-transfer pairs (pix -> fou, fac -> mor, zer -> pix; av-digits both ways) at 3, 10 and 30 "
        "(av-digits: 10) labels per class. `diagnose` is called once per student view with every candidate "
        "teacher view (its ranking is the teacher choice). A cell's measured gain is the mean over "
        f"{out.runs} seeds; each seed's prediction, 90% interval and verdict are judged against it (an outcome is "
        f"a gain above +{MARGIN}, below -{MARGIN} points, or neither). Verdicts: {_rules()}. No constant of "
        "`diagnose` was fitted on these data: the gain map, its interval and the verdict's thresholds on other "
        f"sources (calibration, held out by source: {'; '.join(CALIBRATION_SUMMARY)}); gamma's interval "
        "construction (5 times the half-data replicates' variance, 4 replicates) on this report's 13 MVD settings "
        "drawn with other seeds (100 and up, `scripts/study_diagnose_intervals.py`), so its coverage checks are "
        "on new draws of settings it has seen. Earlier runs of this report did inform the calibration procedure "
        f"(`benchmarks/RESULTS.md`). {out.seconds:.0f} s, crossmodal {__version__}."
    )


def write_report(out, mvd, real, checks, *, datasets, n_boot, quick=None):
    """Write the figure and ``report.md`` of one call into ``out`` (an :class:`~._output.Output`).

    ``quick``: what a ``--quick`` run computed of the protocol (None for a full run).
    """
    rows = cell_rows(mvd, real)
    cells = cell_summary(rows)
    figure = out.add(_scatter(cells, mvd, out.path("diagnose.png")))
    sections = [
        ("Protocol", _protocol(out, n_boot, datasets, quick)),
        ("Trend checks", check_list(checks)),
        ("Predicted gain and its rivals against the measured gain (cell means)", _rival_table(cells)),
        ("Which modality should teach? (mfeat, every row labelled)", _choice_table(rows)),
        ("Per cell (mean over seeds)", _cell_table(cells)),
        ("MVD: gamma per setting (mean ± sd over runs)", _gamma_table(mvd)),
        ("Figure", f"![diagnose]({os.path.basename(figure)})"),
    ]
    return out.report("Does diagnose predict KD's pay-off?", sections)
