"""DKD against a loop reference, the KD identity its paper proves, two classes, rows without a label, gradients."""

import numpy as np
import objective_oracles as oracle
import pytest
import torch
import torch.nn.functional as F

from crossmodal.distill.objectives import DKD, KD, ObjectiveBatch, TeacherOutputs
from crossmodal.distill.objectives._dkd import dkd_terms


def problem(n=7, n_classes=4, seed=0):
    rng = np.random.RandomState(seed)
    logits = 2.0 * rng.randn(n, n_classes)
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    student = 2.0 * rng.randn(n, n_classes)
    y = rng.randint(n_classes, size=n)
    return proba, student, y


def objective_loss(objective, proba, student, y=None, sample_weight=None, dtype=torch.float64):
    targets = {k: torch.as_tensor(v) for k, v in objective.targets(TeacherOutputs(proba=proba)).items()}
    y = None if y is None else torch.as_tensor(y)
    w = None if sample_weight is None else torch.as_tensor(sample_weight)
    batch = ObjectiveBatch(
        student_logits=torch.as_tensor(student, dtype=dtype),
        targets=targets,
        y=y,
        labelled=None if y is None else y >= 0,
        sample_weight=w,
    )
    return objective.loss(batch)


@pytest.mark.parametrize("n_classes", [2, 3, 6])
@pytest.mark.parametrize("weighted", [False, True])
def test_dkd_matches_the_loop_reference(n_classes, weighted):
    proba, student, y = problem(n_classes=n_classes)
    y[[1, 4]] = -1  # rows without a label split at the teacher's class
    w = np.random.RandomState(1).uniform(0.2, 2.0, len(y)) if weighted else None
    dkd = DKD(alpha=0.7, beta=3.0, temperature=2.5)
    expected = oracle.dkd(student, proba, y, 2.5, 0.7, 3.0, w)
    # The teacher's targets are float32 (as KD's): float32 rounding of its log-probabilities.
    np.testing.assert_allclose(objective_loss(dkd, proba, student, y, w).item(), expected, rtol=1e-5)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_the_terms_recombine_into_kd(temperature):
    """KL(p_T || p_S) = TCKD + (1 - p_T[t]) * NCKD at any class t (the identity DKD's paper proves)."""
    proba, student, y = problem(n=9, n_classes=5)
    log_p = F.log_softmax(torch.log(torch.as_tensor(proba)) / temperature, dim=1)
    s = torch.as_tensor(student)
    for target in (torch.as_tensor(y), torch.zeros(len(y), dtype=torch.int64), log_p.argmin(1)):
        tckd, nckd = dkd_terms(s, log_p, target, temperature)
        p_t = log_p.exp().gather(1, target[:, None]).squeeze(1)
        recombined = tckd + (1 - p_t) * nckd
        kl = (log_p.exp() * (log_p - F.log_softmax(s / temperature, dim=1))).sum(1)
        torch.testing.assert_close(recombined, kl, rtol=1e-12, atol=1e-14)
    # and so into the library's KD term (float32 targets: float32 tolerance)
    kd = objective_loss(KD(temperature=temperature), proba, student)
    torch.testing.assert_close(kd, temperature**2 * recombined.mean(), rtol=1e-5, atol=1e-7)


def test_two_classes_nckd_is_zero_and_dkd_is_alpha_times_kd():
    proba, student, y = problem(n=8, n_classes=2)
    tckd, nckd = dkd_terms(torch.as_tensor(student), torch.log(torch.as_tensor(proba)), torch.as_tensor(y), 1.0)
    assert torch.equal(nckd, torch.zeros_like(nckd))
    dkd = objective_loss(DKD(alpha=0.5, beta=8.0, temperature=3.0), proba, student, y)
    kd = objective_loss(KD(temperature=3.0), proba, student)
    torch.testing.assert_close(dkd, 0.5 * kd, rtol=1e-5, atol=1e-7)


def test_a_row_without_a_label_splits_at_the_teachers_class():
    proba, student, _ = problem(n=6, n_classes=4)
    unlabelled = objective_loss(DKD(), proba, student, np.full(6, -1))
    at_teacher = objective_loss(DKD(), proba, student, proba.argmax(1))
    at_other = objective_loss(DKD(), proba, student, (proba.argmax(1) + 1) % 4)
    assert unlabelled.item() == at_teacher.item()
    assert abs(unlabelled.item() - at_other.item()) > 1e-3  # the split matters: the rule is tested
    # without labels at all (a batch carrying none), the same rule
    assert objective_loss(DKD(), proba, student, None).item() == at_teacher.item()


def test_a_confident_student_stays_finite():
    """log(1 - p_t) comes from the other classes' log-sum, not from 1 - p_t, which rounds to 0."""
    proba = np.array([[0.98, 0.01, 0.01]])
    student = torch.tensor([[60.0, 0.0, -5.0]], requires_grad=True)
    loss = objective_loss(DKD(temperature=1.0), proba, student.detach().numpy(), [0], dtype=torch.float32)
    assert np.isfinite(loss.item()) and loss.item() > 1.0
    batch_targets = DKD(temperature=1.0).targets(TeacherOutputs(proba=proba))
    targets = {k: torch.as_tensor(v) for k, v in batch_targets.items()}
    y = torch.tensor([0])
    DKD(temperature=1.0).loss(ObjectiveBatch(student, targets, y, y >= 0)).backward()
    assert torch.isfinite(student.grad).all()


@pytest.mark.parametrize("temperature", [0.5, 1e-3])
def test_a_one_hot_teacher_at_a_low_temperature_has_finite_gradients(temperature):
    """A tree's or kNN's 0/1 probabilities: the target's log-odds / T overflows float32's exp() below T ~ 0.78."""
    proba = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    student = torch.zeros(2, 3, requires_grad=True)
    dkd = DKD(temperature=temperature)
    targets = {k: torch.as_tensor(v) for k, v in dkd.targets(TeacherOutputs(proba=proba)).items()}
    y = torch.tensor([0, -1])
    loss = dkd.loss(ObjectiveBatch(student, targets, y, y >= 0))
    loss.backward()
    assert np.isfinite(loss.item()) and torch.isfinite(student.grad).all()
    # the same loss in float64, where nothing overflows at T = 0.5 (float32 rounds the clipped teacher's
    # log-probabilities, about -69 / T, at about 1e-5)
    if temperature == 0.5:
        reference = objective_loss(DKD(temperature=0.5), proba, np.zeros((2, 3)), [0, -1])
        assert loss.item() == pytest.approx(reference.item(), rel=1e-4)


def test_gradcheck_float64():
    proba, student, y = problem(n=5, n_classes=4)
    y[2] = -1
    dkd = DKD(alpha=1.3, beta=2.0, temperature=2.0)
    targets = {k: torch.as_tensor(v) for k, v in dkd.targets(TeacherOutputs(proba=proba)).items()}
    targets["teacher_log_proba"] = targets["teacher_log_proba"].double()
    y = torch.as_tensor(y)
    w = torch.rand(5, dtype=torch.float64) + 0.5
    s = torch.as_tensor(student).requires_grad_()

    def f(logits):
        return dkd.loss(ObjectiveBatch(logits, targets, y, y >= 0, sample_weight=w))

    assert torch.autograd.gradcheck(f, (s,))
