"""What reaches a user's teacher and what comes back from it."""

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from conftest import quick_template
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from skorch import NeuralNetClassifier

from crossmodal import CrossModalDistiller
from crossmodal.nets import MLP


def student(**kw):
    return quick_template(**{"max_epochs": 5, "lr": 0.1, **kw})


def paired(n=120, seed=0):
    rng = np.random.RandomState(seed)
    z = rng.randn(n)
    y = (z > 0).astype(int)
    X_a = np.column_stack([z + 0.3 * rng.randn(n), rng.randn(n, 3)])
    X_b = np.column_stack([z + 0.8 * rng.randn(n), rng.randn(n, 2)])
    return X_a, X_b, y


class _FixedTeacher(ClassifierMixin, BaseEstimator):
    """A teacher that learns nothing; subclasses return whatever ``output`` tells them to."""

    def __init__(self, output="ok"):
        self.output = output

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self


class FixedOutputTeacher(_FixedTeacher):
    """A teacher whose predict_proba returns whatever it is told to."""

    def predict_proba(self, X):
        n = len(X)
        proba = np.full((n, 2), 0.5)
        if self.output == "logits":
            return np.random.RandomState(0).uniform(-30, 55, (n, 2))
        if self.output == "nan":
            proba[3, 0] = np.nan
        elif self.output == "unnormalised":
            proba[:, 0] = 0.9
        elif self.output == "shape":
            return proba[:, :1]
        elif self.output == "rows":
            return proba[:-1]
        return proba


class FixedScores(_FixedTeacher):
    """A teacher with decision_function only, returning what it is told to."""

    def decision_function(self, X):
        scores = np.asarray(X)[:, 0].astype(float)
        if self.output == "nan":
            scores[2] = np.nan
        elif self.output == "shape":
            return np.column_stack([scores, scores, scores])
        return scores


@pytest.mark.parametrize(
    "teacher, output, match",
    [
        (
            FixedOutputTeacher,
            "logits",
            r"FixedOutputTeacher\.predict_proba did not return probabilities: values in \[-\d",
        ),
        (FixedOutputTeacher, "unnormalised", r"did not return probabilities: .*row 0 sums to 1\.4"),
        (FixedOutputTeacher, "nan", r"FixedOutputTeacher\.predict_proba returned 1 NaN or infinite values"),
        (
            FixedOutputTeacher,
            "shape",
            r"FixedOutputTeacher\.predict_proba returned shape \(120, 1\); expected \(120, 2\)",
        ),
        (FixedOutputTeacher, "rows", r"returned shape \(119, 2\); expected \(120, 2\)"),
        (FixedScores, "nan", r"FixedScores\.decision_function returned 1 NaN or infinite values"),
        (
            FixedScores,
            "shape",
            r"FixedScores\.decision_function returned shape \(120, 3\); expected \(120, 2\) or \(120,\)",
        ),
    ],
)
def test_teacher_output_that_is_not_a_probability_matrix_raises(teacher, output, match):
    X_a, X_b, y = paired()
    kd = CrossModalDistiller(teacher=teacher(output), student=student(), random_state=0)
    with pytest.raises(ValueError, match=match):
        kd.fit(X_b, y, X_teacher=X_a)


def test_skorch_teacher_with_the_default_nll_criterion_on_logits_is_rejected_with_the_fix():
    # skorch's default criterion is NLLLoss: predict_proba then returns the
    # module's raw logits, which the distiller used to distil silently.
    X_a, X_b, y = paired()
    net = NeuralNetClassifier(
        MLP,
        module__in_features=4,
        module__n_classes=2,
        module__hidden_sizes=(8,),
        max_epochs=3,
        lr=0.5,
        train_split=None,
        verbose=0,
    )
    net.fit(X_a.astype(np.float32), y)
    assert net.predict_proba(X_a.astype(np.float32)).min() < 0  # logits indeed
    kd = CrossModalDistiller(teacher=FrozenEstimator(net), student=student(), random_state=0)
    with pytest.raises(
        ValueError,
        match=r"FrozenEstimator\(NeuralNetClassifier\)\.predict_proba did not return "
        r"probabilities.*criterion=torch\.nn\.CrossEntropyLoss",
    ):
        kd.fit(X_b, y, X_teacher=X_a)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("frozen", [True, False])
def test_prefit_skorch_teacher_gets_its_modules_dtype(dtype, frozen):
    X_a, X_b, y = paired()
    net = NeuralNetClassifier(
        MLP,
        module__in_features=4,
        module__n_classes=2,
        module__hidden_sizes=(8,),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=3,
        lr=0.5,
        train_split=None,
        verbose=0,
    )
    net.initialize()
    net.module_.to(dtype)
    net.partial_fit(X_a.astype(torch.empty(0, dtype=dtype).numpy().dtype), y)
    teacher = FrozenEstimator(net) if frozen else net
    kd = CrossModalDistiller(teacher=teacher, student=student(), random_state=0)
    kd.fit(X_b, y, X_teacher=X_a)  # float64 X_a, numpy's default
    if frozen:
        assert kd.teacher_ is teacher
        want = net.predict_proba(X_a.astype(torch.empty(0, dtype=dtype).numpy().dtype))
        np.testing.assert_allclose(kd.teacher_proba_, want, rtol=1e-6, atol=1e-7)
    else:  # a skorch net that is not frozen is a template: trained anew on float32
        assert np.isfinite(kd.teacher_proba_).all()


def frame_data(n=160, seed=0):
    rng = np.random.RandomState(seed)
    z = rng.randn(n)
    y = (z > 0).astype(int)
    X_teacher = pd.DataFrame(
        {
            "signal": z + 0.3 * rng.randn(n),
            "noise": rng.randn(n),
            "colour": pd.Categorical(np.where(z > 0.5, "red", np.where(z < -0.5, "blue", "grey"))),
        },
        index=np.arange(1000, 1000 + n),
    )
    X_b = np.column_stack([z + rng.randn(n), rng.randn(n)])
    return X_teacher, X_b, y


def column_teacher():
    select = ColumnTransformer([("num", StandardScaler(), ["signal"]), ("cat", OneHotEncoder(), ["colour"])])
    return make_pipeline(select, LogisticRegression())


def test_dataframe_reaches_a_scikit_learn_teacher_as_given():
    X_teacher, X_b, y = frame_data()
    kd = CrossModalDistiller(teacher=column_teacher(), student=student(), random_state=0)
    kd.fit(X_b, y, X_teacher=X_teacher)
    np.testing.assert_array_equal(kd.teacher_.feature_names_in_, ["signal", "noise", "colour"])
    want = column_teacher().fit(X_teacher, y).predict_proba(X_teacher)
    np.testing.assert_allclose(kd.teacher_proba_, want, rtol=1e-12)


def test_dataframe_side_by_side_with_the_student_for_teacher_input_both():
    X_teacher, X_b, y = frame_data()
    kd = CrossModalDistiller(teacher=column_teacher(), teacher_input="both", student=student(), random_state=0)
    kd.fit(X_b, y, X_teacher=X_teacher)
    np.testing.assert_array_equal(
        kd.teacher_.feature_names_in_, ["signal", "noise", "colour", "student_0", "student_1"]
    )
    named = pd.DataFrame(X_b, columns=["signal", "b"])
    with pytest.raises(ValueError, match=r"both have columns named \['signal'\]"):
        kd.fit(named, y, X_teacher=X_teacher)


def test_teacher_input_both_with_column_names_that_are_not_strings():
    """scikit-learn takes names that are all strings or none: numbered columns stay numbered, a mix is refused."""
    X_teacher, X_b, y = frame_data()
    numbers = pd.DataFrame(X_teacher[["signal", "noise"]].to_numpy())  # columns 0 and 1
    kd = CrossModalDistiller(teacher=LogisticRegression(), teacher_input="both", student=student(), random_state=0)
    kd.fit(X_b, y, X_teacher=numbers)
    assert not hasattr(kd.teacher_, "feature_names_in_") and kd.teacher_.n_features_in_ == 4
    both = np.hstack([numbers.to_numpy(), X_b])
    np.testing.assert_allclose(kd.teacher_proba_, LogisticRegression().fit(both, y).predict_proba(both), rtol=1e-12)
    kd.fit(pd.DataFrame(X_b), y, X_teacher=numbers)  # numbered on both sides: numbered by position
    assert kd.teacher_.n_features_in_ == 4
    with pytest.raises(ValueError, match=r"column names that are all strings or none; X_teacher's are \[0, 1\]"):
        kd.fit(pd.DataFrame(X_b, columns=["b0", "b1"]), y, X_teacher=numbers)


def test_library_nets_still_need_numbers_and_say_so():
    X_teacher, X_b, y = frame_data()
    kd = CrossModalDistiller(student=student(), random_state=0)  # the default MLP teacher
    with pytest.raises(ValueError, match=r"X_teacher"):
        kd.fit(X_b, y, X_teacher=X_teacher)
    numeric = X_teacher[["signal", "noise"]]
    kd.fit(X_b, y, X_teacher=numeric)  # numbers in a DataFrame are fine
    assert kd.teacher_proba_.shape == (len(y), 2)


class WeightRecorder(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        self.seen_weight_ = sample_weight
        return super().fit(X, y, sample_weight=sample_weight)


class NoWeights(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


def test_sample_weight_reaches_a_teacher_whose_fit_takes_it():
    X_a, X_b, y = paired()
    w = np.random.RandomState(1).uniform(0.5, 2.0, len(y))
    kd = CrossModalDistiller(teacher=WeightRecorder(), student=student(), random_state=0)
    kd.fit(X_b, y, X_teacher=X_a, sample_weight=w)
    np.testing.assert_array_equal(kd.teacher_.seen_weight_, w)
    kd.fit(X_b, y, X_teacher=X_a)
    assert kd.teacher_.seen_weight_ is None


def test_teacher_without_sample_weight_warns_and_trains_unweighted():
    X_a, X_b, y = paired()
    kd = CrossModalDistiller(teacher=NoWeights(), student=student(), random_state=0)
    with pytest.warns(UserWarning, match=r"teacher NoWeights has no sample_weight in its fit signature"):
        kd.fit(X_b, y, X_teacher=X_a, sample_weight=np.ones(len(y)))


def test_sample_weight_is_routed_to_the_teacher_under_metadata_routing():
    X_a, X_b, y = paired()
    w = np.random.RandomState(1).uniform(0.5, 2.0, len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        kd = CrossModalDistiller(
            teacher=WeightRecorder().set_fit_request(sample_weight=True), student=student(), random_state=0
        )
        kd.fit(X_b, y, X_teacher=X_a, sample_weight=w)
        np.testing.assert_array_equal(kd.teacher_.seen_weight_, w)
        declined = CrossModalDistiller(
            teacher=WeightRecorder().set_fit_request(sample_weight=False), student=student(), random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            declined.fit(X_b, y, X_teacher=X_a, sample_weight=w)
        assert declined.teacher_.seen_weight_ is None
        unset = CrossModalDistiller(teacher=WeightRecorder(), student=student(), random_state=0)
        with pytest.warns(
            UserWarning,
            match=r"sample_weight is not routed to the teacher WeightRecorder.*"
            r"set_fit_request\(sample_weight=True\)",
        ):
            unset.fit(X_b, y, X_teacher=X_a, sample_weight=w)


def test_routing_reaches_the_steps_of_a_pipeline_teacher_and_names_what_to_do():
    X_a, X_b, y = paired()
    w = np.random.RandomState(1).uniform(0.5, 2.0, len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        pipe = make_pipeline(scaler, WeightRecorder().set_fit_request(sample_weight=True))
        kd = CrossModalDistiller(teacher=pipe, student=student(), random_state=0)
        kd.fit(X_b, y, X_teacher=X_a, sample_weight=w)
        np.testing.assert_array_equal(kd.teacher_[-1].seen_weight_, w)
        unset = CrossModalDistiller(teacher=make_pipeline(StandardScaler(), WeightRecorder()), student=student())
        with pytest.warns(UserWarning, match=r"none of its steps requests sample_weight in fit by that name"):
            unset.fit(X_b, y, X_teacher=X_a, sample_weight=w)
        assert unset.teacher_[-1].seen_weight_ is None
        # a teacher whose fit takes no sample_weight is told so, not to call a set_fit_request it does not have
        plain = CrossModalDistiller(teacher=NoWeights(), student=student(), random_state=0)
        with pytest.warns(UserWarning, match=r"teacher NoWeights has no sample_weight in its fit signature"):
            plain.fit(X_b, y, X_teacher=X_a, sample_weight=w)


def test_default_teacher_is_trained_weighted():
    X_a, X_b, y = paired()
    # Zero weight on every row of class 1: a weighted teacher learns class 0 only.
    w = (y == 0).astype(float) + 1e-6
    kd = CrossModalDistiller(student=student(), random_state=0).fit(X_b, y, X_teacher=X_a, sample_weight=w)
    plain = CrossModalDistiller(student=student(), random_state=0).fit(X_b, y, X_teacher=X_a)
    assert kd.teacher_proba_[:, 0].mean() > 0.9
    assert plain.teacher_proba_[:, 0].mean() < 0.7


def test_rho_one_fits_no_teacher_and_needs_no_teacher_data():
    X_a, X_b, y = paired()
    baseline = CrossModalDistiller(teacher=FixedOutputTeacher("logits"), rho=1.0, student=student(), random_state=0)
    baseline.fit(X_b, y)  # neither X_teacher nor teacher_proba, and the broken teacher is never called
    assert baseline.teacher_ is None and baseline.teacher_proba_ is None
    # Teacher data, when given anyway, change nothing: the same seeds, the same CE training.
    wrong = np.eye(2)[1 - y]
    given = CrossModalDistiller(rho=1.0, student=student(), random_state=0).fit(X_b, y, teacher_proba=wrong)
    np.testing.assert_array_equal(baseline.predict_proba(X_b), given.predict_proba(X_b))
    # ...whereas below rho=1 the same wrong teacher pulls the student off the labels.
    misled = CrossModalDistiller(rho=0.0, student=student(), random_state=0).fit(X_b, y, teacher_proba=wrong)
    assert misled.score(X_b, y) < 0.5 < baseline.score(X_b, y)


def test_decision_function_scores_become_probabilities():
    X_a, X_b, y = paired()
    ok = CrossModalDistiller(teacher=FixedScores(), student=student(), random_state=0).fit(X_b, y, X_teacher=X_a)
    np.testing.assert_allclose(ok.teacher_proba_[:, 1], 1 / (1 + np.exp(-X_a[:, 0])), rtol=1e-12)


def test_joint_teacher_says_the_pair_trains_unweighted():
    from crossmodal import ModalityGeneralRanker

    X_a, X_b, y = paired()
    pair = student(module__hidden_sizes=(4,), max_epochs=2)
    focus = ModalityGeneralRanker(estimator_a=pair, estimator_b=pair, layer=1, n_repeats=1)
    kd = CrossModalDistiller(teacher="joint", focus=focus, student=student(), random_state=0)
    with pytest.warns(UserWarning, match=r"teacher='joint' trains the focus ranker's pair unweighted"):
        kd.fit(X_b, y, X_teacher=X_a, sample_weight=np.ones(len(y)))


def test_an_input_focus_says_its_ranking_is_unweighted():
    from crossmodal import ModalityGeneralRanker

    X_a, X_b, y = paired()
    pair = student(max_epochs=2)
    focus = ModalityGeneralRanker(estimator_a=pair, estimator_b=pair, n_repeats=1)
    kd = CrossModalDistiller(teacher=LogisticRegression(), focus=focus, student=student(), random_state=0)
    with pytest.warns(UserWarning, match=r"The focus ranker's pair trains unweighted: sample_weight does not reach"):
        kd.fit(X_b, y, X_teacher=X_a, sample_weight=np.ones(len(y)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kd.fit(X_b, y, X_teacher=X_a)  # no weights, nothing to say
        # a prefit pair does not train: nothing to say either
        prefit = [FrozenEstimator(student(module=net, max_epochs=1).initialize()) for net in kd.focus_.nets_]
        frozen = ModalityGeneralRanker(estimator_a=prefit[0], estimator_b=prefit[1], n_repeats=1)
        kd.set_params(focus=frozen).fit(X_b, y, X_teacher=X_a, sample_weight=np.ones(len(y)))
