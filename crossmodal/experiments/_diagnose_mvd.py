"""The MVD part of ``crossmodal reproduce diagnose``: estimated against true gamma, predicted against measured gain.

Per run and setting (the paper's Fig. 2 and Table 2 diagrams, drawn as the
paper's synthetic protocol draws them: 200 training rows, 1,000 test rows),
the gain of ``CrossModalDistiller()``'s defaults over the same estimator at
``rho=1`` (:func:`~crossmodal.experiments._diagnose_gains.measure_gains`),
and :func:`crossmodal.diagnose` on those 200 rows and on a second draw of
:data:`N_BIG` rows. Few labels: one Table 2 setting (:data:`FEW_SETTING`)
with :data:`N_PAIRS` training pairs of which 10 or 50 per class are
labelled.
"""

import numpy as np
from threadpoolctl import threadpool_limits

from crossmodal.diagnosis._diagnose import diagnose
from crossmodal.experiments._diagnose_gains import measure_gains
from crossmodal.experiments._rows import keep_labels
from crossmodal.experiments._runs import collect_runs
from crossmodal.experiments._synthetic_protocol import (
    FIG2_OVERLAPS,
    PAPER_SETUP,
    QUICK_SETUP,
    TABLE2_SETTINGS,
    _draw,
    _run_seeds,
    fig2_params,
    table2_params,
)

__all__ = ["FEW_BUDGETS", "FEW_SETTING", "N_BIG", "N_PAIRS", "run_mvd", "run_mvd_few", "teacher_share"]

#: Rows of the second MVD draw, the large-sample estimate (the first is the paper's 200 training rows).
N_BIG = 2000
#: The few-labels cells: Table 2's (xs1, xs2) = (10, 15) (gamma 0.6), N_PAIRS training pairs, labels per class.
FEW_SETTING, N_PAIRS, FEW_BUDGETS = (10, 15), 1000, (10, 50)


def _f32(X):
    return np.asarray(X, dtype=np.float32)


def _gain(train, test, codes, y_test, seed):
    """Measured gain (points, accuracies) of the default distiller from view a to view b."""
    gain, kd, nokd = measure_gains(
        {"a": _f32(train[0]), "b": _f32(train[1])},
        {"a": _f32(test[0]), "b": _f32(test[1])},
        codes,
        y_test,
        [("a", "b")],
        seed,
    )[("a", "b")]
    return dict(measured_gain=100 * gain, kd_acc=kd, nokd_acc=nokd)


def _predicted(res):
    lo, hi = res.predicted_gain_ci
    return dict(predicted_gain=res.predicted_gain, predicted_gain_lo=lo, predicted_gain_hi=hi, verdict=res.verdict)


def _mvd_settings(quick):
    fig2 = (0, 4, 10) if quick else FIG2_OVERLAPS
    table2 = ((15, 5), (10, 10), (10, 30)) if quick else TABLE2_SETTINGS
    return [("fig2", f"o={o}", fig2_params(o)) for o in fig2] + [
        ("table2", f"xs1={a},xs2={b}", table2_params(a, b)) for a, b in table2
    ]


def teacher_share(gen):
    """The share of the Bayes teacher's decision that modality *b* sees: what ``diagnose``'s gamma estimates.

    A teacher on *a* decides by the latents *a* sees, general and *a*-specific
    (``x*`` is standard normal and, with identity mixing, each latent is a
    column), so the part of its decision predictable from *b* is the general
    part: ``sum(delta_general^2) / sum(delta_general^2 + delta_specific_a^2)``;
    ``d0 / (d0 + d_sa)`` with ``hyperplane="ones"``. It equals the diagram's
    ``gamma_ = d0 / (d0 + d_sa + d_sb)`` only without *b*-specific latents
    (Table 2).
    """
    roles = gen.latent_roles_
    w2 = (np.asarray(gen.coef_, dtype=np.float64) ** 2).sum(axis=0)
    general = w2[roles == "general"].sum()
    seen = general + w2[roles == "specific_a"].sum()
    return float(general / seen) if seen > 0 else 0.0


def _mvd_run(run, run_seed, settings, setup, n_bootstrap):
    """One seed: the default distiller's gain at n=200 and diagnose at n=200 and n=2000, per setting."""
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for family, label, params in settings:
            for hyperplane in ("normal", "ones") if family == "fig2" else ("ones",):
                p = {**params, "hyperplane": hyperplane}
                seeds = _run_seeds(run_seed, "fig2" if family == "fig2" else "table2")
                data = _draw(p, seeds, setup)
                gen = data["gen"]
                Xa, Xb, y = data["train"]
                small = diagnose(Xa, Xb, y, n_bootstrap=n_bootstrap, random_state=run_seed)
                Xa2, Xb2, y2 = gen.sample(N_BIG, random_state=seeds["train2"])
                big = diagnose(Xa2, Xb2, y2, n_bootstrap=n_bootstrap, random_state=run_seed)
                row = dict(family=family, setting=label, hyperplane=hyperplane, run=run, seed=run_seed)
                row.update(true_gamma=gen.gamma_, teacher_share=teacher_share(gen))
                row.update(_gain((Xa, Xb), data["test"][:2], y, data["test"][2], seeds["student"]), **_predicted(small))
                for tag, res in (("200", small), (str(N_BIG), big)):
                    row.update(
                        {
                            f"gamma_{tag}": res.gamma,
                            f"gamma_lo_{tag}": res.gamma_ci[0],
                            f"gamma_hi_{tag}": res.gamma_ci[1],
                            f"shared_gamma_{tag}": res.shared_gamma,
                            f"shared_gamma_lo_{tag}": res.shared_gamma_ci[0],
                            f"shared_gamma_hi_{tag}": res.shared_gamma_ci[1],
                        }
                    )
                row.update(teacher_score=small.teacher_score, student_score=small.student_score, gamma=small.gamma)
                row.update(
                    accuracy_gap=small.teacher_score - small.student_score, complementarity=small.complementarity
                )
                rows.append(row)
    return rows


def _few_run(run, run_seed, budgets, n_bootstrap):
    """One seed of the few-labels MVD cells: N_PAIRS pairs of :data:`FEW_SETTING`, some labelled."""
    rows = []
    seeds = _run_seeds(run_seed, "table2")
    with threadpool_limits(limits=1, user_api="blas"):
        gen = _draw(table2_params(*FEW_SETTING), seeds, PAPER_SETUP)["gen"]
        Xa, Xb, y = gen.sample(N_PAIRS, random_state=seeds["train2"])
        test = gen.sample(1000, random_state=seeds["test"])
        for budget in budgets:
            codes = keep_labels(y, budget, [run_seed, budget])
            res = diagnose(Xa, Xb, codes, n_bootstrap=n_bootstrap, random_state=run_seed)
            row = dict(dataset="mvd", budget=budget, teacher_view="a", student_view="b", run=run, seed=run_seed)
            row.update(regime=res.regime, **_gain((Xa, Xb), test[:2], codes, test[2], seeds["student"]))
            row.update(_predicted(res), gamma=res.gamma, teacher_score=res.teacher_score)
            row.update(student_score=res.student_score, accuracy_gap=res.teacher_score - res.student_score)
            rows.append({**row, "complementarity": res.complementarity, "rank": 1, "candidates": 1})
    return rows


def run_mvd_few(*, runs=3, seed=0, jobs=None, progress=False, n_bootstrap=200, budgets=FEW_BUDGETS):
    """Tidy frame: one row per (labels per class, run) of the few-labels MVD cells (columns as ``run_real``'s)."""
    return collect_runs(
        _few_run, runs, seed, jobs, progress, "diagnose MVD few labels", budgets=budgets, n_bootstrap=n_bootstrap
    )


def run_mvd(*, runs=5, seed=0, quick=False, jobs=None, progress=False, n_bootstrap=200):
    """Tidy frame: one row per (setting, hyperplane, run) on MVD data."""
    setup = QUICK_SETUP if quick else PAPER_SETUP
    return collect_runs(
        _mvd_run,
        runs,
        seed,
        jobs,
        progress,
        "diagnose MVD",
        settings=_mvd_settings(quick),
        setup=setup,
        n_bootstrap=n_bootstrap,
    )
