import os

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier

from crossmodal.nets import MLP

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _seed_everything():
    """Each test starts from the same global RNG state."""
    np.random.seed(0)
    torch.manual_seed(0)
    yield


def reorder_rtol(dtype, n_terms, accumulate=np.float64):
    """Relative tolerance between two results whose sums of ``n_terms`` terms
    were added in different orders (vectorised loops compiled differently
    per code path, BLAS blocking by shape and CPU) in the ``accumulate``
    dtype, then stored in ``dtype``: the usual ``n * eps`` bound of a sum,
    doubled, plus the output's own rounding.
    """
    return 2 * n_terms * np.finfo(accumulate).eps + 2 * np.finfo(dtype).eps


def assert_labels_follow_scores(y, scores):
    """``y`` is the generator's rule (``score > 0``, or the argmax) applied to ``scores``.

    ``scores`` are recomputed by the test with NumPy's matrix product, which
    rounds differently from the generator's; rows whose decision lies within
    rounding of a tie are left out (there are next to none).
    """
    scores = np.asarray(scores, dtype=np.float64)
    tol = 1e-12 * max(1.0, np.abs(scores).max())
    if scores.ndim == 1:
        expected, margin = scores > 0, np.abs(scores)
    else:
        top_two = np.sort(scores, axis=1)[:, -2:]
        expected, margin = np.argmax(scores, axis=1), top_two[:, 1] - top_two[:, 0]
    decided = margin > tol
    assert decided.mean() > 0.99
    np.testing.assert_array_equal(np.asarray(y)[decided], expected.astype(np.int64)[decided])


def quick_template(hidden_sizes=(), **params):
    """A skorch template of :class:`crossmodal.nets.MLP` for quick fits in tests.

    No validation split, skorch's callbacks off (the estimators then train in
    their tight loop), silent; ``params`` add or override settings. A
    ``module=`` instance replaces the MLP class (``hidden_sizes`` is then not
    passed: skorch would build a new instance from it).
    """
    module = params.pop("module", MLP)
    settings = dict(train_split=None, callbacks="disable", verbose=0)
    if not isinstance(module, torch.nn.Module):
        settings["module__hidden_sizes"] = hidden_sizes
    settings.update(params)
    return NeuralNetClassifier(module, **settings)


class ConvNet(torch.nn.Module):
    """Conv1d, ReLU and a linear head on inputs of shape ``(n, in_channels, length)``.

    Not a chain of layers, so permutation_salience takes its generic torch
    path (with hooks when ``layer="conv"`` is named).
    """

    def __init__(self, in_channels, length, *, width=4, kernel_size=3, n_classes=3):
        super().__init__()
        self.conv = torch.nn.Conv1d(in_channels, width, kernel_size=kernel_size)
        self.act = torch.nn.ReLU()
        self.head = torch.nn.Linear(width * (length - kernel_size + 1), n_classes)

    def forward(self, x):
        return self.head(self.act(self.conv(x)).flatten(1))


@pytest.fixture
def salience_plans(monkeypatch):
    """Names of the plans that permutation_salience builds, in call order.

    A compiled rank-1 plan is named by its kind (``"linear"``, ``"one_hidden"``,
    ``"head"``, ...); the torch path is ``"torch-hooks"`` when it captures a
    hidden layer with hooks and ``"torch-split"`` otherwise.
    """
    from crossmodal.focus import _salience
    from crossmodal.focus._rank_one_plan import RankOnePlan

    names = []
    build = _salience._build_plan

    def spy(*args, **kwargs):
        plan = build(*args, **kwargs)
        if isinstance(plan, RankOnePlan):
            names.append(plan.kind)
        else:
            names.append("torch-hooks" if plan.target is not None else "torch-split")
        return plan

    monkeypatch.setattr(_salience, "_build_plan", spy)
    return names
