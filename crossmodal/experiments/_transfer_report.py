"""Report of ``crossmodal reproduce transfer``: label-budget tables, ``diagnose`` beside the measured gains, figures."""

import os

import numpy as np

from crossmodal import __version__
from crossmodal.experiments._figures import new_grid, plot_band, save_figure
from crossmodal.experiments._report import check_list, format_difference, format_mean_sd, markdown_table
from crossmodal.experiments._summaries import summarize
from crossmodal.experiments._transfer_checks import (
    cell_differences,
    cell_gains,
    check_trends,
    default_gains,
    rows_with_defaults,
)
from crossmodal.experiments._transfer_protocol import (
    DEFAULT_RUNS,
    JOINT_MODES,
    MVD_GAMMA,
    N_REPEATS,
    PAIR_EPOCHS,
    PAIR_HIDDEN,
    PAIR_RATIO,
    STUDENT_BATCH,
    STUDENT_HIDDEN,
    STUDENT_LR,
    STUDENTS,
    TEST_SHARE,
    TUNE_GRID,
    VALIDATION_SHARE,
)

__all__ = ["write_report", "plot_curves", "plot_predictions", "STUDENT_LABELS"]

#: How the report and the figures name each student.
_JOINT_LABELS = [f"{mode} f_a, every pair" for mode in JOINT_MODES]
STUDENT_LABELS = dict(zip(STUDENTS, ["labels only", "KD, labelled rows", "KD, every pair"] + _JOINT_LABELS))
_TEACHERS = dict(lr="logistic regression", general="general f_a", regular="regular f_a", specific="specific f_a")
_DIFFERENCES = {
    "KD every pair − labels only": ("student_kd_every_acc", "student_labels_acc"),
    "KD labelled rows − labels only": ("student_kd_labelled_acc", "student_labels_acc"),
    "general − specific": ("student_general_acc", "student_specific_acc"),
    "general − regular": ("student_general_acc", "student_regular_acc"),
}


def _budgets(part):
    """The budgets of ``part`` in increasing order of labels per class."""
    return list(part.groupby("budget")["labels_per_class"].mean().sort_values().index)


def _accuracy_table(part, columns, headers):
    """``columns`` (mean ± sd over seeds, %) per budget, under ``headers``."""
    summary = summarize(part, ["budget"], list(columns) + ["labels_per_class"]).set_index("budget")
    rows = []
    for budget in _budgets(part):
        rec = summary.loc[budget]
        cells = [format_mean_sd(rec[f"{c}_mean"], rec[f"{c}_sd"]) for c in columns]
        rows.append([budget, f"{rec['labels_per_class_mean']:.1f}"] + cells)
    return markdown_table(["labels per class", "(mean)"] + list(headers), rows)


def _students_table(part):
    """Students, then teachers on the teacher view's test rows (mean ± sd over seeds, %) per budget."""
    students = _accuracy_table(part, [f"student_{s}_acc" for s in STUDENTS], STUDENT_LABELS.values())
    teachers = [t for t in _TEACHERS if f"teacher_{t}_acc" in part]
    columns = [f"teacher_{t}_acc" for t in teachers] + ["teacher_lr_unlabelled_acc"]
    headers = [_TEACHERS[t] for t in teachers] + ["logistic regression on the unlabelled training pairs"]
    return students + "\n\nTeachers:\n\n" + _accuracy_table(part, columns, headers)


def _differences_table(part):
    """Paired differences per budget (points [95% CI] (share of seeds > 0)) and ``diagnose`` beside the gain."""
    diffs = [cell_differences(part, a, b).set_index("budget") for a, b in _DIFFERENCES.values()]
    gains = cell_gains(part).set_index("budget")
    rows = []
    for budget in _budgets(part):
        sub = part[part["budget"] == budget]
        interval = f"[{100 * sub['predicted_gain_lo'].mean():+.2f}, {100 * sub['predicted_gain_hi'].mean():+.2f}]"
        verdicts = ", ".join(f"{v} x{n}" for v, n in sub["verdict"].value_counts().items())
        predicted = gains.loc[budget, "predicted_gain"]
        rows.append(
            [budget]
            + [format_difference(d.loc[budget]) for d in diffs]
            + [f"{100 * predicted:+.2f} {interval}" if np.isfinite(predicted) else "n/a", verdicts]
        )
    headers = ["labels per class"] + list(_DIFFERENCES) + ["diagnose: predicted gain [mean interval]", "verdicts"]
    return markdown_table(headers, rows)


def _default_seeds(frame):
    """How many seeds measured the gain of ``CrossModalDistiller()``'s defaults."""
    return int(rows_with_defaults(frame)["run"].nunique())


def _gains_table(frame):
    """Every cell: measured gain of KD on every pair (tuned, and the defaults ``diagnose`` predicts), ``diagnose``'s
    prediction and verdict; then its errors."""
    regimes = frame.groupby(["dataset", "budget"], sort=False)["regime"].first() if "regime" in frame else None
    defaults = default_gains(frame)
    defaults = defaults.set_index(["dataset", "budget"]) if len(defaults) else None
    rows = []
    for _, rec in cell_gains(frame).iterrows():
        key = (rec["dataset"], rec["budget"])
        default = None if defaults is None or key not in defaults.index else defaults.loc[key]
        predicted = 100 * rec["predicted_gain"]
        known = np.isfinite(predicted)
        measured = default is not None and np.isfinite(default["diff_mean"])
        cells = [format_difference(rec), format_difference(default) if measured else "n/a"]
        cells.append(f"{predicted:+.2f}" if known else "n/a")
        # the prediction over the seeds that measured the defaults, as the checks compare them
        error = None if default is None else 100 * (default["predicted_gain"] - default["diff_mean"])
        cells.append(f"{error:+.2f}" if error is not None and np.isfinite(error) else "n/a")
        regime = "" if regimes is None else regimes.get(key, "")
        cells.append(regime if isinstance(regime, str) and regime else "-")
        rows.append([rec["dataset"], rec["budget"], *cells, rec["verdict"]])
    headers = [
        "dataset",
        "labels per class",
        "measured gain, tuned KD",
        "measured gain, defaults",
        "predicted",
        "predicted − measured (defaults)",
        "regime",
        "verdict",
    ]
    text = markdown_table(headers, rows) + (
        "\n\n`diagnose` predicts the gain of `CrossModalDistiller()`'s defaults (MLP teacher and student, rho 0.5, "
        "T 1) over the same estimator at rho 1; the tuned student (logistic-regression teacher, settings above) is "
        f"another configuration. The defaults are measured at the few-labels budgets, {_default_seeds(frame)} "
        "seeds; "
        "`predicted` is the mean over every seed, its error against the defaults the mean over the seeds that "
        "measured them. The verdict of a cell is the most common over its seeds."
    )
    failed = frame[frame["verdict"] == "error"] if "diagnose_error" in frame else frame.iloc[:0]
    if len(failed):
        first = failed.iloc[0]
        text += (
            f" `diagnose` raised a ValueError on {len(failed)} of {len(frame)} (cell, seed) runs, e.g. "
            f"{first['dataset']} at {first['budget']} labels per class: {first['diagnose_error']}"
        )
    return text


def _mfh_table(frame):
    """Pooled over datasets, per budget: the f_a students' paired differences and the f_a teachers' accuracies."""
    pooled = frame.assign(dataset="all")
    pairs = {
        "student: general − specific": ("student_general_acc", "student_specific_acc"),
        "student: general − regular": ("student_general_acc", "student_regular_acc"),
        "teacher: general − regular": ("teacher_general_acc", "teacher_regular_acc"),
        "teacher: specific − regular": ("teacher_specific_acc", "teacher_regular_acc"),
    }
    diffs = [cell_differences(pooled, a, b).set_index("budget") for a, b in pairs.values()]
    rows = [[budget] + [format_difference(d.loc[budget]) for d in diffs] for budget in _budgets(frame)]
    return markdown_table(["labels per class"] + list(pairs), rows)


def plot_curves(frame, datasets, path):
    """Accuracy against labels per class (log axis), one panel per dataset, ±1 sd bands; returns ``path``."""
    names = [n for n in datasets if (frame["dataset"] == n).any()]
    fig, axes = new_grid(len(names), min(3, len(names)))
    for ax, name in zip(axes, names):
        part = frame[frame["dataset"] == name]
        stats = summarize(part, ["budget"], [f"student_{s}_acc" for s in STUDENTS] + ["labels_per_class"])
        stats = stats.sort_values("labels_per_class_mean")
        x = stats["labels_per_class_mean"]
        for student in STUDENTS:
            col = f"student_{student}_acc"
            style = dict(linestyle="--", marker="s") if student in ("regular", "specific") else {}
            plot_band(ax, x, stats[f"{col}_mean"], stats[f"{col}_sd"], label=STUDENT_LABELS[student], **style)
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:.0f}" for v in x])
        ax.minorticks_off()
        ax.set(xlabel="labels per class (log; last: all)", ylabel="test accuracy (%)", title=f"{datasets[name][1]}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="x-small")
    return save_figure(fig, path)


def plot_predictions(frame, path):
    """``diagnose``'s predicted gain against the measured gain of the defaults it predicts, one point per few-labels
    cell (every cell's tuned KD gain where the defaults were not measured); returns ``path``."""
    gains = default_gains(frame)
    measured = "CrossModalDistiller() defaults"
    if gains.empty:
        gains, measured = cell_gains(frame), "tuned KD every pair"
    fig, (ax,) = new_grid(1, 1, width=5.0, height=4.2)
    for name, part in gains.groupby("dataset", sort=False):
        ax.scatter(100 * part["diff_mean"], 100 * part["predicted_gain"], label=name)
        for _, rec in part.iterrows():
            ax.annotate(rec["budget"], (100 * rec["diff_mean"], 100 * rec["predicted_gain"]), fontsize="x-small")
    values = 100 * np.concatenate([gains["diff_mean"], gains["predicted_gain"]])
    values = values[np.isfinite(values)]
    lo, hi = (values.min() - 2, values.max() + 2) if len(values) else (-1, 1)
    ax.plot([lo, hi], [lo, hi], color="0.3", linewidth=0.8)
    ax.fill_between([lo, hi], [lo - 3, hi - 3], [lo + 3, hi + 3], color="0.5", alpha=0.15, linewidth=0)
    ax.set(xlabel=f"measured gain, {measured} − labels only (points)", ylabel="diagnose: predicted gain (points)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")
    return save_figure(fig, path)


def _settings_table(datasets, settings):
    rows = []
    for name, (_, label) in datasets.items():
        chosen = settings.get(name, {})
        cells = [
            "-" if s not in chosen else f"{chosen[s]['rho']:g} / {chosen[s]['temperature']:g} / {chosen[s]['epochs']}"
            for s in ("labels", "kd_labelled", "kd_every", "regular")
        ]
        rows.append([name, label] + cells)
    headers = ["dataset", "teacher -> student", "labels only", "KD, labelled rows", "KD, every pair", "f_a students"]
    return markdown_table(headers, rows)


def _protocol(out, datasets, settings):
    return (
        "Per seed: a stratified split, "
        f"{100 * (1 - TEST_SHARE):.0f}% of the rows are training pairs and the rest test rows; both views are "
        "standardised on the training pairs. Of the training pairs, 3, 10 or 30 per class keep their label "
        "(drawn at random per seed, nested: the rows of a smaller budget are labelled in every larger one) or all "
        "do; the others are marked -1. Every student is an MLP "
        f"({STUDENT_HIDDEN[0]} hidden units, Adam, lr {STUDENT_LR:g}, batches of {STUDENT_BATCH}) on the student "
        "view of every training pair, the same initial weights and batches within a seed; each is what one "
        "`CrossModalDistiller` fit gives (the students of a seed are trained as one stack, equal to it up to "
        "rounding):\n\n"
        "* labels only: `rho=1` with the -1 markers (the cross-entropy covers the labelled rows);\n"
        "* KD, labelled rows: a `LogisticRegression` teacher fitted on the labelled rows of the teacher view, "
        "both terms on the labelled rows only (what distilling on the labelled rows alone gives);\n"
        "* KD, every pair: the same teacher, queried on every pair (`fit(X, y_with_-1, X_teacher=...)`);\n"
        '* f_a students: `teacher="joint"`: Algorithm 1\'s pair (f_a, f_b: MLPs with '
        f"{PAIR_HIDDEN[0]} hidden units, {PAIR_EPOCHS} epochs) trained on every pair, its cross-entropy terms on "
        f"the labelled rows; the {100 * PAIR_RATIO:g}% least salient channels of f_a's hidden layer (after "
        f"the ReLU; M = {N_REPEATS} permutations) replaced by their training mean (modality-general teacher), "
        "none (regular), or the most salient half (modality-specific), and f_a queried on every pair.\n\n"
        "`diagnose(X_a_train, X_b_train, y_with_-1, random_state=seed)` sees the training pairs only; its "
        "predicted gain is set beside the measured gain of KD on every pair over labels only, and beside that of "
        "the configuration it predicts: `CrossModalDistiller(random_state=seed)` with its defaults (MLP teacher "
        "fitted on the labelled rows and queried on every pair, MLP student, rho 0.5, T 1) against the same "
        "estimator at rho 1, at the few-labels budgets of "
        + ("every seed" if out.runs <= DEFAULT_RUNS else f"the first {DEFAULT_RUNS} seeds")
        + " (the checks compare with this one). Accuracies are "
        f"on the test rows, mean ± sd over {out.runs} seeds; differences are paired per seed: mean [95% "
        "confidence interval of a paired t test] (share of seeds > 0). The MVD setting (`make_modality_venn`, "
        f"identity mixing, a new diagram per seed) has gamma = {MVD_GAMMA:.3f}.\n\n"
        "rho / temperature / epochs of each student (below) were chosen by `transfer.tune` on validation rows "
        f"carved from the training pairs ({100 * VALIDATION_SHARE:g}% of them, with labels; the budgets drawn "
        "from the rest; seeds 100-102), never on the test rows: per dataset and student the best mean validation "
        f"accuracy over budgets and seeds, from rho in {list(TUNE_GRID['rho'])}, temperature in "
        f"{list(TUNE_GRID['temperature'])} and epochs in {list(TUNE_GRID['epochs'])}; the three f_a students "
        "share the regular one's choice.\n\n"
        + _settings_table(datasets, settings)
        + f"\n\n{out.seconds:.0f} s, crossmodal {__version__}."
    )


def write_report(out, frame, datasets, settings):
    """Write the figures and ``report.md`` into ``out`` (an :class:`~._output.Output`); returns the checks."""
    checks = check_trends(frame)
    curves = out.add(plot_curves(frame, datasets, out.path("transfer_curves.png")))
    scatter = out.add(plot_predictions(frame, out.path("transfer_diagnose.png")))
    sections = [("Protocol", _protocol(out, datasets, settings))]
    for name, (_, label) in datasets.items():
        part = frame[frame["dataset"] == name]
        if part.empty:
            continue
        body = (
            "Test accuracy (%):\n\n"
            + _students_table(part)
            + "\n\nPaired differences (points) and `diagnose`:\n\n"
            + _differences_table(part)
        )
        sections.append((f"{name} ({label})", body))
    sections.append(
        (
            "diagnose beside the measured gain, every cell",
            _gains_table(frame) + f"\n\n![predicted against measured gain]({os.path.basename(scatter)})",
        )
    )
    sections.append(
        (
            "What the student learns from f_a: modality-general against modality-specific channels",
            "Paired per (dataset, seed), pooled over the datasets (points [95% CI] (share > 0)). The MFH says the "
            "student learns the modality-general part of the teacher's decision; where few rows carry a label, "
            "the teacher's labels stand in for the true ones on every other row.\n\n" + _mfh_table(frame),
        )
    )
    sections.append(("Trend checks", check_list(checks) + f"\n\n![label-budget curves]({os.path.basename(curves)})"))
    out.report("Few labels, many pairs: supervision transfer", sections)
    return checks
