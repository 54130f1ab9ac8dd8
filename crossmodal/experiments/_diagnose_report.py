"""Trend checks of ``crossmodal reproduce diagnose``: the library's targets for :func:`crossmodal.diagnose`.

The targets are promises of this library (the paper has no such
estimator), so every check's source is
:data:`~crossmodal.experiments._report.LIBRARY`. Gains are in accuracy
points. A *cell* is an MVD setting, or (dataset, teacher view, student view,
labels per class); its measured gain is the mean over seeds, and each seed's
prediction, interval and verdict are judged against it.
"""

import numpy as np
import pandas as pd

from crossmodal.experiments._diagnose_mvd import N_BIG
from crossmodal.experiments._report import LIBRARY, TrendCheck
from crossmodal.experiments._summaries import percentile_interval, spearman

__all__ = [
    "MARGIN",
    "TRANSFER_PAIRS",
    "cell_rows",
    "cell_summary",
    "check_trends",
    "covers",
    "gamma_summary",
    "outcome",
    "regrets",
]

#: A measured gain within +-MARGIN points counts as no change.
MARGIN = 0.5
#: The supervision-transfer pairs (few labels) of the report: a stronger teacher view, and a weaker one (zer -> pix).
TRANSFER_PAIRS = (("pix", "fou"), ("fac", "mor"), ("zer", "pix"), ("image", "audio"), ("audio", "image"), ("a", "b"))
_GAMMA_TAGS = ("200", str(N_BIG))


def outcome(gain):
    """The measured outcome of a gain in points, in the verdict's words.

    Gains are rounded to 1e-9 points first: test accuracies are multiples of
    one row's share, so a seed-averaged gain can land exactly on the margin,
    and it must count as on it whichever way floating point rounded the mean
    (and whether or not it went through a CSV file).
    """
    gain = np.round(np.asarray(gain, dtype=float), 9)
    return np.where(gain > MARGIN, "helps", np.where(gain < -MARGIN, "likely to hurt", "unlikely to help"))


def cell_rows(mvd, real):
    """One row per (cell, run) of both parts, with ``group``, ``cell``, the cell's mean gain and per-row judgements."""
    parts = []
    if mvd is not None and len(mvd):
        m = mvd.assign(
            group="MVD settings",
            cell="mvd " + mvd["family"] + " " + mvd["setting"] + " " + mvd["hyperplane"],
            budget="all",
            dataset="mvd",
        )
        parts.append(m)
    if real is not None and len(real):
        few = real["budget"].astype(str) != "all"
        group = np.where(few, "few labels", real["dataset"])
        cell = (
            real["dataset"]
            + " "
            + real["teacher_view"]
            + "->"
            + real["student_view"]
            + " @"
            + real["budget"].astype(str)
        )
        parts.append(real.assign(group=group, cell=cell))
    rows = pd.concat(parts, ignore_index=True)
    rows["cell_gain"] = rows.groupby("cell")["measured_gain"].transform("mean")
    rows["covered"] = (rows["predicted_gain_lo"] <= rows["cell_gain"]) & (
        rows["cell_gain"] <= rows["predicted_gain_hi"]
    )
    rows["agrees"] = rows["verdict"] == outcome(rows["cell_gain"])
    pair = list(zip(rows["teacher_view"].fillna(""), rows["student_view"].fillna("")))
    rows["transfer"] = (rows["group"] == "few labels") & pd.Series(
        [p in TRANSFER_PAIRS for p in pair], index=rows.index
    )
    return rows


def cell_summary(rows):
    """Per cell: means over seeds of the measured and predicted gains and of every rival; coverage and agreement."""
    columns = ["measured_gain", "predicted_gain", "teacher_score", "accuracy_gap", "complementarity", "gamma"]
    keys = ["group", "cell", "transfer"]
    out = rows.groupby(keys, sort=False)[columns + ["covered", "agrees"]].mean().reset_index()
    out["error"] = (out["predicted_gain"] - out["measured_gain"]).abs()
    return out


def _median_error(cells, name, mask, limit):
    part = cells[mask]
    value = float(part["error"].median()) if len(part) else float("nan")
    return TrendCheck(
        f"{name} ({len(part)} cells): median |predicted - measured gain|",
        None if np.isnan(value) else bool(value <= limit),
        f"{value:.2f} points",
        f"<= {limit} points",
        source=LIBRARY,
    )


def regrets(rows):
    """Teacher choice per (student view, run) on mfeat, every row labelled: the chosen teacher's regret (points)."""
    part = rows[(rows["group"] == "mfeat")]
    out = []
    for (student, run), grp in part.groupby(["student_view", "run"]):
        chosen = grp.loc[grp["rank"] == 1, "cell_gain"].iloc[0]
        out.append(dict(student_view=student, run=run, chosen=grp.loc[grp["rank"] == 1, "teacher_view"].iloc[0]))
        best = grp.loc[grp["cell_gain"].idxmax()]
        out[-1].update(best=best["teacher_view"], chosen_gain=chosen, best_gain=best["cell_gain"])
        out[-1]["regret"] = best["cell_gain"] - chosen
    return pd.DataFrame(out)


def covers(frame, est, truth, tag):
    """Whether each row's 95% interval of ``est`` at ``tag`` training rows holds the column ``truth``."""
    return (frame[f"{est}_lo_{tag}"] <= frame[truth]) & (frame[truth] <= frame[f"{est}_hi_{tag}"])


def gamma_summary(mvd, tag, family, hyperplane=None):
    """Per setting of ``family``: mean true and estimated gamma, and their Spearman correlation."""
    part = mvd[mvd["family"] == family]
    if hyperplane is not None:
        part = part[part["hyperplane"] == hyperplane]
    means = part.groupby("setting", sort=False)[["true_gamma", f"gamma_{tag}"]].mean()
    return means, spearman(means["true_gamma"], means[f"gamma_{tag}"])


def _gamma_checks(mvd):
    checks = []
    for family, name in (("fig2", "Fig. 2 sweep (hyperplane='normal')"), ("table2", "Table 2 settings")):
        for tag, floor in ((str(N_BIG), 0.95), ("200", 0.9)):
            _, rho = gamma_summary(mvd, tag, family, "normal" if family == "fig2" else None)
            checks.append(
                TrendCheck(
                    f"MVD {name}: Spearman(gamma, true gamma) at n={tag}",
                    None if np.isnan(rho) else bool(rho >= floor),
                    f"{rho:.3f}",
                    f">= {floor}",
                    source=LIBRARY,
                )
            )
    t2 = mvd[mvd["family"] == "table2"].groupby("setting")[["true_gamma", f"gamma_{N_BIG}"]].mean()
    err = float((t2[f"gamma_{N_BIG}"] - t2["true_gamma"]).abs().max())
    checks.append(
        TrendCheck(
            f"MVD Table 2: max |gamma - true gamma| at n={N_BIG}",
            bool(err <= 0.1),
            f"{err:.3f}",
            "<= 0.1",
            source=LIBRARY,
        )
    )
    ones = mvd[mvd["hyperplane"] == "ones"]
    for est, truth, what in (
        ("gamma", "teacher_share", "gamma_ci cover the teacher's decision share d0 / (d0 + d_sa)"),
        ("shared_gamma", "true_gamma", "shared_gamma_ci cover the diagram's gamma d0 / (d0 + d_sa + d_sb)"),
    ):
        hits = [covers(ones, est, truth, t) for t in _GAMMA_TAGS]
        cover = [h.mean() for h in hits]
        # A run draws every setting of its family from the same seeds, so its misses come together.
        spread = ", ".join(
            f"n={t}: {lo:.0%} to {hi:.0%}"
            for t, (lo, hi) in zip(_GAMMA_TAGS, (run_resampled_share(h, ones["run"]) for h in hits))
        )
        misses = " / ".join(str(int((~h).sum())) for _, h in hits[0].groupby(ones["run"], sort=True))
        checks.append(
            TrendCheck(
                f"MVD hyperplane='ones': 95% intervals {what}",
                bool(min(cover) >= 0.8),
                f"n=200: {cover[0]:.0%}, n={N_BIG}: {cover[1]:.0%} of {len(ones)} (setting, run) cases each "
                f"(95% interval with the runs resampled: {spread}; misses at n=200 per run: {misses})",
                ">= 80%",
                source=LIBRARY,
            )
        )
    return checks


def run_resampled_share(hits, runs, n_boot=1000, seed=0, confidence=0.95):
    """Percentile interval of the share of true ``hits`` with the runs resampled, each run's rows together.

    ``hits``: booleans, one per row; ``runs``: each row's run. A resample
    draws the runs with replacement and pools the drawn runs' rows.
    """
    hits, runs = np.asarray(hits, dtype=bool), np.asarray(runs)
    names, index = np.unique(runs, return_inverse=True)
    count = np.bincount(index, minlength=len(names))
    hit = np.bincount(index, weights=hits, minlength=len(names))
    drawn = np.random.default_rng(seed).integers(0, len(names), size=(n_boot, len(names)))
    return percentile_interval(hit[drawn].sum(axis=1) / count[drawn].sum(axis=1), confidence)


def seed_resampled_verdict_agreement(judged, n_boot=1000, seed=0, confidence=0.95):
    """Percentile interval of the verdicts' agreement with the seeds resampled.

    ``judged``: one row per (cell, run) with ``cell``, ``run``,
    ``measured_gain`` and ``verdict``. Each resample draws the runs with
    replacement (the same draw for every cell), recomputes each cell's
    seed-averaged gain, hence its outcome, over the drawn runs, and scores
    the drawn (cell, run) verdicts against it: how far the agreement moves
    with the few seeds a report can afford.
    """
    runs = np.unique(judged["run"])
    by_run = {r: judged[judged["run"] == r] for r in runs}
    rng = np.random.default_rng(seed)
    shares = np.empty(n_boot)
    for b in range(n_boot):
        drawn = pd.concat([by_run[r] for r in rng.choice(runs, len(runs))], ignore_index=True)
        gain = drawn.groupby("cell")["measured_gain"].transform("mean")
        shares[b] = float(np.mean(drawn["verdict"].to_numpy() == outcome(gain)))
    return percentile_interval(shares, confidence)


def check_trends(mvd, real):
    """This library's targets for :func:`crossmodal.diagnose` as trend checks (PASS/FAIL, never raising)."""
    checks = _gamma_checks(mvd) if mvd is not None and len(mvd) else []
    rows = cell_rows(mvd, real)
    cells = cell_summary(rows)
    checks.append(_median_error(cells, "mfeat, every row labelled", cells["group"] == "mfeat", 1.5))
    checks.append(_median_error(cells, "MVD settings, every row labelled", cells["group"] == "MVD settings", 1.5))
    checks.append(_median_error(cells, "few labels", cells["group"] == "few labels", 3.0))
    cover = float(rows["covered"].mean())
    checks.append(
        TrendCheck(
            "90% intervals of the predicted gain cover the cell's seed-averaged measured gain",
            bool(cover >= 0.8),
            f"{cover:.0%} of {len(rows)} (cell, seed) intervals",
            ">= 80%",
            source=LIBRARY,
        )
    )
    judged = rows[rows["group"].isin(["MVD settings", "mfeat"])]
    agree = float(judged["agrees"].mean()) if len(judged) else float("nan")
    fixed = max(float(np.mean(outcome(judged["cell_gain"]) == k)) for k in np.unique(outcome(judged["cell_gain"])))
    low, high = seed_resampled_verdict_agreement(judged) if len(judged) else (np.nan, np.nan)
    checks.append(
        TrendCheck(
            "Verdict agrees with the measured outcome (gain beyond +-0.5 points, or none), MVD settings and mfeat",
            None if np.isnan(agree) else bool(agree >= 0.75),
            f"{agree:.1%} ({int(judged['agrees'].sum())} of {len(judged)} (cell, seed) verdicts; 95% interval with "
            f"the seeds resampled: {low:.0%} to {high:.0%}; the most common outcome alone: {fixed:.0%})",
            ">= 75%",
            source=LIBRARY,
        )
    )
    regret = regrets(rows)
    if len(regret):
        mean = float(regret.groupby("student_view")["regret"].mean().mean())
        checks.append(
            TrendCheck(
                f"Teacher choice on mfeat: mean regret of the top-ranked teacher, "
                f"{regret['student_view'].nunique()} student views",
                bool(mean <= 0.5),
                f"{mean:.2f} points",
                "<= 0.5 points",
                source=LIBRARY,
            )
        )
    transfer = cells[cells["transfer"]]
    if len(transfer) >= 3:
        rho = spearman(transfer["predicted_gain"], transfer["measured_gain"])
        checks.append(
            TrendCheck(
                f"Supervision-transfer cells ({len(transfer)}): Spearman(predicted, measured gain)",
                bool(rho >= 0.8),
                f"{rho:.3f}",
                ">= 0.8",
                source=LIBRARY,
            )
        )
        checks.append(_median_error(cells, "Supervision-transfer cells", cells["transfer"], 3.0))
    zer = rows[rows["transfer"] & (rows["teacher_view"] == "zer") & (rows["budget"].astype(str) == "10")]
    if len(zer):
        hurt = int(np.sum(zer["verdict"] == "likely to hurt"))
        checks.append(
            TrendCheck(
                "mfeat zer -> pix, 10 labels per class: verdict 'likely to hurt'",
                bool(hurt > len(zer) / 2),
                f"{hurt} of {len(zer)} seeds (predicted {zer['predicted_gain'].mean():+.1f}, measured "
                f"{zer['measured_gain'].mean():+.1f} points)",
                "most seeds",
                source=LIBRARY,
            )
        )
    return checks
