"""CRD: the NCE loss against a loop over rows, its memory, its negatives, and the objective in a distiller."""

import math
import pickle

import numpy as np
import pytest
import torch
from conftest import quick_template
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.dataset import ValidSplit
from torch.func import functional_call

from crossmodal import CrossModalDistiller, make_modality_venn
from crossmodal.distill.objectives import CRD, ModuleContext, ObjectiveBatch, TeacherOutputs, _crd
from crossmodal.distill.objectives._crd import ContrastiveMemory, draw_negatives


def unit_rows(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def reference_crd_rows(state, student_features, teacher_features, index, negatives, temperature, log_c):
    """Each row's loss, anchor by anchor and negative by negative, from the paper's h = P / (P + K / n)."""
    n = len(state["student_memory"])
    s = unit_rows(student_features @ state["student_embed.weight"].T + state["student_embed.bias"])
    t = unit_rows(teacher_features @ state["teacher_embed.weight"].T + state["teacher_embed.bias"])
    losses = np.zeros(len(index))
    for side, (anchors, memory) in enumerate(((s, state["teacher_memory"]), (t, state["student_memory"]))):
        z = n * math.exp(log_c[side])  # the partition function: n times the first batch's mean of e^u
        for row, i in enumerate(index):
            k = len(negatives[row])
            p = [math.exp(float(anchors[row] @ memory[j]) / temperature) / z for j in [i, *negatives[row]]]
            h = [p_j / (p_j + k / n) for p_j in p]
            losses[row] -= math.log(h[0]) + sum(math.log(1.0 - h_j) for h_j in h[1:])
    return losses


def reference_log_mean(state, student_features, teacher_features, index, negatives, temperature):
    """log of the mean of e^u over the first batch's positives and negatives, per anchor."""
    s = unit_rows(student_features @ state["student_embed.weight"].T + state["student_embed.bias"])
    t = unit_rows(teacher_features @ state["teacher_embed.weight"].T + state["teacher_embed.bias"])
    out = []
    for anchors, memory in ((s, state["teacher_memory"]), (t, state["student_memory"])):
        values = [
            math.exp(float(anchors[row] @ memory[j]) / temperature)
            for row, i in enumerate(index)
            for j in [i, *negatives[row]]
        ]
        out.append(math.log(np.mean(values)))
    return out


def fixed_memory(n, d_s=5, d_t=3, dim=4, seed=0):
    torch.manual_seed(seed)
    return ContrastiveMemory(n, d_s, d_t, dim).double()


# n rows, K negatives: 12 rows and 11 negatives score against the whole memory, 200 rows and 3 negatives
# gather the sampled rows
@pytest.mark.parametrize("n, k", [(12, 11), (200, 3)], ids=["full-product", "gathered"])
def test_loss_matches_a_loop_over_rows_and_negatives(n, k):
    memory = fixed_memory(n)
    rng = np.random.RandomState(1)
    index = rng.choice(n, 6, replace=False)
    negatives = np.array([[j for j in rng.choice(n, k + 1, replace=False) if j != i][:k] for i in index])
    fs, ft = rng.randn(6, 5), rng.randn(6, 3)
    temperature = 0.3
    state = {name: value.numpy().copy() for name, value in memory.state_dict().items()}

    got, _, _ = memory(
        torch.as_tensor(fs), torch.as_tensor(ft), torch.as_tensor(index), torch.as_tensor(negatives), temperature
    )
    log_c = reference_log_mean(state, fs, ft, index, negatives, temperature)
    np.testing.assert_allclose(memory.log_mean_score.numpy(), log_c, rtol=1e-12)
    np.testing.assert_allclose(
        got.detach().numpy(), reference_crd_rows(state, fs, ft, index, negatives, temperature, log_c), rtol=1e-10
    )
    # the constant stays as the first batch set it
    memory(
        torch.as_tensor(fs[:2]),
        torch.as_tensor(ft[:2]),
        torch.as_tensor(index[:2]),
        torch.as_tensor(negatives[:2]),
        temperature,
    )
    np.testing.assert_allclose(memory.log_mean_score.numpy(), log_c, rtol=1e-12)


def test_objective_loss_is_the_weighted_batch_mean_and_updates_the_memory_by_momentum():
    n, momentum = 8, 0.3
    crd = CRD(feature_dim=4, nce_k=3, nce_t=0.5, momentum=momentum)
    memory = fixed_memory(n)
    teacher_features = np.random.RandomState(2).randn(n, 3)
    targets = {
        k: torch.as_tensor(v) for k, v in crd.targets(TeacherOutputs(np.full((n, 2), 0.5), teacher_features)).items()
    }
    rows = torch.tensor([5, 1, 6])
    batch_targets = {k: v[rows] for k, v in targets.items()}
    student_features = torch.as_tensor(np.random.RandomState(3).randn(3, 5))
    weights = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)
    before = {k: v.clone() for k, v in memory.state_dict().items()}

    torch.manual_seed(7)
    loss = crd.loss(
        ObjectiveBatch(
            torch.zeros(3, 2), batch_targets, sample_weight=weights, student_features=student_features, module=memory
        )
    )
    torch.manual_seed(7)
    negatives = draw_negatives(rows, n, 3)
    state = {k: v.numpy() for k, v in before.items()}
    log_c = memory.log_mean_score.numpy()
    per_row = reference_crd_rows(
        state, student_features.numpy(), teacher_features[rows], rows.numpy(), negatives.numpy(), 0.5, log_c
    )
    np.testing.assert_allclose(loss.item(), np.mean(per_row * weights.numpy()), rtol=1e-10)

    student, teacher = memory.embed(student_features, batch_targets["teacher_features"])
    for name, new in (("student_memory", student), ("teacher_memory", teacher)):
        old, after = before[name].numpy(), memory.state_dict()[name].numpy()
        expected = unit_rows(momentum * old[rows] + (1 - momentum) * new.detach().numpy())
        np.testing.assert_allclose(after[rows], expected, rtol=1e-12)
        untouched = np.setdiff1d(np.arange(n), rows)
        np.testing.assert_array_equal(after[untouched], old[untouched])
        np.testing.assert_allclose(np.linalg.norm(after[rows], axis=1), 1.0, rtol=1e-12)

    memory.eval()  # a validation batch leaves the memory alone
    frozen = {k: v.clone() for k, v in memory.state_dict().items()}
    crd.loss(ObjectiveBatch(torch.zeros(3, 2), batch_targets, student_features=student_features, module=memory))
    for name, value in memory.state_dict().items():
        torch.testing.assert_close(value, frozen[name], rtol=0, atol=0)


def test_memory_and_negatives_are_sized_to_the_data():
    n = 30
    memory = CRD().build_module(ModuleContext(n, 3, student_features=6, teacher_features=4))
    assert memory.student_memory.shape == memory.teacher_memory.shape == (n, 128)
    np.testing.assert_allclose(memory.student_memory.norm(dim=1).numpy(), 1.0, rtol=1e-6)
    index = torch.arange(n)
    torch.manual_seed(0)
    negatives = draw_negatives(index, n, min(CRD().nce_k, n - 1))
    assert negatives.shape == (n, n - 1)  # 16384 negatives capped at every other row
    assert not (negatives == index[:, None]).any()  # never the anchor's own row
    for anchor in (0, 13, n - 1):  # uniform over the other rows, the first and last included
        counts = np.bincount(draw_negatives(torch.tensor([anchor]), n, 29_000)[0].numpy(), minlength=n)
        assert counts[anchor] == 0
        others = np.delete(counts, anchor)  # about 1000 each, standard deviation about 31
        assert others.min() > 850 and others.max() < 1150
    assert draw_negatives(torch.tensor([0]), 1, 0).shape == (1, 0)


def test_both_ways_of_scoring_agree(monkeypatch):
    torch.manual_seed(0)
    memory = torch.nn.functional.normalize(torch.randn(50, 6, dtype=torch.float64), dim=1)
    anchor, index = torch.randn(4, 6, dtype=torch.float64), torch.tensor([3, 0, 49, 17])
    negatives = draw_negatives(index, 50, 7)
    scores = []
    for rows_per_column in (10**9, 0):  # whole-memory product, then gathered rows
        monkeypatch.setattr(_crd, "_FULL_PRODUCT_ROWS_PER_COLUMN", rows_per_column)
        scores.append(_crd._scores(anchor, memory, index, negatives))
    expected = np.einsum("md,mkd->mk", anchor.numpy(), memory.numpy()[torch.cat([index[:, None], negatives], 1)])
    for got in scores:
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_a_single_row_has_no_negative_and_a_zero_loss():
    memory = fixed_memory(1)
    fs, ft = torch.randn(1, 5, dtype=torch.float64), torch.randn(1, 3, dtype=torch.float64)
    loss, _, _ = memory(fs, ft, torch.tensor([0]), draw_negatives(torch.tensor([0]), 1, 0), 0.07)
    assert loss.item() == 0.0


@pytest.mark.parametrize("n, k", [(12, 11), (200, 3)], ids=["full-product", "gathered"])
def test_gradients_pass_gradcheck_including_the_heads(n, k):
    memory = fixed_memory(n)
    rng = np.random.RandomState(4)
    index = torch.as_tensor(rng.choice(n, 5, replace=False))
    negatives = draw_negatives(index, n, k)
    fs = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    ft = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    names = ["student_embed.weight", "student_embed.bias", "teacher_embed.weight", "teacher_embed.bias"]
    params = [dict(memory.named_parameters())[name].detach().clone().requires_grad_(True) for name in names]
    memory(fs, ft, index, negatives, 0.2)  # sets the partition constant, which then stays fixed

    def loss(fs, ft, *weights):
        return functional_call(memory, dict(zip(names, weights)), (fs, ft, index, negatives, 0.2))[0].sum()

    assert torch.autograd.gradcheck(loss, (fs, ft, *params))


# ------------------------------------------------------------------ in a distiller
def net(**params):
    return quick_template((4,), **{"max_epochs": 5, "lr": 0.05, "batch_size": 32, **params})


@pytest.fixture(scope="module")
def data():
    return make_modality_venn(
        120, n_general=3, n_specific_a=1, n_specific_b=1, n_noise_a=2, n_noise_b=2, n_classes=3, random_state=0
    )


@parametrize_with_checks(
    [
        CrossModalDistiller(
            teacher=net(),
            teacher_input="student",
            student=quick_template((16,), max_epochs=20, lr=0.05, batch_size=64),
            objective=CRD(feature_dim=8, nce_k=64),
            random_state=0,
        )
    ],
    expected_failed_checks=lambda est: {
        "check_sample_weight_equivalence_on_dense_data": (
            "the student trains by stochastic mini-batch optimisation, and a row of weight 0 still sits in CRD's "
            "memory as a negative of the others: neither is a repeated or a removed row"
        ),
        "check_classifiers_classes": (
            "its last problem uses the labels -1 and 1, and -1 marks a row without a label here, as in "
            "scikit-learn's semi-supervised estimators (which this check exempts by name)"
        ),
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_fits_pickles_and_covers_rows_without_a_label(data):
    X_a, X_b, y = data
    partial = y.copy()
    partial[::2] = -1
    kd = CrossModalDistiller(teacher=net(), student=net(), objective="crd", random_state=0)
    kd.fit(X_b, partial, X_teacher=X_a)
    memory = kd.student_.objective_module_
    assert memory.student_memory.shape == (len(y), 128)
    assert np.isfinite(kd.history_[:, "train_loss"]).all()
    restored = pickle.loads(pickle.dumps(kd))
    np.testing.assert_array_equal(restored.predict_proba(X_b), kd.predict_proba(X_b))
    torch.testing.assert_close(restored.student_.objective_module_.teacher_memory, memory.teacher_memory)


def test_skorchs_own_loop_batches_the_rows_and_validation_leaves_the_memory(data):
    X_a, X_b, y = data
    memories = []
    for epochs in (0, 2):  # the memory as built (same seed), then after training with a validation split
        student = net(max_epochs=epochs, callbacks=None, train_split=ValidSplit(4, stratified=False))
        kd = CrossModalDistiller(teacher=net(), student=student, objective="crd", random_state=0)
        memories.append(kd.fit(X_b, y, X_teacher=X_a).student_.objective_module_.student_memory.numpy())
    unchanged = (memories[0] == memories[1]).all(axis=1)
    assert unchanged.sum() == len(y) // 4  # the validation rows, and only those
    assert "valid_loss" in kd.history_[-1]


def test_grid_search_over_the_objectives_parameters(data):
    X_a, X_b, y = data
    base = CrossModalDistiller(teacher=net(), student=net(), objective=CRD(feature_dim=8), random_state=0)
    search = GridSearchCV(base, {"objective__nce_t": [0.07, 0.5], "objective__nce_k": [4, 16384]}, cv=2, n_jobs=2)
    search.fit(X_b, y, X_teacher=X_a)
    assert set(search.best_params_) == {"objective__nce_t", "objective__nce_k"}


def test_teachers_and_settings_that_cannot_serve(data):
    X_a, X_b, y = data
    with pytest.raises(TypeError, match=r"distils a hidden layer of a torch teacher; LogisticRegression has none"):
        CrossModalDistiller(teacher=LogisticRegression(), objective="crd", student=net()).fit(X_b, y, X_teacher=X_a)
    with pytest.raises(
        ValueError, match=r"temperature=2.0 does not apply to objective='crd', which has no temperature"
    ):
        CrossModalDistiller(teacher=net(), objective="crd", temperature=2.0, student=net()).fit(X_b, y, X_teacher=X_a)
    with pytest.raises(ValueError, match=r"The 'nce_t' parameter of CRD must be a float in the range \(0.0, inf\)"):
        CrossModalDistiller(teacher=net(), objective=CRD(nce_t=0), student=net()).fit(X_b, y, X_teacher=X_a)
