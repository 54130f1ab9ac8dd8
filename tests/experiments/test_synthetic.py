"""Tests of the synthetic reproduction: batched trainer, runners, report.

The gallery example is run by tests/test_examples.py.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch
from conftest import reorder_rtol
from joblib import parallel_config
from torch import nn

from crossmodal._utils.torch_helpers import torch_threads
from crossmodal.experiments import _figures, _report, _summaries, synthetic
from crossmodal.experiments._batched_linear import (
    accuracy_batch,
    default_linear_init,
    softmax_proba,
    stack_inputs,
    stack_linear,
    train_aligned_pair_batch,
    train_softmax_batch,
    unstack_linear,
)
from crossmodal.experiments.synthetic import SyntheticSetup

TINY = SyntheticSetup(n_train=40, n_test=60, n_epochs=5, pair_epochs=5, n_repeats=2)
FIG_COLUMNS = [
    "experiment",
    "gamma",
    "alpha",
    "beta",
    "run",
    "seed",
    "teacher_acc",
    "student_nokd_acc",
    "student_kd_acc",
]
TABLE2_COLUMNS = [
    "experiment",
    "xs1",
    "xs2",
    "gamma",
    "mode",
    "k",
    "run",
    "seed",
    "teacher_acc",
    "mg_teacher_acc",
    "student_nokd_acc",
    "student_kd_acc",
    "student_mg_kd_acc",
    "student_kd_swapped_acc",
    "selection_precision",
]


# --------------------------------------------------------------------------- batched trainer vs torch loop
def _problem(widths, n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = [rng.standard_normal((n, d)).astype(np.float32) for d in widths]
    y = [(x[:, : min(3, x.shape[1])].sum(1) > 0).astype(np.int64) for x in X]
    P = [rng.dirichlet([1.0, 1.0], size=n).astype(np.float32) for _ in widths]
    inits = [default_linear_init(d, 2, seed=100 + i) for i, d in enumerate(widths)]
    return X, y, P, inits


def _module(weight, bias):
    m = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(weight))
        m.bias.copy_(torch.from_numpy(bias))
    return m


def _torch_loop(X, y, P, init, *, lr, epochs, kl_weight, reduction, momentum=0.0):
    """The authors' style: nn.Linear, torch.optim.SGD, CE + KLDivLoss on log_softmax."""
    model = _module(*init)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    ce, kld = nn.CrossEntropyLoss(), nn.KLDivLoss(reduction=reduction)
    X, y, P = torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(P)
    with torch_threads(1):
        for _ in range(epochs):
            out = model(X)
            loss = ce(out, y)
            if kl_weight:
                loss = loss + kl_weight * kld(torch.log_softmax(out, dim=1), P)
            loss.backward()
            opt.step()
            opt.zero_grad()
    return model.weight.detach().numpy(), model.bias.detach().numpy()


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize(
    "kl_weight, reduction, momentum",
    [(0.0, "mean", 0.0), (1.0, "mean", 0.0), (0.5, "batchmean", 0.0), (1.0, "mean", 0.9)],
)
def test_batched_trainer_equals_per_model_torch_loop(kl_weight, reduction, momentum):
    widths = [7, 12, 12]  # the first model is zero-padded to width 12
    X, y, P, inits = _problem(widths)
    trained = train_softmax_batch(
        stack_linear(inits),
        stack_inputs(X),
        np.stack(y),
        lr=0.1,
        n_epochs=200,
        kl_weight=kl_weight,
        teacher_proba=np.stack(P),
        kl_reduction=reduction,
        momentum=momentum,
    )
    for r, d in enumerate(widths):
        w_ref, b_ref = _torch_loop(
            X[r], y[r], P[r], inits[r], lr=0.1, epochs=200, kl_weight=kl_weight, reduction=reduction, momentum=momentum
        )
        np.testing.assert_allclose(trained[r, :, :d].numpy(), w_ref, atol=1e-5)
        np.testing.assert_allclose(trained[r, :, -1].numpy(), b_ref, atol=1e-5)
        assert np.all(trained[r, :, d:-1].numpy() == 0.0)  # padding stays exactly zero
        assert np.abs(w_ref - inits[r][0]).max() > 1e-2  # the models did move


def test_aligned_pair_equals_per_model_torch_loop():
    X_a, y, _, init_a = _problem([6, 6], seed=1)
    X_b, _, _, init_b = _problem([9, 9], seed=2)
    Wa, Wb = train_aligned_pair_batch(
        stack_linear(init_a),
        stack_inputs(X_a),
        stack_linear(init_b),
        stack_inputs(X_b),
        np.stack(y),
        lr=0.01,
        momentum=0.9,
        n_epochs=150,
    )
    for r in range(2):
        fa, fb = _module(*init_a[r]), _module(*init_b[r])
        opt = torch.optim.SGD(list(fa.parameters()) + list(fb.parameters()), lr=0.01, momentum=0.9)
        xa, xb, yy = torch.from_numpy(X_a[r]), torch.from_numpy(X_b[r]), torch.from_numpy(y[r])
        with torch_threads(1):
            for _ in range(150):
                oa, ob = fa(xa), fb(xb)
                loss = (
                    nn.functional.cross_entropy(oa, yy)
                    + nn.functional.cross_entropy(ob, yy)
                    + nn.functional.mse_loss(oa, ob)
                )
                loss.backward()
                opt.step()
                opt.zero_grad()
        np.testing.assert_allclose(Wa[r, :, :-1].numpy(), fa.weight.detach().numpy(), atol=1e-5)
        np.testing.assert_allclose(Wb[r, :, -1].numpy(), fb.bias.detach().numpy(), atol=1e-5)


def test_a_model_trains_the_same_alone_or_in_a_batch():
    # The batch's products have another shape than one model's, and BLAS may
    # round them differently: the same weights up to float32 rounding of
    # 50 full-batch steps over 10 inputs.
    X, y, P, inits = _problem([10, 10, 10, 10], seed=3)
    kw = dict(lr=0.1, n_epochs=50, kl_weight=1.0)
    batch = train_softmax_batch(stack_linear(inits), stack_inputs(X), np.stack(y), teacher_proba=np.stack(P), **kw)
    alone = train_softmax_batch(
        stack_linear(inits[2:3]), stack_inputs(X[2:3]), np.stack(y[2:3]), teacher_proba=np.stack(P[2:3]), **kw
    )
    rtol = 50 * reorder_rtol(np.float32, 10, accumulate=np.float32)
    torch.testing.assert_close(batch[2], alone[0], rtol=rtol, atol=rtol * alone[0].abs().max().item())
    assert not torch.allclose(batch[1], alone[0])  # another model's weights are not


def test_predictions_match_nn_linear():
    X, y, _, inits = _problem([5, 8])
    W = stack_linear(inits)
    X1 = stack_inputs(X)
    for r, d in enumerate([5, 8]):
        module = unstack_linear(W[r], d)
        logits = module(torch.from_numpy(X[r])).detach()
        np.testing.assert_allclose(softmax_proba(W, X1)[r].numpy(), torch.softmax(logits, 1).numpy(), atol=1e-6)
        acc = (logits.argmax(1).numpy() == y[r]).mean()
        assert accuracy_batch(W, X1, np.stack(y))[r] == pytest.approx(acc)


def test_default_linear_init_matches_torch_bounds():
    w, b = default_linear_init(16, 2, seed=0)
    assert w.dtype == np.float32 and w.shape == (2, 16) and b.shape == (2,)
    assert np.abs(w).max() <= 0.25 and np.abs(b).max() <= 0.25
    torch_w = nn.Linear(16, 2).weight.detach().numpy()
    assert np.abs(torch_w).max() <= 0.25  # torch's kaiming_uniform(a=sqrt(5)) bound is 1/sqrt(16)
    w_big, _ = default_linear_init(400, 2, seed=1)
    assert np.abs(w_big).max() > 0.9 * 0.05  # uniform over the whole interval
    np.testing.assert_array_equal(default_linear_init(16, 2, seed=0)[0], w)


def test_batched_trainer_errors():
    X, y, P, inits = _problem([4, 4])
    W, X1, Y = stack_linear(inits), stack_inputs(X), np.stack(y)
    with pytest.raises(ValueError, match="kl_reduction must be 'mean' or 'batchmean'; got 'sum'"):
        train_softmax_batch(W, X1, Y, lr=0.1, n_epochs=1, kl_reduction="sum")
    with pytest.raises(ValueError, match="teacher_proba is required when kl_weight > 0"):
        train_softmax_batch(W, X1, Y, lr=0.1, n_epochs=1, kl_weight=1.0)
    with pytest.raises(ValueError, match="kl_weight must be finite and >= 0 for every model; got -1"):
        train_softmax_batch(W, X1, Y, lr=0.1, n_epochs=1, kl_weight=-1.0)
    with pytest.raises(ValueError, match=r"same number of rows; got \[3, 60\]"):
        stack_inputs([X[0], X[1][:3]])


# --------------------------------------------------------------------------- runners
@pytest.fixture(scope="module")
def tiny_frames():
    return {
        "fig2": synthetic.run_fig2(overlaps=(0, 10), runs=2, seed=3, setup=TINY),
        "fig3": synthetic.run_fig3(n_specific=(0, 40), runs=2, seed=3, setup=TINY),
        "table2": synthetic.run_table2(settings=((10, 5), (10, 30)), runs=2, seed=3, setup=TINY),
    }


def test_runner_frames_have_the_documented_columns(tiny_frames):
    f2, f3, t2 = tiny_frames["fig2"], tiny_frames["fig3"], tiny_frames["table2"]
    assert list(f2.columns) == FIG_COLUMNS[:1] + ["overlap"] + FIG_COLUMNS[1:]
    assert list(f3.columns) == FIG_COLUMNS[:1] + ["k"] + FIG_COLUMNS[1:]
    assert list(t2.columns) == TABLE2_COLUMNS
    assert len(f2) == 4 and len(f3) == 4 and len(t2) == 2 * 3 * 2
    np.testing.assert_allclose(sorted(f2["gamma"].unique()), [0.0, 1.0])
    np.testing.assert_allclose(sorted(f3["alpha"].unique()), [0.0, 0.8])
    assert list(f2["seed"]) == [3, 3, 4, 4]  # run r uses seed + r
    for frame in (f2, f3, t2):
        acc = frame.filter(like="_acc")
        assert ((acc >= 0) & (acc <= 1)).all().all()
    gt = t2[t2["mode"] == "gt"]
    assert (gt["selection_precision"] == 1.0).all() and (gt["k"] == gt["xs2"]).all()
    # The regular teacher, no-KD and regular-KD columns are shared by the modes of one run.
    shared = t2.groupby(["xs1", "xs2", "run"])[["teacher_acc", "student_nokd_acc", "student_kd_acc"]].nunique()
    assert (shared == 1).all().all()


def test_same_seed_gives_identical_frames_and_jobs_do_not_matter(tiny_frames):
    again = synthetic.run_table2(settings=((10, 5), (10, 30)), runs=2, seed=3, setup=TINY)
    pd.testing.assert_frame_equal(again, tiny_frames["table2"])
    # Runs split over two workers (threads here; tests/experiments/test_cli.py runs --jobs 2 with processes).
    with parallel_config(backend="threading"):
        parallel = synthetic.run_table2(settings=((10, 5), (10, 30)), runs=2, seed=3, setup=TINY, jobs=2)
    pd.testing.assert_frame_equal(parallel, tiny_frames["table2"])
    other = synthetic.run_fig2(overlaps=(0, 10), runs=2, seed=4, setup=TINY)
    assert not other["student_kd_acc"].equals(tiny_frames["fig2"]["student_kd_acc"])
    # Run 1 of seed 3 is run 0 of seed 4.
    np.testing.assert_array_equal(
        other[other.run == 0]["student_kd_acc"], tiny_frames["fig2"][tiny_frames["fig2"].run == 1]["student_kd_acc"]
    )


def test_run_table2_rejects_bad_arguments():
    with pytest.raises(
        ValueError,
        match=r"modes must be a non-empty subset of \('gt', 'alg1', 'random'\); got "
        r"\('best',\)",
    ):
        synthetic.run_table2(modes=("best",), runs=1, setup=TINY)
    with pytest.raises(ValueError, match=r"needs xs2 >= 1, xs1 >= 0 and xs1 \+ xs2 <= 50; got \(40, 20\)"):
        synthetic.run_table2(settings=((40, 20),), runs=1, setup=TINY)


def test_run_writes_csvs_report_and_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic, "QUICK_SETUP", TINY)
    result = synthetic.run(tmp_path / "out", runs=2, seed=0, quick=True)
    names = sorted(os.path.basename(f) for f in result["files"])
    assert names == ["fig2.csv", "fig2.png", "fig3.csv", "fig3.png", "report.md", "table2.csv", "table2.png"]
    for f in result["files"]:
        assert os.path.getsize(f) > 0
    assert open(tmp_path / "out" / "fig2.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "out" / "report.md").read_text()
    assert "QUICK RUN" in report and "## Trend checks" in report
    assert "MG-KD − regular KD" in report and "authors' swapped" in report
    assert all(c.verdict in {"PASS", "FAIL", "N/A"} for c in result["checks"])
    assert all(c.line() in report for c in result["checks"])
    csv = pd.read_csv(tmp_path / "out" / "table2.csv")
    assert list(csv.columns) == TABLE2_COLUMNS and set(csv["mode"]) == {"gt", "alg1", "random"}


def test_check_trends_never_raises_on_partial_or_odd_frames(tiny_frames):
    assert synthetic.check_trends({}) == []
    one = tiny_frames["fig2"][tiny_frames["fig2"]["overlap"] == 10]
    checks = synthetic.check_trends({"fig2": one})
    assert [c.verdict for c in checks][:2] == ["N/A", "N/A"]  # no Spearman, no gamma = 0
    t2 = tiny_frames["table2"][tiny_frames["table2"]["mode"] == "random"]
    assert len(synthetic.check_trends({"table2": t2})) == 1


# --------------------------------------------------------------------------- the paper's direction
def test_fig2_kd_helps_at_full_overlap_and_not_without_overlap():
    """Paper, Sec. 4.2: crossmodal KD fails at gamma = 0 and gains ~+2.1 points at gamma = 1."""
    frame = synthetic.run_fig2(overlaps=(0, 10), runs=6, seed=0)
    gain = _summaries.paired_difference(frame, ["gamma"], "student_kd_acc", "student_nokd_acc").set_index("gamma")
    assert gain.loc[1.0, "diff_mean"] > 0.005
    assert gain.loc[0.0, "diff_mean"] < 0.0


# --------------------------------------------------------------------------- report helpers
def test_report_helpers():
    df = pd.DataFrame({"g": [1, 1, 2, 2], "a": [0.5, 0.7, 0.9, 0.9], "b": [0.4, 0.8, 0.8, 0.7]})
    s = _summaries.summarize(df, ["g"], ["a"])
    np.testing.assert_allclose(s["a_mean"], [0.6, 0.9])
    np.testing.assert_allclose(s["a_sd"], [np.std([0.5, 0.7], ddof=1), 0.0])
    d = _summaries.paired_difference(df, ["g"], "a", "b")
    np.testing.assert_allclose(d["diff_mean"], [0.0, 0.15], atol=1e-12)
    np.testing.assert_allclose(d["frac_positive"], [0.5, 1.0])
    # the interval is the paired t interval: mean ± t(0.975, n - 1) * sd / sqrt(n), here n = 2
    half = (
        scipy.stats.t.ppf(0.975, 1) * np.array([np.std([0.1, -0.1], ddof=1), np.std([0.1, 0.2], ddof=1)]) / np.sqrt(2)
    )
    tol = 1e3 * np.finfo(np.float64).eps  # two float64 formulas of the same interval
    np.testing.assert_allclose(d["ci_low"], d["diff_mean"] - half, rtol=tol, atol=tol)
    np.testing.assert_allclose(d["ci_high"], d["diff_mean"] + half, rtol=tol, atol=tol)
    assert d.loc[0, "p_value"] == pytest.approx(1.0) and 0 < d.loc[1, "p_value"] < 1
    table = _report.sweep_table(df, ["g"], {"A": "a"}, {"A − B": ("a", "b")})
    lines = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]
    assert lines[0] == ["g", "A", "A − B", "runs"] and set(lines[1][0]) <= set(":-")
    assert lines[3] == [
        "2",
        "90.00 ± 0.00",
        f"+15.00 [{15 - 100 * half[1]:+.2f}, {15 + 100 * half[1]:+.2f}] (100% > 0)",
        "2",
    ]
    library, table = _report.LIBRARY, "paper, Table 2"
    assert _report.TrendCheck("x", None, "y", source=table).line() == "[N/A] x: observed y (paper, Table 2)"
    assert _report.check_list(
        [_report.TrendCheck("x", True, "y", source=library), _report.TrendCheck("z", False, "w", "v", source=table)]
    ) == ("- [PASS] x: observed y (library)\n- [FAIL] z: observed w (paper, Table 2: v)")
    assert _report.TrendCheck("x", False, "y", "z", source=library).line() == "[FAIL] x: observed y (library: z)"
    assert _report.format_mean_sd(0.5, float("nan")) == "50.00 ± n/a"
    with pytest.raises(ValueError, match="source must be 'library' or 'paper, '"):
        _report.TrendCheck("x", True, "y", "z", source="Table 2")  # a source names the paper's table, or the library


def test_paired_difference_without_spread_or_with_one_run():
    df = pd.DataFrame({"g": [1, 1, 1, 2], "a": [0.9, 0.8, 0.7, 0.5], "b": [0.85, 0.75, 0.65, 0.6]})
    d = _summaries.paired_difference(df, ["g"], "a", "b")
    # the same difference in every run (up to rounding): the interval is the mean, there is nothing to test
    assert d.loc[0, "ci_low"] == d.loc[0, "diff_mean"] == d.loc[0, "ci_high"] and np.isnan(d.loc[0, "p_value"])
    # one run: no interval, no sd
    assert d.loc[1, ["diff_sd", "ci_low", "ci_high", "p_value"]].isna().all() and d.loc[1, "n_runs"] == 1
    assert _report.format_difference(d.loc[1]) == "-10.00 [n/a, n/a] (0% > 0)"


def test_markdown_table_keeps_cells_as_written():
    table = _report.markdown_table(["a", "b"], [["+2.50", "0.10"], [3, "x"]])
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]
    assert rows[0] == ["a", "b"] and rows[2:] == [["+2.50", "0.10"], ["3", "x"]]


def test_report_figures_do_not_touch_the_global_backend(tmp_path):
    import matplotlib

    before = matplotlib.get_backend()
    df = pd.DataFrame({"x": [0, 0, 1, 1], "a": [0.5, 0.6, 0.7, 0.8], "b": [0.5, 0.5, 0.6, 0.6]})
    path = _figures.plot_sweep(df, "x", {"A": "a"}, tmp_path / "f.png", differences={"A - B": ("a", "b")})
    assert Path(path).read_bytes()[:4] == b"\x89PNG"
    assert matplotlib.get_backend() == before
