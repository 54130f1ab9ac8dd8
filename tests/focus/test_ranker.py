import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import quick_template
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from crossmodal import CrossModalDistiller, ModalityGeneralRanker, make_modality_venn


def tiny_net(**kw):
    params = dict(optimizer=torch.optim.SGD, lr=0.1, max_epochs=30, batch_size=-1)
    return quick_template(kw.pop("module__hidden_sizes", ()), **{**params, **kw})


class _ShiftedPartnerRanker(ModalityGeneralRanker):
    """Test-only: sklearn's checks call fit(X, y), so the partner modality is derived from X.

    The partner sees the first half of X's columns (plus a fixed transform), so
    those columns are modality-general and the rest modality-specific.
    """

    def fit(self, X, y):
        X_b = None  # for inputs that are not dense 2-D arrays the parent's check of X raises first
        try:
            X_arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            X_arr = None
        if X_arr is not None and X_arr.ndim == 2 and X_arr.shape[1] > 0:
            X_b = np.tanh(X_arr[:, : max(1, X_arr.shape[1] // 2)]) + 0.1
        return super().fit(X, y, X_b=X_b)


@parametrize_with_checks(
    [_ShiftedPartnerRanker(estimator_a=tiny_net(), estimator_b=tiny_net(), n_repeats=2, random_state=0)],
    expected_failed_checks=lambda est: {},
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def mvd(n=500, seed=0, **kw):
    params = dict(
        n_general=5, n_specific_a=10, n_specific_b=0, n_hidden=0, n_noise_a=35, n_noise_b=45, hyperplane="ones"
    )
    params.update(kw)
    return make_modality_venn(n, random_state=seed, return_info=True, **params)


@pytest.fixture(scope="module")
def fitted():
    X_a, X_b, y, info = mvd()
    ranker = ModalityGeneralRanker(
        estimator_a=tiny_net(max_epochs=200), estimator_b=tiny_net(max_epochs=200), n_repeats=5, random_state=0
    ).fit(X_a, y, X_b=X_b)
    return ranker, X_a, X_b, y, info


def test_fitted_attributes_and_ranking(fitted):
    ranker, X_a, X_b, y, info = fitted
    d = X_a.shape[1]
    assert ranker.importances_.shape == (d, 5)
    np.testing.assert_allclose(ranker.salience_.max(), 1.0)
    np.testing.assert_allclose(ranker.salience_, ranker.importances_.mean(1) / ranker.importances_.mean(1).max())
    np.testing.assert_allclose(ranker.importances_std_, ranker.importances_.std(1))
    assert sorted(ranker.ranking_) == list(range(1, d + 1))
    assert ranker.ranking_[np.argmax(ranker.salience_)] == 1
    assert roc_auc_score(info.general_mask_a, ranker.salience_) > 0.95
    assert ranker.pair_net_ is not None and len(ranker.nets_) == 2


def test_salience_reports_the_increase_over_the_unpermuted_distance(fitted):
    ranker, X_a, X_b, y, info = fitted
    f_a, f_b = ranker.nets_
    with torch.no_grad():
        logits_a = f_a(torch.as_tensor(X_a, dtype=torch.float32)).double()
        logits_b = f_b(torch.as_tensor(X_b, dtype=torch.float32)).double()
    by_hand = float(torch.mean((logits_a - logits_b) ** 2))
    # float32 logits from another order of operations than the salience engine's
    np.testing.assert_allclose(ranker.baseline_distance_, by_hand, rtol=1e3 * np.finfo(np.float32).eps)
    assert ranker.distances_.shape == (X_a.shape[1], 5)
    np.testing.assert_array_equal(ranker.importances_, ranker.distances_ - ranker.baseline_distance_)
    np.testing.assert_array_equal(ranker.importances_mean_, ranker.importances_.mean(1))
    # readable: the top channel at 1, channels that do not matter (noise) near 0,
    # where the paper's p / max(p) of raw distances crowds everything near its top
    noise = info.noise_mask_a
    assert ranker.salience_.max() == 1.0
    assert np.abs(ranker.salience_[noise]).max() < 0.1
    raw = ranker.distances_.mean(1) / ranker.distances_.mean(1).max()
    assert raw[noise].min() > ranker.salience_[noise].max() + 0.1
    np.testing.assert_array_equal(np.argsort(raw, kind="stable"), np.argsort(ranker.salience_, kind="stable"))


def test_modes_select_the_right_channels(fitted):
    ranker, X_a, X_b, y, info = fitted
    order = np.argsort(ranker.salience_)
    n_remove = int(round(0.3 * len(order)))
    general = ranker.support_for("general", 0.3)
    assert not general[order[:n_remove]].any() and general[order[n_remove:]].all()
    specific = ranker.support_for("specific", 0.3)
    assert not specific[order[-n_remove:]].any() and specific[order[:-n_remove]].all()
    rand = ranker.support_for("random", 0.3)
    assert (~rand).sum() == n_remove
    np.testing.assert_array_equal(rand, ranker.support_for("random", 0.3))  # seeded at fit
    assert not np.array_equal(rand, general) and not np.array_equal(rand, specific)
    np.testing.assert_array_equal(ranker.support_for("general", 0.5), ranker.support_)
    with pytest.raises(ValueError, match="mode must be 'general', 'specific' or 'random'; got 'best'"):
        ranker.support_for("best", 0.3)
    with pytest.raises(ValueError, match=r"ratio must be in \[0, 1\); got 1.5"):
        ranker.support_for("general", 1.5)


def test_selection_breaks_ties_as_the_ranking_does():
    """Equal salience (every unused channel's increase is exactly 0): support_ removes by ranking_'s order."""
    from crossmodal.focus._selection import ranks, select_channels

    for salience in (np.array([0.0, 0.0, 1.0]), np.array([1.0, 1.0, 0.0]), np.array([0.5, 0.0, 0.0, 0.0, 1.0])):
        rank = ranks(salience)
        for ratio in (0.2, 0.34, 0.5):
            n_remove = int(round(ratio * len(salience)))
            general = select_channels(salience, "general", ratio, 0)
            specific = select_channels(salience, "specific", ratio, 0)
            np.testing.assert_array_equal(~general, rank > len(salience) - n_remove)  # the worst-ranked
            np.testing.assert_array_equal(~specific, rank <= n_remove)  # the best-ranked


def test_channel_means_are_summed_in_float64():
    from crossmodal.focus._selection import channel_means

    X = np.full((1_000_000, 2), 1000.1, dtype=np.float32)
    want = X[:1].astype(np.float64)[0]
    np.testing.assert_allclose(channel_means(X, None, None, 2), want, rtol=1e-12)


def test_transform_nullify_modes():
    X_a, X_b, y, info = mvd(n=300)
    X_a = X_a + 3.0  # non-zero means
    common = dict(estimator_a=tiny_net(), estimator_b=tiny_net(), n_repeats=2, ratio=0.4, random_state=0)
    mean = ModalityGeneralRanker(nullify="mean", **common).fit(X_a, y, X_b=X_b)
    out = mean.transform(X_a)
    removed = ~mean.support_
    assert out.shape == X_a.shape and removed.sum() == 20
    np.testing.assert_allclose(out[:, removed], np.broadcast_to(X_a[:, removed].mean(0), (300, 20)), rtol=1e-6)
    np.testing.assert_array_equal(out[:, ~removed], X_a[:, ~removed])
    zero = ModalityGeneralRanker(nullify="zero", **common).fit(X_a, y, X_b=X_b)
    assert np.all(zero.transform(X_a)[:, removed] == 0)
    drop = ModalityGeneralRanker(nullify="drop", **common).fit(X_a, y, X_b=X_b)
    np.testing.assert_array_equal(drop.transform(X_a), X_a[:, drop.support_])


def test_pandas_output_and_feature_names():
    X_a, X_b, y, info = mvd(n=300)
    frame = pd.DataFrame(X_a, columns=[f"a{i}" for i in range(X_a.shape[1])])
    common = dict(estimator_a=tiny_net(), estimator_b=tiny_net(), n_repeats=2, ratio=0.5, random_state=0)
    drop = ModalityGeneralRanker(nullify="drop", **common).fit(frame, y, X_b=X_b).set_output(transform="pandas")
    out = drop.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(frame.columns[drop.get_support()])
    assert list(drop.get_feature_names_out()) == list(out.columns)
    keep = ModalityGeneralRanker(nullify="mean", **common).fit(frame, y, X_b=X_b).set_output(transform="pandas")
    assert list(keep.transform(frame).columns) == list(frame.columns)


def test_minmax_normalisation_and_determinism():
    X_a, X_b, y, info = mvd(n=300)
    common = dict(estimator_a=tiny_net(), estimator_b=tiny_net(), n_repeats=3, random_state=4)
    a = ModalityGeneralRanker(normalize="minmax", **common).fit(X_a, y, X_b=X_b)
    assert a.salience_.min() == 0.0 and a.salience_.max() == 1.0
    b = ModalityGeneralRanker(normalize="minmax", **common).fit(X_a, y, X_b=X_b)
    np.testing.assert_array_equal(a.importances_, b.importances_)
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.transform(X_a), a.transform(X_a))


def test_prefit_pair_skips_training_and_frozen_a_trains_only_b():
    X_a, X_b, y, info = mvd(n=300)
    net_a = tiny_net(module__in_features=X_a.shape[1], module__n_classes=2).fit(X_a.astype(np.float32), y)
    net_b = tiny_net(module__in_features=X_b.shape[1], module__n_classes=2).fit(X_b.astype(np.float32), y)
    before = [p.detach().clone() for p in net_a.module_.parameters()]
    both = ModalityGeneralRanker(estimator_a=net_a, estimator_b=net_b, n_repeats=2, random_state=0).fit(X_a, y, X_b=X_b)
    assert both.pair_net_ is None and both.nets_[0] is net_a.module_
    only_a = ModalityGeneralRanker(estimator_a=net_a, estimator_b=tiny_net(), n_repeats=2, random_state=0).fit(
        X_a, y, X_b=X_b
    )
    assert only_a.pair_net_.freeze_a and only_a.nets_[0] is net_a.module_
    for p, q in zip(net_a.module_.parameters(), before):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_hidden_layer_ranking_and_nullify_module():
    X_a, X_b, y, info = mvd(n=300)
    net = tiny_net(module__hidden_sizes=(12,))
    ranker = ModalityGeneralRanker(
        estimator_a=net, estimator_b=tiny_net(), layer=1, n_repeats=2, ratio=0.5, random_state=0
    ).fit(X_a, y, X_b=X_b)
    assert ranker.salience_.shape == (12,) and ranker.support_.sum() == 6
    with pytest.raises(
        ValueError, match=r"transform applies to input columns, but this ranker ranks the channels of layer=1"
    ):
        ranker.transform(X_a)
    f_a = ranker.nets_[0]
    handle = ranker.nullify_module(f_a)
    seen = []  # hooks run in registration order: this one sees the nullified output
    f_a[1].register_forward_hook(lambda m, i, o: seen.append(o.detach().clone()))
    f_a(torch.as_tensor(X_a[:5], dtype=torch.float32))
    removed = ~ranker.support_
    np.testing.assert_allclose(
        seen[-1][:, removed].numpy(), np.broadcast_to(ranker.fill_values_[removed], (5, 6)), rtol=1e-6
    )
    handle.remove()


def test_hidden_layer_of_a_float64_pair_ranks_and_stores_float64_means():
    X_a, X_b, y, info = mvd(n=200)
    nets = [
        tiny_net(module__in_features=X.shape[1], module__n_classes=2, module__hidden_sizes=(6,)).initialize()
        for X in (X_a, X_b)
    ]
    for net in nets:
        net.module_.double()
    ranker = ModalityGeneralRanker(estimator_a=nets[0], estimator_b=nets[1], layer=1, n_repeats=2, random_state=0)
    ranker.fit(X_a, y, X_b=X_b)
    with torch.no_grad():
        f_a = nets[0].module_
        hidden = f_a[1](f_a[0](torch.as_tensor(X_a.astype(np.float32), dtype=torch.float64)))
    np.testing.assert_allclose(ranker.set_params(nullify="mean").fill_values_, hidden.mean(0).numpy(), rtol=1e-12)


def test_inverse_transform_restores_the_fitted_width_with_removed_channels_zero(fitted):
    ranker, X_a, X_b, y, info = fitted
    removed = ~ranker.support_
    expected = np.where(removed, 0.0, X_a)
    for nullify in ("mean", "zero", "drop"):
        ranker.set_params(nullify=nullify)
        np.testing.assert_array_equal(ranker.inverse_transform(ranker.transform(X_a)), expected)
    ranker.set_params(nullify="mean")
    with pytest.raises(ValueError, match="X has 5 features, but ModalityGeneralRanker is expecting 50"):
        ranker.inverse_transform(X_a[:, :5])


def test_frames_round_trip_without_feature_name_warnings():
    import warnings

    X_a, X_b, y, info = mvd(n=200)
    frame = pd.DataFrame(X_a, columns=[f"a{i}" for i in range(X_a.shape[1])])
    common = dict(estimator_a=tiny_net(), estimator_b=tiny_net(), n_repeats=2, random_state=0)
    ranker = ModalityGeneralRanker(**common).fit(frame, y, X_b=X_b)
    for nullify in ("mean", "zero", "drop"):
        ranker.set_params(nullify=nullify)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            back = ranker.inverse_transform(ranker.transform(frame))
        np.testing.assert_array_equal(back, np.where(ranker.support_, X_a, 0.0))
    with pytest.warns(UserWarning, match="does not have valid feature names") as seen:
        ranker.set_params(nullify="drop").transform(X_a)
    assert len([w for w in seen if "valid feature names" in str(w.message)]) == 1  # said once, not twice


def test_max_normalisation_keeps_the_order_when_no_increase_is_positive():
    from crossmodal.focus._selection import normalize_salience, ranks, select_channels

    increase = np.array([-0.3, -0.1, -0.2, 0.0])
    salience = normalize_salience(increase, "max")
    np.testing.assert_allclose(salience, increase / 0.3)
    assert ranks(salience).tolist() == [4, 2, 3, 1] == ranks(increase).tolist()
    assert select_channels(salience, "general", 0.5, 0).tolist() == [False, True, False, True]
    assert not normalize_salience(np.zeros(3), "max").any()
    # a positive top divides everything by it, far below 0 where it is small
    np.testing.assert_allclose(normalize_salience(np.array([1e-3, -0.5]), "max"), [1.0, -500.0])


@pytest.mark.parametrize("ratio, n, kept", [(0.95, 10, 1), (0.6, 1, 1), (0.5, 5, 3), (0.5, 7, 3), (0.25, 8, 6)])
def test_a_ratio_below_1_keeps_at_least_one_channel(ratio, n, kept):
    from crossmodal.focus._selection import select_channels

    salience = np.linspace(0.0, 1.0, n)
    for mode in ("general", "specific", "random"):
        assert select_channels(salience, mode, ratio, 0).sum() == kept


# One call per bad argument or input lives in the table of tests/test_bad_input.py.


# ------------------------------------------------------------------ oracle
ORACLE_SETTINGS = {
    "table2_10_10": dict(
        n_general=10, n_specific_a=10, n_specific_b=0, n_hidden=0, n_noise_a=30, n_noise_b=40, hyperplane="ones"
    ),
    "both_specific": dict(
        n_general=8, n_specific_a=8, n_specific_b=4, n_hidden=0, n_noise_a=20, n_noise_b=30, hyperplane="ones"
    ),
    "three_classes": dict(
        n_general=5, n_specific_a=5, n_specific_b=3, n_hidden=0, n_noise_a=15, n_noise_b=20, n_classes=3
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("setting", sorted(ORACLE_SETTINGS))
def test_oracle_ranks_ground_truth_general_channels_first(setting):
    """Default networks rank the known modality-general channels above the rest (mean ROC AUC >= 0.95)."""
    aucs = []
    for seed in range(5):
        X_a, X_b, y, info = make_modality_venn(600, random_state=seed, return_info=True, **ORACLE_SETTINGS[setting])
        ranker = ModalityGeneralRanker(n_repeats=3, random_state=seed).fit(X_a, y, X_b=X_b)
        aucs.append(roc_auc_score(info.general_mask_a, ranker.salience_))
    assert np.mean(aucs) >= 0.95, aucs


# ------------------------------------------------------------------ with the distiller
def test_distiller_focus_grid_search_picks_by_student_score():
    X_a, X_b, y, info = mvd(n=300)
    kd = CrossModalDistiller(
        teacher=LogisticRegression(),
        student=tiny_net(max_epochs=50),
        focus=ModalityGeneralRanker(estimator_a=tiny_net(), estimator_b=tiny_net(), n_repeats=2),
        random_state=0,
    )
    grid = GridSearchCV(kd, {"focus__ratio": [0.25, 0.75], "focus__mode": ["general", "specific"]}, cv=2)
    grid.fit(X_b, y, X_teacher=X_a)
    assert len(grid.cv_results_["params"]) == 4
    best = int(np.argmax(grid.cv_results_["mean_test_score"]))
    assert grid.best_params_ == grid.cv_results_["params"][best]
    focus = grid.best_estimator_.focus_
    assert focus.support_.sum() == X_a.shape[1] - int(round(grid.best_params_["focus__ratio"] * X_a.shape[1]))
    # the teacher was trained on the nullified modality
    np.testing.assert_allclose(
        grid.best_estimator_.teacher_.predict_proba(focus.transform(X_a)), grid.best_estimator_.teacher_proba_
    )


def test_distiller_focus_on_hidden_layer_masks_the_teacher():
    X_a, X_b, y, info = mvd(n=300)
    kd = CrossModalDistiller(
        teacher=tiny_net(module__hidden_sizes=(10,)),
        student=tiny_net(max_epochs=20),
        focus=ModalityGeneralRanker(estimator_b=tiny_net(), layer=1, ratio=0.5, nullify="zero", n_repeats=2),
        random_state=0,
    ).fit(X_b, y, X_teacher=X_a)
    assert kd.focus_.salience_.shape == (10,)
    seen = []
    kd.teacher_.module_[1].register_forward_hook(lambda m, i, o: seen.append(o))
    proba = kd.teacher_.predict_proba(X_a.astype(np.float32))
    np.testing.assert_allclose(proba, kd.teacher_proba_, rtol=1e-5)
    assert torch.all(seen[-1][:, torch.as_tensor(~kd.focus_.support_)] == 0)
