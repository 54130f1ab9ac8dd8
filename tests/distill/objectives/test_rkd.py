"""RKD against a loop reference, unchanged under rotation and translation, small batches, equal rows, gradients."""

import numpy as np
import objective_oracles as oracle
import pytest
import torch

from crossmodal.distill.objectives import RKD, ObjectiveBatch
from crossmodal.distill.objectives._rkd import rkd_terms


def embeddings(m=6, d_student=3, d_teacher=5, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(m, d_student), rng.randn(m, d_teacher)


def loss(objective, student, teacher, sample_weight=None):
    batch = ObjectiveBatch(
        torch.zeros(len(student), 2),
        targets={"teacher_features": torch.as_tensor(teacher)},
        student_features=torch.as_tensor(student),
        sample_weight=None if sample_weight is None else torch.as_tensor(sample_weight),
    )
    return objective.loss(batch)


def rotation_and_shift(d, seed):
    rng = np.random.RandomState(seed)
    q, _ = np.linalg.qr(rng.randn(d, d))
    return q, 10.0 * rng.randn(d)


@pytest.mark.parametrize("m", [3, 5, 8])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("equal_rows", [False, True])
def test_rkd_terms_match_the_loop_reference(m, weighted, equal_rows):
    student, teacher = embeddings(m)
    if equal_rows:  # two of the student's rows coincide (as ReLU features often do), not the teacher's
        student[2] = student[1]
    student[0] *= 6.0  # far from the others: normalised distances differ by more than 1 (Huber's linear part)
    w = np.random.RandomState(4).uniform(0.2, 2.0, m) if weighted else None
    distance, angle = rkd_terms(
        torch.as_tensor(student), torch.as_tensor(teacher), None if w is None else torch.as_tensor(w)
    )
    expected = oracle.rkd(student, teacher, w)
    np.testing.assert_allclose([distance.item(), angle.item()], expected, rtol=1e-12)
    assert min(expected) > 1e-3
    off = ~np.eye(m, dtype=bool)
    d_s, d_t = (np.linalg.norm(x[:, None] - x[None], axis=2) for x in (student, teacher))
    assert np.abs(d_s / d_s[off].mean() - d_t / d_t[off].mean()).max() > 1.0
    total = loss(RKD(distance_weight=2.0, angle_weight=3.0), student, teacher, w).item()
    np.testing.assert_allclose(total, 2.0 * expected[0] + 3.0 * expected[1], rtol=1e-12)


@pytest.mark.parametrize("which", ["student", "teacher"])
def test_rotation_translation_and_scale_of_either_embedding_change_nothing(which):
    student, teacher = embeddings(7)
    rkd = RKD()
    before = loss(rkd, student, teacher).item()
    x = student if which == "student" else teacher
    q, shift = rotation_and_shift(x.shape[1], seed=5)
    moved = 3.0 * x @ q + shift
    after = loss(rkd, moved, teacher) if which == "student" else loss(rkd, student, moved)
    np.testing.assert_allclose(after.item(), before, rtol=1e-9)
    assert before > 1.0
    # a map that is not a similarity changes it
    stretched = x * np.arange(1, x.shape[1] + 1)
    other = loss(rkd, stretched, teacher) if which == "student" else loss(rkd, student, stretched)
    assert abs(other.item() - before) > 1e-3


def test_batches_too_small_for_pairs_or_triplets():
    student, teacher = embeddings(3)
    s = torch.as_tensor(student[:1]).requires_grad_()
    one = rkd_terms(s, torch.as_tensor(teacher[:1]))
    assert [t.item() for t in one] == [0.0, 0.0]
    one[0].backward()  # still part of the graph: a batch of one row under rho=0 can step
    distance, angle = rkd_terms(torch.as_tensor(student[:2]), torch.as_tensor(teacher[:2]))
    # two rows: one distance each, normalised by itself to 1 on both sides
    assert distance.item() == pytest.approx(0.0, abs=1e-12)
    assert angle.item() == 0.0


def test_equal_rows_have_finite_gradients():
    """A ReLU layer maps many rows to the same point: distance 0, no direction, yet finite gradients."""
    student, teacher = embeddings(6)
    student[1] = student[0]
    student[2] = 0.0
    student[3] = 0.0
    s = torch.as_tensor(student).requires_grad_()
    value = loss(RKD(), s, teacher)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(s.grad).all()
    assert s.grad.abs().max() < 1e3


def test_a_batch_without_scale_or_weight_is_finite():
    student, teacher = embeddings(5)
    s = torch.as_tensor(student).requires_grad_()
    for features, weights in ((np.zeros_like(student), None), (teacher, np.zeros(5))):
        value = loss(RKD(), s, features, weights)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(s.grad).all()
    assert loss(RKD(), s, teacher, np.zeros(5)).item() == 0.0
    assert loss(RKD(), np.zeros_like(student), np.zeros_like(teacher)).item() == 0.0


def test_gradcheck_float64():
    student, teacher = embeddings(5)
    w = torch.rand(5, dtype=torch.float64) + 0.5
    s = torch.as_tensor(student).requires_grad_()
    for weights in (None, w):

        def f(x, weights=weights):
            return torch.stack(rkd_terms(x, torch.as_tensor(teacher), weights))

        assert torch.autograd.gradcheck(f, (s,))
