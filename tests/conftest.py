import os

import numpy as np
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _seed_everything():
    """Each test starts from the same global RNG state."""
    np.random.seed(0)
    torch.manual_seed(0)
    yield
