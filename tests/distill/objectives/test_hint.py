"""The FitNets hint against a loop reference, driven to zero on a linear map, widths, gradients."""

import numpy as np
import objective_oracles as oracle
import pytest
import torch

from crossmodal.distill.objectives import Hint, ModuleContext, ObjectiveBatch, TeacherOutputs


def regressor(student_width, teacher_width, seed=0):
    torch.manual_seed(seed)
    context = ModuleContext(n_samples=10, n_classes=3, student_features=student_width, teacher_features=teacher_width)
    return Hint().build_module(context).double()


def batch_of(features, teacher, module, sample_weight=None):
    targets = {k: torch.as_tensor(v) for k, v in Hint().targets(TeacherOutputs(proba=None, features=teacher)).items()}
    return ObjectiveBatch(
        torch.zeros(len(features), 3), targets, student_features=features, module=module, sample_weight=sample_weight
    )


@pytest.mark.parametrize("widths", [(4, 4), (3, 7), (6, 2)])
@pytest.mark.parametrize("weighted", [False, True])
def test_hint_matches_the_loop_reference(widths, weighted):
    rng = np.random.RandomState(0)
    features, teacher = rng.randn(9, widths[0]), rng.randn(9, widths[1])
    w = rng.uniform(0.2, 2.0, 9) if weighted else None
    module = regressor(*widths)
    assert module.weight.shape == (widths[1], widths[0])  # the student's width onto the teacher's
    got = Hint().loss(batch_of(torch.as_tensor(features), teacher, module, None if w is None else torch.as_tensor(w)))
    expected = oracle.hint(features, teacher, module.weight.detach().numpy(), module.bias.detach().numpy(), w)
    np.testing.assert_allclose(got.item(), expected, rtol=1e-12)


def test_a_linear_map_of_the_students_features_is_learned_to_zero_loss():
    rng = np.random.RandomState(1)
    features = torch.as_tensor(rng.randn(40, 5))
    teacher = features @ torch.as_tensor(rng.randn(5, 8)) + torch.as_tensor(rng.randn(8))
    module = regressor(5, 8)
    hint = Hint()
    start = hint.loss(batch_of(features, teacher.numpy(), module)).item()
    optimizer = torch.optim.LBFGS(module.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = hint.loss(batch_of(features, teacher.numpy(), module))
        loss.backward()
        return loss

    optimizer.step(closure)
    assert start > 1.0
    assert hint.loss(batch_of(features, teacher.numpy(), module)).item() < 1e-10 * start


def test_a_map_that_is_not_linear_is_not_learned_to_zero():
    """The zero above comes from the map being linear: a square of the features leaves a residual."""
    rng = np.random.RandomState(2)
    features = torch.as_tensor(rng.randn(40, 5))
    teacher = (features**2).numpy()
    module = regressor(5, 5)
    optimizer = torch.optim.LBFGS(module.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = Hint().loss(batch_of(features, teacher, module))
        loss.backward()
        return loss

    optimizer.step(closure)
    assert Hint().loss(batch_of(features, teacher, module)).item() > 0.5


def test_gradcheck_float64():
    rng = np.random.RandomState(3)
    features = torch.as_tensor(rng.randn(5, 3)).requires_grad_()
    teacher = rng.randn(5, 4)
    module = regressor(3, 4)
    w = torch.rand(5, dtype=torch.float64) + 0.5

    def f(x, weight, bias):  # the regressor's parameters as inputs, so that they are checked too
        return Hint().loss(batch_of(x, teacher, lambda z: torch.nn.functional.linear(z, weight, bias), sample_weight=w))

    weight = module.weight.detach().clone().requires_grad_()
    bias = module.bias.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(f, (features, weight, bias))
