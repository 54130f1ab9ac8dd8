"""Tests of ``crossmodal reproduce diagnose`` (crossmodal/experiments/diagnose.py and its parts) at tiny size."""

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import quick_template
from skorch import NeuralNetClassifier

from crossmodal import CrossModalDistiller, MVDGenerator
from crossmodal.experiments import diagnose as experiment
from crossmodal.experiments._diagnose_gains import default_teacher_proba, measure_gains, stacked_students
from crossmodal.experiments._diagnose_mvd import _mvd_run
from crossmodal.experiments._rows import keep_labels
from crossmodal.experiments._synthetic_protocol import QUICK_SETUP, fig2_params, table2_params
from crossmodal.nets import MLP


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 6)).astype(np.float32)
    X_a = (X[:, :3] + 0.3 * rng.standard_normal((150, 3))).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, X_a, y, keep_labels(y, 10, 0)


@pytest.mark.parametrize("labels", ["all", "few"])
def test_stacked_students_and_the_teacher_equal_the_distillers_own(small, labels):
    X, X_a, y, few = small
    codes = y if labels == "all" else few
    proba = np.random.default_rng(1).dirichlet(np.ones(3), size=(3, 150))
    rho = [0.0, 0.5, 1.0]
    logits = stacked_students(X, codes, proba, rho, 3, hidden_sizes=(5,), epochs=6, batch_size=32, lr=1e-2)(X)
    net = quick_template(
        (5,), optimizer=torch.optim.Adam, lr=1e-2, max_epochs=6, batch_size=32, iterator_train__shuffle=True
    )
    for r in range(3):
        kd = CrossModalDistiller(student=net, rho=rho[r], random_state=3).fit(X, codes, teacher_proba=proba[r])
        want = kd.student_.module_(torch.as_tensor(X)).detach().numpy()
        # float32, 30 Adam steps: rounding differences of the two KD implementations stay tiny
        np.testing.assert_allclose(logits[r], want, rtol=1e-3, atol=1e3 * np.finfo(np.float32).eps)
    assert not np.allclose(logits[0], logits[1])
    # The default teacher: fitted on the labelled rows, queried on every row, exactly as the distiller does.
    kd = CrossModalDistiller(random_state=4).fit(X, codes, X_teacher=X_a)
    np.testing.assert_array_equal(default_teacher_proba(X_a, codes, 3, 4), kd.teacher_proba_)


def test_few_labels_keeps_that_many_rows_per_class(small):
    _, _, y, few = small
    assert keep_labels(y, None, 0) is y
    assert np.all(np.bincount(few[few >= 0]) == 10) and np.all(few[few >= 0] == y[few >= 0])
    assert np.array_equal(few, keep_labels(y, 10, 0)) and not np.array_equal(few, keep_labels(y, 10, 1))


def test_measured_gains_pair_the_distiller_with_its_labels_only_twin(small):
    X, X_a, y, few = small
    settings = dict(hidden_sizes=(4,), epochs=3, batch_size=32, lr=1e-2)
    gains = measure_gains({"a": X_a, "b": X}, {"a": X_a, "b": X}, few, y, [("a", "b")], 0, settings=settings)
    gain, kd, nokd = gains[("a", "b")]
    assert gain == pytest.approx(kd - nokd) and 0 <= nokd <= 1
    labels_only = CrossModalDistiller(student=NeuralNetClassifier(MLP, **_template(settings)), rho=1.0, random_state=0)
    assert nokd == pytest.approx(labels_only.fit(X, few).score(X, y))


def _template(settings):
    return dict(
        module__hidden_sizes=settings["hidden_sizes"],
        optimizer=torch.optim.Adam,
        lr=settings["lr"],
        max_epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        iterator_train__shuffle=True,
        train_split=None,
        callbacks="disable",
    )


def test_one_mvd_run_has_every_column_and_the_true_gamma():
    settings = [("table2", "xs1=10,xs2=30", table2_params(10, 30))]
    rows = _mvd_run(0, 0, settings, QUICK_SETUP, n_bootstrap=20)
    assert len(rows) == 1
    row = rows[0]
    assert row["true_gamma"] == 0.75 and row["teacher_share"] == 0.75
    for tag in ("200", "2000"):
        for est in ("gamma", "shared_gamma"):
            assert 0.0 <= row[f"{est}_lo_{tag}"] <= row[f"{est}_{tag}"] <= row[f"{est}_hi_{tag}"] <= 1.0
    assert -100.0 <= row["measured_gain"] <= 100.0
    assert row["measured_gain"] == pytest.approx(100 * (row["kd_acc"] - row["nokd_acc"]))
    assert row["predicted_gain_lo"] <= row["predicted_gain"] <= row["predicted_gain_hi"]


def _frames(noise, regret=0.0):
    """MVD and real frames whose predictions are the measured gains plus ``noise`` points of noise."""
    rng = np.random.default_rng(0)
    mvd = []
    for family, values in (("fig2", (0.0, 0.25, 0.5, 1.0)), ("table2", (0.25, 0.5, 0.75))):
        for g in values:
            for run in range(2):
                hyperplane = "normal" if family == "fig2" else "ones"
                row = dict(
                    family=family, setting=f"g={g}", hyperplane=hyperplane, run=run, true_gamma=g, teacher_share=g
                )
                for tag in ("200", "2000"):
                    for est in ("gamma", "shared_gamma"):
                        row.update({f"{est}_{tag}": g, f"{est}_lo_{tag}": g - 0.01, f"{est}_hi_{tag}": g + 0.01})
                mvd.append(row)
    mvd = pd.DataFrame(mvd)
    mvd["measured_gain"] = np.where(mvd["true_gamma"] > 0.4, 2.0, -2.0)
    real = []
    views = ["v0", "v1", "v2"]
    for budget in ("all", 10):
        for a in views:
            for b in views:
                if a != b:
                    gain = (views.index(a) - views.index(b)) * (4.0 if budget == 10 else 1.0)
                    for run in range(2):
                        real.append(dict(dataset="mfeat", budget=budget, teacher_view=a, student_view=b, run=run))
                        real[-1].update(measured_gain=gain + 0.1 * (run - 0.5))
    real = pd.DataFrame(real)
    for frame in (mvd, real):
        frame["predicted_gain"] = frame["measured_gain"] + noise * rng.normal(size=len(frame))
        frame["predicted_gain_lo"] = frame["predicted_gain"] - 1.0
        frame["predicted_gain_hi"] = frame["predicted_gain"] + 1.0
        frame["verdict"] = np.where(
            frame["predicted_gain"] > 0.5,
            "helps",
            np.where(frame["predicted_gain"] < -0.5, "likely to hurt", "unlikely to help"),
        )
        for col in ("teacher_score", "accuracy_gap", "complementarity", "gamma"):
            frame[col] = rng.random(len(frame))
    real["rank"] = real.groupby(["budget", "student_view", "run"])["predicted_gain"].rank(
        ascending=False, method="first"
    )
    if regret:
        real.loc[real["rank"] == 1, "rank"] = 0
        real.loc[real["rank"] == 2, "rank"] = 1
    return mvd, real


def test_checks_pass_on_perfect_predictions_and_fail_on_noise():
    checks = {c.name: c for c in experiment.check_trends(*_frames(0.0))}
    assert all(c.passed for c in checks.values()), [c.line() for c in checks.values() if not c.passed]
    noisy = {c.name: c for c in experiment.check_trends(*_frames(15.0))}
    for name in (
        "mfeat, every row labelled (6 cells): median |predicted - measured gain|",
        "few labels (6 cells): median |predicted - measured gain|",
        "90% intervals of the predicted gain cover the cell's seed-averaged measured gain",
    ):
        assert noisy[name].passed is False, noisy[name].line()
    wrong = {c.name: c for c in experiment.check_trends(*_frames(0.0, regret=1.0))}
    choice = [c for name, c in wrong.items() if name.startswith("Teacher choice")][0]
    assert choice.passed is False and choice.observed.startswith("1.")


def test_cells_average_seeds_and_judge_each_seed_against_the_mean():
    mvd, real = _frames(0.0)
    rows = experiment.cell_rows(mvd, real)
    cells = experiment.cell_summary(rows)
    assert len(cells) == mvd.groupby(["family", "setting"]).ngroups + 12
    one = rows[rows["cell"] == "mfeat v0->v1 @all"]
    assert np.allclose(one["cell_gain"], one["measured_gain"].mean())
    assert set(cells["group"]) == {"MVD settings", "mfeat", "few labels"}


def test_verdict_agreement_states_its_spread_over_resampled_seeds():
    from crossmodal.experiments._diagnose_report import seed_resampled_verdict_agreement

    # Verdicts that match the outcome of every seed: every resample agrees fully.
    mvd, real = _frames(0.0)
    rows = experiment.cell_rows(mvd, real)
    judged = rows[rows["group"].isin(["MVD settings", "mfeat"])]
    assert seed_resampled_verdict_agreement(judged) == (1.0, 1.0)
    # A cell whose seeds disagree on the side of +-0.5 points: its outcome depends on the seeds drawn.
    flip = pd.DataFrame(
        {
            "cell": ["c"] * 2 + ["d"] * 2,
            "run": [0, 1, 0, 1],
            "measured_gain": [2.0, -2.0, 3.0, 3.0],
            "verdict": ["helps"] * 4,
        }
    )
    low, high = seed_resampled_verdict_agreement(flip, n_boot=400)
    # Runs drawn (0, 0): all 4 agree; (1, 1): cell c hurts, 2 of 4; mixed: c's mean is 0, 2 of 4.
    assert (low, high) == (0.5, 1.0)
    checks = {c.name: c for c in experiment.check_trends(mvd, real)}
    verdict = next(c for name, c in checks.items() if name.startswith("Verdict agrees"))
    assert "95% interval with the seeds resampled: 100% to 100%" in verdict.observed


def test_a_gain_on_the_margin_counts_as_no_change_however_it_was_rounded():
    from crossmodal.experiments._diagnose_report import outcome

    # 62.3% - 61.8% of the test rows is 0.5 points; in floating point it is 0.5000000000000004.
    on_margin = 100 * (0.623 - 0.618)
    assert on_margin != 0.5
    assert outcome([on_margin, -on_margin, 0.5]).tolist() == ["unlikely to help"] * 3
    assert outcome([0.5 + 1e-6, -0.5 - 1e-6]).tolist() == ["helps", "likely to hurt"]


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


def test_the_report_has_every_table_and_the_figure(tmp_path):
    from crossmodal.experiments._diagnose_tables import write_report
    from crossmodal.experiments._output import Output

    mvd, real = _frames(0.5)
    for col in ("gamma", "shared_gamma"):
        for tag in ("200", "2000"):
            mvd[f"{col}_{tag}"] = mvd["true_gamma"]
    out = Output(tmp_path, runs=2, quick=True)
    out.computed()
    checks = experiment.check_trends(mvd, real)
    report = open(write_report(out, mvd, real, checks, datasets=["mfeat"], n_boot=10, quick="Fewer cells.")).read()
    assert "**This `--quick` run computed part of what follows**: Fewer cells. `crossmodal.diagnose`" in report
    for heading in ("## Trend checks", "its rivals", "Which modality should teach?", "## Per cell", "## MVD: gamma"):
        assert heading in report
    assert "complementarity I(T;S) - I(S;Y)" in report and "Mean regret over student views: 0.00 points" in report
    assert "labelled: helps at >=" in report and (tmp_path / "diagnose.png").exists()


def test_gamma_coverage_states_its_spread_over_resampled_runs():
    from crossmodal.experiments._diagnose_report import run_resampled_share

    # Two runs of two rows, one run all hits and one all misses: resamples give 0, 1/2 or 1 (each run drawn twice
    # with probability 1/4), so the 95% interval is (0, 1); runs alike give their common share every time.
    assert run_resampled_share([True, True, False, False], [0, 0, 1, 1], n_boot=400) == (0.0, 1.0)
    assert run_resampled_share([True, False, True, False], [0, 0, 1, 1]) == (0.5, 0.5)
    # Runs of different sizes pool their rows: with each run drawn once (half the resamples), 1 hit of 4 rows, not
    # the mean of the runs' shares (1/2); the central 20% of the resamples lie there.
    assert run_resampled_share([True, False, False, False], [0, 1, 1, 1], n_boot=2000, confidence=0.2) == (0.25, 0.25)
    mvd, real = _frames(0.0)
    miss = (mvd["hyperplane"] == "ones") & (mvd["run"] == 1) & (mvd["true_gamma"] == 0.5)
    mvd.loc[miss, "shared_gamma_hi_200"] = 0.4  # one run's interval misses one setting's gamma
    checks = {c.name: c for c in experiment.check_trends(mvd, real)}
    shared = next(c for name, c in checks.items() if "shared_gamma_ci" in name)
    assert shared.observed.startswith("n=200: 83%, n=2000: 100% of 6 (setting, run) cases each")
    assert "misses at n=200 per run: 0 / 1" in shared.observed
    assert "runs resampled: n=200: 67% to 100%, n=2000: 100% to 100%" in shared.observed
