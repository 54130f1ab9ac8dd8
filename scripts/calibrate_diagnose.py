"""Calibrate ``crossmodal.diagnose``'s predicted gain, its interval and its verdict on data no report uses.

Question: which linear map from ``diagnose``'s cheap statistics to accuracy
points predicts the gain of ``CrossModalDistiller()``'s defaults best, how
wide must a 90% interval be, and which thresholds (in points) make the
verdict agree best with the measured outcome?

Data: the draws of ``scripts/_diagnose_sources.py`` (digits,
breast-cancer and MNIST views, random MVD diagrams, narrow and wide; all labelled, or 3 to 50 labels
per class; 4 seeds) with the gains measured by
``scripts/measure_diagnose_gains.py``. A *cell* is (source, pair, labels
per class); its gain is the mean over seeds.

Method, per regime ("labelled": every row labelled; "few labels"):

1. ``diagnose``'s statistics (:data:`crossmodal.diagnosis._gain.STATISTICS`)
   on each draw's training rows, and the covariance of their row bootstrap
   (cached in the system's temporary directory).
2. Candidate maps: ordinary least squares of the cell's gain on the cell's
   mean statistics, for each feature set of :data:`CANDIDATES`, every cell
   weighted alike. Each is scored by leave-one-source-out prediction (the
   map is meant for kinds of data it never saw): the median over (cell,
   seed) of ``|prediction from that seed's statistics - the cell's gain|``.
   Applied to a held-out source, a map's statistics are clipped to their
   range on the sources it was fitted on (a linear map is not extrapolated
   beyond the data that fitted it; ``diagnose`` clips to the range over
   every source the same way). The one-standard-error rule picks among them: the map with the fewest
   statistics whose error is within one standard error (a bootstrap over
   cells) of the lowest, ties to the lower error; it is refitted on every
   cell. (A map with more statistics fits the sources' common range better
   and extrapolates worse beyond it.)
3. Interval ``gain +- factor * sqrt(floor^2 + sd^2)``, ``sd`` the bootstrap
   standard deviation of the gain: for each ``floor`` of a grid, ``factor``
   is the largest over held-out sources of the 90% quantile of that
   source's held-out ``|error| / sqrt(floor^2 + sd^2)``, so that each kind of
   data, not only their pool, is covered 90% of the time; the pair with the
   narrowest mean width is kept.
4. Verdict rule: "helps" at ``gain >= helps``, "likely to hurt" at
   ``gain <= hurts``, optionally only where the 90% interval excludes 0;
   the grid pair and option that maximise the share of held-out (cell,
   seed) predictions agreeing with the cell's outcome (gain above +0.5
   points, below -0.5, or neither), ties to the simpler rule and the
   smaller thresholds.

Run (after the gains are measured)::

    PYTHONPATH=. nice python scripts/calibrate_diagnose.py [--write]

``--write`` rewrites the block between the markers of
``crossmodal/diagnosis/_calibration.py``.
"""

import argparse
import itertools
import os
import pprint
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(__file__))

from _diagnose_sources import draws, pairs_of  # noqa: E402

from crossmodal.diagnosis._diagnose import _cross_fitted  # noqa: E402
from crossmodal.diagnosis._gain import STATISTICS, gain_statistics  # noqa: E402
from crossmodal.experiments._diagnose_report import outcome  # noqa: E402  (the report's judgement of a cell)

HERE = os.path.dirname(__file__)
GAINS = os.path.join(HERE, "diagnose_calibration_gains.csv")
# diagnose's statistics of every draw are costly to recompute and megabytes to keep: cached outside the repository.
CACHE = os.path.join(tempfile.gettempdir(), "crossmodal_diagnose_calibration_statistics.csv")
TARGET = os.path.join(HERE, os.pardir, "crossmodal", "diagnosis", "_calibration.py")
N_BOOTSTRAP = 200

# Feature sets tried for each regime (names of crossmodal.diagnosis._gain.STATISTICS).
CANDIDATES = {
    "labelled": (
        ("imitation_gain",),
        ("distillation_gain",),
        ("accuracy_gap",),
        ("imitation_gain", "distillation_gain"),
        ("imitation_gain", "accuracy_gap"),
        ("imitation_gain", "distillation_gain", "accuracy_gap"),
        ("imitation_gain", "mimic_r2"),
        ("teacher_fit_loss",),
        ("imitation_gain", "teacher_fit_loss"),
        ("distillation_gain", "teacher_fit_loss"),
        ("imitation_gain_x_teacher_fit_loss",),
        ("imitation_gain", "imitation_gain_x_teacher_fit_loss"),
        ("teacher_fit_loss", "imitation_gain_x_teacher_fit_loss"),
        ("imitation_gain_x_teacher_fit_loss", "student_accuracy"),
    ),
    "few labels": (
        ("accuracy_gap",),
        ("probability_gap",),
        ("accuracy_gap", "accuracy_gap_per_root_label"),
        ("probability_gap", "probability_gap_per_root_label"),
        ("accuracy_gap", "imitation_gain"),
        ("accuracy_gap", "accuracy_gap_per_root_label", "imitation_gain", "imitation_gain_per_root_label"),
        ("accuracy_gap", "accuracy_gap_per_root_label", "distillation_gain", "distillation_gain_per_root_label"),
        ("probability_gap", "probability_gap_per_root_label", "imitation_gain", "imitation_gain_per_root_label"),
        ("accuracy_gap", "accuracy_gap_per_root_label", "mimic_r2"),
        ("accuracy_gap", "accuracy_gap_per_root_label", "imitation_gain", "imitation_gain_per_root_label", "mimic_r2"),
        ("accuracy_gap_x_mimic_r2", "accuracy_gap_per_root_label_x_mimic_r2"),
        ("accuracy_gap_x_mimic_r2", "accuracy_gap_per_root_label_x_mimic_r2", "mimic_r2"),
        (
            "accuracy_gap",
            "accuracy_gap_per_root_label",
            "accuracy_gap_x_mimic_r2",
            "accuracy_gap_per_root_label_x_mimic_r2",
        ),
        (
            "accuracy_gap_x_mimic_r2",
            "accuracy_gap_per_root_label_x_mimic_r2",
            "imitation_gain",
            "imitation_gain_per_root_label",
        ),
        ("teacher_accuracy", "student_accuracy"),
        ("teacher_accuracy", "student_accuracy", "mimic_r2"),
        ("teacher_accuracy_x_mimic_r2", "student_accuracy"),
        ("teacher_accuracy_x_mimic_r2", "student_accuracy", "inverse_root_labels"),
        ("imitator_accuracy", "student_accuracy"),
        ("imitator_accuracy", "student_accuracy", "inverse_root_labels"),
        ("accuracy_gap", "inverse_root_labels"),
        ("accuracy_gap", "accuracy_gap_per_root_label", "inverse_root_labels"),
        ("teacher_accuracy_x_mimic_r2_x_log2_features_b", "student_accuracy_x_log2_features_b"),
        ("teacher_accuracy_x_mimic_r2_x_log2_features_b", "student_accuracy_x_log2_features_b", "inverse_root_labels"),
        (
            "teacher_accuracy_x_mimic_r2_x_log2_features_b",
            "student_accuracy_x_log2_features_b",
            "log2_features_b",
            "inverse_root_labels",
        ),
        ("accuracy_gap_below_zero", "accuracy_gap_above_zero"),
        ("accuracy_gap_below_zero", "accuracy_gap_above_zero_x_mimic_share"),
        ("accuracy_gap_below_zero", "accuracy_gap_above_zero", "inverse_root_labels"),
        ("accuracy_gap_below_zero", "accuracy_gap_above_zero_x_mimic_share", "inverse_root_labels"),
        ("accuracy_gap_below_zero", "accuracy_gap_above_zero", "accuracy_gap_above_zero_x_mimic_share"),
        (
            "accuracy_gap_below_zero",
            "accuracy_gap_above_zero",
            "accuracy_gap_above_zero_x_mimic_share",
            "inverse_root_labels",
        ),
    ),
}
FLOORS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
THRESHOLDS = tuple(np.round(np.arange(0.0, 10.01, 0.25), 2))


def statistics(gains):
    """``diagnose``'s statistics for every measured (draw, pair), cached; one row each."""
    cached = pd.read_csv(CACHE) if os.path.exists(CACHE) else pd.DataFrame()
    keys = set(map(tuple, cached[["source", "seed", "budget"]].astype(str).values)) if len(cached) else set()
    measured = set(map(tuple, gains[["source", "seed", "budget"]].astype(str).values))
    rows = []
    for draw in draws():
        key = (draw["source"], str(draw["seed"]), str(draw["budget"] or "all"))
        if key in keys or key not in measured:
            continue
        for a, b in pairs_of(draw):
            X_a, X_b = (draw["train"][v].astype(np.float64) for v in (a, b))
            cv = min(5, int(np.unique(draw["codes"][draw["codes"] >= 0], return_counts=True)[1].min()))
            with threadpool_limits(limits=1, user_api="blas"):  # as diagnose runs it
                parts = _cross_fitted(
                    X_a, X_b, draw["codes"], None, None, None, cv, N_BOOTSTRAP, draw["seed"], None, False
                )
            point, boot = gain_statistics(parts.fits, parts.codes, parts.W, parts.n_features_b)
            cov = np.cov(boot, rowvar=False)
            row = dict(source=key[0], seed=key[1], budget=key[2], teacher=a, student=b, **point)
            row.update(
                {
                    f"cov_{i}_{j}": cov[i, j]
                    for i, j in itertools.combinations_with_replacement(range(len(STATISTICS)), 2)
                }
            )
            rows.append(row)
        print(*key, flush=True)
        pd.concat([cached, pd.DataFrame(rows)], ignore_index=True).to_csv(CACHE, index=False)
    return pd.read_csv(CACHE, dtype={"seed": str, "budget": str})


def _covariance(row):
    k = len(STATISTICS)
    cov = np.zeros((k, k))
    for i, j in itertools.combinations_with_replacement(range(k), 2):
        cov[i, j] = row[f"cov_{i}_{j}"]
        cov[j, i] = cov[i, j]
    return cov


def table():
    gains = pd.read_csv(GAINS, dtype={"seed": str, "budget": str})
    stats = statistics(gains)
    data = gains.merge(stats, on=["source", "seed", "budget", "teacher", "student"]).copy()
    data["gain"] *= 100.0  # points
    data["regime"] = np.where(data["budget"] == "all", "labelled", "few labels")
    real = ~data["source"].str.startswith("mvd")
    diagram = data["seed"].astype(int) // 1000  # an MVD draw's seed is 1000 * diagram + seed
    pair = data["teacher"] + "->" + data["student"] + np.where(real, "", " of diagram " + diagram.astype(str))
    data["cell"] = data["source"] + ":" + pair + "@" + data["budget"]
    data["cell_gain"] = data.groupby("cell")["gain"].transform("mean")
    # Held out means a held-out source: the map is applied to kinds of data it never saw.
    data["group"] = data["source"]
    return data


def _fit(cells, features):
    X = np.column_stack([np.ones(len(cells))] + [cells[f] for f in features])
    return np.linalg.lstsq(X, cells["cell_gain"].to_numpy(), rcond=None)[0]


def _ranges(rows, features):
    """Each statistic's smallest and largest value over ``rows`` (draws): the range a map is not extrapolated beyond."""
    return {f: (float(rows[f].min()), float(rows[f].max())) for f in features}


def _predict(rows, features, beta, ranges):
    return beta[0] + sum(b * np.clip(rows[f].to_numpy(), *ranges[f]) for b, f in zip(beta[1:], features))


def held_out(data, features):
    """Leave-group-out predictions of every row (cell, seed) and their bootstrap standard deviations."""
    pred, sd = np.zeros(len(data)), np.zeros(len(data))
    for group in data["group"].unique():
        test = (data["group"] == group).to_numpy()
        cells = data[~test].groupby("cell")[[*features, "cell_gain"]].mean()
        beta = _fit(cells, features)
        pred[test] = _predict(data[test], features, beta, _ranges(data[~test], features))
        sd[test] = _sd(data[test], features, beta)
    return pred, sd


def _sd(rows, features, beta):
    index = [STATISTICS.index(f) for f in features]
    coef = np.asarray(beta[1:])
    return np.array([np.sqrt(max(coef @ _covariance(r)[np.ix_(index, index)] @ coef, 0.0)) for _, r in rows.iterrows()])


def interval(errors, sd, groups):
    best = None
    for floor in FLOORS:
        scale = np.hypot(floor, sd)
        ratio = np.abs(errors) / np.maximum(scale, 1e-12)
        factor = max(float(np.quantile(ratio[groups == g], 0.9)) for g in np.unique(groups))
        width = float(np.mean(factor * scale))
        if best is None or width < best[2]:
            best = (floor, factor, width)
    return best


def one_standard_error_choice(part, scored, n_boot=500, seed=0):
    """The candidate with the fewest statistics whose held-out median |error| is within one bootstrap standard
    error (cells resampled) of the lowest; ties to the lower error. ``scored``: (error, features, |errors| per row)."""
    cells = part["cell"].to_numpy()
    names, index = np.unique(cells, return_inverse=True)
    rng = np.random.default_rng(seed)
    best_error, _, best_rows = min(scored, key=lambda item: item[0])
    medians = []
    for _ in range(n_boot):
        picked = np.bincount(rng.integers(0, len(names), len(names)), minlength=len(names))
        medians.append(np.median(np.repeat(best_rows, picked[index])))
    bar = best_error + float(np.std(medians, ddof=1))
    eligible = [item for item in scored if item[0] <= bar]
    error, features, _ = min(eligible, key=lambda item: (len(item[1]), item[0]))
    return error, features, bar


def thresholds(pred, truth, low, high):
    """The verdict rule with the best held-out agreement: thresholds, and whether the interval must exclude 0."""
    best = None
    for interval_rule, helps, hurts in itertools.product((False, True), THRESHOLDS, THRESHOLDS):
        up = (pred >= helps) & ((low > 0) if interval_rule else True)
        down = (pred <= -hurts) & ((high < 0) if interval_rule else True)
        said = np.where(up, "helps", np.where(down, "likely to hurt", "unlikely to help"))
        agree = float(np.mean(said == truth))
        if best is None or agree > best[0] + 1e-12:
            best = (agree, float(helps), -float(hurts) if hurts else 0.0, interval_rule)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="rewrite the constants of crossmodal/diagnosis/_calibration.py"
    )
    args = parser.parse_args()
    data = table()
    models, intervals, verdicts, summary = {}, {}, {}, []
    for regime in ("labelled", "few labels"):
        part = data[data["regime"] == regime].reset_index(drop=True)
        scores, predictions = [], {}
        for features in CANDIDATES[regime]:
            predictions[features] = held_out(part, list(features))
            errors = np.abs(predictions[features][0] - part["cell_gain"].to_numpy())
            scores.append((float(np.median(errors)), features, errors))
            print(f"{regime:10s} {' + '.join(features):90s} held-out median |error| {scores[-1][0]:.2f} points")
        error, features, bar = one_standard_error_choice(part, scores)
        print(f"{regime}: within one standard error of the lowest (<= {bar:.2f}), fewest statistics: {features}")
        pred, sd = predictions[features]
        beta = _fit(part.groupby("cell")[[*features, "cell_gain"]].mean(), list(features))
        floor, factor, width = interval(pred - part["cell_gain"].to_numpy(), sd, part["group"].to_numpy())
        errors = part.assign(error=np.abs(pred - part["cell_gain"]), covered=False)
        scale = factor * np.hypot(floor, sd)
        errors["covered"] = errors["error"] <= scale
        for (source, budget), grp in errors.groupby(["source", "budget"]):
            print(
                f"  {regime} {source} @{budget}: held-out median |error| {grp['error'].median():.2f} points, "
                f"coverage {grp['covered'].mean():.0%}, measured gains {grp['cell_gain'].min():+.1f} to "
                f"{grp['cell_gain'].max():+.1f}"
            )
        models[regime] = {
            "intercept": round(float(beta[0]), 4),
            "terms": {f: round(float(b), 4) for f, b in zip(features, beta[1:])},
            "ranges": {f: [round(lo, 4), round(hi, 4)] for f, (lo, hi) in _ranges(part, features).items()},
        }
        intervals[regime] = {"floor": floor, "factor": round(factor, 4)}
        truth = outcome(part["cell_gain"].to_numpy())
        agree, helps, hurts, interval_rule = thresholds(pred, truth, pred - scale, pred + scale)
        fixed = max(float(np.mean(truth == k)) for k in np.unique(truth))
        verdicts[regime] = {"helps": helps, "hurts": hurts, "interval_excludes_zero": interval_rule}
        summary.append(
            f"{regime}: {part['cell'].nunique()} cells, {len(part)} draws, held-out median |error| {error:.2f} points, "
            f"90% interval mean half-width {width:.2f}, verdict agreement {agree:.3f} (fixed answer {fixed:.3f})"
        )
    print("\n".join(summary))
    block = (
        f"GAIN_MODELS = {pprint.pformat(models, sort_dicts=False, width=110)}\n"
        f"INTERVALS = {pprint.pformat(intervals, sort_dicts=False, width=110)}\n"
        f"VERDICT_THRESHOLDS = {verdicts!r}\n"
        f"CALIBRATION_SUMMARY = {pprint.pformat(tuple(summary), width=110)}\n"
    )
    print(block)
    if args.write:
        text = open(TARGET).read()
        head, rest = text.split("# BEGIN CALIBRATION", 1)
        _, tail = rest.split("# END CALIBRATION", 1)
        marker = "# BEGIN CALIBRATION (written by scripts/calibrate_diagnose.py)\n"
        open(TARGET, "w").write(head + marker + block + "# END CALIBRATION" + tail)
        # The project's formatter, where it is installed, so that the written module passes its check as it is.
        if shutil.which("ruff"):
            subprocess.run(["ruff", "format", "--quiet", TARGET], check=False)


if __name__ == "__main__":
    main()
