"""CrossModalDistiller(memory=...): the cached focus ranker and teacher.

Every cache test counts the fits that actually ran (a wrapper around
``crossmodal.distill._teacher.fit_teacher`` and ``ModalityGeneralRanker.fit``): a
cache hit runs neither. Results with the cache are compared with exact
equality: a hit returns the pickled fit of the same code on the same inputs,
and the student then runs the same code path on the same arrays.
"""

import errno
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from skorch import NeuralNetClassifier

import crossmodal.distill._cache as fit_cache
from crossmodal import CrossModalDistiller, ModalityGeneralRanker, make_modality_venn
from crossmodal.distill import _teacher
from crossmodal.distill._cache import CacheFallbackWarning
from crossmodal.nets import MLP


def tiny(**kw):
    params = dict(
        module__hidden_sizes=(4,),
        optimizer=torch.optim.Adam,
        lr=0.05,
        max_epochs=8,
        batch_size=-1,
        train_split=None,
        callbacks="disable",
        verbose=0,
    )
    params.update(kw)
    return NeuralNetClassifier(MLP, **params)


@pytest.fixture(scope="module")
def data():
    X_a, X_b, y = make_modality_venn(
        120, n_general=3, n_specific_a=2, n_specific_b=2, n_noise_a=3, n_noise_b=3, random_state=0
    )
    return X_a, X_b, y


def distiller(layer=None, **kw):
    focus = ModalityGeneralRanker(estimator_a=tiny(), estimator_b=tiny(), n_repeats=2, layer=layer, ratio=0.5)
    params = dict(teacher=tiny(), student=tiny(), focus=focus, random_state=0)
    params.update(kw)
    return CrossModalDistiller(**params)


@pytest.fixture
def fits(monkeypatch):
    """Counts of teacher fits and focus-ranker fits that ran (cache misses)."""
    counts = {"teacher": 0, "focus": 0}
    fit_teacher, fit_focus = _teacher.fit_teacher, ModalityGeneralRanker.fit

    def counting_teacher(*args, **kwargs):
        counts["teacher"] += 1
        return fit_teacher(*args, **kwargs)

    def counting_focus(self, *args, **kwargs):
        counts["focus"] += 1
        return fit_focus(self, *args, **kwargs)

    monkeypatch.setattr(_teacher, "fit_teacher", counting_teacher)
    monkeypatch.setattr(ModalityGeneralRanker, "fit", counting_focus)

    def reset():
        counts.update(teacher=0, focus=0)
        return counts

    counts["reset"] = reset
    return counts


def assert_same_fit(a, b, X):
    np.testing.assert_array_equal(a.teacher_proba_, b.teacher_proba_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    if a.focus_ is not None:
        np.testing.assert_array_equal(a.focus_.salience_, b.focus_.salience_)
        np.testing.assert_array_equal(a.focus_.support_, b.focus_.support_)


@pytest.mark.parametrize("layer", [None, 0])
def test_same_result_with_and_without_memory(data, tmp_path, fits, layer):
    X_a, X_b, y = data
    plain = distiller(layer).fit(X_b, y, X_teacher=X_a)
    assert (fits["teacher"], fits["focus"]) == (1, 1)
    first = distiller(layer, memory=tmp_path).fit(X_b, y, X_teacher=X_a)
    assert (fits["teacher"], fits["focus"]) == (2, 2)  # cold cache: both fitted
    second = distiller(layer, memory=str(tmp_path)).fit(X_b, y, X_teacher=X_a)
    assert (fits["teacher"], fits["focus"]) == (2, 2)  # warm cache: neither
    assert_same_fit(plain, first, X_b)
    assert_same_fit(plain, second, X_b)
    if layer is not None:  # the loaded ranker ranks (and its f_a is) the hooked teacher, as without a cache
        assert second.focus_.estimator_a is second.teacher_
        assert second.focus_.nets_[0] is second.teacher_.module_
        X32 = X_a.astype(np.float32)
        np.testing.assert_array_equal(second.teacher_.predict_proba(X32), plain.teacher_.predict_proba(X32))


def test_joint_teacher_is_served_by_the_cached_ranker(data, tmp_path, fits):
    """teacher="joint": the teacher is the ranker's f_a, so one cached ranking serves every ratio."""
    X_a, X_b, y = data
    plain = distiller(layer=0, teacher="joint").fit(X_b, y, X_teacher=X_a)
    cold = distiller(layer=0, teacher="joint", memory=tmp_path).fit(X_b, y, X_teacher=X_a)
    assert (fits["teacher"], fits["focus"]) == (0, 2)
    for ratio in (0.5, 0.25):
        fits["reset"]()
        warm = distiller(layer=0, teacher="joint", memory=tmp_path).set_params(focus__ratio=ratio)
        warm.fit(X_b, y, X_teacher=X_a)
        assert (fits["teacher"], fits["focus"]) == (0, 0)  # no refit of the pair
        want = distiller(layer=0, teacher="joint").set_params(focus__ratio=ratio).fit(X_b, y, X_teacher=X_a)
        assert_same_fit(want, warm, X_b)
    assert_same_fit(plain, cold, X_b)


def test_selection_is_served_by_one_ranker(data, tmp_path, fits):
    """mode / ratio / nullify reuse the cached ranker; the teacher sees other data, so it is refitted."""
    X_a, X_b, y = data
    seen = [distiller(memory=tmp_path).fit(X_b, y, X_teacher=X_a).focus_.transform(X_a)]
    for params in (
        {"focus__ratio": 0.25},
        {"focus__mode": "specific"},
        {"focus__mode": "random"},
        {"focus__nullify": "zero"},
        {"focus__nullify": "drop", "focus__ratio": 0.75},
    ):
        fits["reset"]()
        cached = distiller(memory=tmp_path).set_params(**params).fit(X_b, y, X_teacher=X_a)
        X_t = cached.focus_.transform(X_a)
        # the teacher is keyed by its input: a selection that gives an input seen before reuses it
        new_input = not any(np.array_equal(X_t, old) for old in seen)
        seen.append(X_t)
        assert (fits["teacher"], fits["focus"]) == (int(new_input), 0), params
        assert_same_fit(distiller().set_params(**params).fit(X_b, y, X_teacher=X_a), cached, X_b)


def _changed(X, row=0, col=0):
    X = X.copy()
    X[row, col] += 1.0
    return X


# (name, estimator params, data change, teacher refitted, ranker refitted)
INVALIDATING = [
    ("teacher parameter", {"teacher": tiny(lr=0.04)}, None, True, False),
    ("teacher module", {"teacher": tiny(module__hidden_sizes=(5,))}, None, True, False),
    ("sklearn teacher", {"teacher": LogisticRegression()}, None, True, False),
    ("teacher_input", {"teacher_input": "both"}, None, True, False),
    ("seed", {"random_state": 1}, None, True, True),
    ("focus n_repeats", {"focus__n_repeats": 3}, None, True, True),
    ("focus distance", {"focus__distance": "mae"}, None, True, True),
    ("focus estimator", {"focus__estimator_a": tiny(lr=0.04)}, None, True, True),
    ("focus seed", {"focus__random_state": 7}, None, True, True),
    ("one value of X_teacher", {}, lambda X_a, X_b, y, w: (_changed(X_a, 5, 0), X_b, y, w), True, True),
    ("one value of X", {}, lambda X_a, X_b, y, w: (X_a, _changed(X_b, 5, 1), y, w), None, True),
    ("one label", {}, lambda X_a, X_b, y, w: (X_a, X_b, np.where(np.arange(len(y)) == 3, 1 - y, y), w), True, True),
    ("row order", {}, lambda X_a, X_b, y, w: (X_a[::-1], X_b[::-1], y[::-1], w), True, True),
    ("sample_weight", {}, lambda X_a, X_b, y, w: (X_a, X_b, y, np.linspace(0.5, 1.5, len(y))), True, False),
    ("X_teacher dtype", {}, lambda X_a, X_b, y, w: (X_a.astype(np.float32), X_b, y, w), True, True),
]
KEEPING = [
    ("rho", {"rho": 0.9}),
    ("temperature", {"temperature": 3.0}),
    ("kl_reduction", {"kl_reduction": "mean"}),
    ("student", {"student": tiny(lr=0.01, module__hidden_sizes=(3,))}),
    ("verbose", {"verbose": 0, "focus__verbose": 0}),
]


@pytest.mark.parametrize(
    "name, params, change, teacher_refit, focus_refit", INVALIDATING, ids=[c[0] for c in INVALIDATING]
)
def test_each_input_of_a_fit_invalidates_it(data, tmp_path, fits, name, params, change, teacher_refit, focus_refit):
    X_a, X_b, y = data
    distiller(memory=tmp_path).fit(X_b, y, X_teacher=X_a)
    X_a2, X_b2, y2, w2 = change(X_a, X_b, y, None) if change else (X_a, X_b, y, None)
    fits["reset"]()
    cached = distiller(memory=tmp_path).set_params(**params).fit(X_b2, y2, X_teacher=X_a2, sample_weight=w2)
    assert fits["focus"] == int(focus_refit)
    if teacher_refit is not None:  # a new X may or may not move the ranker's selection
        assert fits["teacher"] == int(teacher_refit)
    plain = distiller().set_params(**params).fit(X_b2, y2, X_teacher=X_a2, sample_weight=w2)
    assert_same_fit(plain, cached, X_b2)


def test_metadata_routing_is_part_of_the_teachers_key(data, tmp_path, fits):
    # With routing off a scikit-learn teacher gets sample_weight; on, only where it requests it.
    X_a, X_b, y = data
    w = np.where(y == 0, 5.0, 0.2)
    distiller(teacher=LogisticRegression(), focus=None, memory=tmp_path).fit(X_b, y, X_teacher=X_a, sample_weight=w)
    fits["reset"]()
    with sklearn.config_context(enable_metadata_routing=True), pytest.warns(UserWarning, match="is not routed"):
        cached = distiller(teacher=LogisticRegression(), focus=None, memory=tmp_path)
        cached.fit(X_b, y, X_teacher=X_a, sample_weight=w)
        plain = distiller(teacher=LogisticRegression(), focus=None).fit(X_b, y, X_teacher=X_a, sample_weight=w)
    assert fits["teacher"] == 2  # not served the weighted teacher of the unrouted fit
    assert_same_fit(plain, cached, X_b)


@pytest.mark.parametrize("name, params", KEEPING, ids=[c[0] for c in KEEPING])
def test_student_parameters_reuse_the_fit(data, tmp_path, fits, name, params):
    X_a, X_b, y = data
    distiller(memory=tmp_path).fit(X_b, y, X_teacher=X_a)
    fits["reset"]()
    cached = distiller(memory=tmp_path).set_params(**params).fit(X_b, y, X_teacher=X_a)
    assert (fits["teacher"], fits["focus"]) == (0, 0)
    assert_same_fit(distiller().set_params(**params).fit(X_b, y, X_teacher=X_a), cached, X_b)


def test_other_code_never_reads_an_entry(data, tmp_path, fits, monkeypatch):
    X_a, X_b, y = data
    distiller(memory=tmp_path).fit(X_b, y, X_teacher=X_a)
    version = fit_cache.code_version()
    monkeypatch.setattr(fit_cache, "code_version", lambda: (version[0] + "-edited", version[1]))
    fits["reset"]()
    distiller(memory=tmp_path).fit(X_b, y, X_teacher=X_a)
    assert (fits["teacher"], fits["focus"]) == (1, 1)


def test_code_version_tracks_the_source():
    digest, versions = fit_cache.code_version()
    assert len(digest) == 64 and dict(versions)["torch"] == torch.__version__


def test_unseeded_fits_are_not_reused(data, tmp_path, fits):
    """random_state=None draws new seeds per fit, so nothing can be reused (documented)."""
    X_a, X_b, y = data
    for _ in range(2):
        distiller(memory=tmp_path, random_state=None).fit(X_b, y, X_teacher=X_a)
    assert (fits["teacher"], fits["focus"]) == (2, 2)


def test_memory_forms_and_no_focus(data, tmp_path, fits):
    X_a, X_b, y = data
    plain = CrossModalDistiller(teacher=LogisticRegression(), student=tiny(), random_state=0).fit(X_b, y, X_teacher=X_a)
    for memory in (joblib.Memory(str(tmp_path / "a"), verbose=0), tmp_path / "a", str(tmp_path / "a")):
        kd = CrossModalDistiller(teacher=LogisticRegression(), student=tiny(), memory=memory, random_state=0)
        assert_same_fit(plain, kd.fit(X_b, y, X_teacher=X_a), X_b)
    assert fits["teacher"] == 2  # the uncached fit and the first cached one
    fits["reset"]()
    none_store = CrossModalDistiller(
        teacher=LogisticRegression(), student=tiny(), memory=joblib.Memory(None), random_state=0
    )
    assert_same_fit(plain, none_store.fit(X_b, y, X_teacher=X_a), X_b)
    assert fits["teacher"] == 1  # joblib.Memory(None) stores nothing


def test_bad_memory_is_rejected(data):
    X_a, X_b, y = data
    with pytest.raises(
        ValueError, match=r"'memory' parameter of CrossModalDistiller must be None, an instance of 'str'"
    ):
        CrossModalDistiller(memory=3).fit(X_b, y, X_teacher=X_a)


def test_unusable_directory_warns_and_fits_without_cache(data, tmp_path, fits):
    X_a, X_b, y = data
    plain = distiller().fit(X_b, y, X_teacher=X_a)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.warns(
        CacheFallbackWarning, match=r"memory=.*a-file/cache.* could not be used as a cache .*Not a directory"
    ):
        kd = distiller(memory=blocker / "cache").fit(X_b, y, X_teacher=X_a)
    assert_same_fit(plain, kd, X_b)
    assert (fits["teacher"], fits["focus"]) == (2, 2)


class _BrokenMemory:
    """A joblib.Memory look-alike whose store fails on every call."""

    location = "/broken"

    def cache(self, func, **kwargs):
        def call(*args, **kw):
            raise OSError(errno.EIO, "Input/output error")

        return call


def test_failing_store_warns_and_fits_without_cache(data, fits):
    X_a, X_b, y = data
    plain = distiller().fit(X_b, y, X_teacher=X_a)
    with pytest.warns(CacheFallbackWarning, match="Input/output error"):
        kd = distiller(memory=_BrokenMemory()).fit(X_b, y, X_teacher=X_a)
    assert_same_fit(plain, kd, X_b)


def test_full_disk_warns_and_keeps_the_result(data, tmp_path, fits, monkeypatch):
    X_a, X_b, y = data
    plain = distiller().fit(X_b, y, X_teacher=X_a)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(joblib.numpy_pickle, "dump", no_space)
    with pytest.warns(joblib.memory.CacheWarning, match="No space left on device"):
        kd = distiller(memory=tmp_path).fit(X_b, y, X_teacher=X_a)
    assert_same_fit(plain, kd, X_b)


def test_errors_of_the_fit_itself_are_not_hidden(data, tmp_path):
    X_a, X_b, y = data
    with pytest.raises(ValueError, match="X_teacher"):
        distiller(memory=tmp_path).fit(X_b, y, X_teacher=X_a[:-1])


def test_corrupt_entries_are_recomputed(data, tmp_path, fits, caplog):
    X_a, X_b, y = data
    first = distiller(memory=tmp_path).fit(X_b, y, X_teacher=X_a)
    outputs = list(Path(tmp_path).rglob("output.pkl"))
    assert len(outputs) == 2  # the ranker, the teacher with its probabilities
    for path in outputs:
        path.write_bytes(b"garbage")
    fits["reset"]()
    again = distiller(memory=tmp_path).fit(X_b, y, X_teacher=X_a)
    assert "Exception while loading results" in caplog.text  # joblib logs it, then recomputes
    assert (fits["teacher"], fits["focus"]) == (1, 1)
    assert_same_fit(first, again, X_b)


@pytest.mark.slow
def test_parallel_grid_search_shares_a_disk_cache(data, tmp_path):
    X_a, X_b, y = data
    grid = {"rho": [0.3, 0.7], "focus__ratio": [0.25, 0.5]}
    plain = GridSearchCV(distiller(), grid, cv=2).fit(X_b, y, X_teacher=X_a)
    shared = GridSearchCV(distiller(memory=tmp_path), grid, cv=2, n_jobs=2).fit(X_b, y, X_teacher=X_a)
    assert shared.best_params_ == plain.best_params_
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_array_equal(shared.cv_results_[key], plain.cv_results_[key])
    # per fold one ranker and one teacher per ratio; the refit (all rows) one of each
    assert len(list(Path(tmp_path).rglob("output.pkl"))) == 2 * (1 + 2) + 2


# ---------------------------------------------------------------- the ranker's selection after fit
@pytest.fixture(scope="module")
def ranker(data):
    X_a, X_b, y = data
    return ModalityGeneralRanker(estimator_a=tiny(), estimator_b=tiny(), n_repeats=2, random_state=0).fit(
        X_a, y, X_b=X_b
    )


@pytest.mark.parametrize(
    "params",
    [
        {"ratio": 0.25},
        {"ratio": 0.0},
        {"mode": "specific", "ratio": 0.7},
        {"mode": "random", "ratio": 0.3},
        {"nullify": "zero"},
        {"nullify": "drop", "mode": "random"},
    ],
)
def test_selection_after_fit_equals_a_fresh_fit(data, ranker, params):
    X_a, X_b, y = data
    moved = clone(ranker).set_params(**params).fit(X_a, y, X_b=X_b)  # the reference: fitted with params
    after = pickle_copy(ranker).set_params(**params)
    np.testing.assert_array_equal(after.support_, moved.support_)
    np.testing.assert_array_equal(after.get_support(), moved.get_support())
    np.testing.assert_array_equal(after.fill_values_, moved.fill_values_)
    np.testing.assert_array_equal(after.transform(X_a), moved.transform(X_a))
    removed = int(round(moved.ratio * X_a.shape[1]))
    assert after.support_.sum() == X_a.shape[1] - removed


def pickle_copy(obj):
    import pickle

    return pickle.loads(pickle.dumps(obj))


def test_layer_selection_after_fit(data):
    X_a, X_b, y = data
    net = tiny(module__in_features=X_a.shape[1], module__n_classes=2, criterion=torch.nn.CrossEntropyLoss)
    net.fit(X_a.astype(np.float32), y.astype(np.int64))
    ranker = ModalityGeneralRanker(estimator_a=net, estimator_b=tiny(), n_repeats=2, layer=0, random_state=0)
    ranker.fit(X_a, y, X_b=X_b)
    means = ranker.fill_values_
    ranker.set_params(nullify="zero", ratio=0.75)
    assert np.all(ranker.fill_values_ == 0) and ranker.support_.sum() == 1
    ranker.set_params(nullify="mean")
    np.testing.assert_array_equal(ranker.fill_values_, means)
    seen = []
    handle = ranker.nullify_module(net.module_)
    probe = net.module_[0].register_forward_hook(lambda m, i, o: seen.append(o.detach().clone()))
    with torch.no_grad():
        net.module_(torch.as_tensor(X_a[:5], dtype=torch.float32))
    handle.remove(), probe.remove()
    removed = ~ranker.support_
    np.testing.assert_allclose(
        seen[-1][:, removed].numpy(), np.broadcast_to(means[removed], (5, 3)), rtol=np.finfo(np.float32).eps * 4
    )


@pytest.mark.parametrize(
    "params, message",
    [
        ({"ratio": 1.0}, r"ratio must be in \[0, 1\); got 1.0"),
        ({"mode": "best"}, "mode must be 'general', 'specific' or 'random'; got 'best'"),
        ({"nullify": "nan"}, "nullify must be 'mean', 'zero' or 'drop'; got 'nan'"),
    ],
)
def test_bad_selection_after_fit_is_rejected(data, ranker, params, message):
    X_a, _, _ = data
    bad = pickle_copy(ranker).set_params(**params)
    with pytest.raises(ValueError, match=message):
        bad.transform(X_a)


def test_prefit_estimators_are_keyed_by_weights_and_hooks():
    from crossmodal.focus._layers import ChannelNullifier

    net = tiny(module__in_features=4, module__n_classes=2, criterion=torch.nn.CrossEntropyLoss).initialize()
    ranker = ModalityGeneralRanker(estimator_a=net, n_repeats=2)
    before = joblib.hash(fit_cache.focus_key(ranker))
    ranker.set_params(mode="random", ratio=0.1, nullify="drop", verbose=1)  # act after fit: not in the key
    assert joblib.hash(fit_cache.focus_key(ranker)) == before
    handle = net.module_[0].register_forward_hook(ChannelNullifier(np.array([0]), np.array([0.0])))
    assert joblib.hash(fit_cache.focus_key(ranker)) != before
    handle.remove()
    assert joblib.hash(fit_cache.focus_key(ranker)) == before
    with torch.no_grad():
        net.module_[0].weight[0, 0] += 1.0
    assert joblib.hash(fit_cache.focus_key(ranker)) != before
    # The train/eval flag is not part of the key: skorch's predict flips it, and no result depends on it.
    changed = joblib.hash(fit_cache.focus_key(ranker))
    net.module_.eval()
    assert joblib.hash(fit_cache.focus_key(ranker)) == changed


def test_a_clone_hits_the_entry_of_its_original(data, tmp_path, fits):
    """clone() copies apart what parameters share (one hidden-sizes tuple in three nets): the key is the same."""
    X_a, X_b, y = data
    hidden = (4,)
    focus = ModalityGeneralRanker(
        estimator_a=tiny(module__hidden_sizes=hidden), estimator_b=tiny(module__hidden_sizes=hidden), n_repeats=2
    )
    kd = CrossModalDistiller(
        teacher=tiny(module__hidden_sizes=hidden), student=tiny(), focus=focus, random_state=0, memory=tmp_path
    )
    kd.fit(X_b, y, X_teacher=X_a)
    clone(kd).fit(X_b, y, X_teacher=X_a)
    assert (fits["teacher"], fits["focus"]) == (1, 1)


def test_prefit_nets_used_for_predictions_still_hit(data, tmp_path, fits):
    """Calling a prefit net's predict (which switches it to eval mode) between two identical fits changes nothing."""
    from sklearn.frozen import FrozenEstimator

    X_a, X_b, y = data
    X32 = X_a.astype(np.float32)

    def prefit(X):
        net = tiny(module__in_features=X.shape[1], module__n_classes=2, criterion=torch.nn.CrossEntropyLoss)
        return net.fit(X.astype(np.float32), y)

    net_a, net_b, teacher = prefit(X_a), prefit(X_b), FrozenEstimator(prefit(X_a))
    teacher.estimator.module_.train()

    def fit():
        focus = ModalityGeneralRanker(estimator_a=FrozenEstimator(net_a), estimator_b=FrozenEstimator(net_b))
        focus.set_params(n_repeats=2)
        CrossModalDistiller(teacher=teacher, student=tiny(), focus=focus, random_state=0, memory=tmp_path).fit(
            X_b, y, X_teacher=X_a
        )

    fit()
    net_a.module_.train()
    net_a.predict(X32)
    fit()
    assert (fits["teacher"], fits["focus"]) == (1, 1)


def test_a_hit_rebinds_the_pair_net_to_the_hooked_teacher(data, tmp_path):
    """With a hidden-layer focus, step 1's f_a is the separately trained teacher itself, cached or not."""
    X_a, X_b, y = data
    X32 = torch.as_tensor(X_a, dtype=torch.float32)
    outputs = []
    for memory in (None, tmp_path, tmp_path):
        focus = ModalityGeneralRanker(estimator_b=tiny(), layer=1, n_repeats=2)
        kd = CrossModalDistiller(teacher=tiny(), student=tiny(), focus=focus, random_state=0, memory=memory)
        kd.fit(X_b, y, X_teacher=X_a)
        assert kd.focus_.pair_net_.module_ is kd.teacher_.module_ is kd.focus_.nets_[0]
        with torch.no_grad():
            outputs.append(kd.focus_.pair_net_.module_(X32).numpy())
    np.testing.assert_array_equal(outputs[0], outputs[2])
