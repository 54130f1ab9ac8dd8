"""Tests of ``crossmodal reproduce diagnose`` (crossmodal/experiments/diagnose.py and its parts) at tiny size."""

import numpy as np
import pandas as pd

from crossmodal import MVDGenerator
from crossmodal.experiments import diagnose as experiment
from crossmodal.experiments._diagnose_mvd import _mvd_run
from crossmodal.experiments._synthetic_protocol import QUICK_SETUP, fig2_params, table2_params


def test_one_mvd_run_has_every_column_and_the_true_gamma():
    settings = [("table2", "xs1=10,xs2=30", table2_params(10, 30))]
    rows = _mvd_run(0, 0, settings, QUICK_SETUP, n_bootstrap=20)
    assert len(rows) == 1
    row = rows[0]
    assert row["true_gamma"] == 0.75 and row["teacher_share"] == 0.75
    for tag in ("200", "2000"):
        for est in ("gamma", "shared_gamma"):
            assert 0.0 <= row[f"{est}_lo_{tag}"] <= row[f"{est}_{tag}"] <= row[f"{est}_hi_{tag}"] <= 1.0
    assert -1.0 <= row["measured_gain"] <= 1.0


def _frames(predicted_noise):
    rng = np.random.default_rng(0)
    mvd = []
    for family, values in (("fig2", (0.0, 0.25, 0.5, 1.0)), ("table2", (0.25, 0.5, 0.75))):
        for g in values:
            for run in range(2):
                row = dict(
                    family=family,
                    setting=f"g={g}",
                    hyperplane="ones" if family == "table2" else "normal",
                    run=run,
                    true_gamma=g,
                    teacher_share=g,
                    measured_gain=g / 10,
                )
                for tag in ("200", "2000"):
                    row.update(
                        {
                            f"gamma_{tag}": g,
                            f"gamma_lo_{tag}": g - 0.01,
                            f"gamma_hi_{tag}": g + 0.01,
                            f"shared_gamma_{tag}": g,
                            f"shared_gamma_lo_{tag}": g - 0.01,
                            f"shared_gamma_hi_{tag}": g + 0.01,
                            f"predicted_gain_{tag}": g / 10,
                        }
                    )
                mvd.append(row)
    measured = np.linspace(-0.05, 0.05, 30)
    real = pd.DataFrame(
        dict(
            dataset="mfeat",
            teacher_view=[f"t{i}" for i in range(30)],
            student_view="s",
            run=0,
            measured_gain=measured,
            predicted_gain=measured + predicted_noise * rng.normal(size=30),
            teacher_score=rng.random(30),
            accuracy_gap=rng.random(30),
            gamma=rng.random(30),
            mimic_score=0.5,
            student_score=0.5,
        )
    )
    return pd.DataFrame(mvd), real


def test_checks_pass_on_perfect_estimates_and_fail_on_noise():
    checks = {c.name: c for c in experiment.check_trends(*_frames(0.0))}
    assert all(c.passed for c in checks.values()), [c.line() for c in checks.values() if not c.passed]
    noisy = {c.name: c for c in experiment.check_trends(*_frames(1.0))}
    assert noisy["mfeat (30 ordered pairs): Spearman(predicted gain, measured gain)"].passed is False


def test_teacher_share_is_the_general_share_of_what_the_teacher_sees():
    ones = MVDGenerator(**{**fig2_params(4), "hyperplane": "ones"}, random_state=0).fit()
    assert ones.gamma_ == 4 / 16 and experiment.teacher_share(ones) == 4 / 10
    table2 = MVDGenerator(**table2_params(10, 20), random_state=0).fit()
    assert experiment.teacher_share(table2) == table2.gamma_
    normal = MVDGenerator(**fig2_params(4), random_state=3).fit()
    w = normal.coef_[0]
    general, specific_a = w[normal.latent_roles_ == "general"], w[normal.latent_roles_ == "specific_a"]
    expected = np.sum(general**2) / (np.sum(general**2) + np.sum(specific_a**2))
    assert abs(experiment.teacher_share(normal) - expected) <= 4 * np.finfo(np.float64).eps


def test_coverage_is_checked_against_the_teacher_share_and_the_diagram_gamma():
    mvd, real = _frames(0.0)
    mvd.loc[mvd["setting"] == "g=0.75", "teacher_share"] = 0.9  # outside g +- 0.01 in 2 of the 6 'ones' rows
    checks = {c.name.split(" cover ")[1][:9]: c for c in experiment.check_trends(mvd, real) if " cover " in c.name}
    assert checks["the teach"].passed is False and "67%" in checks["the teach"].observed
    assert checks["the diagr"].passed is True


def test_the_diagram_gamma_is_checked_on_shared_gamma_and_the_share_on_gamma():
    mvd, real = _frames(0.0)
    # Only shared_gamma's intervals miss the diagram's gamma (2 of 6 'ones' rows); gamma's still cover the share.
    mvd.loc[mvd["setting"] == "g=0.75", ["shared_gamma_lo_200", "shared_gamma_hi_200"]] = [0.1, 0.2]
    checks = {c.name.split(" cover ")[1][:9]: c for c in experiment.check_trends(mvd, real) if " cover " in c.name}
    assert checks["the diagr"].passed is False and "n=200: 67%" in checks["the diagr"].observed
    assert "n=2000: 100%" in checks["the diagr"].observed
    assert checks["the teach"].passed is True
    assert "shared_gamma_ci" in [n for n in (c.name for c in checks.values()) if "diagram" in n][0]
