"""Tests of ``crossmodal reproduce ranking`` (the paper's real-data protocol).

The gallery example is run by tests/test_examples.py.
"""

import os
import re

import numpy as np
import pandas as pd
import scipy.stats
import torch
from conftest import quick_template

from crossmodal import CrossModalDistiller, ModalityGeneralRanker
from crossmodal._utils.torch_helpers import torch_threads
from crossmodal.experiments import ranking
from crossmodal.experiments._batched_mlp import distil_students
from crossmodal.experiments._ranking_protocol import _net

EPOCHS = 2
REPEATS = 2


def test_split_never_gives_test_rows_to_validation():
    y = np.repeat(np.arange(4), 50)
    train, test = ranking._split(y, 3, validation=False)
    fit, valid = ranking._split(y, 3, validation=True)
    assert set(fit) | set(valid) == set(train) and not set(fit) & set(valid)
    assert not (set(fit) | set(valid)) & set(test)
    assert len(valid) == round(ranking.VALIDATION_SHARE * len(train))


def test_run_rows_equal_the_joint_distiller(monkeypatch):
    """Each student of the experiment is what CrossModalDistiller(teacher="joint") trains for that mode and r."""
    with torch_threads(1):
        rows = ranking._joint_run(0, 5, "mfeat-pix-fou", (0.25, 0.5), (1,), (4.0,), EPOCHS, REPEATS)
    frame = pd.DataFrame(rows)
    assert list(frame["ratio"]) == [0.25, 0.5]
    for t in ranking.TEACHERS:
        assert frame[f"student_{t}_acc"].between(0, 1).all() and frame[f"teacher_{t}_acc"].between(0, 1).all()
    assert frame["salience_min"].max() < 1 and frame["salience_median"].between(-1, 1).all()

    Xt_fit, Xt_eval, Xs_fit, Xs_eval, y_fit, y_eval = ranking._prepare("mfeat-pix-fou", 5, validation=False)
    net = _net(ranking.PAIR_HIDDEN, EPOCHS)
    focus = ModalityGeneralRanker(
        estimator_a=net, estimator_b=net, layer=1, n_repeats=REPEATS, mode="specific", ratio=0.5, random_state=5
    )
    kd = CrossModalDistiller(
        teacher="joint",
        focus=focus,
        student=_net(ranking.STUDENT_HIDDEN, EPOCHS),
        rho=0.0,
        temperature=4.0,
        random_state=5,
    )
    with torch_threads(1):
        kd.fit(Xs_fit, y_fit, X_teacher=Xt_fit)
    row = frame[frame["ratio"] == 0.5].iloc[0]
    # the experiment trains its students as one stack: the same student up to rounding
    assert abs(row["student_specific_acc"] - np.mean(kd.predict(Xs_eval) == y_eval)) <= 3 / len(y_eval)
    teacher = kd.classes_[np.argmax(kd.teacher_(torch.as_tensor(Xt_eval)).detach().numpy(), axis=1)]
    assert row["teacher_specific_acc"] == np.mean(teacher == y_eval)  # the same module, exactly


def test_stacked_students_equal_the_distiller_up_to_rounding():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    proba = rng.dirichlet(np.ones(3), size=(2, 150))
    rho = [0.0, 0.5]
    logits = distil_students(
        X, y, proba, rho, temperature=2.0, hidden_sizes=(5,), epochs=6, batch_size=32, lr=1e-2, random_state=3
    )(X)
    assert logits.shape == (2, 150, 3)
    net = quick_template(
        (5,), optimizer=torch.optim.Adam, lr=1e-2, max_epochs=6, batch_size=32, iterator_train__shuffle=True
    )
    for r in range(2):
        kd = CrossModalDistiller(student=net, rho=rho[r], temperature=2.0, random_state=3)
        kd.fit(X, y, teacher_proba=proba[r])
        want = kd.student_.module_(torch.as_tensor(X)).detach().numpy()
        # float32, 30 Adam steps: rounding differences of the two KD implementations stay tiny
        np.testing.assert_allclose(logits[r], want, rtol=1e-3, atol=1e3 * np.finfo(np.float32).eps)
    assert not np.allclose(logits[0], logits[1])  # the teachers made them differ


def _frame(general, specific, regular, runs=5, ratios=(0.25, 0.5, 0.75), noise=0.002):
    rng = np.random.default_rng(0)
    rows = []
    for run in range(runs):
        for r in ratios:
            base = 0.8 + rng.normal(0, 0.02)
            rows.append(
                dict(
                    dataset="d",
                    ratio=r,
                    run=run,
                    student_regular_acc=base + regular,
                    student_general_acc=base + general + rng.normal(0, noise),
                    student_specific_acc=base + specific + rng.normal(0, noise),
                    student_random_acc=base,
                )
            )
    return pd.DataFrame(rows)


def test_trend_checks_pass_and_fail_on_the_numbers():
    frame = _frame(general=0.01, specific=-0.05, regular=0.0)
    passing = ranking.check_trends(frame, "d")
    assert [c.verdict for c in passing] == ["PASS", "PASS"]
    at = frame[frame["ratio"] == 0.25]
    gap = 100 * (at["student_general_acc"] - at["student_specific_acc"])
    half = scipy.stats.t.ppf(0.975, 4) * gap.std(ddof=1) / np.sqrt(5)  # the paired t interval over 5 seeds
    assert (
        f"r=0.25: {gap.mean():+.2f} [{gap.mean() - half:+.2f}, {gap.mean() + half:+.2f}] (100% > 0)"
        in passing[0].observed
    )
    # general worse than regular by far more than its standard error: FAIL
    worse = ranking.check_trends(_frame(general=-0.03, specific=-0.05, regular=0.0), "d")
    assert [c.verdict for c in worse] == ["PASS", "FAIL"]
    # general below regular within the noise of 5 seeds: the interval reaches 0, no FAIL
    noisy = _frame(general=0.0, specific=-0.05, regular=0.0)
    noisy["student_general_acc"] = noisy["student_regular_acc"] + np.tile([-0.01, 0.005, -0.004, 0.002, -0.003], 3)
    assert ranking.check_trends(noisy, "d")[1].verdict == "PASS"  # mean -0.2 points, interval about [-0.9, +0.5]
    noisy["student_general_acc"] -= 0.01
    assert ranking.check_trends(noisy, "d")[1].verdict == "FAIL"
    # general below specific at one ratio only: FAIL (the claim is "at every r")
    frame = _frame(general=0.01, specific=-0.05, regular=0.0)
    frame.loc[frame["ratio"] == 0.75, "student_specific_acc"] += 0.2
    assert ranking.check_trends(frame, "d")[0].verdict == "FAIL"
    assert [c.verdict for c in ranking.check_trends(frame, "other")] == ["N/A", "N/A"]


def test_tune_chooses_from_the_grid_on_validation_rows(monkeypatch):
    seen = []
    split = ranking._split

    def spy(y, seed, validation):
        seen.append(validation)
        return split(y, seed, validation)

    monkeypatch.setattr(ranking, "_split", spy)
    grid = dict(layer=(0, 1), temperature=(1.0, 4.0), epochs=(EPOCHS,))
    chosen, scores = ranking.tune(["mfeat-kar-mor"], runs=1, grid=grid)
    assert seen and all(seen)  # only validation splits
    assert set(chosen) == {"mfeat-kar-mor"}
    pick = chosen["mfeat-kar-mor"]
    assert pick["layer"] in (0, 1) and pick["temperature"] in (1.0, 4.0) and pick["epochs"] == EPOCHS
    best_t = scores.groupby("temperature")["student_regular_acc"].mean().idxmax()
    assert pick["temperature"] == best_t
    assert len(scores) == 2 * 2 * len(ranking.RATIOS)  # layers x temperatures x ratios


def test_quick_run_writes_report_figures_and_checks(tmp_path, monkeypatch):
    monkeypatch.setattr(ranking, "DATASETS", {k: ranking.DATASETS[k] for k in ("mfeat-kar-mor", "mvd-mlp")})
    result = ranking.run(tmp_path, quick=True)
    frame = result["frame"]
    assert set(frame["dataset"]) == {"mfeat-kar-mor", "mvd-mlp"} and set(frame["ratio"]) == {0.5}
    assert frame.groupby("dataset")["run"].nunique().tolist() == [2, 2]
    assert len(result["checks"]) == 4 and all(c.verdict in ("PASS", "FAIL") for c in result["checks"])
    names = sorted(os.path.basename(f) for f in result["files"])
    assert names == ["ranking.csv", "ranking_mfeat-kar-mor.png", "ranking_mvd-mlp.png", "report.md"]
    text = open(result["report"], encoding="utf-8").read()
    assert "QUICK RUN" in text and "validation rows" in text and "general − specific" in text
    for name in ("mfeat-kar-mor", "mvd-mlp"):  # the settings table shows the epochs the quick run trained
        s = ranking.SETTINGS[name]
        row = (
            rf"\|\s*{name}\s*\|[^|]*\|\s*{s['layer']}\s*\|\s*{s['temperature']:g}\s*\|\s*{ranking.QUICK['epochs']}\s*\|"
        )
        assert re.search(row, text), row
    for check in result["checks"]:
        assert check.line() in text
