"""Tests of the predicted gain's parts: the distiller's targets, the statistics, the calibrated map, the verdict,
and the complementarity estimator (crossmodal/diagnosis/_gain.py, _crossfit.py, _complementarity.py)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from crossmodal._utils.labels import label_weights, labelled_cross_entropy
from crossmodal.diagnosis import _gain
from crossmodal.diagnosis._calibration import GAIN_MODELS, INTERVALS, VERDICT_THRESHOLDS
from crossmodal.diagnosis._complementarity import complementarity, gaussian_mutual_information
from crossmodal.diagnosis._crossfit import distillation_targets
from crossmodal.diagnosis._lda import _ShrunkLDA


@pytest.mark.parametrize("labelled_share", [1.0, 0.3])
def test_distillation_targets_are_the_distillers_loss_up_to_a_constant(labelled_share):
    # rho * CE over labelled rows (label weights) + (1 - rho) * KL over every row, as the distiller computes it,
    # must differ from sum_i c_i CE(q_i, s_i) / n by a term free of the student's logits.
    rng = np.random.default_rng(0)
    n, k, rho = 40, 3, 0.5
    codes = rng.integers(0, k, n)
    codes[rng.random(n) > labelled_share] = -1
    codes[:2] = [0, 1]
    proba = rng.dirichlet(np.ones(k), size=n)
    targets, weight = distillation_targets(codes, proba, rho)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0)

    def both(logits):
        lw = None if labelled_share == 1.0 else torch.as_tensor(label_weights(codes >= 0), dtype=torch.float64)
        ce = labelled_cross_entropy(logits, torch.as_tensor(codes), lw)
        p = torch.as_tensor(proba)
        kl = (p * (torch.log(p) - F.log_softmax(logits, dim=1))).sum() / n
        mine = -(torch.as_tensor(weight)[:, None] * torch.as_tensor(targets) * F.log_softmax(logits, dim=1)).sum() / n
        return float(rho * ce + (1 - rho) * kl), float(mine)

    first = both(torch.as_tensor(rng.normal(size=(n, k))))
    second = both(torch.as_tensor(rng.normal(size=(n, k)) * 3))
    assert first[0] - first[1] == pytest.approx(second[0] - second[1], abs=1e-10)


def test_weighted_soft_lda_counts_a_weight_as_copies_of_a_row():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 4))
    Q = rng.dirichlet(np.ones(3), size=30)
    copies = np.repeat(np.arange(30), 2)
    weighted = _ShrunkLDA().fit_soft(X, Q, np.arange(3), sample_weight=np.full(30, 5.0))
    plain = _ShrunkLDA().fit_soft(X, Q, np.arange(3))
    np.testing.assert_allclose(weighted.coef_, plain.coef_, rtol=1e-10)  # a constant weight changes nothing
    w = np.where(np.arange(30) < 10, 2.0, 1.0)
    rows = np.concatenate([copies[:20], np.arange(10, 30)])  # rows 0-9 twice, the rest once
    duplicated = _ShrunkLDA().fit_soft(X[rows], Q[rows], np.arange(3))
    reweighted = _ShrunkLDA().fit_soft(X, Q, np.arange(3), sample_weight=w)
    # Class means and scatter are the duplicated data's; only the standardisation differs (unweighted).
    assert np.mean(duplicated.predict(X) == reweighted.predict(X)) >= 0.9


def _fits(n=60, k=3, seed=0):
    rng = np.random.default_rng(seed)
    fits = {name: rng.dirichlet(np.ones(k), size=n) for name in ("teacher", "student", "imitator", "distilled")}
    fits["teacher_fit_error"] = rng.random(n)
    log_p = np.log(fits["teacher"])
    fits["mimic"] = 0.7 * (log_p - log_p.mean(axis=1, keepdims=True)) + 0.1 * rng.normal(size=(n, k))
    return fits


def test_gain_statistics_are_row_means_and_resample_with_the_labelled_rows():
    fits = _fits()
    codes = np.arange(60) % 3
    codes[::4] = -1
    labelled = codes >= 0
    W = np.random.default_rng(0).multinomial(60, np.full(60, 1 / 60), size=50).astype(float)
    point, boot = _gain.gain_statistics(fits, codes, W, 12)
    assert set(point) == set(_gain.STATISTICS) and boot.shape == (50, len(_gain.STATISTICS))
    names = ("teacher", "student", "imitator", "distilled")
    correct = {k: np.argmax(fits[k][labelled], axis=1) == codes[labelled] for k in names}
    assert point["teacher_fit_error"] == pytest.approx(fits["teacher_fit_error"][labelled].mean())
    assert point["accuracy_gap"] == pytest.approx(np.mean(correct["teacher"]) - np.mean(correct["student"]))
    assert point["imitation_gain"] == pytest.approx(np.mean(correct["imitator"]) - np.mean(correct["student"]))
    assert point["distillation_gain"] == pytest.approx(np.mean(correct["distilled"]) - np.mean(correct["student"]))
    true = codes[labelled]
    rows = np.arange(len(true))
    gap = fits["teacher"][labelled][rows, true] - fits["student"][labelled][rows, true]
    assert point["probability_gap"] == pytest.approx(gap.mean())
    per_class = labelled.sum() / 3
    assert point["accuracy_gap_per_root_label"] == pytest.approx(point["accuracy_gap"] / np.sqrt(per_class))
    assert point["inverse_root_labels"] == pytest.approx(1 / np.sqrt(per_class))
    for name in ("teacher", "student", "imitator"):
        assert point[f"{name}_accuracy"] == pytest.approx(np.mean(correct[name]))
    assert point["imitation_gain_x_teacher_fit_error"] == pytest.approx(
        point["imitation_gain"] * fits["teacher_fit_error"][labelled].mean()
    )
    # The mimic's R^2 uses every row, labelled or not: 1 - SSE / SST of the centred teacher log-probabilities.
    L = np.log(fits["teacher"])
    L -= L.mean(axis=1, keepdims=True)
    r2 = 1 - np.sum((L - fits["mimic"]) ** 2) / np.sum((L - L.mean(axis=0)) ** 2)
    assert point["mimic_r2"] == pytest.approx(r2) and 0.3 < r2 < 1
    assert point["teacher_accuracy_x_mimic_r2"] == pytest.approx(np.mean(correct["teacher"]) * r2)
    assert point["log2_features_b"] == pytest.approx(np.log2(12))
    assert point["student_accuracy_x_log2_features_b"] == pytest.approx(np.mean(correct["student"]) * np.log2(12))
    assert point["teacher_accuracy_x_mimic_r2_x_log2_features_b"] == pytest.approx(
        np.mean(correct["teacher"]) * r2 * np.log2(12)
    )
    gap = point["accuracy_gap"]
    assert point["accuracy_gap_below_zero"] == pytest.approx(min(gap, 0.0))
    assert point["accuracy_gap_above_zero"] == pytest.approx(max(gap, 0.0))
    assert point["accuracy_gap_above_zero_x_mimic_share"] == pytest.approx(max(gap, 0.0) * min(max(r2, 0.0), 1.0))
    # A resample that repeats one labelled row twice and drops none weighs that row twice.
    one = np.ones((1, 60))
    one[0, 1] = 2.0
    _, single = _gain.gain_statistics(fits, codes, one, 12)
    diff = correct["teacher"].astype(float) - correct["student"]
    assert single[0, 0] == pytest.approx((diff.sum() + diff[0]) / (labelled.sum() + 1))
    teacher_level = _gain.STATISTICS.index("teacher_accuracy")
    hits = correct["teacher"].astype(float)
    assert single[0, teacher_level] == pytest.approx((hits.sum() + hits[0]) / (labelled.sum() + 1))


def test_the_accuracy_gaps_parts_split_by_sign_and_only_the_positive_part_is_scaled_by_the_share():
    fits = _fits()
    codes = np.arange(60) % 3
    W = np.ones((1, 60))
    for teacher, student in (("teacher", "student"), ("student", "teacher")):
        swapped = dict(fits, teacher=fits[teacher], student=fits[student])
        point, _ = _gain.gain_statistics(swapped, codes, W, 12)
        gap, share = point["accuracy_gap"], np.clip(point["mimic_r2"], 0.0, 1.0)
        assert gap != 0
        assert point["accuracy_gap_below_zero"] + point["accuracy_gap_above_zero"] == pytest.approx(gap)
        assert point["accuracy_gap_below_zero"] <= 0 <= point["accuracy_gap_above_zero"]
        assert point["accuracy_gap_above_zero_x_mimic_share"] == pytest.approx(point["accuracy_gap_above_zero"] * share)


@pytest.mark.parametrize("regime", _gain.REGIMES)
def test_predicted_gain_is_the_calibrated_map_with_its_interval(regime):
    point = {name: 0.01 * (i + 1) for i, name in enumerate(_gain.STATISTICS)}
    values = np.array([point[name] for name in _gain.STATISTICS])
    model = GAIN_MODELS[regime]
    inside = {name: float(np.mean(model["ranges"][name])) for name in model["terms"]}  # the ranges' midpoints
    point.update(inside)
    values = np.array([point[name] for name in _gain.STATISTICS])
    expected = model["intercept"] + sum(c * point[name] for name, c in model["terms"].items())
    no_noise = np.tile(values, (30, 1))
    gain, (low, high), sd = _gain.predicted_gain(regime, point, no_noise)
    assert gain == pytest.approx(expected) and sd == pytest.approx(0.0, abs=1e-12)
    floor, factor = INTERVALS[regime]["floor"], INTERVALS[regime]["factor"]
    assert high - gain == pytest.approx(gain - low) == pytest.approx(factor * floor)
    noisy = no_noise + np.random.default_rng(0).normal(scale=0.02, size=no_noise.shape)
    wider = _gain.predicted_gain(regime, point, noisy)
    assert wider[0] == gain and wider[2] > 0 and wider[1][1] - wider[1][0] > high - low


@pytest.mark.parametrize("regime", _gain.REGIMES)
def test_the_map_is_not_extrapolated_beyond_its_calibration_range(regime):
    model = GAIN_MODELS[regime]
    low = np.array([[model["ranges"].get(name, (0.0, 0.0))[0] for name in _gain.STATISTICS]])
    high = np.array([[model["ranges"].get(name, (0.0, 0.0))[1] for name in _gain.STATISTICS]])
    step = np.ones_like(low)
    assert _gain._apply(model, low - step) == pytest.approx(_gain._apply(model, low))
    assert _gain._apply(model, high + step) == pytest.approx(_gain._apply(model, high))
    assert _gain._apply(model, low) != pytest.approx(_gain._apply(model, high))
    assert set(model["ranges"]) == set(model["terms"])


@pytest.mark.parametrize("regime", _gain.REGIMES)
def test_verdict_thresholds_are_in_points(regime):
    rule = VERDICT_THRESHOLDS[regime]
    helps, hurts = rule["helps"], rule["hurts"]
    assert hurts <= 0 <= helps < 10

    def said(gain):
        return _gain.verdict(regime, gain, (gain - 0.1, gain + 0.1))

    assert said(helps + 0.2) == "helps" and said(50.0) == "helps"
    assert said(hurts - 0.2) == "likely to hurt" and said(-50.0) == "likely to hurt"
    assert said(helps - 1e-9) == ("unlikely to help" if helps > hurts else "likely to hurt")


def test_the_verdict_can_require_the_interval_to_exclude_zero(monkeypatch):
    monkeypatch.setitem(
        _gain.VERDICT_THRESHOLDS, "labelled", {"helps": 1.0, "hurts": -1.0, "interval_excludes_zero": True}
    )
    assert _gain.verdict("labelled", 2.0, (0.1, 3.9)) == "helps"
    assert _gain.verdict("labelled", 2.0, (-0.1, 4.1)) == "unlikely to help"
    assert _gain.verdict("labelled", -2.0, (-3.0, -0.5)) == "likely to hurt"
    assert _gain.verdict("labelled", -2.0, (-3.0, 0.5)) == "unlikely to help"
    monkeypatch.setitem(_gain.VERDICT_THRESHOLDS["labelled"], "interval_excludes_zero", False)
    assert _gain.verdict("labelled", -2.0, (-3.0, 0.5)) == "likely to hurt"


def test_gaussian_information_matches_the_closed_form_and_corrects_its_bias():
    # Two blocks with canonical correlations 0.8 and 0.5: I = -1/2 (log(1 - 0.64) + log(1 - 0.25)).
    rng = np.random.default_rng(0)
    n = 20000
    A = rng.normal(size=(n, 2))
    noise = rng.normal(size=(n, 2))
    B = A * [0.8, 0.5] + noise * np.sqrt([1 - 0.64, 1 - 0.25])
    truth = -0.5 * (np.log(1 - 0.64) + np.log(1 - 0.25))
    assert gaussian_mutual_information(A, B @ [[1.0, 2.0], [0.5, -1.0]]) == pytest.approx(truth, abs=0.02)
    # Independent blocks: the raw estimate is about p q / (2 n) > 0; corrected and floored, about 0.
    small = rng.normal(size=(200, 5)), rng.normal(size=(200, 5))
    assert gaussian_mutual_information(*small) < 0.03
    assert gaussian_mutual_information(np.ones((10, 2)), rng.normal(size=(10, 2))) == 0.0


def test_complementarity_uses_every_pair_for_the_teacher_and_the_labelled_rows_for_the_labels():
    rng = np.random.default_rng(0)
    n, k = 3000, 3
    codes = rng.integers(0, k, n)
    informative = np.eye(k)[codes] * 4 + rng.normal(size=(n, k))
    P = np.exp(informative) / np.exp(informative).sum(axis=1, keepdims=True)
    uniform = np.exp(rng.normal(size=(n, k)))
    uniform /= uniform.sum(axis=1, keepdims=True)
    teacher_student, student_labels = complementarity(P, P, codes)
    assert teacher_student > student_labels > 0.5  # the same representation: more information than the labels hold
    assert complementarity(uniform, P, codes)[0] < 0.01  # a teacher unrelated to the student
    few = np.where(np.arange(n) < 300, codes, -1)
    assert complementarity(P, P, few)[1] == pytest.approx(student_labels, abs=0.15)
