import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import quick_template
from sklearn import config_context
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from crossmodal import CrossModalDistiller
from crossmodal.distill._net import DistillationNet
from crossmodal.nets import MLP


def small_student(**kw):
    params = dict(
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.05,
        max_epochs=20,
        batch_size=64,
        iterator_train__shuffle=True,
    )
    return quick_template((16,), **{**params, **kw})


def linear_student(**kw):
    params = dict(module__hidden_sizes=(), optimizer=torch.optim.SGD, lr=0.1, max_epochs=50, batch_size=-1)
    params.update(kw)
    return small_student(**params)


def paired_data(n=200, d_a=6, d_b=5, n_classes=2, seed=0):
    """Two views sharing a latent: the label is readable from both."""
    rng = np.random.RandomState(seed)
    z = rng.randn(n, 3)
    y = np.argmax(z @ rng.randn(3, n_classes), axis=1) if n_classes > 2 else (z.sum(1) > 0).astype(int)
    X_a = np.hstack([z, rng.randn(n, d_a - 3)]).astype(np.float32)
    X_b = np.hstack([z + 0.5 * rng.randn(n, 3), rng.randn(n, d_b - 3)]).astype(np.float32)
    return X_a, X_b, y


@parametrize_with_checks(
    [
        CrossModalDistiller(
            teacher=LogisticRegression(), teacher_input="student", student=small_student(), random_state=0
        )
    ],
    expected_failed_checks=lambda est: {
        "check_sample_weight_equivalence_on_dense_data": (
            "the student trains by stochastic mini-batch optimisation: a weight of 2 is not the same "
            "optimisation path as a repeated row"
        ),
        "check_classifiers_classes": (
            "its last problem uses the labels -1 and 1, and -1 marks a row without a label here, as in "
            "scikit-learn's semi-supervised estimators (which this check exempts by name)"
        ),
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- teachers
def test_default_teacher_and_student_fit_predict():
    X_a, X_b, y = paired_data()
    kd = CrossModalDistiller(random_state=0).fit(X_b, y, X_teacher=X_a)
    assert isinstance(kd.teacher_, DistillationNet)
    assert kd.teacher_.module_[0].in_features == X_a.shape[1]
    assert kd.student_.module_[0].in_features == X_b.shape[1]
    assert kd.score(X_b, y) > 0.8
    proba = kd.predict_proba(X_b)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    assert len(kd.history_) == 100 and "train_loss" in kd.history_[-1]


@pytest.mark.parametrize(
    "teacher",
    [LogisticRegression(), GradientBoostingClassifier(n_estimators=20), LinearSVC(), small_student()],
    ids=["logreg", "gbdt", "decision_function_only", "skorch"],
)
def test_any_classifier_can_teach(teacher):
    X_a, X_b, y = paired_data(n_classes=3)
    kd = CrossModalDistiller(teacher=teacher, student=small_student(), random_state=0).fit(X_b, y, X_teacher=X_a)
    assert kd.teacher_proba_.shape == (len(y), 3)
    np.testing.assert_allclose(kd.teacher_proba_.sum(1), 1.0, rtol=1e-6)
    # the teacher's probabilities follow its own predictions
    teacher_acc = np.mean(kd.classes_[kd.teacher_proba_.argmax(1)] == y)
    assert teacher_acc > 0.7
    assert kd.score(X_b, y) > 0.6


def test_frozen_teacher_is_not_refit_and_unchanged():
    X_a, X_b, y = paired_data()
    prefit = LogisticRegression().fit(X_a[:50], y[:50])
    coef = prefit.coef_.copy()
    kd = CrossModalDistiller(teacher=FrozenEstimator(prefit), student=small_student(), random_state=0)
    kd.fit(X_b, y, X_teacher=X_a)
    np.testing.assert_array_equal(prefit.coef_, coef)
    np.testing.assert_allclose(kd.teacher_proba_, prefit.predict_proba(X_a))


def test_skorch_teacher_unchanged_by_student_training():
    X_a, X_b, y = paired_data()
    teacher = DistillationNet(
        MLP,
        module__in_features=X_a.shape[1],
        module__n_classes=2,
        module__hidden_sizes=(8,),
        criterion=torch.nn.CrossEntropyLoss,  # so that predict_proba applies a softmax
        max_epochs=5,
        train_split=None,
        callbacks="disable",
        lr=0.1,
    )
    teacher.fit({"X": X_a}, y.astype(np.int64))
    before = {k: v.clone() for k, v in teacher.module_.state_dict().items()}
    kd = CrossModalDistiller(teacher=FrozenEstimator(teacher), student=small_student(), random_state=0)
    kd.fit(X_b, y, X_teacher=X_a)
    for key, value in teacher.module_.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    np.testing.assert_allclose(kd.teacher_proba_, teacher.predict_proba(X_a), rtol=1e-5)


def test_teacher_input_both_and_student():
    X_a, X_b, y = paired_data()
    both = CrossModalDistiller(
        teacher=LogisticRegression(), teacher_input="both", student=small_student(), random_state=0
    )
    both.fit(X_b, y, X_teacher=X_a)
    assert both.teacher_.n_features_in_ == X_a.shape[1] + X_b.shape[1]
    uni = CrossModalDistiller(
        teacher=LogisticRegression(), teacher_input="student", student=small_student(), random_state=0
    )
    uni.fit(X_b, y)
    assert uni.teacher_.n_features_in_ == X_b.shape[1]


def test_teacher_proba_skips_teacher_and_drives_student():
    X_a, X_b, y = paired_data()
    flipped = np.eye(2)[1 - y]  # a teacher that is always wrong
    kd = CrossModalDistiller(student=linear_student(max_epochs=200), rho=0.0, random_state=0)
    kd.fit(X_b, y, teacher_proba=flipped)
    assert kd.teacher_ is None
    # with rho=0 the student only imitates the teacher: it learns the flipped labels
    assert kd.score(X_b, y) < 0.3
    plain = CrossModalDistiller(student=linear_student(max_epochs=200), rho=1.0, random_state=0)
    assert plain.fit(X_b, y, teacher_proba=flipped).score(X_b, y) > 0.7


def test_kl_reduction_mean_is_batchmean_over_n_classes():
    X_a, X_b, y = paired_data(n_classes=3)
    proba = np.full((len(y), 3), 1 / 3)
    common = dict(student=linear_student(max_epochs=1), rho=0.0, random_state=0)
    a = CrossModalDistiller(kl_reduction="batchmean", **common).fit(X_b, y, teacher_proba=proba)
    b = CrossModalDistiller(kl_reduction="mean", **common).fit(X_b, y, teacher_proba=proba)
    np.testing.assert_allclose(a.history_[0]["train_loss"], 3 * b.history_[0]["train_loss"], rtol=1e-5)


# ---------------------------------------------------------------- fast loop
@pytest.mark.parametrize("batch_size", [-1, 64])
def test_fast_loop_equals_skorch_loop(batch_size, monkeypatch):
    X_a, X_b, y = paired_data()
    proba = LogisticRegression().fit(X_a, y).predict_proba(X_a)
    student = small_student(batch_size=batch_size, iterator_train__shuffle=False, max_epochs=7)
    w = np.linspace(0.5, 1.5, len(y))
    fast = CrossModalDistiller(student=student, random_state=3).fit(X_b, y, teacher_proba=proba, sample_weight=w)
    monkeypatch.setattr(DistillationNet, "_uses_fast_loop", lambda self, fit_params: False)
    slow = CrossModalDistiller(student=student, random_state=3).fit(X_b, y, teacher_proba=proba, sample_weight=w)
    for p, q in zip(fast.student_.module_.parameters(), slow.student_.module_.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    # skorch without callbacks only records batch losses: their size-weighted mean is the epoch loss
    slow_epoch_loss = [
        sum(b["train_loss"] * b["train_batch_size"] for b in h["batches"]) / len(y) for h in slow.history_
    ]
    np.testing.assert_allclose([h["train_loss"] for h in fast.history_], slow_epoch_loss, rtol=1e-5)


def test_skorch_callbacks_still_work_when_asked_for():
    X_a, X_b, y = paired_data()
    student = small_student(callbacks=None, train_split=None, max_epochs=3)
    kd = CrossModalDistiller(teacher=LogisticRegression(), student=student, random_state=0).fit(X_b, y, X_teacher=X_a)
    assert "dur" in kd.history_[-1]  # EpochTimer ran: the full skorch loop was used
    assert len(kd.history_) == 3


# ---------------------------------------------------------------- sklearn workflows
def test_pipeline_gridsearch_and_cross_val_score_without_routing():
    X_a, X_b, y = paired_data()
    pipe = make_pipeline(
        StandardScaler(), CrossModalDistiller(teacher=LogisticRegression(), student=small_student(), random_state=0)
    )
    pipe.fit(X_b, y, crossmodaldistiller__X_teacher=X_a)
    assert pipe.score(X_b, y) > 0.7
    kd = CrossModalDistiller(teacher=LogisticRegression(), student=small_student(), random_state=0)
    grid = GridSearchCV(kd, {"rho": [0.3, 0.7], "temperature": [1.0, 4.0], "student__lr": [0.01, 0.05]}, cv=2)
    grid.fit(X_b, y, X_teacher=X_a)
    assert set(grid.best_params_) == {"rho", "temperature", "student__lr"}
    assert len(grid.cv_results_["mean_test_score"]) == 8
    scores = cross_val_score(kd, X_b, y, cv=3, params={"X_teacher": X_a})
    assert scores.shape == (3,) and scores.mean() > 0.6


def test_workflows_with_metadata_routing_default_request():
    X_a, X_b, y = paired_data()
    with config_context(enable_metadata_routing=True):
        kd = CrossModalDistiller(teacher=LogisticRegression(), student=small_student(), random_state=0)
        pipe = make_pipeline(StandardScaler(), kd)
        pipe.fit(X_b, y, X_teacher=X_a)  # no set_fit_request needed
        assert pipe.score(X_b, y) > 0.7
        grid = GridSearchCV(kd, {"rho": [0.3, 0.7]}, cv=2).fit(X_b, y, X_teacher=X_a)
        assert grid.best_params_["rho"] in (0.3, 0.7)
        scores = cross_val_score(kd, X_b, y, cv=3, params={"X_teacher": X_a})
        assert scores.mean() > 0.6


def test_cross_val_score_slices_x_teacher():
    X_a, X_b, y = paired_data()
    seen = []

    class Spy(LogisticRegression):
        def fit(self, X, y):
            seen.append(X.copy())
            return super().fit(X, y)

    kd = CrossModalDistiller(teacher=Spy(), student=small_student(max_epochs=1), random_state=0)
    cross_val_score(kd, X_b, y, cv=2, params={"X_teacher": X_a})
    assert len(seen) == 2 and all(len(s) == len(y) // 2 for s in seen)
    rows = {tuple(r) for r in X_a}
    assert all(tuple(r) in rows for s in seen for r in s)


# ---------------------------------------------------------------- data handling
def test_pandas_float64_determinism_and_pickle():
    X_a, X_b, y = paired_data()
    frame = pd.DataFrame(X_b.astype(np.float64), columns=[f"b{i}" for i in range(X_b.shape[1])])
    kd = CrossModalDistiller(teacher=LogisticRegression(), student=small_student(), random_state=7)
    kd.fit(frame, y, X_teacher=pd.DataFrame(X_a))
    assert list(kd.feature_names_in_) == list(frame.columns)
    again = CrossModalDistiller(teacher=LogisticRegression(), student=small_student(), random_state=7)
    again.fit(frame, y, X_teacher=pd.DataFrame(X_a))
    np.testing.assert_array_equal(kd.predict_proba(frame), again.predict_proba(frame))
    other = CrossModalDistiller(teacher=LogisticRegression(), student=small_student(), random_state=8)
    assert not np.array_equal(other.fit(frame, y, X_teacher=X_a).predict_proba(frame), kd.predict_proba(frame))
    restored = pickle.loads(pickle.dumps(kd))
    np.testing.assert_array_equal(restored.predict_proba(frame), kd.predict_proba(frame))


def test_string_labels_round_trip():
    X_a, X_b, y = paired_data(n_classes=3)
    labels = np.array(["cat", "dog", "eel"])[y]
    kd = CrossModalDistiller(teacher=LogisticRegression(), student=small_student(), random_state=0)
    kd.fit(X_b, labels, X_teacher=X_a)
    assert set(kd.predict(X_b)) <= set(labels)
    np.testing.assert_array_equal(kd.classes_, ["cat", "dog", "eel"])


# ---------------------------------------------------------------- errors
# One call per bad argument or input lives in the table of tests/test_bad_input.py.
def test_teacher_with_classes_outside_y_is_rejected():
    X_a, X_b, y = paired_data(n_classes=3)
    prefit = LogisticRegression().fit(X_a, y)
    keep = y < 2
    kd = CrossModalDistiller(teacher=FrozenEstimator(prefit), student=small_student(max_epochs=1))
    with pytest.raises(ValueError, match=r"teacher predicts classes \[2\] that are not in y"):
        kd.fit(X_b[keep], y[keep], X_teacher=X_a[keep])


# ---------------------------------------------------------------- the paper's claim, through the estimator
def test_mfh_kd_gain_grows_with_gamma():
    """Fig. 2's direction: crossmodal KD helps when the modalities share the decisive
    features (gamma = 1) and does not when they share none (gamma = 0)."""
    from crossmodal import MVDGenerator

    def paired_gain(overlap, seed):
        gen = MVDGenerator(
            n_general=overlap,
            n_specific_a=10 - overlap,
            n_specific_b=10 - overlap,
            n_hidden=overlap,
            n_noise_a=15,
            n_noise_b=40,
            random_state=seed,
        ).fit()
        X_a, X_b, y = gen.sample(200, random_state=seed)
        T_a, T_b, t = gen.sample(1000, random_state=seed + 1000)
        teacher = LogisticRegression(C=10.0).fit(X_a, y)
        student = linear_student(max_epochs=300)
        kd = CrossModalDistiller(student=student, rho=0.5, random_state=seed).fit(
            X_b, y, teacher_proba=teacher.predict_proba(X_a)
        )
        plain = CrossModalDistiller(student=student, rho=1.0, random_state=seed).fit(
            X_b, y, teacher_proba=teacher.predict_proba(X_a)
        )
        return kd.score(T_b, t) - plain.score(T_b, t)

    high = np.mean([paired_gain(10, s) for s in range(6)])
    low = np.mean([paired_gain(0, s) for s in range(6)])
    # measured here: +3.5 points at gamma = 1 (every seed > 0), -3.3 at gamma = 0 (every seed < 0)
    assert high > 0.01, high
    assert low < 0.0, low
