"""Trend checks of ``crossmodal reproduce transfer``: the library's targets and the MFH's claim, on the tidy frame.

Every difference is paired per seed (the students of one seed share data,
labelled rows, initial weights and batches) with the 95% interval of a
paired t test (:func:`~crossmodal.experiments._summaries.paired_difference`).
A cell is one (dataset, budget); ``diagnose``'s prediction for a cell is the
mean over its seeds.
"""

import warnings

import numpy as np
import pandas as pd

from crossmodal.experiments._report import LIBRARY, TrendCheck, format_difference
from crossmodal.experiments._summaries import paired_difference, percentile_interval, spearman

__all__ = [
    "GAIN_TARGET",
    "RANK_TARGET",
    "ERROR_TARGET",
    "MFH_SOURCE",
    "cell_differences",
    "cell_gains",
    "rows_with_defaults",
    "default_gains",
    "seed_resampled_rank_and_error",
    "check_trends",
]

#: mfeat pix -> fou at 10 labels per class: KD on every pair beats labels only by at least this (accuracy).
GAIN_TARGET = 0.10
#: Spearman correlation of predicted and measured gain over the cells, at least.
RANK_TARGET = 0.8
#: Median over cells of |predicted - measured gain|, at most (accuracy).
ERROR_TARGET = 0.03
MFH_SOURCE = "paper, Sections 3-4"
_BUDGET = "10"


def cell_differences(frame, minuend, subtrahend, by=("dataset", "budget")):
    """Paired difference ``minuend - subtrahend`` per cell, over the seeds of that cell (one row per cell).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame(dict(dataset="d", budget="10", seed=[0, 1], kd=[0.9, 0.6], nokd=[0.8, 0.5]))
    >>> cell_differences(df, "kd", "nokd")[["diff_mean", "ci_low", "ci_high"]].round(3).to_dict("list")
    {'diff_mean': [0.1], 'ci_low': [0.1], 'ci_high': [0.1]}
    """
    return paired_difference(frame, list(by), minuend, subtrahend)


def cell_gains(frame):
    """Measured gain of KD on every pair over labels only, and ``diagnose``'s mean prediction, per cell.

    Returns a frame with ``dataset``, ``budget``, the paired columns of
    :func:`cell_differences` for ``student_kd_every_acc - student_labels_acc``,
    ``predicted_gain`` (mean over seeds; NaN where ``diagnose`` gave none),
    ``n_predicted`` (seeds with a prediction) and ``verdict`` (the most common
    verdict of the cell's seeds, ties broken by name).
    """
    gains = cell_differences(frame, "student_kd_every_acc", "student_labels_acc")
    by = frame.groupby(["dataset", "budget"], sort=False)
    predicted = by["predicted_gain"].agg(["mean", "count"]).rename(columns={"mean": "predicted_gain"})
    predicted = predicted.rename(columns={"count": "n_predicted"}).reset_index()
    verdict = by["verdict"].agg(lambda v: v.value_counts().sort_index().idxmax()).rename("verdict").reset_index()
    return gains.merge(predicted, on=["dataset", "budget"]).merge(verdict, on=["dataset", "budget"])


def _cell(frame, dataset, budget):
    return frame[(frame["dataset"] == dataset) & (frame["budget"] == budget)]


def _not_run(name, source):
    return TrendCheck(name, None, "not run", source=source)


def _check_pix_fou(frame):
    name = f"mfeat pix -> fou, {_BUDGET} labels per class: KD on every pair beats labels only by >= 10 points"
    part = _cell(frame, "mfeat-pix-fou", _BUDGET)
    if part.empty:
        return _not_run(name, LIBRARY)
    diff = cell_differences(part, "student_kd_every_acc", "student_labels_acc").iloc[0]
    return TrendCheck(
        name,
        bool(diff["diff_mean"] >= GAIN_TARGET),
        f"KD every pair - labels only (points [95% CI]): {format_difference(diff)}",
        f"mean paired gain >= {100 * GAIN_TARGET:g} points",
        source=LIBRARY,
    )


def _check_zer_pix(frame):
    name = "mfeat zer -> pix (teacher weaker than the student): KD on every pair loses to labels only"
    part = frame[frame["dataset"] == "mfeat-zer-pix"]
    if part.empty or (part["budget"] == _BUDGET).sum() == 0:
        return [_not_run(name, LIBRARY), _not_run(f"{name}; diagnose says 'likely to hurt'", LIBRARY)]
    diffs = cell_differences(part, "student_kd_every_acc", "student_labels_acc")
    text = "; ".join(f"{row['budget']}: {format_difference(row)}" for _, row in diffs.iterrows())
    at = diffs[diffs["budget"] == _BUDGET].iloc[0]
    verdicts = part.loc[part["budget"] == _BUDGET, "verdict"].value_counts()
    share = verdicts.get("likely to hurt", 0) / verdicts.sum()
    return [
        TrendCheck(
            name,
            bool(at["diff_mean"] < 0),
            f"KD every pair - labels only per budget (points [95% CI]): {text}",
            f"a loss at {_BUDGET} labels per class: the mean paired difference is below 0 (its interval shown)",
            source=LIBRARY,
        ),
        TrendCheck(
            f"mfeat zer -> pix, {_BUDGET} labels per class: diagnose's verdict is 'likely to hurt'",
            bool(share > 0.5),
            "verdicts over seeds: " + ", ".join(f"{v} x{n}" for v, n in verdicts.items()),
            "'likely to hurt' in most seeds",
            source=LIBRARY,
        ),
    ]


def rows_with_defaults(frame):
    """The (cell, seed) rows that measured ``CrossModalDistiller()``'s defaults (both accuracies finite)."""
    if "default_kd_acc" not in frame:
        return frame.iloc[:0]
    return frame[np.isfinite(frame["default_kd_acc"]) & np.isfinite(frame["default_labels_acc"])]


def default_gains(frame):
    """Per few-labels cell: the measured gain of ``CrossModalDistiller()``'s defaults over their labels-only twin and
    ``diagnose``'s mean prediction, over the same seeds; empty where the defaults were not measured.

    The paired difference (:func:`cell_differences`) and the prediction use
    the seeds with both; ``n_default`` counts the seeds that measured the
    defaults and ``n_predicted`` those of them with a prediction (a cell
    without any has NaN gain and prediction).
    """
    part = rows_with_defaults(frame)
    if part.empty:
        return part
    by = ["dataset", "budget"]
    cells = part.groupby(by, sort=False).agg(
        n_default=("default_kd_acc", "size"), n_predicted=("predicted_gain", "count")
    )
    both = part[np.isfinite(part["predicted_gain"])]
    if both.empty:
        return cells.reset_index().assign(diff_mean=np.nan, predicted_gain=np.nan)
    gains = cell_differences(both, "default_kd_acc", "default_labels_acc")
    predicted = both.groupby(by, sort=False)["predicted_gain"].mean().reset_index()
    return cells.reset_index().merge(gains.merge(predicted, on=by), on=by, how="left")


def seed_resampled_rank_and_error(both, n_boot=1000, seed=0, confidence=0.95):
    """Intervals of the Spearman and median |error| of ``diagnose`` against the defaults' gain, seeds resampled.

    ``both``: one row per (dataset, budget, run) with the defaults' two
    accuracies and the prediction. Each resample draws the runs with
    replacement (the same draw for every cell: a seed's split is shared by
    its cells), averages each cell's measured gain and prediction over the
    drawn runs and recomputes both statistics: how much they move with the
    few seeds a report can afford. Returns ``((rho_low, rho_high),
    (error_low, error_high))``, percentile intervals (NaN where undefined).
    """
    by = ["dataset", "budget"]
    gain = both["default_kd_acc"] - both["default_labels_acc"]
    measured = both.assign(gain=gain).pivot_table(index=by, columns="run", values="gain", aggfunc="mean")
    predicted = both.pivot_table(index=by, columns="run", values="predicted_gain", aggfunc="mean")
    predicted = predicted.reindex(index=measured.index, columns=measured.columns)
    M, P = measured.to_numpy(), predicted.to_numpy()
    rng = np.random.default_rng(seed)
    rhos, errors = np.full(n_boot, np.nan), np.full(n_boot, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a cell whose drawn runs all lack it: mean of nothing
        for b in range(n_boot):
            runs = rng.integers(0, M.shape[1], M.shape[1])
            m, p = np.nanmean(M[:, runs], axis=1), np.nanmean(P[:, runs], axis=1)
            ok = np.isfinite(m) & np.isfinite(p)
            rhos[b] = spearman(p[ok], m[ok])
            errors[b] = np.median(np.abs(p[ok] - m[ok])) if ok.any() else np.nan
    return percentile_interval(rhos, confidence), percentile_interval(errors, confidence)


def _check_diagnose(frame):
    """``diagnose`` against the gain of the configuration it predicts (the defaults), over the few-labels cells;
    its agreement with the tuned KD student's gain is stated beside."""
    gains = default_gains(frame)
    names = (
        "diagnose's predicted gain ranks the measured gains of CrossModalDistiller()'s defaults (the configuration it "
        f"predicts) over the few-labels (pair, budget) cells: Spearman >= {RANK_TARGET}",
        f"diagnose's predicted gain is within {100 * ERROR_TARGET:g} points of the defaults' measured gain on the "
        "median few-labels cell",
    )
    if gains.empty:
        return [_not_run(n, LIBRARY) for n in names]
    known = gains[np.isfinite(gains["predicted_gain"])]
    n_missing = int(np.sum(gains["n_predicted"] < gains["n_default"]))
    missing = f"; {n_missing} of {len(gains)} cells without a prediction in every seed" if n_missing else ""
    rho = spearman(known["predicted_gain"], known["diff_mean"])
    error = float(np.median(np.abs(known["predicted_gain"] - known["diff_mean"]))) if len(known) else float("nan")
    part = rows_with_defaults(frame)
    (rho_lo, rho_hi), (err_lo, err_hi) = seed_resampled_rank_and_error(part[np.isfinite(part["predicted_gain"])])
    spread = "95% interval with the seeds resampled"
    tuned = cell_gains(frame).merge(known[["dataset", "budget"]], on=["dataset", "budget"])
    tuned = tuned[np.isfinite(tuned["predicted_gain"])]
    beside = (
        f" (against KD on every pair with this report's tuned settings and logistic-regression teacher: Spearman "
        f"{spearman(tuned['predicted_gain'], tuned['diff_mean']):.2f}, median |predicted - measured| "
        f"{100 * float(np.median(np.abs(tuned['predicted_gain'] - tuned['diff_mean']))):.2f} points)"
        if len(tuned)
        else ""
    )
    return [
        TrendCheck(
            names[0],
            bool(rho >= RANK_TARGET) and not missing,
            f"Spearman {rho:.2f} over {len(known)} cells ({spread}: {rho_lo:.2f} to {rho_hi:.2f}){missing}{beside}",
            f">= {RANK_TARGET} over every few-labels cell",
            source=LIBRARY,
        ),
        TrendCheck(
            names[1],
            bool(error <= ERROR_TARGET) and not missing,
            f"median |predicted - measured| {100 * error:.2f} points over {len(known)} cells ({spread}: "
            f"{100 * err_lo:.2f} to {100 * err_hi:.2f}){missing}",
            f"<= {100 * ERROR_TARGET:g} points",
            source=LIBRARY,
        ),
    ]


def _gap_change(frame, budget):
    """Per (dataset, seed): (general - specific at ``budget``) - (general - specific with all labels), paired."""
    gap = frame.assign(gap=frame["student_general_acc"] - frame["student_specific_acc"])
    wide = gap.pivot_table(index=["dataset", "seed"], columns="budget", values="gap")
    if budget not in wide or "all" not in wide:
        return None
    both = wide[[budget, "all"]].dropna().reset_index()
    both = pd.DataFrame(dict(scope="all pairs", few=both[budget], every=both["all"]))
    return paired_difference(both, ["scope"], "few", "every").iloc[0]


def _check_mfh(frame):
    """The MFH read in this regime: the student learns the modality-general part of the teacher's decision.

    Pooled over datasets and seeds (paired per seed and dataset).
    """
    names = (
        f"{_BUDGET} labels per class: the modality-general teacher's student beats the modality-specific one's",
        f"{_BUDGET} labels per class: the modality-general teacher's student is no worse than the regular one's",
        f"the general - specific gap is larger at {_BUDGET} labels per class than with all labels",
    )
    few = frame[frame["budget"] == _BUDGET]
    if few.empty:
        return [_not_run(n, MFH_SOURCE) for n in names]
    few = few.assign(scope="all pairs")
    spec = paired_difference(few, ["scope"], "student_general_acc", "student_specific_acc").iloc[0]
    reg = paired_difference(few, ["scope"], "student_general_acc", "student_regular_acc").iloc[0]
    change = _gap_change(frame, _BUDGET)
    checks = [
        TrendCheck(
            names[0],
            bool(spec["ci_low"] > 0),
            f"general - specific, over {int(spec['n_runs'])} (dataset, seed) pairs (points [95% CI]): "
            f"{format_difference(spec)}",
            "the student gains from the teacher's modality-general part: removing it costs more than removing "
            "the modality-specific part (interval above 0)",
            source=MFH_SOURCE,
        ),
        TrendCheck(
            names[1],
            not bool(reg["ci_high"] < 0),
            f"general - regular (points [95% CI]): {format_difference(reg)}",
            "the student learns only the modality-general part, so removing the rest costs it nothing "
            "(interval not wholly below 0)",
            source=MFH_SOURCE,
        ),
    ]
    if change is None:
        return checks + [_not_run(names[2], MFH_SOURCE)]
    checks.append(
        TrendCheck(
            names[2],
            bool(change["ci_low"] > 0),
            f"(general - specific at {_BUDGET}) - (general - specific with all labels) (points [95% CI]): "
            f"{format_difference(change)}",
            "what the teacher holds matters most where its labels replace the true ones (interval above 0)",
            source=MFH_SOURCE,
        )
    )
    return checks


def check_trends(frame):
    """Every trend check of the report, in report order (N/A where its cells were not run)."""
    return [_check_pix_fou(frame), *_check_zer_pix(frame), *_check_diagnose(frame), *_check_mfh(frame)]
