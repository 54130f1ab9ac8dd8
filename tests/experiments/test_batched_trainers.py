"""The reproductions' batched trainers compute the library's loss: one batch, the same numbers.

The synthetic reproduction trains stacked linear models with a closed-form
gradient, the ranking reproduction stacked MLP students with torch ops; both
stand for what :class:`CrossModalDistiller` computes through its ``"kd"``
objective (:class:`crossmodal.distill._net.DistillationNet`). These tests
feed one batch to both and compare.
"""

import numpy as np
import pytest
import torch
from conftest import quick_template

from crossmodal.distill._net import as_distillation_net
from crossmodal.distill.objectives import KD, TeacherOutputs
from crossmodal.distill.objectives._kl import teacher_targets
from crossmodal.experiments._batched_linear import stack_inputs, stack_linear, train_softmax_batch
from crossmodal.experiments._batched_mlp import stacked_loss
from crossmodal.nets import MLP


def _library_loss(logits, y, proba, rho, temperature, reduction="batchmean"):
    """The distiller's loss on one batch: its net, its objective, its targets."""
    objective = KD(temperature=temperature, reduction=reduction)
    net = as_distillation_net(quick_template(), 2, logits.shape[1], "cpu", rho=rho, objective=objective)
    targets = {k: torch.as_tensor(v) for k, v in objective.targets(TeacherOutputs(proba)).items()}
    return net.distillation_loss(logits, torch.as_tensor(y), targets)


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_stacked_mlp_students_compute_the_distillers_loss(temperature):
    rng = np.random.default_rng(0)
    R, m, C = 3, 17, 4
    logits = torch.as_tensor(rng.standard_normal((R, m, C)), dtype=torch.float32)
    y = rng.integers(0, C, m)
    proba = rng.dirichlet(np.ones(C), size=(R, m))
    rho = np.array([0.0, 0.4, 1.0], dtype=np.float32)
    targets = teacher_targets(proba, temperature)
    stacked = stacked_loss(logits, torch.as_tensor(y), targets, targets.exp(), torch.as_tensor(rho), temperature)
    for r in range(R):
        want = _library_loss(logits[r], y, proba[r], float(rho[r]), temperature)
        np.testing.assert_allclose(stacked[r].item(), want.item(), rtol=1e-5)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize(
    ("ce_weight", "kl_weight", "reduction"), [(1.0, 0.0, "mean"), (1.0, 1.0, "mean"), (0.3, 0.7, "batchmean")]
)
def test_batched_linear_step_follows_the_distillers_gradient(ce_weight, kl_weight, reduction):
    """One full-batch step with lr 1: the closed-form gradient equals autograd of the library's loss."""
    rng = np.random.default_rng(1)
    n, d, C = 40, 5, 2
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, C, n)
    proba = rng.dirichlet(np.ones(C), size=n)
    module = MLP(d, C, hidden_sizes=())
    weight, bias = module[0].weight.detach().numpy(), module[0].bias.detach().numpy()
    W0 = stack_linear([(weight, bias)])
    W1 = train_softmax_batch(
        W0,
        stack_inputs([X]),
        y[None],
        lr=1.0,
        n_epochs=1,
        ce_weight=ce_weight,
        kl_weight=kl_weight,
        teacher_proba=proba[None].astype(np.float32),
        kl_reduction=reduction,
    )
    batched_grad = (W0 - W1)[0].numpy()

    scale = ce_weight + kl_weight  # the library weighs rho * CE + (1 - rho) * KD
    loss = scale * _library_loss(module(torch.as_tensor(X)), y, proba, ce_weight / scale, 1.0, reduction)
    loss.backward()
    library_grad = np.column_stack([module[0].weight.grad.numpy(), module[0].bias.grad.numpy()])
    np.testing.assert_allclose(batched_grad, library_grad, rtol=1e-4, atol=1e-6)
