"""CrossModalDistiller(teacher="joint"): the paper's real-data protocol (jointly trained f_a, nullified layer)."""

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError
from skorch import NeuralNetClassifier

from crossmodal import CrossModalDistiller, ModalityGeneralRanker, make_modality_venn
from crossmodal.nets import MLP

# float32 forward passes compared with a hand computation in another order
RTOL = 1e2 * np.finfo(np.float32).eps


def small_net(hidden=(8,), epochs=20):
    return NeuralNetClassifier(
        MLP,
        module__hidden_sizes=hidden,
        optimizer=torch.optim.Adam,
        lr=1e-2,
        max_epochs=epochs,
        batch_size=64,
        iterator_train__shuffle=True,
        train_split=None,
        callbacks="disable",
    )


@pytest.fixture(scope="module")
def data():
    X_a, X_b, y = make_modality_venn(
        240, n_general=3, n_specific_a=3, n_specific_b=2, n_noise_a=4, n_noise_b=4, n_classes=3, random_state=0
    )
    return X_a.astype(np.float32), X_b.astype(np.float32), y


def joint(layer=1, ratio=0.5, mode="general", **kw):
    focus = ModalityGeneralRanker(
        estimator_a=small_net(), estimator_b=small_net(), layer=layer, ratio=ratio, mode=mode, n_repeats=3
    )
    return CrossModalDistiller(teacher="joint", focus=focus, student=small_net(epochs=5), rho=0.0, random_state=0, **kw)


@pytest.fixture(scope="module")
def fitted(data):
    X_a, X_b, y = data
    return joint().fit(X_b, y, X_teacher=X_a)


def test_teacher_is_the_jointly_trained_f_a(fitted):
    f_a = fitted.focus_.nets_[0]
    assert fitted.focus_.pair_net_ is not None and fitted.focus_.pair_net_.module_ is f_a
    assert fitted.teacher_ is not f_a
    for mine, theirs in zip(fitted.teacher_.parameters(), f_a.parameters()):
        assert torch.equal(mine, theirs)
    assert not f_a._forward_hooks and not f_a[1]._forward_hooks  # the ranker's own f_a is left as it was
    assert len(fitted.teacher_[1]._forward_hooks) == 1


def test_nullified_channels_are_replaced_by_their_means_at_distillation(fitted, data):
    X_a, X_b, y = data
    focus = fitted.focus_
    f_a = focus.nets_[0]
    removed = ~focus.support_
    assert removed.sum() == 4  # half of the 8 hidden channels
    x = torch.as_tensor(X_a, dtype=torch.float64)
    W1, b1, W2, b2 = (p.detach().double() for p in f_a.parameters())
    hidden = torch.relu(x @ W1.T + b1)
    # the fill values are the training means of the ranked layer (after the ReLU)
    np.testing.assert_allclose(focus.fill_values_, hidden.mean(0).numpy(), rtol=RTOL, atol=RTOL)
    hidden[:, torch.as_tensor(removed)] = torch.as_tensor(focus.fill_values_[removed])
    by_hand = torch.softmax(hidden @ W2.T + b2, dim=1).numpy()
    np.testing.assert_allclose(fitted.teacher_proba_, by_hand, rtol=RTOL, atol=RTOL)
    # the same through the ranker's hook on a copy of f_a
    module = copy.deepcopy(f_a)
    focus.nullify_module(module)
    with torch.no_grad():
        hooked = torch.softmax(module(torch.as_tensor(X_a)).double(), dim=1).numpy()
    np.testing.assert_allclose(fitted.teacher_proba_, hooked, rtol=RTOL, atol=RTOL)
    # and nullifying did something: f_a untouched answers otherwise
    with torch.no_grad():
        plain = torch.softmax(f_a(torch.as_tensor(X_a)).double(), dim=1).numpy()
    assert np.abs(plain - fitted.teacher_proba_).max() > 1e-3


def test_ratio_zero_distils_the_joint_f_a_itself(data):
    X_a, X_b, y = data
    kd = joint(ratio=0.0).fit(X_b, y, X_teacher=X_a)
    with torch.no_grad():
        plain = torch.softmax(kd.focus_.nets_[0](torch.as_tensor(X_a)).double(), dim=1).numpy()
    np.testing.assert_allclose(kd.teacher_proba_, plain, rtol=RTOL, atol=RTOL)
    assert kd.score(X_b, y) > 1.0 / 3  # the student learnt something from it


def test_modes_pick_different_teachers_from_the_same_ranking(data):
    X_a, X_b, y = data
    general = joint(mode="general").fit(X_b, y, X_teacher=X_a)
    specific = joint(mode="specific").fit(X_b, y, X_teacher=X_a)
    # same seed: same pair, same salience; only the nullified channels differ
    np.testing.assert_array_equal(general.focus_.salience_, specific.focus_.salience_)
    assert not np.array_equal(general.focus_.support_, specific.focus_.support_)
    assert not np.allclose(general.teacher_proba_, specific.teacher_proba_)


def test_input_level_focus_queries_f_a_on_the_nullified_columns(data):
    X_a, X_b, y = data
    kd = joint(layer=None, ratio=0.4).fit(X_b, y, X_teacher=X_a)
    focus = kd.focus_
    assert (~focus.support_).sum() == 4
    with torch.no_grad():
        want = torch.softmax(focus.nets_[0](torch.as_tensor(focus.transform(X_a))).double(), dim=1).numpy()
    np.testing.assert_allclose(kd.teacher_proba_, want, rtol=RTOL, atol=RTOL)
    restored = pickle.loads(pickle.dumps(kd))  # the pre-hook pickles with the teacher
    with torch.no_grad():
        again = torch.softmax(restored.teacher_(torch.as_tensor(X_a)).double(), dim=1).numpy()
    np.testing.assert_allclose(again, kd.teacher_proba_, rtol=RTOL, atol=RTOL)


def test_joint_teacher_is_deterministic_and_clonable(data):
    X_a, X_b, y = data
    est = joint()
    a = clone(est).fit(X_b, y, X_teacher=X_a)
    b = clone(est).fit(X_b, y, X_teacher=X_a)
    np.testing.assert_array_equal(a.teacher_proba_, b.teacher_proba_)
    np.testing.assert_array_equal(a.predict_proba(X_b), b.predict_proba(X_b))
    assert est.get_params()["teacher"] == "joint"


def test_joint_teacher_errors(data):
    X_a, X_b, y = data
    with pytest.raises(ValueError, match=r"teacher='joint'.*needs focus=ModalityGeneralRanker.*got focus=None"):
        CrossModalDistiller(teacher="joint").fit(X_b, y, X_teacher=X_a)
    with pytest.raises(ValueError, match=r"teacher='joint'.*cannot be combined with teacher_proba"):
        joint().fit(X_b, y, X_teacher=X_a, teacher_proba=np.full((len(y), 3), 1 / 3))
    with pytest.raises(ValueError, match=r"focus.nullify='drop'"):
        CrossModalDistiller(teacher="joint", focus=ModalityGeneralRanker(nullify="drop")).fit(X_b, y, X_teacher=X_a)
    with pytest.raises(InvalidParameterError, match=r"'teacher' parameter .* Got 'jointly'"):
        CrossModalDistiller(teacher="jointly").fit(X_b, y, X_teacher=X_a)
    with pytest.raises(ValueError, match=r"needs X_teacher"):
        joint().fit(X_b, y)


def test_grid_search_over_the_focus_of_a_joint_teacher(data):
    from sklearn.model_selection import GridSearchCV

    X_a, X_b, y = data
    search = GridSearchCV(joint(), {"focus__mode": ["general", "specific"], "focus__ratio": [0.25]}, cv=2)
    search.fit(X_b, y, X_teacher=X_a)
    assert len(search.cv_results_["params"]) == 2
    best = search.best_estimator_
    assert best.teacher == "joint" and best.focus_.mode == search.best_params_["focus__mode"]
    assert (~best.focus_.support_).sum() == 2  # 25% of the 8 hidden channels
