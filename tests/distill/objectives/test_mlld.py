"""MLLD against a loop reference, its link to KD, degenerate batches, gradients and its temperatures' checks."""

import numpy as np
import objective_oracles as oracle
import pytest
import torch

from crossmodal.distill.objectives import KD, MLLD, ObjectiveBatch, TeacherOutputs, resolve_objective
from crossmodal.distill.objectives._mlld import mlld_terms


def problem(n=6, n_classes=3, seed=0):
    rng = np.random.RandomState(seed)
    logits = 2.0 * rng.randn(n, n_classes)
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True), 2.0 * rng.randn(n, n_classes)


def targets_of(objective, proba):
    return {k: torch.as_tensor(v) for k, v in objective.targets(TeacherOutputs(proba=proba)).items()}


@pytest.mark.parametrize("n_classes", [2, 5])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "paper"])
def test_mlld_terms_match_the_loop_reference(n_classes, weighted, reduction):
    proba, student = problem(n_classes=n_classes)
    w = np.random.RandomState(2).uniform(0.2, 2.0, len(proba)) if weighted else None
    temperatures = (1.0, 2.5, 4.0)
    mlld = MLLD(temperatures=temperatures, reduction=reduction)
    targets = targets_of(mlld, proba)
    weights = None if w is None else torch.as_tensor(w)
    got = mlld_terms(torch.as_tensor(student), targets["teacher_log_proba"], temperatures, weights, reduction)
    expected = oracle.mlld(student, proba, temperatures, w, reduction)
    # float32 teacher targets (as KD's): float32 tolerance
    np.testing.assert_allclose([t.item() for t in got], expected, rtol=2e-5)
    batch = ObjectiveBatch(torch.as_tensor(student), targets, sample_weight=None if w is None else torch.as_tensor(w))
    np.testing.assert_allclose(mlld.loss(batch).item(), sum(expected), rtol=2e-5)
    assert all(e > 1e-4 for e in expected)  # every level contributes: none is tested at zero


def test_the_mean_reduction_does_not_grow_with_the_batch():
    """A batch and its copy twice over give the same mean-reduced terms; the paper's grow as m and m**2."""
    proba, student = problem(n=5)
    twice_proba, twice_student = np.vstack([proba, proba]), np.vstack([student, student])
    lp = targets_of(MLLD(), proba)["teacher_log_proba"]
    lp2 = targets_of(MLLD(), twice_proba)["teacher_log_proba"]
    t = MLLD().temperatures
    once = mlld_terms(torch.as_tensor(student), lp, t)
    torch.testing.assert_close(mlld_terms(torch.as_tensor(twice_student), lp2, t), once)
    once = mlld_terms(torch.as_tensor(student), lp, t, reduction="paper")
    twice = mlld_terms(torch.as_tensor(twice_student), lp2, t, reduction="paper")
    torch.testing.assert_close(
        torch.stack(twice), torch.stack(once) * torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    )


def test_one_temperature_instance_term_is_kd_without_its_t_squared():
    proba, student = problem(n=10, n_classes=4)
    instance, _, _ = mlld_terms(
        torch.as_tensor(student), targets_of(MLLD(temperatures=[3.0]), proba)["teacher_log_proba"], (3.0,)
    )
    kd = KD(temperature=3.0)
    kd_loss = kd.loss(ObjectiveBatch(torch.as_tensor(student), targets_of(kd, proba)))
    torch.testing.assert_close(instance, kd_loss / 9.0)


def test_a_student_equal_to_the_teacher_has_zero_loss_and_a_batch_of_one_row_works():
    proba, _ = problem(n=5)
    mlld = MLLD()
    targets = targets_of(mlld, proba)
    equal = torch.log(torch.as_tensor(proba, dtype=torch.float32))
    assert mlld.loss(ObjectiveBatch(equal, targets)).item() == pytest.approx(0.0, abs=1e-6)
    one = {k: v[:1] for k, v in targets.items()}
    s = torch.zeros(1, 3, requires_grad=True)
    loss = mlld.loss(ObjectiveBatch(s, one))
    loss.backward()
    assert loss.item() > 0 and torch.isfinite(s.grad).all()


def test_gradcheck_float64():
    proba, student = problem(n=4, n_classes=3)
    temperatures = (1.0, 2.0)
    lp = targets_of(MLLD(temperatures=temperatures), proba)["teacher_log_proba"].double()
    w = torch.rand(4, dtype=torch.float64) + 0.5
    s = torch.as_tensor(student).requires_grad_()
    for weights in (None, w):

        def f(logits, weights=weights):
            return torch.stack(mlld_terms(logits, lp, temperatures, weights))

        assert torch.autograd.gradcheck(f, (s,))


@pytest.mark.parametrize("bad", [(), (0.0, 2.0), (1.0, float("inf")), ("4",), (True,)])
def test_bad_temperatures_are_named(bad):
    with pytest.raises(ValueError, match=r"'temperatures' parameter of MLLD must be a non-empty sequence of finite"):
        resolve_objective(MLLD(temperatures=bad))
    with pytest.raises(ValueError, match=r"'temperatures' parameter of MLLD must be a non-empty sequence of finite"):
        MLLD(temperatures=bad).targets(TeacherOutputs(proba=np.full((2, 2), 0.5)))
    with pytest.raises(ValueError, match=r"'reduction' parameter of MLLD must be a str among \{'(mean|paper)', '"):
        resolve_objective(MLLD(reduction="sum"))


def test_a_single_number_is_not_a_sequence_of_temperatures():
    with pytest.raises(ValueError, match=r"'temperatures' parameter of MLLD must be an array-like"):
        resolve_objective(MLLD(temperatures=4.0))
    with pytest.raises(
        ValueError, match=r"temperature=2.0 does not apply to objective='mlld', which has no temperature"
    ):
        resolve_objective("mlld", temperature=2.0)
