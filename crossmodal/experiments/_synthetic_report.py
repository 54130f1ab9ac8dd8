"""Report of the synthetic reproduction (:mod:`crossmodal.experiments.synthetic`): trend checks, tables and figures."""

import os

import numpy as np

from crossmodal.experiments._figures import plot_sweep
from crossmodal.experiments._report import TrendCheck, check_list, markdown_table, sweep_table, write_csv, write_report
from crossmodal.experiments._summaries import paired_difference, spearman, summarize

__all__ = ["check_trends", "write_outputs", "PAPER_TABLE2", "PAPER_FIG2_GAIN_AT_GAMMA1"]

# Paper's Table 2 (Sec. 5.2): regular teacher, MG teacher, no-KD, regular KD, MG-KD (%).
PAPER_TABLE2 = {
    (15, 5): (89.70, 64.84, 59.29, 59.46, 61.01),
    (10, 10): (89.62, 73.41, 67.64, 67.86, 70.25),
    (10, 30): (89.70, 79.41, 76.46, 76.53, 77.70),
}
PAPER_FIG2_GAIN_AT_GAMMA1 = 2.1
_KD_GAIN = ("student_kd_acc", "student_nokd_acc")


def _pts(x):
    return f"{100 * x:+.2f}"


def _at(diff, x, value):
    row = diff[np.isclose(diff[x], value)]
    return None if row.empty else row.iloc[0]


def check_trends(frames):
    """Check the paper's synthetic trends on reproduction frames; never raises.

    Parameters
    ----------
    frames : dict of {"fig2", "fig3", "table2": DataFrame}
        Any subset of the runners' outputs.

    Returns
    -------
    list of TrendCheck
    """
    checks = []
    f2, f3, t2 = (frames.get(k) for k in ("fig2", "fig3", "table2"))
    if f2 is not None and len(f2):
        g = paired_difference(f2, ["gamma"], *_KD_GAIN).sort_values("gamma")
        rho = spearman(g["gamma"], g["diff_mean"])
        checks.append(
            TrendCheck(
                "Fig. 2: paired KD - NoKD grows with gamma",
                None if np.isnan(rho) else rho > 0,
                f"Spearman rho = {rho:+.2f} over {len(g)} gammas",
                "KD gets more effective with gamma",
                source="paper, Fig. 2",
            )
        )
        for value, sign, expected in (
            (0.0, -1, "KD fails to help at gamma = 0"),
            (1.0, 1, f"+{PAPER_FIG2_GAIN_AT_GAMMA1} points at gamma = 1"),
        ):
            r = _at(g, "gamma", value)
            checks.append(
                TrendCheck(
                    f"Fig. 2: KD - NoKD {'<' if sign < 0 else '>'} 0 at gamma = {value:g}",
                    None if r is None else bool(sign * r["diff_mean"] > 0),
                    "not run" if r is None else f"{_pts(r['diff_mean'])} points ({r['frac_positive']:.0%} of runs > 0)",
                    expected,
                    source="paper, Fig. 2",
                )
            )
    if f3 is not None and len(f3):
        t = summarize(f3, ["alpha"], ["teacher_acc"]).sort_values("alpha")["teacher_acc_mean"].to_numpy()
        checks.append(
            TrendCheck(
                "Fig. 3: teacher gains > 25 points from the smallest to the largest alpha",
                bool(t[-1] - t[0] > 0.25),
                f"{_pts(t[-1] - t[0])} points",
                "teacher improves with alpha",
                source="paper, Fig. 3",
            )
        )
        g = paired_difference(f3, ["alpha"], *_KD_GAIN).sort_values("alpha")
        first, last = g["diff_mean"].iloc[0], g["diff_mean"].iloc[-1]
        checks.append(
            TrendCheck(
                "Fig. 3: the student's KD gain shrinks as alpha grows",
                bool(last < first),
                f"{_pts(first)} points at alpha = {g['alpha'].iloc[0]:.2f} -> {_pts(last)} at "
                f"alpha = {g['alpha'].iloc[-1]:.2f} (Spearman rho = "
                f"{spearman(g['alpha'], g['diff_mean']):+.2f})",
                "student fails to benefit from the better teacher",
                source="paper, Fig. 3",
            )
        )
    if t2 is not None and len(t2):
        modes = list(dict.fromkeys(t2["mode"]))
        if "gt" in modes:
            gt = t2[t2["mode"] == "gt"]
            d = paired_difference(gt, ["gamma"], "mg_teacher_acc", "teacher_acc")
            checks.append(
                TrendCheck(
                    "Table 2 (gt): MG teacher over 5 points below the regular teacher at every gamma",
                    bool((d["diff_mean"] < -0.05).all()),
                    ", ".join(f"{gm:.2f}: {_pts(v)}" for gm, v in zip(d["gamma"], d["diff_mean"])),
                    "'larger than -10%': -24.9, -16.2, -10.3 points at gamma 0.25, 0.50, 0.75",
                    source="paper, Table 2",
                )
            )
            d = paired_difference(gt, ["xs1", "xs2"], "mg_teacher_acc", "teacher_acc").set_index(["xs1", "xs2"])
            pairs = [
                (key, 100 * d.loc[key, "diff_mean"], reported[1] - reported[0])
                for key, reported in PAPER_TABLE2.items()
                if key in d.index
            ]
            checks.append(
                TrendCheck(
                    "Table 2 (gt): teacher gap within 3 points of the paper's",
                    all(abs(o - p) <= 3 for _, o, p in pairs) if pairs else None,
                    ", ".join(f"{k[1] / sum(k):.2f}: {o:+.2f} vs {p:+.2f}" for k, o, p in pairs)
                    or "no setting of the paper's table was run",
                    "the table's teacher columns",
                    source="paper, Table 2",
                )
            )
        for mode in modes:
            d = paired_difference(t2[t2["mode"] == mode], ["gamma"], "student_mg_kd_acc", "student_kd_acc")
            beats = bool((d["diff_mean"] > 0).all())
            text = ", ".join(f"{gm:.2f}: {_pts(v)}" for gm, v in zip(d["gamma"], d["diff_mean"]))
            if mode == "random":
                checks.append(
                    TrendCheck(
                        "Table 2 (random): random columns do not beat regular KD at every gamma",
                        not beats,
                        text,
                        "only modality-general columns help",
                        source="paper, Table 2",
                    )
                )
            else:
                checks.append(
                    TrendCheck(
                        f"Table 2 ({mode}): MG-KD beats regular KD at every gamma",
                        beats,
                        text,
                        "+1.2 to +2.4 points",
                        source="paper, Table 2",
                    )
                )
    return checks


def _protocol(meta):
    s = meta["setup"]
    return "\n".join(
        [
            f"crossmodal {meta['version']}; {meta['runs']} runs per setting, seeds {meta['seed']}.."
            f"{meta['seed'] + meta['runs'] - 1} (run r uses seed + r); jobs = {meta['jobs']}; "
            f"{meta['seconds']:.1f} s of training.",
            "",
            f"* Models: `nn.Linear(d, 2)` teacher and students, torch default init; {s.n_train} train / "
            f"{s.n_test} test samples; full-batch SGD, lr {s.lr}, no momentum, {s.n_epochs} epochs; accuracy "
            "at the last epoch.",
            f'* KD student: {s.ce_weight:g} * CE + {s.kl_weight:g} * KL, KLDivLoss(reduction="{s.kl_reduction}"), '
            "no temperature (the authors' code; = `rho=0.5` with the learning rate doubled). No-KD student: "
            "CE only.",
            f"* Algorithm 1: linear pair on CE + CE + MSE(logits), SGD lr {s.pair_lr}, momentum "
            f"{s.pair_momentum}, {s.pair_epochs} epochs; M = {s.n_repeats} permutations per channel, MSE "
            "distance, min-max normalised salience, top-k columns kept (k = number of modality-general columns).",
            "* Table 2: regular teacher and Algorithm 1 on a first training draw; modality-general teacher and "
            "all students on a second draw (as in the authors' code).",
            "* Diagrams as the library's design table has them (`MVDGenerator`'s notes), which differ from "
            "Appendix B.2's text in two places: Fig. 3 keeps 50 decisive latents at every k, 40 - k of them seen "
            "by neither modality (`n_hidden`; B.2 lets the decisive set grow from 10 to 50), and Table 2 uses "
            "equal decision weights (`hyperplane='ones'`; B.2 draws the hyperplane from a normal). The alpha and "
            "gamma values are the paper's.",
            "* Differences from the authors' scripts: the regular KD feeds the teacher its own modality "
            "(their Table 2 script swaps the modalities; that variant is reported separately below); random "
            "columns are drawn without replacement; the students of one run share their initial weights "
            "(paired differences compare like with like).",
            "* Accuracies in %, mean ± sample sd over runs; a paired difference is computed run by run and "
            "shown as mean [95% confidence interval of a paired t test] (share of runs with a positive difference); "
            "the figures' bands are ± 1 sd.",
        ]
    )


def write_outputs(out_dir, frames, meta):
    """Write CSVs, PNG figures and ``report.md`` for the synthetic frames.

    Returns
    -------
    files : list of str
    checks : list of TrendCheck
    report_path : str
    """
    out = os.fspath(out_dir)
    files = [write_csv(frame, os.path.join(out, f"{name}.csv")) for name, frame in frames.items()]
    checks = check_trends(frames)
    sections = [("Trend checks", check_list(checks) or "(nothing to check)")]
    acc_cols = {"Teacher": "teacher_acc", "Student no-KD": "student_nokd_acc", "Student KD": "student_kd_acc"}
    curves = {"teacher (x^a)": "teacher_acc", "student, no KD": "student_nokd_acc", "student, KD": "student_kd_acc"}
    for name, x, by, title in (
        ("fig2", "gamma", ["overlap", "gamma"], "Fig. 2: varying gamma"),
        ("fig3", "alpha", ["k", "alpha"], "Fig. 3: varying alpha"),
    ):
        if name not in frames:
            continue
        png = plot_sweep(
            frames[name],
            x,
            curves,
            os.path.join(out, f"{name}.png"),
            differences={"KD - no KD": _KD_GAIN},
            xlabel=x,
            title=title,
        )
        files.append(png)
        body = sweep_table(frames[name], by, acc_cols, {"KD − no-KD": _KD_GAIN})
        if name == "fig2":
            body += f"\n\nPaper: the KD student beats no-KD by {PAPER_FIG2_GAIN_AT_GAMMA1} points at gamma = 1."
        sections.append((title, body + f"\n\n![{title}]({os.path.basename(png)})"))
    if "table2" in frames:
        sections += _table2_sections(frames["table2"], out, files)
    sections.append(("Files", "\n".join(f"* `{os.path.basename(f)}`" for f in files)))
    report_path = write_report(
        os.path.join(out, "report.md"),
        "Synthetic Gaussian reproduction (Xue et al., ICLR 2023)",
        sections,
        quick=meta["quick"],
        preamble=_protocol(meta),
    )
    return files + [report_path], checks, report_path


def _table2_sections(t2, out, files):
    sections = []
    by = ["xs1", "xs2", "gamma"]
    cols = {
        "Regular teacher": "teacher_acc",
        "MG teacher": "mg_teacher_acc",
        "No-KD": "student_nokd_acc",
        "Regular KD": "student_kd_acc",
        "MG-KD": "student_mg_kd_acc",
    }
    diffs = {
        "MG-KD − regular KD": ("student_mg_kd_acc", "student_kd_acc"),
        "MG teacher − regular teacher": ("mg_teacher_acc", "teacher_acc"),
    }
    for mode in dict.fromkeys(t2["mode"]):
        sub = t2[t2["mode"] == mode]
        prec = sub.groupby(by, sort=False)["selection_precision"].mean()
        body = sweep_table(sub, by, cols, diffs)
        body += "\n\nShare of kept columns that are truly modality-general: " + ", ".join(
            f"gamma {g:.2f}: {p:.0%}" for (_, _, g), p in prec.items()
        )
        sections.append((f"Table 2, modality-general teacher by `{mode}`", body))
    gt = t2[t2["mode"] == t2["mode"].iloc[0]]
    means = gt.groupby(["xs1", "xs2"])[list(cols.values())].mean() * 100
    rows = []
    for key, reported in PAPER_TABLE2.items():
        if key in means.index:
            ours = means.loc[key]
            rows.append([f"{key[1] / sum(key):.2f}"] + [f"{p:.2f} / {o:.2f}" for p, o in zip(reported, ours)])
    if rows:
        sections.append(
            (f"Table 2: paper / this run (mode `{gt['mode'].iloc[0]}`)", markdown_table(["gamma"] + list(cols), rows))
        )
    swapped = sweep_table(
        gt,
        by,
        {"Regular KD (correct)": "student_kd_acc", "Regular KD (authors' swapped call)": "student_kd_swapped_acc"},
        {"swapped − correct": ("student_kd_swapped_acc", "student_kd_acc")},
    )
    sections.append(
        (
            "Table 2: the authors' swapped Regular-KD call",
            swapped + "\n\nThe authors' Table 2 script "
            "passes the modalities to its KD routine in swapped order: the teacher is fed modality b and the "
            "student is trained on modality a but tested on modality b. The tables above use the correct "
            "call; this one shows how far the swapped call moves the regular-KD baseline.",
        )
    )
    wide = t2[t2["mode"] == t2["mode"].iloc[0]][
        ["xs1", "xs2", "gamma", "run", "teacher_acc", "student_nokd_acc", "student_kd_acc"]
    ].copy()
    diffs = {}
    modes = list(dict.fromkeys(t2["mode"]))
    for mode in modes:
        sub = t2[t2["mode"] == mode].set_index(["xs1", "xs2", "run"]).loc[list(zip(wide.xs1, wide.xs2, wide.run))]
        wide[f"mg_kd_{mode}"] = sub["student_mg_kd_acc"].to_numpy()
        wide[f"mg_teacher_{mode}"] = sub["mg_teacher_acc"].to_numpy()
        diffs[f"MG-KD ({mode}) - regular KD"] = (f"mg_kd_{mode}", "student_kd_acc")
    files.append(
        plot_sweep(
            wide,
            "gamma",
            {
                "regular teacher": "teacher_acc",
                f"MG teacher ({modes[0]})": f"mg_teacher_{modes[0]}",
                "student, no KD": "student_nokd_acc",
                "student, regular KD": "student_kd_acc",
                f"student, MG-KD ({modes[0]})": f"mg_kd_{modes[0]}",
            },
            os.path.join(out, "table2.png"),
            differences=diffs,
            xlabel="gamma of the regular teacher",
            title="Table 2: modality-general teachers",
        )
    )
    sections.append(("Table 2 figure", "![Table 2](table2.png)"))
    return sections
