"""Tests of ``crossmodal reproduce transfer`` (few labels, many pairs).

The gallery example is run by tests/test_examples.py.
"""

import os

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch

from crossmodal import CrossModalDistiller
from crossmodal._utils.labels import label_weights
from crossmodal._utils.torch_helpers import torch_threads
from crossmodal.distill._net import as_distillation_net
from crossmodal.distill.objectives import KD, TeacherOutputs
from crossmodal.distill.objectives._kl import teacher_targets
from crossmodal.experiments import _transfer_protocol, _transfer_runs, transfer
from crossmodal.experiments._batched_mlp import distil_students, stacked_loss
from crossmodal.experiments._ranking_protocol import _net
from crossmodal.experiments._rows import labelled_rows
from crossmodal.experiments._transfer_checks import (
    cell_differences,
    cell_gains,
    check_trends,
    default_gains,
    seed_resampled_rank_and_error,
)
from crossmodal.experiments._transfer_protocol import (
    STUDENT_HIDDEN,
    TEST_SHARE,
    TUNE_GRID,
    VALIDATION_SHARE,
    split_rows,
)
from crossmodal.experiments._transfer_runs import Student, prepare, train_students

EPOCHS = 3


# ---------------------------------------------------------------- label budgets and splits


def test_label_budgets_are_exact_per_class_and_nested():
    y = np.repeat(["a", "b", "c"], [40, 55, 31])
    masks = {k: labelled_rows(y, k, seed=4) for k in (3, 10, 30)}
    for k, mask in masks.items():
        assert {c: int(n) for c, n in zip(*np.unique(y[mask], return_counts=True))} == {"a": k, "b": k, "c": k}
    assert not (masks[3] & ~masks[10]).any() and not (masks[10] & ~masks[30]).any()
    assert labelled_rows(y, None, seed=4).all()
    assert not np.array_equal(masks[10], labelled_rows(y, 10, seed=5))  # the draw follows the seed
    with pytest.raises(ValueError, match="class 'c' has 31 training rows, fewer than 40 to label"):
        labelled_rows(y, 40, seed=0)


def test_budgets_label_training_pairs_only():
    """Validation and test rows never carry a budget's label; carving validation rows leaves the test rows alone."""
    y = np.repeat(np.arange(5), 60)
    train, test = split_rows(y, 7, validation=False)
    fit, valid = split_rows(y, 7, validation=True)
    assert len(test) == round(TEST_SHARE * len(y)) and not set(train) & set(test)
    assert set(fit) | set(valid) == set(train) and not set(fit) & set(valid)
    assert len(valid) == round(VALIDATION_SHARE * len(train))
    for rows in (train, fit):
        labelled = rows[labelled_rows(y[rows], 10, seed=7)]  # original indices of the labelled pairs
        assert set(labelled) <= set(rows) and not set(labelled) & (set(test) | set(rows) ^ set(train))
        assert np.bincount(y[labelled]).tolist() == [10] * 5


def test_prepare_scores_the_split_rows_it_says():
    Xt_fit, Xt_eval, Xs_fit, Xs_eval, y_fit, y_eval = prepare("mfeat-zer-pix", 2, validation=True)
    _, _, y = transfer.DATASETS["mfeat-zer-pix"][0](2)
    fit, valid = split_rows(np.asarray(y), 2, validation=True)
    np.testing.assert_array_equal(y_fit, np.asarray(y)[fit])
    np.testing.assert_array_equal(y_eval, np.asarray(y)[valid])
    assert Xt_fit.shape == (len(fit), 47) and Xs_eval.shape == (len(valid), 240)
    np.testing.assert_allclose(Xs_fit.mean(axis=0), 0, atol=1e-4)  # standardised on the fitted rows


# ---------------------------------------------------------------- the stacked students are the distiller's


def _batch_loss(logits, codes, proba, rho, temperature, label_weight, sample_weight):
    objective = KD(temperature=temperature)
    net = as_distillation_net(_net((), 1), 2, logits.shape[1], "cpu", rho=rho, objective=objective)
    batch = {k: torch.as_tensor(v) for k, v in objective.targets(TeacherOutputs(proba)).items()}
    batch.update(label_weight=torch.as_tensor(label_weight), sample_weight=torch.as_tensor(sample_weight))
    return net.distillation_loss(logits, torch.as_tensor(codes), batch).item()


def test_stacked_loss_weighs_rows_as_the_distiller():
    """Unlabelled rows (-1) out of the cross-entropy, KD on every row or on some: the library's loss, per student."""
    rng = np.random.default_rng(1)
    m, C = 19, 4
    logits = torch.as_tensor(rng.standard_normal((2, m, C)), dtype=torch.float32)
    codes = np.where(rng.random(m) < 0.4, rng.integers(0, C, m), -1)
    proba = rng.dirichlet(np.ones(C), size=(2, m))
    factor = label_weights(codes != -1, np.linspace(0.5, 1.5, m)).astype(np.float32)
    kd_weight = np.stack([np.ones(m), np.linspace(0.5, 1.5, m)]).astype(np.float32)
    temperature = torch.as_tensor([1.0, 3.0])
    targets = torch.stack([teacher_targets(p, t) for p, t in zip(proba, temperature.tolist())])
    rho = torch.as_tensor([0.3, 0.8])
    weights = torch.as_tensor(np.stack([factor, factor])), torch.as_tensor(kd_weight)
    got = stacked_loss(logits, torch.as_tensor(codes), targets, targets.exp(), rho, temperature, *weights)
    for r in range(2):
        want = _batch_loss(logits[r], codes, proba[r], rho[r].item(), temperature[r].item(), factor, kd_weight[r])
        np.testing.assert_allclose(got[r].item(), want, rtol=1e-5)


def test_stacked_students_with_unlabelled_rows_equal_the_distiller():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    labelled = labelled_rows(y, 8, seed=0)
    codes = np.where(labelled, y, -1)
    proba = rng.dirichlet(np.ones(3), size=150)
    factor = label_weights(labelled)
    kwargs = dict(hidden_sizes=(5,), epochs=6, batch_size=32, lr=1e-2, random_state=3, label_weight=factor)
    stack = np.stack([proba, proba])
    kd_weight = np.stack([np.ones(150), factor])
    logits = distil_students(X, codes, stack, [0.3, 0.3], temperature=[2.0, 2.0], kd_weight=kd_weight, **kwargs)(X)
    student = _net((5,), 6).set_params(lr=1e-2, batch_size=32)
    every = CrossModalDistiller(student=student, rho=0.3, temperature=2.0, random_state=3)
    every.fit(X, codes, teacher_proba=proba)
    only = CrossModalDistiller(student=student, rho=0.3, temperature=2.0, random_state=3)
    only.fit(X, codes, teacher_proba=proba, sample_weight=labelled.astype(float))
    for r, kd in enumerate((every, only)):
        want = kd.student_.module_(torch.as_tensor(X)).detach().numpy()
        np.testing.assert_allclose(logits[r], want, rtol=1e-3, atol=1e3 * np.finfo(np.float32).eps)
    assert not np.allclose(logits[0], logits[1])  # KD on the unlabelled rows changed the student


def test_experiment_students_equal_the_distiller():
    """The report's KD-on-every-pair number is what CrossModalDistiller gives, with its own LogisticRegression."""
    Xt_fit, Xt_eval, Xs_fit, Xs_eval, y_fit, y_eval = prepare("mfeat-pix-fou", 5, validation=False)
    classes = np.unique(y_fit)
    labelled = labelled_rows(y_fit, 10, seed=5)
    y_semi = np.where(labelled, y_fit, -1)
    proba, _ = _transfer_runs.fit_teachers(Xt_fit, Xt_eval, Xs_fit, y_semi, y_eval, 5, modes=())
    stack = [Student("labels", "none", 1.0, 1.0, (EPOCHS,)), Student("kd_every", "lr", 0.3, 2.0, (EPOCHS,))]
    codes = np.where(labelled, np.searchsorted(classes, y_fit), -1)
    with torch_threads(1):
        acc = train_students(stack, Xs_fit, codes, proba, Xs_eval, np.searchsorted(classes, y_eval), 5)
        student = _net(STUDENT_HIDDEN, EPOCHS)
        kd = CrossModalDistiller(teacher=_transfer_runs.teacher_model(), student=student, rho=0.3, temperature=2.0)
        kd.set_params(random_state=5).fit(Xs_fit, y_semi, X_teacher=Xt_fit)
        nokd = CrossModalDistiller(student=student, rho=1.0, random_state=5).fit(Xs_fit, y_semi)
    np.testing.assert_allclose(kd.teacher_proba_, proba["lr"], rtol=1e-6, atol=1e-9)  # the same teacher
    tolerance = 3 / len(y_eval)  # one stack against one fit: the same student up to rounding
    assert abs(acc["kd_every", EPOCHS] - np.mean(kd.predict(Xs_eval) == y_eval)) <= tolerance
    assert abs(acc["labels", EPOCHS] - np.mean(nokd.predict(Xs_eval) == y_eval)) <= tolerance


def test_every_student_sees_the_unlabelled_rows_as_minus_one(monkeypatch):
    """Codes are -1 outside the budget; only the labels-only and labelled-rows students leave those rows out."""
    seen = {}
    real_diagnosed, real_distil = _transfer_runs.diagnosed, _transfer_runs.distil_students

    def spy_distil(X, y, teacher_proba, rho, **kwargs):
        seen.update(y=np.array(y), rho=list(rho), label_weight=kwargs["label_weight"], kd_weight=kwargs["kd_weight"])
        return real_distil(X, y, teacher_proba, rho, **{**kwargs, "epochs": 1})

    def spy_diagnosed(X_a, X_b, y_semi, seed):
        seen["diagnose_y"] = np.array(y_semi)
        return real_diagnosed(X_a[:0], X_b[:0], y_semi[:0], seed)  # no rows: diagnose's error is recorded

    def spy_gains(train, test, codes, eval_codes, pairs, seed):
        seen.update(default_codes=np.array(codes), default_rows=(len(train["b"]), len(test["b"])), pairs=pairs)
        return {("a", "b"): (0.1, 0.8, 0.7)}

    monkeypatch.setattr(_transfer_runs, "distil_students", spy_distil)
    monkeypatch.setattr(_transfer_runs, "diagnosed", spy_diagnosed)
    monkeypatch.setattr(_transfer_runs, "measure_gains", spy_gains)
    monkeypatch.setattr(_transfer_protocol, "PAIR_EPOCHS", 1)
    stack = transfer.students_for(transfer.SETTINGS["mfeat-fac-mor"], max_epochs=1)
    cells = list(_transfer_runs.seed_cells(0, 3, "mfeat-fac-mor", (3,), lambda _: stack, False, True))
    ((row, accuracy),) = cells
    unlabelled = seen["y"] == -1
    assert (~unlabelled).sum() == 30 and row["n_labelled"] == 30 and row["labels_per_class"] == 3
    np.testing.assert_array_equal(seen["diagnose_y"] == -1, unlabelled)
    assert (seen["label_weight"][unlabelled] == 0).all() and (seen["label_weight"][~unlabelled] > 0).all()
    keys = [s.key for s in stack]
    assert seen["rho"][keys.index("labels")] == 1.0
    for key in ("kd_every", "general", "regular", "specific"):
        assert (seen["kd_weight"][keys.index(key)] == 1).all()  # the KD term covers every pair
    assert (seen["kd_weight"][keys.index("kd_labelled")][unlabelled] == 0).all()
    assert row["verdict"] == "error" and np.isnan(row["predicted_gain"]) and row["diagnose_error"]
    # The defaults' gain, which diagnose predicts, is measured on the same training pairs, labels and test rows.
    np.testing.assert_array_equal(seen["default_codes"], seen["y"])
    assert seen["default_rows"] == (len(seen["y"]), 2000 - len(seen["y"]))  # mfeat has 2,000 rows
    assert seen["pairs"] == [("a", "b")] and (row["default_kd_acc"], row["default_labels_acc"]) == (0.8, 0.7)
    # Later runs leave the defaults out (NaN), to keep the main job's time.
    seen.clear()
    later = _transfer_protocol.DEFAULT_RUNS
    ((row, _),) = list(_transfer_runs.seed_cells(later, 3, "mfeat-fac-mor", (3,), lambda _: stack, False, True))
    assert "default_codes" not in seen and np.isnan(row["default_kd_acc"]) and np.isnan(row["default_labels_acc"])
    assert set(accuracy) == {(s.key, 1) for s in stack}


# ---------------------------------------------------------------- differences and checks


def _frame(gain_pix=0.12, gain_zer=-0.05, general=0.0, specific=-0.03, regular=-0.01, runs=5, predicted=None):
    """Students of three datasets at 10 labels per class and all; levels vary by seed, differences do not much."""
    rng = np.random.default_rng(0)
    gains = {"mfeat-pix-fou": gain_pix, "mfeat-zer-pix": gain_zer, "mvd": 0.03}
    rows = []
    for dataset, gain in gains.items():
        for budget, scale in (("10", 1.0), ("all", 0.1)):
            for run in range(runs):
                base = 0.7 + rng.normal(0, 0.05)
                noise = rng.normal(0, 0.003, 4)
                row = dict(dataset=dataset, budget=budget, run=run, seed=run, labels_per_class=10.0)
                row.update(student_labels_acc=base, student_kd_every_acc=base + scale * gain + noise[0])
                row.update(student_regular_acc=base + regular + noise[1])
                row.update(student_general_acc=base + general * scale + noise[2])
                row.update(student_specific_acc=base + specific * scale + noise[3])
                # the defaults' gain, measured at the few-labels budget only
                few = budget != "all"
                default = base + gain + noise[0] if few else np.nan
                row.update(default_labels_acc=base if few else np.nan, default_kd_acc=default)
                pred = scale * gain if predicted is None else predicted[dataset]
                hurts = pred <= -0.03
                row.update(predicted_gain=pred, verdict="likely to hurt" if hurts else "helps")
                rows.append(row)
    return pd.DataFrame(rows)


def test_paired_differences_are_computed_per_seed():
    frame = _frame()
    diffs = cell_differences(frame, "student_kd_every_acc", "student_labels_acc")
    assert len(diffs) == 6 and (diffs["n_runs"] == 5).all()
    at = frame[(frame["dataset"] == "mfeat-pix-fou") & (frame["budget"] == "10")]
    per_seed = 100 * (at["student_kd_every_acc"] - at["student_labels_acc"])
    half = scipy.stats.t.ppf(0.975, 4) * per_seed.std(ddof=1) / np.sqrt(5)
    got = diffs[(diffs["dataset"] == "mfeat-pix-fou") & (diffs["budget"] == "10")].iloc[0]
    interval = 100 * np.array([got["ci_low"], got["ci_high"]])
    np.testing.assert_allclose(interval, per_seed.mean() + np.array([-1, 1]) * half)
    assert 100 * (got["ci_high"] - got["ci_low"]) < 1  # the seeds' levels (sd 5 points) cancel in the pairs
    shuffled = at.assign(student_kd_every_acc=at["student_kd_every_acc"].to_numpy()[::-1])
    wide = cell_differences(shuffled, "student_kd_every_acc", "student_labels_acc").iloc[0]
    assert wide["ci_high"] - wide["ci_low"] > 5 * (got["ci_high"] - got["ci_low"])  # unpaired seeds: no cancelling
    gains = cell_gains(frame)
    np.testing.assert_allclose(gains["predicted_gain"], [0.12, 0.012, -0.05, -0.005, 0.03, 0.003])


def test_trend_checks_pass_and_fail_on_the_numbers():
    verdicts = [c.verdict for c in check_trends(_frame())]
    assert verdicts == ["PASS"] * 8
    assert [c.verdict for c in check_trends(_frame(gain_pix=0.08))][0] == "FAIL"
    no_loss = [c.verdict for c in check_trends(_frame(gain_zer=0.01))]
    assert no_loss[1:3] == ["FAIL", "FAIL"]  # no loss measured, and diagnose no longer says it hurts
    # predictions in reverse order of the measured gains: the rank check fails, and so does the error check
    reverse = _frame(predicted={"mfeat-pix-fou": -0.05, "mfeat-zer-pix": 0.12, "mvd": 0.0})
    assert [c.verdict for c in check_trends(reverse)][3:5] == ["FAIL", "FAIL"]
    missing = _frame()
    missing.loc[missing["dataset"] == "mvd", "predicted_gain"] = np.nan
    checks = check_trends(missing)
    assert [c.verdict for c in checks][3:5] == ["FAIL", "FAIL"]
    assert "1 of 3 cells without a prediction in every seed" in checks[3].observed
    # The checks compare with the defaults' gain: a tuned student's reversed gains leave them as they are.
    tuned = _frame()
    tuned["student_kd_every_acc"] = 2 * tuned["student_labels_acc"] - tuned["student_kd_every_acc"]
    checks = check_trends(tuned)
    assert [c.verdict for c in checks][3:5] == ["PASS", "PASS"] and "tuned settings" in checks[3].observed
    # A seed that measured the defaults without a prediction leaves the cell's gain to the seeds with both.
    partial = _frame()
    first = (partial["dataset"] == "mvd") & (partial["budget"] == "10") & (partial["run"] == 0)
    partial.loc[first, "predicted_gain"] = np.nan
    partial.loc[first, "default_kd_acc"] += 0.5  # an outlier, if it were counted
    gains = default_gains(partial).set_index("dataset")
    rest = partial[(partial["dataset"] == "mvd") & (partial["budget"] == "10") & ~first]
    expected = (rest["default_kd_acc"] - rest["default_labels_acc"]).mean()
    assert gains.loc["mvd", "diff_mean"] == pytest.approx(expected)
    assert (gains.loc["mvd", "n_default"], gains.loc["mvd", "n_predicted"]) == (5, 4)
    checks = check_trends(partial)
    assert [c.verdict for c in checks][3:5] == ["FAIL", "FAIL"]
    assert "1 of 3 cells without a prediction in every seed" in checks[3].observed
    mfh = [c.verdict for c in check_trends(_frame(general=-0.02, specific=0.0))][5:]
    assert mfh == ["FAIL", "FAIL", "FAIL"]
    all_labels = check_trends(_frame().query("budget == 'all'"))
    assert [c.verdict for c in all_labels] == ["N/A"] * 8  # the defaults are measured with few labels only


def _few_cells(n_cells=8, runs=5, noise=0.0, seed=0):
    """One row per (cell, run) at 10 labels per class: the defaults' two accuracies and a prediction of their gain."""
    rng = np.random.default_rng(seed)
    rows = []
    for cell in range(n_cells):
        for run in range(runs):
            gain = 0.02 * cell + rng.normal(0, noise)
            base = 0.6 + rng.normal(0, 0.05)
            rows.append(dict(dataset=f"d{cell}", budget="10", run=run, default_labels_acc=base))
            rows[-1].update(default_kd_acc=base + gain, predicted_gain=0.02 * cell)
    return pd.DataFrame(rows)


def test_seed_resampling_shows_how_far_the_agreement_moves_with_the_seeds():
    # Predictions equal to every seed's measured gain: every resample ranks perfectly, with no error.
    exact = _few_cells()
    exact["predicted_gain"] = exact["default_kd_acc"] - exact["default_labels_acc"]
    (rho_lo, rho_hi), (err_lo, err_hi) = seed_resampled_rank_and_error(exact)
    assert rho_lo == pytest.approx(1.0) and rho_hi == pytest.approx(1.0)
    assert err_lo == pytest.approx(0.0, abs=1e-12) and err_hi == pytest.approx(0.0, abs=1e-12)
    # Noisy measured gains: the intervals are wide and hold the statistics of the seeds as drawn.
    noisy = _few_cells(noise=0.03)
    (rho_lo, rho_hi), (err_lo, err_hi) = seed_resampled_rank_and_error(noisy)
    gains = default_gains(noisy)
    rho = scipy.stats.spearmanr(gains["predicted_gain"], gains["diff_mean"])[0]
    error = np.median(np.abs(gains["predicted_gain"] - gains["diff_mean"]))
    assert rho_lo <= rho <= rho_hi and rho_hi - rho_lo > 0.05
    assert err_lo <= error <= err_hi and err_hi > err_lo
    # A resample that draws only runs a cell lacks leaves that cell out, not the resample.
    gappy = noisy[~((noisy["dataset"] == "d0") & (noisy["run"] > 0))]
    (rho_lo, rho_hi), _ = seed_resampled_rank_and_error(gappy)
    assert np.isfinite([rho_lo, rho_hi]).all()
    # The check states both intervals beside the statistics.
    checks = check_trends(_frame())
    assert "95% interval with the seeds resampled" in checks[3].observed
    assert "95% interval with the seeds resampled" in checks[4].observed


# ---------------------------------------------------------------- settings, tuning and the quick run


def test_settings_cover_every_dataset_and_come_from_the_grid():
    assert set(transfer.SETTINGS) == set(transfer.DATASETS)
    for chosen in transfer.SETTINGS.values():
        assert set(chosen) == {"labels", "kd_labelled", "kd_every", "regular"}
        assert chosen["labels"]["rho"] == 1.0 and chosen["labels"]["epochs"] in TUNE_GRID["epochs"]
        for name in ("kd_labelled", "kd_every", "regular"):
            assert chosen[name]["rho"] in TUNE_GRID["rho"] and chosen[name]["epochs"] in TUNE_GRID["epochs"]
            assert chosen[name]["temperature"] in TUNE_GRID["temperature"]


def test_tune_chooses_from_the_grid_on_validation_rows(monkeypatch):
    seen = []
    split = _transfer_protocol.split_rows

    def spy(y, seed, validation):
        seen.append(validation)
        return split(y, seed, validation)

    monkeypatch.setattr(_transfer_protocol, "split_rows", spy)
    monkeypatch.setattr(_transfer_protocol, "PAIR_EPOCHS", 2)
    grid = dict(rho=(0.3,), temperature=(1.0, 4.0), epochs=(1, EPOCHS))
    chosen, scores = transfer.tune(["mfeat-fac-mor"], runs=1, budgets=(10,), grid=grid)
    assert seen == [True]  # one seed, one split: validation rows only
    assert len(scores) == (1 + 3 * 2) * 2  # (labels + 3 students x 2 temperatures) x 2 epoch counts
    pick = chosen["mfeat-fac-mor"]
    assert set(pick) == {"labels", "kd_labelled", "kd_every", "regular"}
    every = scores[scores["student"] == "kd_every"].set_index(["temperature", "epochs"])["validation_acc"]
    assert (pick["kd_every"]["temperature"], pick["kd_every"]["epochs"]) == every.idxmax()


def test_quick_run_writes_report_figures_and_checks(tmp_path, monkeypatch):
    kept = ("mfeat-pix-fou", "mfeat-zer-pix", "mvd")
    monkeypatch.setattr(transfer, "DATASETS", {k: transfer.DATASETS[k] for k in kept})
    monkeypatch.setattr(_transfer_protocol, "PAIR_EPOCHS", 3)
    result = transfer.run(tmp_path, quick=True)
    frame = result["frame"]
    assert set(frame["dataset"]) == set(kept) and set(frame["budget"]) == {"10", "all"}
    assert frame.groupby("dataset")["seed"].nunique().tolist() == [2, 2, 2]
    columns = pd.read_csv(os.path.join(tmp_path, "transfer.csv")).columns
    expected = {f"student_{s}_acc" for s in transfer.STUDENTS} | {"teacher_lr_acc", "teacher_general_acc"}
    expected |= {"measured_gain", "predicted_gain", "predicted_gain_lo", "predicted_gain_hi", "verdict", "budget"}
    assert expected | {"default_kd_acc", "default_labels_acc"} <= set(columns)
    defaults = frame.set_index("budget")[["default_kd_acc", "default_labels_acc"]]
    assert defaults.loc["all"].isna().all().all() and defaults.loc["10"].apply(lambda c: c.between(0, 1)).all().all()
    np.testing.assert_allclose(frame["measured_gain"], frame["student_kd_every_acc"] - frame["student_labels_acc"])
    scores = frame.filter(like="_acc")
    unlabelled_or_few = ["teacher_lr_unlabelled_acc", "default_kd_acc", "default_labels_acc"]  # NaN where all labelled
    assert ((scores >= 0) & (scores <= 1)).all().drop(unlabelled_or_few).all()
    pseudo = frame.set_index("budget")["teacher_lr_unlabelled_acc"]  # no unlabelled pair when every label is kept
    assert pseudo.loc["all"].isna().all() and pseudo.loc["10"].between(0, 1).all()
    names = sorted(os.path.basename(f) for f in result["files"])
    assert names == ["report.md", "transfer.csv", "transfer_curves.png", "transfer_diagnose.png"]
    for name in names[2:]:
        with open(os.path.join(tmp_path, name), "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert len(result["checks"]) == 8 and all(c.verdict in ("PASS", "FAIL") for c in result["checks"])
    text = open(result["report"], encoding="utf-8").read()
    assert "QUICK RUN" in text and "validation rows" in text and "gamma = 0.429" in text
    cap = transfer.QUICK["max_epochs"]  # the settings table shows the epochs the quick run trained
    for name in kept:
        chosen = transfer.SETTINGS[name]["kd_every"]
        assert f"{chosen['rho']:g} / {chosen['temperature']:g} / {min(chosen['epochs'], cap)} " in text
    # The quick run's 2 seeds both measure the defaults, and the report says so.
    assert "few-labels budgets of every seed" in text and "few-labels budgets, 2 seeds" in text
    for check in result["checks"]:
        assert check.line() in text
