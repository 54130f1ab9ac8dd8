"""Reproduce the paper's synthetic Gaussian results: Fig. 2, Fig. 3 and Table 2.

Every model is the paper's logistic regression (``nn.Linear(d, 2)`` with
torch's default initialisation), trained with the authors' protocol: 200
training and 1,000 test samples, full-batch SGD with lr 0.1 and no momentum
for 1,000 epochs, accuracy at the last epoch. The KD student minimises
``CE + KL`` with weights 1 and 1 and torch's ``KLDivLoss(reduction="mean")``
and no temperature (in :class:`crossmodal.CrossModalDistiller` terms:
``rho=0.5``, ``kl_reduction="mean"`` and the learning rate doubled); the
no-KD student is the same model trained on CE alone. The models of one run
are trained together by :mod:`crossmodal.experiments._batched_linear`, which
takes exactly the steps a per-model torch loop takes.

* **Fig. 2** sweeps the overlap ``o = 0, 2, ..., 10`` of 20 decisive latents
  (``gamma = o / (20 - o)``); **Fig. 3** sweeps ``k = 0, 10, ..., 40``
  teacher-specific latents (``alpha = k / (k + 10)``); see
  :class:`crossmodal.MVDGenerator` for the exact diagrams.
* **Table 2** compares a regular teacher (all of modality *a*) with a
  modality-general teacher that keeps ``k = n_general`` columns chosen by the
  ground truth (``"gt"``), by Algorithm 1 (``"alg1"``: a jointly trained
  linear pair, :func:`crossmodal.permutation_salience` with M = 100 and MSE,
  top-k) or at random (``"random"``). As in the authors' code, the regular
  teacher (and Algorithm 1) use a first training draw, and the
  modality-general teacher and all students a second one.

Randomness: run ``r`` has the seed ``seed + r`` (the CSV's ``seed`` column).
Every stream of the run (structure, train, test and second draws, initial
weights, permutations, random columns) is derived from it and the experiment
name only, so a run's numbers do not depend on ``jobs`` or on the other runs,
and all settings of one run share them, as in the authors' scripts, which
re-seed every setting with the run's seed: along a sweep the decision
hyperplane and the latent draws stay fixed and only the diagram changes. The
students of one run and setting share their initial weights, so paired
differences compare like with like.

References
----------
.. [1] Z. Xue, Z. Gao, S. Ren, H. Zhao. "The Modality Focusing Hypothesis:
   Towards Understanding Crossmodal Knowledge Distillation", ICLR 2023,
   Sec. 4.2 (Fig. 2, 3), Sec. 5.2 (Table 2), Appendix B.2 and B.4.
"""

import numpy as np

from crossmodal import __version__
from crossmodal.experiments._batched_linear import (
    default_linear_init,
    stack_inputs,
    stack_linear,
    train_aligned_pair_batch,
    unstack_linear,
)
from crossmodal.experiments._reproduction import Entry
from crossmodal.experiments._runs import collect_runs
from crossmodal.experiments._synthetic_protocol import (
    _N_CLASSES,
    FIG2_OVERLAPS,
    FIG3_SPECIFIC,
    PAPER_SETUP,
    QUICK_SETUP,
    TABLE2_SETTINGS,
    SyntheticSetup,
    _acc,
    _draw,
    _f32,
    _fit,
    _proba,
    _run_seeds,
    fig2_params,
    fig3_params,
    table2_params,
)
from crossmodal.experiments._synthetic_report import check_trends, write_outputs

__all__ = [
    "SyntheticSetup",
    "PAPER_SETUP",
    "QUICK_SETUP",
    "FIG2_OVERLAPS",
    "FIG3_SPECIFIC",
    "TABLE2_SETTINGS",
    "TABLE2_MODES",
    "run_fig2",
    "run_fig3",
    "run_table2",
    "run",
    "fig2_params",
    "fig3_params",
    "table2_params",
    "check_trends",
    "write_outputs",
]

TABLE2_MODES = ("gt", "alg1", "random")
QUICK_FIG2_OVERLAPS = (0, 4, 10)
QUICK_FIG3_SPECIFIC = (0, 20, 40)
QUICK_TABLE2_SETTINGS = ((15, 5), (10, 10), (10, 30))
QUICK_RUNS = 3
ENTRY = Entry(
    "synthetic",
    runs=10,
    quick_runs=QUICK_RUNS,
    quick="Fewer settings, 500 epochs and M = 20 permutations.",
    returns='``frames`` (``{"fig2", "fig3", "table2"}`` DataFrames), ``quick``, ``runs``',
)


def _kd_sweep_run(experiment, settings, run, run_seed, setup):
    """One run of Fig. 2 or Fig. 3: teacher, no-KD and KD student per setting."""
    seeds = _run_seeds(run_seed, experiment)
    draws = [_draw(params, seeds, setup) for _, params in settings]
    n = len(settings)
    d_a = [dr["gen"].n_features_a_ for dr in draws]
    d_b = [dr["gen"].n_features_b_ for dr in draws]
    Xa = [dr["train"][0] for dr in draws]
    Xb = [dr["train"][1] for dr in draws]
    y = [dr["train"][2] for dr in draws]
    teachers = _fit([default_linear_init(d, _N_CLASSES, seeds["teacher"]) for d in d_a], Xa, y, setup)
    teacher_acc = _acc(teachers, [dr["test"][0] for dr in draws], [dr["test"][2] for dr in draws])
    proba = _proba(teachers, Xa)
    # First half: no-KD students; second half: KD students, from the same init.
    student_init = [default_linear_init(d, _N_CLASSES, seeds["student"]) for d in d_b]
    students = _fit(
        student_init * 2,
        Xb * 2,
        y * 2,
        setup,
        kl_weight=[0.0] * n + [setup.kl_weight] * n,
        teacher_proba=np.concatenate([proba, proba]),
    )
    student_acc = _acc(students, [dr["test"][1] for dr in draws] * 2, [dr["test"][2] for dr in draws] * 2)
    rows = []
    for i, (info, _) in enumerate(settings):
        gen = draws[i]["gen"]
        rows.append(
            dict(
                experiment=experiment,
                **info,
                gamma=gen.gamma_,
                alpha=gen.alpha_,
                beta=gen.beta_,
                run=run,
                seed=run_seed,
                teacher_acc=teacher_acc[i],
                student_nokd_acc=student_acc[i],
                student_kd_acc=student_acc[n + i],
            )
        )
    return rows


def run_fig2(*, overlaps=FIG2_OVERLAPS, runs=10, seed=0, setup=PAPER_SETUP, jobs=None, progress=False):
    """Fig. 2: teacher and students as the modality overlap ``gamma`` grows.

    Parameters
    ----------
    overlaps : sequence of int, default=(0, 2, 4, 6, 8, 10)
        Shared decisive latents ``o`` (out of 10 per modality).
    runs : int, default=10
        Independent runs per setting.
    seed : int, default=0
        Run ``r`` uses the seed ``seed + r``.
    setup : SyntheticSetup, default=PAPER_SETUP
        Training protocol.
    jobs : int or None, default=None
        joblib workers over runs; results do not depend on it.
    progress : bool, default=False
        Show a tqdm progress bar.

    Returns
    -------
    DataFrame
        One row per (overlap, run): ``experiment, overlap, gamma, alpha,
        beta, run, seed, teacher_acc, student_nokd_acc, student_kd_acc``
        (accuracies in [0, 1]).
    """
    settings = [({"overlap": o}, fig2_params(o)) for o in overlaps]
    return collect_runs(
        _kd_sweep_run, runs, seed, jobs, progress, "Fig. 2", experiment="fig2", settings=settings, setup=setup
    )


def run_fig3(*, n_specific=FIG3_SPECIFIC, runs=10, seed=0, setup=PAPER_SETUP, jobs=None, progress=False):
    """Fig. 3: teacher and students as the teacher-specific share ``alpha`` grows.

    Parameters are those of :func:`run_fig2`, with ``n_specific`` the
    teacher-specific decisive latents ``k`` (default 0, 10, ..., 40). The
    frame has a ``k`` column instead of ``overlap``.
    """
    settings = [({"k": k}, fig3_params(k)) for k in n_specific]
    return collect_runs(
        _kd_sweep_run, runs, seed, jobs, progress, "Fig. 3", experiment="fig3", settings=settings, setup=setup
    )


def _algorithm1_columns(pair_a, pair_b, Xa, Xb, k, d_a, d_b, seed, setup):
    """Top-k columns of modality a by Algorithm 1's permutation salience."""
    from crossmodal.focus._salience import minmax_normalize, permutation_salience

    result = permutation_salience(
        unstack_linear(pair_a, d_a),
        unstack_linear(pair_b, d_b),
        _f32(Xa),
        _f32(Xb),
        n_repeats=setup.n_repeats,
        distance="mse",
        random_state=seed,
        n_jobs=1,
    )
    p = minmax_normalize(result.importances_mean)  # as the authors do
    return np.sort(np.argsort(-p, kind="stable")[:k])


def _table2_run(settings, modes, run, run_seed, setup):
    """One run of Table 2 at every (xs1, xs2) and selection mode."""
    seeds = _run_seeds(run_seed, "table2")
    draws = [_draw(table2_params(*st), seeds, setup, second_draw=True) for st in settings]
    gens = [dr["gen"] for dr in draws]
    d_a = [g.n_features_a_ for g in gens]
    d_b = [g.n_features_b_ for g in gens]
    n = len(settings)
    Xa1, Xb1, y1 = (list(v) for v in zip(*(dr["train"] for dr in draws)))
    Xa2, Xb2, y2 = (list(v) for v in zip(*(dr["train2"] for dr in draws)))
    Xat, Xbt, yt = (list(v) for v in zip(*(dr["test"] for dr in draws)))

    columns = {m: [] for m in modes}
    if "alg1" in modes:  # Algorithm 1 on the first draw, one pair per setting
        pair_a, pair_b = train_aligned_pair_batch(
            stack_linear([default_linear_init(d, _N_CLASSES, seeds["pair_a"]) for d in d_a]),
            stack_inputs([_f32(x) for x in Xa1]),
            stack_linear([default_linear_init(d, _N_CLASSES, seeds["pair_b"]) for d in d_b]),
            stack_inputs([_f32(x) for x in Xb1]),
            np.stack(y1),
            lr=setup.pair_lr,
            momentum=setup.pair_momentum,
            n_epochs=setup.pair_epochs,
        )
    for i, gen in enumerate(gens):
        k = gen.n_general
        for m in modes:
            if m == "gt":
                cols = np.flatnonzero(gen.general_mask_a_)
            elif m == "random":
                cols = np.sort(np.random.default_rng(seeds["random_columns"]).choice(d_a[i], size=k, replace=False))
            else:
                cols = _algorithm1_columns(
                    pair_a[i], pair_b[i], Xa1[i], Xb1[i], k, d_a[i], d_b[i], seeds["permutation"], setup
                )
            columns[m].append(cols)

    # Teachers: regular on draw 1 (full modality a); modality-general on draw 2's kept columns.
    width = max(d_a)
    t_init, t_X, t_y = [], [], []
    for i in range(n):
        t_init.append(default_linear_init(d_a[i], _N_CLASSES, seeds["teacher"]))
        t_X.append(Xa1[i])
        t_y.append(y1[i])
    for m in modes:
        for i in range(n):
            t_init.append(default_linear_init(len(columns[m][i]), _N_CLASSES, seeds["mg_teacher"]))
            t_X.append(Xa2[i][:, columns[m][i]])
            t_y.append(y2[i])
    teachers = _fit(t_init, t_X, t_y, setup, width=width)
    t_test = Xat + [Xat[i][:, columns[m][i]] for m in modes for i in range(n)]
    teacher_acc = _acc(teachers, t_test, yt * (1 + len(modes)), width=width)
    regular = teachers[:n]
    proba_regular = _proba(regular, Xa2, width)
    proba_mg = _proba(teachers[n:], [t_X[n + j] for j in range(n * len(modes))], width)

    # Students on draw 2's modality b: no-KD, regular KD, one MG-KD per mode, and
    # the authors' swapped call (student on modality a, teacher fed modality b).
    swap = all(da == db for da, db in zip(d_a, d_b))
    s_init = [default_linear_init(d, _N_CLASSES, seeds["student"]) for d in d_b]
    groups = 2 + len(modes) + swap
    s_X = Xb2 * (2 + len(modes)) + (Xa2 if swap else [])
    s_kl = [0.0] * n + [setup.kl_weight] * n * (groups - 1)
    s_proba = [np.zeros_like(proba_regular), proba_regular, proba_mg]
    if swap:
        s_proba.append(_proba(regular, Xb2, width))
    students = _fit(s_init * groups, s_X, y2 * groups, setup, kl_weight=s_kl, teacher_proba=np.concatenate(s_proba))
    student_acc = _acc(students, Xbt * groups, yt * groups).reshape(groups, n)

    rows = []
    for j, m in enumerate(modes):
        for i, (xs1, xs2) in enumerate(settings):
            rows.append(
                dict(
                    experiment="table2",
                    xs1=xs1,
                    xs2=xs2,
                    gamma=gens[i].gamma_,
                    mode=m,
                    k=len(columns[m][i]),
                    run=run,
                    seed=run_seed,
                    teacher_acc=teacher_acc[i],
                    mg_teacher_acc=teacher_acc[n * (1 + j) + i],
                    student_nokd_acc=student_acc[0, i],
                    student_kd_acc=student_acc[1, i],
                    student_mg_kd_acc=student_acc[2 + j, i],
                    student_kd_swapped_acc=student_acc[-1, i] if swap else np.nan,
                    selection_precision=float(gens[i].general_mask_a_[columns[m][i]].mean())
                    if len(columns[m][i])
                    else np.nan,
                )
            )
    return rows


def run_table2(
    *, settings=TABLE2_SETTINGS, modes=TABLE2_MODES, runs=10, seed=0, setup=PAPER_SETUP, jobs=None, progress=False
):
    """Table 2: regular vs modality-general teacher and their students.

    Parameters
    ----------
    settings : sequence of (int, int), default=TABLE2_SETTINGS
        ``(xs1, xs2)``: teacher-specific and modality-general decisive
        latents; the regular teacher has ``gamma = xs2 / (xs1 + xs2)``.
    modes : sequence of {"gt", "alg1", "random"}, default=all three
        How the modality-general teacher's ``k = xs2`` columns are chosen.
    runs, seed, setup, jobs, progress
        As in :func:`run_fig2`.

    Returns
    -------
    DataFrame
        One row per (setting, mode, run): ``experiment, xs1, xs2, gamma,
        mode, k, run, seed, teacher_acc, mg_teacher_acc, student_nokd_acc,
        student_kd_acc, student_mg_kd_acc, student_kd_swapped_acc,
        selection_precision``. ``student_kd_acc`` is the correct regular KD
        (teacher fed modality *a*); ``student_kd_swapped_acc`` repeats the
        authors' swapped call. ``selection_precision`` is the share of kept
        columns that are truly modality-general. The regular teacher,
        no-KD and regular-KD columns are shared by the modes of one run.
    """
    bad = sorted(set(modes) - set(TABLE2_MODES))
    if bad or not len(modes):
        raise ValueError(f"modes must be a non-empty subset of {TABLE2_MODES}; got {tuple(modes)!r}.")
    for xs1, xs2 in settings:
        if xs2 < 1 or xs1 < 0 or xs1 + xs2 > 50:
            raise ValueError(
                f"Each Table 2 setting (xs1, xs2) needs xs2 >= 1, xs1 >= 0 and xs1 + xs2 <= 50; got {(xs1, xs2)}."
            )
    return collect_runs(
        _table2_run, runs, seed, jobs, progress, "Table 2", settings=tuple(settings), modes=tuple(modes), setup=setup
    )


@ENTRY.document
def run(out_dir, *, runs=None, seed=0, jobs=None, quick=False, progress=False):
    """Run Fig. 2, Fig. 3 and Table 2 and write CSVs, a report and figures."""
    out = ENTRY.start(out_dir, runs, quick)
    setup = QUICK_SETUP if quick else PAPER_SETUP
    common = dict(runs=out.runs, seed=seed, setup=setup, jobs=jobs, progress=progress)
    frames = {
        "fig2": run_fig2(overlaps=QUICK_FIG2_OVERLAPS if quick else FIG2_OVERLAPS, **common),
        "fig3": run_fig3(n_specific=QUICK_FIG3_SPECIFIC if quick else FIG3_SPECIFIC, **common),
        "table2": run_table2(settings=QUICK_TABLE2_SETTINGS if quick else TABLE2_SETTINGS, **common),
    }
    seconds = out.computed()
    meta = dict(runs=out.runs, seed=seed, jobs=jobs, quick=quick, setup=setup, seconds=seconds, version=__version__)
    files, checks, report_path = write_outputs(out.out_dir, frames, meta)
    out.written(files, report_path)
    return out.result(checks, frames=frames, quick=quick, runs=out.runs)
