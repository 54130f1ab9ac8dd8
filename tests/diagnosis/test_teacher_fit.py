"""The default teacher's in-sample loss that the labelled regime's predicted gain reads."""

import numpy as np
import pytest

from crossmodal import CrossModalDistiller, diagnose, make_modality_venn
from crossmodal._utils.random import draw_seeds
from crossmodal.diagnosis import _gain
from crossmodal.diagnosis._teacher_fit import MAX_ROWS, _stratified_rows, default_teacher_fit_loss


def test_it_is_the_distillers_own_teacher_on_its_own_rows():
    """Up to MAX_ROWS rows, the loss is that of CrossModalDistiller()'s teacher on the rows it was fitted on."""
    X_a, X_b, y = make_modality_venn(150, n_general=2, n_specific_a=3, n_specific_b=2, random_state=0)
    kd = CrossModalDistiller(random_state=4).fit(X_b.astype(np.float32), y, X_teacher=X_a.astype(np.float32))
    want = np.mean(1.0 - kd.teacher_proba_[np.arange(len(y)), y])
    seed = draw_seeds(4, 3)[0]  # the distiller's teacher seed
    assert default_teacher_fit_loss(X_a, y, 2, seed) == pytest.approx(want, rel=1e-5, abs=1e-7)


def test_a_noisier_rule_leaves_a_larger_loss():
    """Labels the teacher's view cannot explain (hidden latents) are fitted less closely than a clean rule."""
    clean = make_modality_venn(200, n_general=4, n_specific_a=4, n_noise_a=2, random_state=1)
    noisy = make_modality_venn(200, n_general=1, n_specific_a=1, n_hidden=8, n_noise_a=1, random_state=1)
    assert default_teacher_fit_loss(noisy[0], noisy[2], 2, 0) > default_teacher_fit_loss(clean[0], clean[2], 2, 0) + 0.1


def test_the_subsample_keeps_every_class_in_proportion():
    rng = np.random.default_rng(0)
    codes = np.repeat([0, 1, 2], [900, 90, 3])
    rows = _stratified_rows(codes, MAX_ROWS, rng)
    assert np.all(np.diff(rows) > 0) and len(rows) == MAX_ROWS and MAX_ROWS % 64 == 0  # full batches only
    counts = np.bincount(codes[rows], minlength=3)
    assert counts[2] >= 1 and counts[0] == pytest.approx(MAX_ROWS * 900 / 993, abs=1)
    few = np.repeat(np.arange(10), [500] + [1] * 9)  # nine classes of one row each keep it
    assert np.bincount(few[_stratified_rows(few, MAX_ROWS, rng)]).tolist() == [MAX_ROWS - 9] + [1] * 9
    np.testing.assert_array_equal(_stratified_rows(codes[:200], MAX_ROWS, rng), np.arange(200))


def test_diagnose_reads_it_with_every_row_labelled_only(monkeypatch):
    import crossmodal.diagnosis._diagnose as module

    calls = []

    def recording(X_a, codes, n_classes, seed):
        calls.append((len(codes), n_classes))
        return 0.125

    monkeypatch.setattr(module, "default_teacher_fit_loss", recording)
    X_a, X_b, y = make_modality_venn(120, random_state=0)
    seen = {}
    real = module.gain_statistics

    def keep(fits, codes, W, n_features_b):
        point, boot = real(fits, codes, W, n_features_b)
        seen.update(point=point, boot=boot)
        return point, boot

    monkeypatch.setattr(module, "gain_statistics", keep)
    diagnose(X_a, X_b, y, random_state=0, n_bootstrap=20)
    assert calls == [(120, 2)]
    assert seen["point"]["teacher_fit_loss"] == 0.125
    loss = _gain.STATISTICS.index("imitation_gain_x_teacher_fit_loss")
    imitation = _gain.STATISTICS.index("imitation_gain")
    np.testing.assert_allclose(seen["boot"][:, loss], 0.125 * seen["boot"][:, imitation])
    few = np.where(np.arange(120) < 40, y, -1)
    diagnose(X_a, X_b, few, random_state=0, n_bootstrap=20)
    assert len(calls) == 1 and np.isnan(seen["point"]["teacher_fit_loss"])
