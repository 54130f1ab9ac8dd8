"""dkd, mlld, hint and rkd inside CrossModalDistiller: scikit-learn's checks, pickling, grid search, errors."""

import pickle

import numpy as np
import pytest
import torch
from conftest import quick_template
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from crossmodal import CrossModalDistiller, make_modality_venn
from crossmodal.distill.objectives import DKD, MLLD, RKD, Hint

FEATURE_OBJECTIVES = ("hint", "rkd")
# One parameter of each, and two values a grid would try.
GRIDS = {
    "dkd": ("beta", [1.0, 8.0]),
    "mlld": ("temperatures", [(1.0,), (2.0, 4.0)]),
    "hint": ("student_layer", [None, 0]),  # the last hidden activation, or the first Linear before it
    "rkd": ("angle_weight", [0.0, 50.0]),
}


def student(**kw):
    params = dict(optimizer=torch.optim.Adam, lr=0.05, max_epochs=20, batch_size=64, iterator_train__shuffle=True)
    return quick_template((8,), **{**params, **kw})


def teacher_net(hidden=(8,), **kw):
    return quick_template(
        hidden, **{"optimizer": torch.optim.Adam, "lr": 0.05, "max_epochs": 10, "batch_size": 64, **kw}
    )


def distiller(objective, **kw):
    """A distiller on ``objective``; feature objectives get a skorch teacher (they need its hidden layer)."""
    teacher = teacher_net() if objective in FEATURE_OBJECTIVES else LogisticRegression()
    return CrossModalDistiller(teacher=teacher, student=student(), objective=objective, random_state=0, **kw)


@pytest.fixture(scope="module")
def data():
    return make_modality_venn(
        160, n_general=3, n_specific_a=1, n_specific_b=1, n_noise_a=2, n_noise_b=2, random_state=0
    )


@parametrize_with_checks(
    [distiller(name, teacher_input="student") for name in GRIDS],
    expected_failed_checks=lambda est: {
        "check_sample_weight_equivalence_on_dense_data": (
            "the student trains by stochastic mini-batch optimisation: a weight of 2 is not the same "
            "optimisation path as a repeated row (and the relations of rkd and mlld's batch level are among "
            "a batch's rows)"
        ),
        "check_classifiers_classes": (
            "its last problem uses the labels -1 and 1, and -1 marks a row without a label here, as in "
            "scikit-learn's semi-supervised estimators (which this check exempts by name)"
        ),
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name", list(GRIDS))
def test_fits_pickles_and_round_trips(name, data):
    X_a, X_b, y = data
    kd = distiller(name, rho=0.3).fit(X_b, y, X_teacher=X_a)
    assert np.isfinite(kd.history_[:, "train_loss"]).all()
    assert kd.score(X_b, y) > 0.6
    no_kd = distiller(name, rho=1.0).fit(X_b, y, X_teacher=X_a)
    assert np.abs(no_kd.predict_proba(X_b) - kd.predict_proba(X_b)).max() > 0.05  # the objective trained it
    restored = pickle.loads(pickle.dumps(kd))
    np.testing.assert_array_equal(restored.predict_proba(X_b), kd.predict_proba(X_b))
    assert restored.get_params()["objective"] == name


@pytest.mark.parametrize("name", list(GRIDS))
def test_grid_search_over_an_objective_parameter(name, data):
    X_a, X_b, y = data
    param, values = GRIDS[name]
    objective = {"dkd": DKD, "mlld": MLLD, "hint": Hint, "rkd": RKD}[name]()
    base = distiller(name, rho=0.5)
    base.set_params(objective=objective, student=student(max_epochs=4))
    search = GridSearchCV(base, {f"objective__{param}": values}, cv=2, n_jobs=2)
    search.fit(X_b, y, X_teacher=X_a)
    assert search.best_params_[f"objective__{param}"] in values
    assert len(search.cv_results_["params"]) == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize(
    "objective, message",
    [
        (DKD(alpha=-1.0), r"The 'alpha' parameter of DKD must be a float in the range \[0.0, inf\)"),
        (DKD(beta="8"), r"The 'beta' parameter of DKD must be a float in the range \[0.0, inf\)"),
        (DKD(temperature=0.0), r"The 'temperature' parameter of DKD must be a float in the range \(0.0, inf\)"),
        (MLLD(temperatures=(2.0, -1.0)), r"The 'temperatures' parameter of MLLD must be a non-empty sequence"),
        (
            Hint(student_layer=1.5),
            r"The 'student_layer' parameter of Hint must be None, an instance of 'int' or an instance of 'str'",
        ),
        (
            Hint(teacher_layer=[0]),
            r"The 'teacher_layer' parameter of Hint must be None, an instance of 'int' or an instance of 'str'",
        ),
        (RKD(distance_weight=-25.0), r"The 'distance_weight' parameter of RKD must be a float in the range \[0.0"),
        (RKD(angle_weight=None), r"The 'angle_weight' parameter of RKD must be a float in the range \[0.0, inf\)"),
    ],
)
def test_a_bad_parameter_is_named_before_anything_trains(objective, message, data):
    X_a, X_b, y = data
    kd = CrossModalDistiller(teacher=teacher_net(), student=student(), objective=objective)
    with pytest.raises(ValueError, match=message):
        kd.fit(X_b, y, X_teacher=X_a)
    assert not hasattr(kd, "teacher_")  # raised before the teacher was fitted


def test_by_name_dkd_takes_the_distillers_temperature(data):
    X_a, X_b, y = data
    by_name = distiller("dkd", temperature=4.0).fit(X_b, y, X_teacher=X_a)
    as_object = distiller("dkd").set_params(objective=DKD()).fit(X_b, y, X_teacher=X_a)  # DKD's own default T=4
    np.testing.assert_array_equal(by_name.predict_proba(X_b), as_object.predict_proba(X_b))
    other = distiller("dkd", temperature=1.0).fit(X_b, y, X_teacher=X_a)
    assert not np.array_equal(other.predict_proba(X_b), by_name.predict_proba(X_b))


@pytest.mark.parametrize("name", FEATURE_OBJECTIVES)
def test_feature_objectives_need_a_torch_teacher(name, data):
    X_a, X_b, y = data
    with pytest.raises(TypeError, match=r"hidden layer of a torch teacher; LogisticRegression has none"):
        CrossModalDistiller(teacher=LogisticRegression(), objective=name, student=student()).fit(X_b, y, X_teacher=X_a)


@pytest.mark.parametrize("name", FEATURE_OBJECTIVES)
def test_precomputed_probabilities_name_the_objectives_they_serve(name, data):
    _, X_b, y = data
    with pytest.raises(ValueError, match=r"teacher_proba does not hold; .*any teacher serves: 'kd', 'dkd', 'mlld'\."):
        CrossModalDistiller(objective=name, student=student()).fit(X_b, y, teacher_proba=np.full((len(y), 2), 0.5))


@pytest.mark.parametrize("name", FEATURE_OBJECTIVES)
def test_layers_of_different_widths_and_a_prefit_teacher_left_unchanged(name, data):
    X_a, X_b, y = data
    teacher = teacher_net((12,), criterion=torch.nn.CrossEntropyLoss)  # a softmax in predict_proba
    teacher.set_params(module__in_features=X_a.shape[1], module__n_classes=2)
    teacher.fit(X_a.astype(np.float32), y)
    before = {k: v.clone() for k, v in teacher.module_.state_dict().items()}
    kd = CrossModalDistiller(teacher=FrozenEstimator(teacher), student=student(), objective=name, rho=0.0)
    kd.set_params(random_state=0).fit(X_b, y, X_teacher=X_a)
    for key, value in teacher.module_.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    if name == "hint":
        assert kd.student_.objective_module_.weight.shape == (12, 8)  # student's 8 units onto the teacher's 12
    losses = kd.history_[:, "train_loss"]
    assert losses[-1] < losses[0]  # rho=0: the objective alone trains the student


@pytest.mark.parametrize("name", list(GRIDS))
def test_rows_without_a_label(name, data):
    X_a, X_b, y = data
    y = y.copy()
    y[::3] = -1
    kd = distiller(name, rho=0.5).fit(X_b, y, X_teacher=X_a)
    assert np.isfinite(kd.history_[:, "train_loss"]).all()
    assert set(kd.classes_) == {0, 1}
