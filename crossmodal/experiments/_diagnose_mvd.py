"""The MVD part of ``crossmodal reproduce diagnose``: estimated against true gamma, predicted against measured gain.

Per run and setting (the paper's Fig. 2 and Table 2 diagrams), the KD gain
measured with the paper's synthetic protocol at 200 training rows, and
:func:`crossmodal.diagnose` on those 200 rows and on a second draw of
:data:`N_BIG` rows.
"""

import numpy as np
from threadpoolctl import threadpool_limits

from crossmodal.diagnosis._diagnose import diagnose
from crossmodal.experiments._runs import collect_runs
from crossmodal.experiments._synthetic_protocol import (
    FIG2_OVERLAPS,
    PAPER_SETUP,
    QUICK_SETUP,
    TABLE2_SETTINGS,
    _draw,
    _run_seeds,
    fig2_params,
    paper_protocol_accuracies,
    table2_params,
)

__all__ = ["N_BIG", "run_mvd", "teacher_share"]

#: Rows of the second MVD draw, the large-sample estimate (the first is the paper's 200 training rows).
N_BIG = 2000


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
    """One seed: paper-protocol KD gain at n=200 and diagnose at n=200 and n=2000, per setting."""
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for family, label, params in settings:
            for hyperplane in ("normal", "ones") if family == "fig2" else ("ones",):
                p = {**params, "hyperplane": hyperplane}
                seeds = _run_seeds(run_seed, "fig2" if family == "fig2" else "table2")
                data = _draw(p, seeds, setup)
                gen = data["gen"]
                Xa, Xb, y = data["train"]
                nokd, kd = paper_protocol_accuracies(data, seeds, setup)
                small = diagnose(Xa, Xb, y, n_bootstrap=n_bootstrap, random_state=run_seed)
                Xa2, Xb2, y2 = gen.sample(N_BIG, random_state=seeds["train2"])
                big = diagnose(Xa2, Xb2, y2, n_bootstrap=n_bootstrap, random_state=run_seed)
                row = dict(family=family, setting=label, hyperplane=hyperplane, run=run, seed=run_seed)
                row.update(true_gamma=gen.gamma_, teacher_share=teacher_share(gen), measured_gain=float(kd - nokd))
                for tag, res in (("200", small), (str(N_BIG), big)):
                    row.update(
                        {
                            f"gamma_{tag}": res.gamma,
                            f"gamma_lo_{tag}": res.gamma_ci[0],
                            f"gamma_hi_{tag}": res.gamma_ci[1],
                            f"shared_gamma_{tag}": res.shared_gamma,
                            f"shared_gamma_lo_{tag}": res.shared_gamma_ci[0],
                            f"shared_gamma_hi_{tag}": res.shared_gamma_ci[1],
                            f"predicted_gain_{tag}": res.predicted_gain,
                        }
                    )
                rows.append(row)
    return rows


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
