"""Rows without a label: the few-labels, many-pairs regime of CrossModalDistiller.

-1 (``None`` among string labels) marks a row without a label. The teacher
fits on the labelled rows and is queried on every row; the student's
cross-entropy term covers the labelled rows and the KD term every row.
"""

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from conftest import quick_template
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from skorch.dataset import ValidSplit

from crossmodal import CrossModalDistiller, ModalityGeneralRanker, MVDGenerator, make_modality_venn
from crossmodal._utils.labels import encode_labels, label_weights
from crossmodal.distill._net import as_distillation_net, labelled_accuracy
from crossmodal.distill.objectives import KD, TeacherOutputs


@pytest.fixture(scope="module")
def data():
    X_a, X_b, y = make_modality_venn(
        240, n_general=4, n_specific_a=1, n_specific_b=1, n_noise_a=3, n_noise_b=3, n_classes=3, random_state=0
    )
    rng = np.random.RandomState(0)
    labelled = np.zeros(len(y), dtype=bool)
    for c in range(3):
        labelled[rng.choice(np.flatnonzero(y == c), 8, replace=False)] = True
    return X_a, X_b, y, np.where(labelled, y, -1)


def student(**params):
    return quick_template(
        (8,), **{"max_epochs": 5, "lr": 0.05, "batch_size": 32, "iterator_train__shuffle": True, **params}
    )


class RecordingTeacher(ClassifierMixin, BaseEstimator):
    """A logistic regression that records the rows it is fitted on and queried on."""

    def fit(self, X, y):
        self.fit_rows_ = np.asarray(X).copy()
        self.fit_y_ = np.asarray(y).copy()
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        type(self).queried = np.asarray(X).copy()
        return self.model_.predict_proba(X)


# ------------------------------------------------------------------ the loss
def test_mixed_batch_loss_equals_a_hand_computation():
    torch.manual_seed(0)
    m, k, rho, T = 6, 3, 0.3, 2.0
    logits = torch.randn(m, k, dtype=torch.float64)
    y = torch.tensor([0, -1, 2, -1, -1, 1])
    labelled = (y >= 0).numpy()
    w = np.array([0.5, 2.0, 1.0, 1.5, 0.25, 0.75])  # mean 1
    teacher_p = torch.softmax(torch.randn(m, k, dtype=torch.float64), dim=1).numpy()
    objective = KD(temperature=T)
    net = as_distillation_net(student(), 2, k, "cpu", rho=rho, objective=objective)
    batch = {
        "sample_weight": torch.as_tensor(w),
        "label_weight": torch.as_tensor(label_weights(labelled, w), dtype=torch.float64),
        **{
            key: torch.as_tensor(v, dtype=torch.float64)
            for key, v in objective.targets(TeacherOutputs(teacher_p)).items()
        },
    }
    loss = net.distillation_loss(logits, y, batch)

    # By hand: the labelled rows' weighted mean CE, rescaled so that a batch estimates it without bias...
    share = w[labelled].sum() / w.sum()
    log_q = np.log(np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(1, keepdims=True))
    ce_rows = np.array([-log_q[i, y[i]] if labelled[i] else 0.0 for i in range(m)])
    ce = np.sum(w * ce_rows / share) / m
    # ... and the KD term over every row: T^2 KL(p_T || q_T), weighted, averaged over the batch.
    p_t = teacher_p ** (1 / T) / (teacher_p ** (1 / T)).sum(1, keepdims=True)
    z = logits.numpy() / T
    log_q_t = z - np.log(np.exp(z).sum(1, keepdims=True))
    kl = (p_t * (np.log(p_t) - log_q_t)).sum(1)
    kd = T**2 * np.sum(w * kl) / m
    np.testing.assert_allclose(loss.item(), rho * ce + (1 - rho) * kd, rtol=1e-5)


def test_unweighted_mixed_batch_shares_one_factor_and_matches_the_weighted_path():
    """Without sample weights every labelled row shares the factor ``n / n_labelled`` (the net's ``label_scale``)."""
    torch.manual_seed(1)
    m, k, rho = 7, 4, 0.4
    logits = torch.randn(m, k, dtype=torch.float64)
    y = torch.tensor([3, -1, -1, 0, -1, -1, 1])
    scale = 1000 / 30  # 30 of 1,000 training rows labelled
    teacher_p = torch.softmax(torch.randn(m, k, dtype=torch.float64), dim=1).numpy()
    objective = KD()
    targets = {k: torch.as_tensor(v) for k, v in objective.targets(TeacherOutputs(teacher_p)).items()}
    net = as_distillation_net(student(), 2, k, "cpu", rho=rho, objective=objective, label_scale=scale)
    loss = net.distillation_loss(logits, y, dict(targets))

    log_q = torch.log_softmax(logits, dim=1).numpy()
    ce = scale * sum(-log_q[i, y[i]] for i in range(m) if y[i] >= 0) / m
    kd = np.mean((teacher_p * (np.log(teacher_p) - log_q)).sum(1))
    np.testing.assert_allclose(loss.item(), rho * ce + (1 - rho) * kd, rtol=1e-6)  # the targets are float32
    # The per-row factors the weighted path would use give the same loss.
    weighted = as_distillation_net(student(), 2, k, "cpu", rho=rho, objective=objective)
    factors = torch.as_tensor(np.where(y.numpy() >= 0, scale, 0.0))
    np.testing.assert_allclose(
        weighted.distillation_loss(logits, y, {**targets, "label_weight": factors}).item(), loss.item()
    )
    # A batch without a labelled row: the term is 0 and still runs backwards.
    unl = torch.full((m,), -1)
    ce_only = as_distillation_net(student(), 2, k, "cpu", rho=1.0, objective=objective, label_scale=scale)
    free = logits.clone().requires_grad_(True)
    zero = ce_only.distillation_loss(free, unl, {})
    zero.backward()
    assert zero.item() == 0.0 and torch.count_nonzero(free.grad) == 0


def test_objectives_read_label_weights_computed_from_the_shared_factor():
    from crossmodal.distill.objectives import ObjectiveBatch

    y = torch.tensor([2, -1, 0, -1])
    batch = ObjectiveBatch(student_logits=torch.zeros(4, 3), y=y, label_scale=2.5)
    np.testing.assert_array_equal(batch.label_weight.numpy(), [2.5, 0.0, 2.5, 0.0])
    given = torch.ones(4)
    assert (
        ObjectiveBatch(student_logits=torch.zeros(4, 3), y=y, label_weight=given, label_scale=2.5).label_weight is given
    )
    assert ObjectiveBatch(student_logits=torch.zeros(4, 3), y=torch.tensor([0, 1, 2, 0])).label_weight is None


def test_distiller_trains_unweighted_few_labels_on_the_shared_factor(data):
    X_a, X_b, _, y_few = data
    kd = CrossModalDistiller(student=student(max_epochs=1), random_state=0).fit(X_b, y_few, X_teacher=X_a)
    labelled = int(np.sum(y_few >= 0))
    assert kd.student_.label_scale == pytest.approx(len(y_few) / labelled)
    weighted = CrossModalDistiller(student=student(max_epochs=1), random_state=0)
    weighted.fit(X_b, y_few, X_teacher=X_a, sample_weight=np.linspace(0.5, 1.5, len(y_few)))
    assert weighted.student_.label_scale is None


def test_label_weights_estimate_the_labelled_mean_without_bias():
    rng = np.random.RandomState(1)
    labelled = rng.rand(1000) < 0.03
    w = rng.rand(1000) * 2
    w *= len(w) / w.sum()
    ce = rng.rand(1000)
    factors = label_weights(labelled, w)
    assert np.all(factors[~labelled] == 0)
    np.testing.assert_allclose(np.mean(factors * ce), np.average(ce[labelled], weights=w[labelled]), rtol=1e-6)
    np.testing.assert_array_equal(label_weights(np.zeros(5, dtype=bool)), np.zeros(5))


def test_fully_labelled_batches_keep_the_plain_cross_entropy():
    torch.manual_seed(0)
    logits, y = torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    net = as_distillation_net(student(), 2, 3, "cpu", rho=1.0, objective=KD())
    assert net.distillation_loss(logits, y, {}).item() == F.cross_entropy(logits, y).item()


# ------------------------------------------------------------------ labels
def test_encode_labels_marks_and_codes():
    classes, codes, labelled = encode_labels(np.array([3, -1, 7, 3, -1]))
    np.testing.assert_array_equal(classes, [3, 7])
    np.testing.assert_array_equal(codes, [0, -1, 1, 0, -1])
    classes, codes, _ = encode_labels(np.array(["dog", None, "cat"], dtype=object))
    np.testing.assert_array_equal(classes, ["cat", "dog"])
    np.testing.assert_array_equal(codes, [1, -1, 0])
    assert encode_labels(np.array([-1, -1]))[0] is None


def test_classes_from_a_prefit_teachers_keep_the_labels_dtype():
    # Object labels stay object (as scikit-learn's classes_ for object y), with or without a prefit teacher's classes;
    # text labels of a fixed width are not cut to it.
    y = np.array(["a", None, "b"], dtype=object)
    alone = encode_labels(y)[0]
    joined = encode_labels(y, extra_classes=np.array(["a", "b", "c"], dtype=object))[0]
    assert alone.dtype == joined.dtype == object
    np.testing.assert_array_equal(joined, ["a", "b", "c"])
    wide = encode_labels(np.array(["a", "b"]), extra_classes=np.array(["long name"]))[0]
    np.testing.assert_array_equal(wide, ["a", "b", "long name"])
    np.testing.assert_array_equal(encode_labels(np.array([0, -1, 2]), extra_classes=[1])[0], [0, 1, 2])


def test_string_labels_with_none_markers(data):
    X_a, X_b, y, y_semi = data
    names = np.array(["zero", "one", "two"], dtype=object)[np.maximum(y_semi, 0)]
    names[y_semi < 0] = None
    kd = CrossModalDistiller(teacher=LogisticRegression(), student=student(), random_state=0)
    kd.fit(X_b, names, X_teacher=X_a)
    np.testing.assert_array_equal(kd.classes_, ["one", "two", "zero"])
    assert set(kd.predict(X_b)) <= {"one", "two", "zero"}


def test_pandas_strings_with_missing_values_get_the_conversion_that_works(data):
    X_a, X_b, y, y_semi = data
    names = pd.Series(np.array(["zero", "one", "two"], dtype=object)[np.maximum(y_semi, 0)], dtype="string")
    names[y_semi < 0] = None  # a pandas string Series stores these as missing values (NA), not None
    kd = CrossModalDistiller(teacher=LogisticRegression(), student=student(max_epochs=1), random_state=0)
    with pytest.raises(ValueError, match=r"NaN or NA in 216 row\(s\).*y.astype\(object\).where\(y.notna\(\), None\)"):
        kd.fit(X_b, names, X_teacher=X_a)
    kd.fit(X_b, names.astype(object).where(names.notna(), None), X_teacher=X_a)
    np.testing.assert_array_equal(kd.classes_, ["one", "two", "zero"])


def test_cross_validation_with_none_markers_scores_as_with_minus_one(data):
    # String labels with None go through a splitter (scikit-learn cannot sort None beside strings to stratify an
    # integer cv); with the classes named in the same order, the folds' scores equal those of the -1 encoding.
    X_a, X_b, y, y_semi = data
    names = np.array(["a", "b", "c"], dtype=object)[np.maximum(y_semi, 0)]
    names[y_semi < 0] = None
    kd = CrossModalDistiller(teacher=LogisticRegression(), student=student(), random_state=0)
    cv = KFold(3, shuffle=True, random_state=0)
    with_none = cross_val_score(kd, X_b, names, cv=cv, params={"X_teacher": X_a})
    with_minus_one = cross_val_score(kd, X_b, y_semi, cv=cv, params={"X_teacher": X_a})
    np.testing.assert_allclose(with_none, with_minus_one)
    assert np.all((with_none > 0) & (with_none <= 1))


def test_skorch_validation_accuracy_counts_labelled_rows_only(data):
    X_a, X_b, y, y_semi = data
    net = student(train_split=ValidSplit(4), callbacks=None)
    kd = CrossModalDistiller(teacher=LogisticRegression(), student=net, random_state=0).fit(X_b, y_semi, X_teacher=X_a)
    # The rows the student's own split held out (it depends on the codes alone, -1 included).
    net = kd.student_
    valid = np.asarray(net.train_split(net.get_dataset(X_b.astype(np.float32), y_semi), y_semi)[1].indices)
    keep = valid[y_semi[valid] >= 0]
    assert 0 < len(keep) < len(valid)
    expected = np.mean(kd.predict(X_b[keep]) == y_semi[keep])
    assert kd.history_[-1, "valid_acc"] == pytest.approx(expected)
    # The scorer itself: -1 rows are left out; no labelled row gives NaN.
    stub = type("Stub", (), {"predict": lambda self, X: np.array([0, 0, 0, 1])})()
    assert labelled_accuracy(stub, None, np.array([0, -1, 1, -1])) == 0.5
    assert np.isnan(labelled_accuracy(stub, None, np.full(4, -1)))


# ------------------------------------------------------------------ teacher and student
def test_teacher_fits_on_labelled_rows_and_is_queried_on_every_row(data):
    X_a, X_b, y, y_semi = data
    kd = CrossModalDistiller(teacher=RecordingTeacher(), student=student(), random_state=0)
    kd.fit(X_b, y_semi, X_teacher=X_a)
    labelled = y_semi >= 0
    np.testing.assert_array_equal(kd.teacher_.fit_rows_, X_a[labelled])
    np.testing.assert_array_equal(kd.teacher_.fit_y_, y_semi[labelled])
    np.testing.assert_array_equal(RecordingTeacher.queried, X_a)
    assert kd.teacher_proba_.shape == (len(y), 3)
    np.testing.assert_array_equal(kd.classes_, [0, 1, 2])


def test_default_teacher_and_weights_with_unlabelled_rows(data):
    X_a, X_b, y, y_semi = data
    w = np.random.RandomState(0).rand(len(y)) + 0.5
    kd = CrossModalDistiller(teacher=student(), student=student(), random_state=0)
    kd.fit(X_b, y_semi, X_teacher=X_a, sample_weight=w)
    assert kd.teacher_proba_.shape == (len(y), 3)
    assert np.isfinite(kd.history_[:, "train_loss"]).all()


def test_dataframe_teacher_input_keeps_its_columns_on_the_labelled_rows(data):
    X_a, X_b, y, y_semi = data
    frame = pd.DataFrame(X_a, columns=[f"a{i}" for i in range(X_a.shape[1])])
    teacher = make_pipeline(ColumnTransformer([("keep", "passthrough", ["a0", "a1", "a2"])]), LogisticRegression())
    kd = CrossModalDistiller(teacher=teacher, student=student(), random_state=0).fit(X_b, y_semi, X_teacher=frame)
    assert kd.teacher_proba_.shape == (len(y), 3)


def test_more_pairs_help_when_the_teacher_sees_more():
    """KD over every pair beats the same KD restricted to the labelled rows (a strong teacher view)."""
    generator = MVDGenerator(
        n_general=6, n_specific_a=0, n_specific_b=0, n_noise_a=0, n_noise_b=30, random_state=1
    ).fit()
    X_a, X_b, y = generator.sample(600, random_state=1)
    X_test_a, X_test_b, y_test = generator.sample(2000, random_state=2)
    rng = np.random.RandomState(0)
    y_semi = np.full(len(y), -1)
    keep = np.concatenate([rng.choice(np.flatnonzero(y == c), 5, replace=False) for c in (0, 1)])
    y_semi[keep] = y[keep]
    params = dict(teacher=LogisticRegression(), student=student(max_epochs=30), rho=0.5, random_state=0)
    labels_only = CrossModalDistiller(**params).fit(X_b[keep], y[keep], X_teacher=X_a[keep])
    every_pair = CrossModalDistiller(**params).fit(X_b, y_semi, X_teacher=X_a)
    assert every_pair.score(X_test_b, y_test) > labels_only.score(X_test_b, y_test) + 0.05


# ------------------------------------------------------------------ supervision transfer
def test_pure_supervision_transfer_from_a_prefit_teacher(data):
    X_a, X_b, y, _ = data
    prefit = LogisticRegression().fit(X_a, np.array(["x", "y", "z"])[y])
    kd = CrossModalDistiller(teacher=FrozenEstimator(prefit), student=student(), random_state=0)
    kd.fit(X_b, np.full(len(y), None, dtype=object), X_teacher=X_a)
    np.testing.assert_array_equal(kd.classes_, ["x", "y", "z"])
    np.testing.assert_allclose(kd.teacher_proba_, prefit.predict_proba(X_a))


def test_pure_supervision_transfer_from_teacher_proba(data):
    X_a, X_b, y, _ = data
    proba = LogisticRegression().fit(X_a, y).predict_proba(X_a)
    kd = CrossModalDistiller(student=student(), random_state=0).fit(X_b, np.full(len(y), -1), teacher_proba=proba)
    np.testing.assert_array_equal(kd.classes_, [0, 1, 2])
    assert kd.predict(X_b).shape == (len(y),)


def test_prefit_teacher_adds_classes_the_labelled_rows_lack(data):
    X_a, X_b, y, y_semi = data
    prefit = LogisticRegression().fit(X_a, y)
    y_partial = np.where(y_semi == 2, -1, y_semi)  # no labelled row of class 2
    kd = CrossModalDistiller(teacher=FrozenEstimator(prefit), student=student(), random_state=0)
    kd.fit(X_b, y_partial, X_teacher=X_a)
    np.testing.assert_array_equal(kd.classes_, [0, 1, 2])


# ------------------------------------------------------------------ model selection
def test_score_counts_labelled_rows_only(data):
    X_a, X_b, y, y_semi = data
    kd = CrossModalDistiller(teacher=LogisticRegression(), student=student(), random_state=0)
    kd.fit(X_b, y_semi, X_teacher=X_a)
    labelled = y_semi >= 0
    expected = np.mean(kd.predict(X_b[labelled]) == y_semi[labelled])
    assert kd.score(X_b, y_semi) == pytest.approx(expected)
    with pytest.raises(ValueError, match="score needs at least one labelled row; all 3 rows"):
        kd.score(X_b[:3], [-1, -1, -1])


def test_grid_search_ranks_as_a_search_scored_on_labelled_rows(data, tmp_path):
    X_a, X_b, y, y_semi = data
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    base = CrossModalDistiller(teacher=LogisticRegression(), student=student(), memory=tmp_path, random_state=0)
    grid = {"rho": [0.0, 0.5, 1.0], "temperature": [1.0, 4.0]}
    search = GridSearchCV(base, grid, cv=cv).fit(X_b, y_semi, X_teacher=X_a)
    # The same search by hand: fit on each training fold (unlabelled rows included), accuracy on the
    # test fold's labelled rows only.
    manual = []
    for params in search.cv_results_["params"]:
        scores = []
        for train, test in cv.split(X_b, y_semi):
            model = clone(base).set_params(**params).fit(X_b[train], y_semi[train], X_teacher=X_a[train])
            keep = test[y_semi[test] >= 0]
            scores.append(np.mean(model.predict(X_b[keep]) == y_semi[keep]))
        manual.append(np.mean(scores))
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], manual)
    np.testing.assert_array_equal(search.cv_results_["rank_test_score"], rankdata(-np.round(manual, 12), "min"))
    scores = cross_val_score(base, X_b, y_semi, cv=cv, params={"X_teacher": X_a})
    assert np.all((scores >= 0) & (scores <= 1))


# ------------------------------------------------------------------ Algorithm 1 on rows without a label
def test_pair_loss_aligns_every_row_and_fits_labels_on_labelled_rows():
    from crossmodal.focus._joint_net import JointPairNet
    from crossmodal.nets import MLP

    torch.manual_seed(0)
    net = JointPairNet(
        MLP,
        MLP,
        module__in_features=3,
        module__n_classes=2,
        module_b__in_features=2,
        module_b__n_classes=2,
        module__hidden_sizes=(),
        module_b__hidden_sizes=(),
    )
    logits_a, logits_b = torch.randn(5, 2), torch.randn(5, 2)
    y = torch.tensor([0, -1, 1, -1, 1])
    labelled = (y >= 0).numpy()
    weight = torch.as_tensor(label_weights(labelled))
    loss = net.pair_loss(logits_a, logits_b, y, weight)
    keep = torch.as_tensor(labelled)
    share = labelled.mean()
    ce = sum(F.cross_entropy(s[keep], y[keep], reduction="sum") for s in (logits_a, logits_b)) / (share * 5)
    want = F.mse_loss(logits_a, logits_b) + ce
    np.testing.assert_allclose(loss.item(), want.item(), rtol=1e-6)


def test_ranker_and_joint_teacher_train_on_every_pair(data):
    from crossmodal import ModalityGeneralRanker

    X_a, X_b, y, y_semi = data
    pair = quick_template((8,), max_epochs=3, lr=0.05, batch_size=32)
    ranker = ModalityGeneralRanker(estimator_a=pair, estimator_b=pair, n_repeats=2, random_state=0)
    ranker.fit(X_a, y_semi, X_b=X_b)
    assert ranker.salience_.shape == (X_a.shape[1],)
    focus = ModalityGeneralRanker(estimator_a=pair, estimator_b=pair, n_repeats=2, layer=1, random_state=0)
    kd = CrossModalDistiller(teacher="joint", focus=focus, student=student(), rho=0.0, random_state=0)
    kd.fit(X_b, y_semi, X_teacher=X_a)
    assert kd.teacher_proba_.shape == (len(y), 3)
    assert np.isfinite(kd.focus_.pair_net_.history[:, "train_loss"]).all()
    with pytest.raises(ValueError, match=r"y has no labelled row \(all 240 rows are marked as unlabelled\)"):
        ModalityGeneralRanker(estimator_a=pair, estimator_b=pair).fit(X_a, np.full(len(y), -1), X_b=X_b)


def test_ranker_with_both_nets_prefit_needs_no_label(data):
    # Step 1 is skipped, and step 2 (the permutation salience) reads no label: y may be all -1.
    X_a, X_b, y, y_semi = data
    net_a, net_b = (
        quick_template((8,), max_epochs=3, lr=0.05, module__in_features=X.shape[1], module__n_classes=3).fit(
            X.astype(np.float32), y
        )
        for X in (X_a, X_b)
    )
    params = dict(estimator_a=FrozenEstimator(net_a), estimator_b=FrozenEstimator(net_b), n_repeats=2, random_state=0)
    unlabelled = ModalityGeneralRanker(**params).fit(X_a, np.full(len(y), -1), X_b=X_b)
    labelled = ModalityGeneralRanker(**params).fit(X_a, y, X_b=X_b)
    np.testing.assert_array_equal(unlabelled.salience_, labelled.salience_)
    assert unlabelled.pair_net_ is None


def test_a_batch_without_labels_trains_a_labels_only_student(data):
    """rho=1 with batches that hold no labelled row: the term is 0 with a zero gradient, not an error."""
    X_a, X_b, y, y_semi = data
    kd = CrossModalDistiller(student=student(batch_size=8), rho=1.0, random_state=0).fit(X_b, y_semi)
    assert np.isfinite(kd.history_[:, "train_loss"]).all()
    logits = torch.zeros(3, 2, requires_grad=True)
    from crossmodal._utils.labels import labelled_cross_entropy

    zero = labelled_cross_entropy(logits, torch.tensor([-1, -1, -1]), torch.zeros(3))
    zero.backward()
    assert zero.item() == 0.0 and torch.equal(logits.grad, torch.zeros(3, 2))
