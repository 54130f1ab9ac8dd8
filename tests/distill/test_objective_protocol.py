"""The objective seam of CrossModalDistiller: names, objects, features, trainable teachers, a user's own objective."""

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import quick_template
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from crossmodal import CrossModalDistiller, make_modality_venn
from crossmodal.distill.objectives import KD, DistillationObjective, resolve_objective


class FeatureMatch(DistillationObjective):
    """A user's objective: a learned linear map of the student's features regressed onto the teacher's."""

    requires = "features"
    needs_student_features = True

    def __init__(self, weight=1.0, student_layer=None, teacher_layer=None):
        self.weight = weight
        self.student_layer = student_layer
        self.teacher_layer = teacher_layer

    def targets(self, teacher):
        return {"teacher_features": teacher.features}

    def build_module(self, context):
        return torch.nn.Linear(context.student_features, context.teacher_features)

    def loss(self, batch):
        return self.weight * F.mse_loss(batch.module(batch.student_features), batch.targets["teacher_features"])


class CoTrained(DistillationObjective):
    """A user's objective that trains a copy of the teacher with the student (KL both ways on the batch)."""

    requires = "trainable teacher"

    def targets(self, teacher):
        return {"teacher_inputs": teacher.inputs}

    def build_module(self, context):
        return context.teacher_module

    def loss(self, batch):
        t = batch.module(batch.targets["teacher_inputs"])
        s = batch.student_logits
        return F.kl_div(F.log_softmax(s, 1), F.log_softmax(t, 1), reduction="batchmean", log_target=True)


@pytest.fixture(scope="module")
def data():
    return make_modality_venn(
        160, n_general=3, n_specific_a=1, n_specific_b=1, n_noise_a=2, n_noise_b=2, random_state=0
    )


def net(**params):
    return quick_template((8,), **{"max_epochs": 4, "lr": 0.05, "batch_size": 32, **params})


def test_kd_by_name_and_as_an_object_are_the_same_fit(data):
    X_a, X_b, y = data
    by_name = CrossModalDistiller(teacher=net(), student=net(), temperature=2.0, kl_reduction="mean", random_state=0)
    as_object = CrossModalDistiller(
        teacher=net(), student=net(), objective=KD(temperature=2.0, reduction="mean"), random_state=0
    )
    np.testing.assert_array_equal(
        by_name.fit(X_b, y, X_teacher=X_a).predict_proba(X_b), as_object.fit(X_b, y, X_teacher=X_a).predict_proba(X_b)
    )


def test_settings_that_an_objective_does_not_take_are_errors():
    with pytest.raises(ValueError, match=r"temperature=2.0 and kl_reduction='batchmean' apply to objectives given"):
        resolve_objective(FeatureMatch(), temperature=2.0)
    with pytest.raises(ValueError, match=r"kl_reduction='mean' .*FeatureMatch"):
        resolve_objective(FeatureMatch(), kl_reduction="mean")
    assert resolve_objective("kd", 3.0, "mean").get_params() == {"temperature": 3.0, "reduction": "mean"}
    assert resolve_objective("kd").get_params() == {"temperature": 1.0, "reduction": "batchmean"}
    assert resolve_objective("dkd").temperature == 4.0  # temperature=None keeps each objective's own default
    assert resolve_objective("dkd", 2.0).temperature == 2.0
    with pytest.raises(ValueError, match=r"kl_reduction='mean' does not apply to objective='dkd'"):
        resolve_objective("dkd", kl_reduction="mean")
    # MLLD has a reduction of its own, which the distiller's kl_reduction does not set.
    with pytest.raises(ValueError, match=r"kl_reduction='mean' applies only to objective='kd'.*MLLD\(reduction=...\)"):
        resolve_objective("mlld", kl_reduction="mean")


def test_objective_parameters_reach_an_objective_object_and_a_named_objective_says_what_to_pass():
    with pytest.raises(ValueError, match=r"objective__temperature sets a parameter of an objective object, but "):
        CrossModalDistiller().set_params(objective__temperature=2.0)
    assert CrossModalDistiller(objective=KD()).set_params(objective__temperature=2.0).objective.temperature == 2.0
    both = CrossModalDistiller().set_params(objective=KD(), objective__temperature=3.0)
    assert both.objective.temperature == 3.0
    assert CrossModalDistiller().set_params(temperature=2.0).temperature == 2.0


def test_a_users_feature_objective_trains_its_projection(data):
    X_a, X_b, y = data
    kd = CrossModalDistiller(teacher=net(), student=net(), objective=FeatureMatch(), rho=0.5, random_state=0)
    kd.fit(X_b, y, X_teacher=X_a)
    projection = kd.student_.objective_module_
    assert projection.weight.shape == (8, 8)  # student's 8 hidden units onto the teacher's 8
    assert np.isfinite(kd.history_[:, "train_loss"]).all()
    assert kd.history_[-1, "train_loss"] < kd.history_[0, "train_loss"]
    restored = pickle.loads(pickle.dumps(kd))
    np.testing.assert_array_equal(restored.predict_proba(X_b), kd.predict_proba(X_b))


def test_feature_objectives_need_a_torch_teacher_with_a_hidden_layer(data):
    X_a, X_b, y = data
    with pytest.raises(
        TypeError, match=r"torch teacher; LogisticRegression has none. Objectives that any teacher serves: 'kd'"
    ):
        CrossModalDistiller(teacher=LogisticRegression(), objective=FeatureMatch(), student=net()).fit(
            X_b, y, X_teacher=X_a
        )
    with pytest.raises(ValueError, match=r"no penultimate child .*teacher_layer"):
        CrossModalDistiller(teacher=quick_template(()), objective=FeatureMatch(), student=net()).fit(
            X_b, y, X_teacher=X_a
        )
    proba = np.full((len(y), 2), 0.5)
    with pytest.raises(ValueError, match=r"needs the teacher's features .*teacher_proba does not hold"):
        CrossModalDistiller(objective=FeatureMatch(), student=net()).fit(X_b, y, teacher_proba=proba)


def test_a_trainable_teacher_is_trained_as_a_copy(data):
    X_a, X_b, y = data
    kd = CrossModalDistiller(teacher=net(), student=net(), objective=CoTrained(), random_state=0)
    kd.fit(X_b, y, X_teacher=X_a)
    co_trained = kd.student_.objective_module_
    before = kd.teacher_.module_
    assert co_trained is not before
    changed = [not torch.equal(a, b) for a, b in zip(co_trained.parameters(), before.parameters())]
    assert any(changed)  # the copy learned with the student; teacher_ is the teacher as fitted
    with pytest.raises(TypeError, match=r"needs a trainable torch teacher .*got LogisticRegression"):
        CrossModalDistiller(teacher=LogisticRegression(), objective=CoTrained(), student=net()).fit(
            X_b, y, X_teacher=X_a
        )


def test_grid_search_reaches_inside_the_objective(data):
    X_a, X_b, y = data
    base = CrossModalDistiller(teacher=net(), student=net(), objective=FeatureMatch(), random_state=0)
    search = GridSearchCV(base, {"objective__weight": [0.1, 1.0], "rho": [0.2, 0.8]}, cv=2, n_jobs=2)
    search.fit(X_b, y, X_teacher=X_a)
    assert set(search.best_params_) == {"objective__weight", "rho"}


def test_memory_fits_one_teacher_for_every_objective_and_caches_its_features(data, tmp_path, monkeypatch):
    from crossmodal.distill import _features, _teacher

    X_a, X_b, y = data
    counts = {"teacher": 0, "features": 0}
    fit, features = _teacher.fit_teacher, _features.teacher_features

    def counting_fit(*args, **kwargs):
        counts["teacher"] += 1
        return fit(*args, **kwargs)

    def counting_features(*args, **kwargs):
        counts["features"] += 1
        return features(*args, **kwargs)

    monkeypatch.setattr(_teacher, "fit_teacher", counting_fit)
    monkeypatch.setattr(_teacher, "teacher_features", counting_features)
    fits = []
    for objective in ("kd", FeatureMatch(), FeatureMatch(weight=0.5), "kd"):
        kd = CrossModalDistiller(teacher=net(), student=net(), objective=objective, memory=tmp_path, random_state=0)
        fits.append(kd.fit(X_b, y, X_teacher=X_a))
    assert counts == {"teacher": 1, "features": 1}
    np.testing.assert_array_equal(fits[0].teacher_proba_, fits[1].teacher_proba_)
    uncached = CrossModalDistiller(teacher=net(), student=net(), objective=FeatureMatch(), random_state=0)
    np.testing.assert_array_equal(uncached.fit(X_b, y, X_teacher=X_a).predict_proba(X_b), fits[1].predict_proba(X_b))


class BufferedKD(DistillationObjective):
    """KD plus a memory buffer of ``rows`` x 64 that the step's work is counted with; records the torch threads."""

    def __init__(self, rows=1):
        self.rows = rows

    def targets(self, teacher):
        return KD().targets(teacher)

    def build_module(self, context):
        module = torch.nn.Module()
        module.register_buffer("memory", torch.zeros(self.rows, 64))
        return module

    def loss(self, batch):
        BufferedKD.threads.append(torch.get_num_threads())
        return KD().loss(batch)


@pytest.mark.parametrize(("rows", "threads"), [(1, 1), (4096, 2)])
def test_a_modules_buffers_count_in_the_thread_choice(data, rows, threads):
    """A step over a large buffer (a memory every row is scored against) is not tiny: torch's threads, not one."""
    X_a, X_b, y = data
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    BufferedKD.threads = []
    try:
        CrossModalDistiller(teacher=net(), student=net(), objective=BufferedKD(rows), random_state=0).fit(
            X_b, y, X_teacher=X_a
        )
    finally:
        torch.set_num_threads(previous)
    assert set(BufferedKD.threads) == {threads}
