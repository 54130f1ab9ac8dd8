"""The registry of distances: every path of each distance against its NumPy reference."""

import re

import numpy as np
import pytest
import torch

from crossmodal import ModalityGeneralRanker, permutation_salience
from crossmodal._kernels import _salience as K
from crossmodal.focus._distances import Distance, distance_names, get_distance, register, unregister
from crossmodal.focus._joint_net import JointPairNet


def logits_pair(n=7, n_classes=4, seed=0):
    rng = np.random.RandomState(seed)
    return 2 * rng.randn(n, n_classes), 2 * rng.randn(n, n_classes)


def test_the_builtin_distances_are_registered_in_order():
    assert distance_names()[:3] == ("mse", "mae", "kl")


@pytest.mark.parametrize("name", distance_names())
def test_every_path_equals_the_numpy_reference(name):
    dist = get_distance(name)
    a, b = logits_pair()
    want_rows = dist.numpy_rows(a, b)
    assert want_rows.shape == (len(a),)
    ref, aux = dist.reference_rows(torch.from_numpy(b))
    assert ref.dtype == aux.dtype == torch.float64 and aux.shape == (len(a),)
    # the generic torch plan's row sums, on every row and on a subset of rows
    np.testing.assert_allclose(dist.row_sums(torch.from_numpy(a), ref, aux).numpy(), want_rows, rtol=1e-12)
    rows = torch.tensor([5, 0, 2])
    np.testing.assert_allclose(dist.row_sums(torch.from_numpy(a[rows]), ref[rows], aux[rows]).numpy(), want_rows[rows])
    # step 1's training loss is the mean the salience reports
    want = want_rows.sum() / dist.terms(*a.shape)
    assert dist.training_loss(torch.from_numpy(a), torch.from_numpy(b)).item() == pytest.approx(want, rel=1e-12)
    # the compiled kernel, where there is one
    if dist.kernel_code is not None:
        ref_np, aux_np = ref.numpy(), aux.numpy()
        got = [K.row_distance(a[r], ref_np, r, aux_np[r], dist.kernel_code) for r in range(len(a))]
        np.testing.assert_allclose(got, want_rows, rtol=1e-7)


def test_unknown_names_are_refused_with_the_registered_ones():
    with pytest.raises(ValueError, match=re.escape(f"distance must be one of {distance_names()}; got 'nope'")):
        get_distance("nope")
    with pytest.raises(ValueError, match="got None"):
        get_distance(None)


def test_register_refuses_duplicates_and_other_objects():
    with pytest.raises(ValueError, match="a distance named 'mse' is already registered"):
        register(get_distance("mse"))
    with pytest.raises(TypeError, match="register expects a Distance; got str"):
        register("mse")
    assert distance_names()[:3] == ("mse", "mae", "kl")


@pytest.mark.parametrize("obj", [permutation_salience, ModalityGeneralRanker, JointPairNet])
def test_docstrings_list_the_registered_distances(obj):
    assert "{" + ", ".join(f'"{name}"' for name in distance_names()) + "}" in obj.__doc__
    assert "{distance_" not in obj.__doc__
    if obj is permutation_salience:
        for name in distance_names():
            assert f'- ``"{name}"``: ' + get_distance(name).summary in obj.__doc__


def test_a_distance_is_a_frozen_value():
    dist = get_distance("kl")
    assert isinstance(dist, Distance) and not dist.per_class and dist.terms(10, 3) == 10
    assert get_distance("mse").terms(10, 3) == 30
    with pytest.raises(AttributeError):
        dist.name = "other"
    register(Distance(**{**vars(dist), "name": "kl-copy"}))
    try:
        assert distance_names()[-1] == "kl-copy"
    finally:
        unregister("kl-copy")
    assert "kl-copy" not in distance_names()
