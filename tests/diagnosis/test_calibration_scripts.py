"""The scripts behind diagnose's calibration: their data still draw, and their rules do what their docstrings say."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture(scope="module")
def scripts(monkeypatch_module):
    monkeypatch_module.syspath_prepend(str(SCRIPTS))
    import _diagnose_sources
    import calibrate_diagnose

    return _diagnose_sources, calibrate_diagnose


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_sources_draw_labelled_rows_per_class_and_wide_diagrams(scripts):
    sources, _ = scripts
    draw = next(sources.draws(sources=("cancer",), seeds=1))
    assert draw["budget"] is None and np.all(draw["codes"] >= 0)
    few = next(d for d in sources.draws(sources=("cancer",), seeds=1) if d["budget"] == 5)
    labelled = few["codes"][few["codes"] >= 0]
    assert np.bincount(labelled).tolist() == [5, 5]
    assert sources.pairs_of(few) == [(a, b) for a in few["train"] for b in few["train"] if a != b]
    wide = list(sources.draws(sources=("mvd-wide",), seeds=1, wide_diagrams=2))
    assert [d["source"] for d in wide] == ["mvd-wide"] * 2
    for d in wide:
        counts = np.bincount(d["codes"][d["codes"] >= 0])
        assert set(counts[counts > 0]) == {d["budget"]} and d["train"]["b"].shape[0] == 1000
        assert d["train"]["b"].shape[1] >= 20  # at least 20 noise columns


def test_mnist_views_use_only_images_no_shipped_pair_uses_and_rotation_invariant_views_are(scripts):
    import _mnist_views

    from crossmodal.datasets._files import open_data_file

    views, y = _mnist_views.mnist_views()
    with open_data_file("av_digits.npz") as npz:
        images, used = npz["images"].astype(np.float64) / 255.0, npz["image_index"]
    free = np.setdiff1d(np.arange(len(images)), used)
    assert np.bincount(y).tolist() == [200] * 10
    assert {name: v.shape[1] for name, v in views.items()} == dict(pix=196, kar=64, fac=168, zer=49, fou=72, mor=6)
    # pix is the unused images' 2 x 2 block means, row for row.
    blocks = images[free].reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(len(free), -1)
    np.testing.assert_allclose(views["pix"], blocks, rtol=1e-12)
    # Zernike magnitudes and ring Fourier magnitudes do not change when a digit is turned half a turn.
    img = images[free[:20]].reshape(-1, 28, 28)
    turned = img[:, ::-1, ::-1]
    flat, flat_turned = img.reshape(20, -1), turned.reshape(20, -1)
    rho, theta = _mnist_views._polar(img)
    rho_t, theta_t = _mnist_views._polar(turned)
    for features in (_mnist_views._zernike, _mnist_views._ring_fourier):
        np.testing.assert_allclose(features(flat, rho, theta), features(flat_turned, rho_t, theta_t), atol=1e-9)
    # The pixel view does: a half turn reverses its blocks.
    assert not np.allclose(views["pix"][:20], blocks[:20, ::-1])


def test_one_standard_error_rule_prefers_fewer_statistics_within_the_error_bar(scripts):
    _, calibrate = scripts
    rng = np.random.default_rng(0)
    part = pd.DataFrame({"cell": np.repeat(np.arange(50), 4)})
    best = np.abs(rng.normal(1.0, 0.5, len(part)))
    close = best + 0.01  # within any bootstrap standard error of the best
    far = best + 1.0
    scored = [
        (float(np.median(best)), ("a", "b"), best),
        (float(np.median(close)), ("a",), close),
        (float(np.median(far)), ("c",), far),
    ]
    error, features, bar = calibrate.one_standard_error_choice(part, scored)
    assert features == ("a",) and error == pytest.approx(np.median(close))
    assert np.median(best) < bar < np.median(far)


def test_interval_covers_every_source_not_only_their_pool(scripts):
    _, calibrate = scripts
    rng = np.random.default_rng(1)
    groups = np.repeat(["small", "large"], 500)
    errors = np.where(groups == "small", rng.normal(0, 0.5, 1000), rng.normal(0, 3.0, 1000))
    sd = np.full(1000, 0.1)
    floor, factor, _ = calibrate.interval(errors, sd, groups)
    half_width = factor * np.hypot(floor, sd)
    for g in ("small", "large"):
        assert np.mean(np.abs(errors[groups == g]) <= half_width[groups == g]) >= 0.9 - 1e-9


def test_held_out_predictions_are_clipped_to_the_fitting_sources_range(scripts):
    _, calibrate = scripts
    rows = pd.DataFrame({"x": [0.0, 1.0, 5.0]})
    assert calibrate._predict(rows, ["x"], [1.0, 2.0], {"x": (0.0, 1.0)}).tolist() == [1.0, 3.0, 3.0]
    assert calibrate._ranges(rows, ["x"]) == {"x": (0.0, 5.0)}


def test_transfer_bound_calls_diagnose_as_the_transfer_report_does(monkeypatch_module):
    monkeypatch_module.syspath_prepend(str(SCRIPTS))
    import diagnose_transfer_bound

    from crossmodal.experiments._rows import labelled_rows
    from crossmodal.experiments._transfer_runs import diagnosed, prepare

    rows = list(diagnose_transfer_bound.cell_rows("mvd", 0))
    assert [r["budget"] for r in rows] == ["3", "10", "30"]
    X_a, _, X_b, _, y, _ = prepare("mvd", 0, False)
    for row, per_class in zip(rows, diagnose_transfer_bound.BUDGETS):
        y_semi = np.where(labelled_rows(y, per_class, 0), y, -1)
        # the report's own call, in accuracy; the script's prediction is in points
        assert row["predicted"] == pytest.approx(100 * diagnosed(X_a, X_b, y_semi, 0)["predicted_gain"], abs=1e-9)
        assert all(0.0 <= row[f"{m}_unlabelled"] <= 1.0 for m in ("teacher", "student", "imitator"))
