"""Property tests over shapes, dtypes and parameter combinations.

Each property draws a call with hypothesis and accepts exactly two outcomes:
the call succeeds and its outputs have the documented shapes, dtypes and
invariants, or it raises one of the documented exception types (ValueError,
TypeError) with a message that names the offending argument, and only when
that argument is really invalid. Any other exception (IndexError,
ZeroDivisionError, a numba error, torch's RuntimeError) fails the test.

``tests/test_bad_input.py`` holds the property test of CrossModalDistiller;
this file covers permutation_salience, ModalityGeneralRanker, the data
generator, the KD loss and the dataset loaders. Every property is
derandomized, so CI sees the same examples on every run.
"""

import math
from functools import cache

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_labels_follow_scores, quick_template
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from torch import nn

from crossmodal import ModalityGeneralRanker, MVDGenerator, make_modality_venn, permutation_salience
from crossmodal.datasets import load_av_digits, load_mfeat
from crossmodal.datasets._mfeat import N_FEATURES, VIEW_NAMES
from crossmodal.distill.objectives._kl import kd_kl_loss, tempered_log_proba
from crossmodal.nets import MLP


def _settings(max_examples):
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --------------------------------------------------------------------------- #
# permutation_salience
# --------------------------------------------------------------------------- #

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


@st.composite
def salience_problems(draw):
    hidden = draw(st.sampled_from([(), (3,), (4, 3), (3, 2, 2)]))
    n_children = 2 * len(hidden) + 1
    layer_kind = draw(st.sampled_from(["none", "none", "index", "name"]))
    if layer_kind == "none":
        layer = None
    elif layer_kind == "index":  # one value out of range on each side
        layer = draw(st.integers(-n_children - 1, n_children))
    else:
        layer = draw(st.sampled_from([str(i) for i in range(n_children)] + ["nope"]))
    return {
        "n_samples": draw(st.integers(1, 12)),
        "n_channels": draw(st.integers(1, 5)),
        "n_classes": draw(st.integers(1, 4)),
        "hidden": hidden,
        "activation": draw(st.sampled_from(sorted(_ACTIVATIONS))),
        "module_dtype": draw(st.sampled_from([torch.float32, torch.float64])),
        "x_dtype": draw(st.sampled_from([np.float32, np.float64, np.float16, np.int64])),
        "as_tensor": draw(st.booleans()),
        "layer": layer,
        "classes_b": draw(st.sampled_from(["same"] * 5 + ["other"])),
        "n_repeats": draw(st.integers(1, 3)),
        "batch_size": draw(st.one_of(st.none(), st.integers(1, 30))),
        "working_memory": draw(st.sampled_from([None, None, 1e-2, 1e-4])),
        "n_jobs": draw(st.sampled_from([None, 1, 2])),
        "seed": draw(st.integers(0, 2**16)),
    }


def _distance_torch(logits_a, logits_b, distance):
    """Algorithm 1's distance in float64, as documented by permutation_salience."""
    a, b = logits_a.double(), logits_b.double()
    if distance == "mse":
        return F.mse_loss(a, b).item()
    if distance == "mae":
        return F.l1_loss(a, b).item()
    return F.kl_div(F.log_softmax(a, 1), F.softmax(b, 1), reduction="batchmean").item()


@pytest.mark.parametrize("distance", ["mse", "mae", "kl"])
@_settings(20)
@given(problem=salience_problems())
def test_permutation_salience_property(distance, problem):
    p = dict(problem, distance=distance)
    rng = np.random.RandomState(p["seed"])
    torch.manual_seed(p["seed"])
    module_a = MLP(
        p["n_channels"], p["n_classes"], hidden_sizes=p["hidden"], activation=_ACTIVATIONS[p["activation"]]
    ).to(p["module_dtype"])
    n_classes_b = p["n_classes"] if p["classes_b"] == "same" else p["n_classes"] + 1
    module_b = MLP(2, n_classes_b, hidden_sizes=()).to(p["module_dtype"])
    X_a = (3 * rng.randn(p["n_samples"], p["n_channels"])).astype(p["x_dtype"])
    X_b = rng.randn(p["n_samples"], 2).astype(p["x_dtype"])
    if p["as_tensor"]:
        X_a, X_b = torch.from_numpy(X_a), torch.from_numpy(X_b)
    kwargs = {
        "n_repeats": p["n_repeats"],
        "distance": p["distance"],
        "layer": p["layer"],
        "random_state": p["seed"],
        "batch_size": p["batch_size"],
        "working_memory": p["working_memory"],
        "n_jobs": p["n_jobs"],
    }
    n_children = len(module_a)
    layer = p["layer"]
    if layer == "nope":
        event("error: unknown layer name")
        with pytest.raises(ValueError, match=r"layer='nope' is not a submodule name of module_a; valid names"):
            permutation_salience(module_a, module_b, X_a, X_b, **kwargs)
        return
    layer = int(layer) if isinstance(layer, str) else layer
    if layer is not None and not -n_children <= layer < n_children:
        event("error: layer out of range")
        with pytest.raises(ValueError, match=rf"layer={layer} is out of range: module_a \(MLP\) has {n_children}"):
            permutation_salience(module_a, module_b, X_a, X_b, **kwargs)
        return
    if n_classes_b != p["n_classes"]:
        event("error: logits of different shapes")
        with pytest.raises(ValueError, match=r"module_a and module_b must return logits of the same shape"):
            permutation_salience(module_a, module_b, X_a, X_b, **kwargs)
        return
    event(f"ok: layer {'None' if layer is None else 'set'}")
    result = permutation_salience(module_a, module_b, X_a, X_b, **kwargs)

    X_a64 = torch.as_tensor(np.asarray(X_a, dtype=np.float64)).to(p["module_dtype"])
    X_b64 = torch.as_tensor(np.asarray(X_b, dtype=np.float64)).to(p["module_dtype"])
    with torch.no_grad():
        head = nn.Sequential(*list(module_a)[: layer % n_children + 1]) if layer is not None else None
        n_permuted = p["n_channels"] if layer is None else head(X_a64).shape[1]
        baseline = _distance_torch(module_a(X_a64), module_b(X_b64), p["distance"])
    imp = result.importances
    assert imp.shape == (n_permuted, p["n_repeats"])
    assert imp.dtype == np.float64 and np.isfinite(imp).all()
    assert (imp >= 0).all(), imp.min()
    np.testing.assert_allclose(result.importances_mean, imp.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(result.importances_std, imp.std(axis=1), rtol=1e-9, atol=1e-15)
    rtol = 1e-4 if p["module_dtype"] == torch.float32 else 1e-9
    if p["n_samples"] == 1:  # the only permutation of one row is the identity
        np.testing.assert_allclose(imp, baseline, rtol=rtol, atol=1e-6)
    if p["distance"] == "kl" and p["n_classes"] == 1:  # one class: both distributions are [1]
        np.testing.assert_allclose(imp, 0.0, atol=1e-12)
    # Row packing (batch_size), memory bound and chunking (n_jobs) change only the rounding.
    again = permutation_salience(
        module_a, module_b, X_a, X_b, **{**kwargs, "batch_size": None, "working_memory": None, "n_jobs": 1}
    )
    np.testing.assert_allclose(imp, again.importances, rtol=rtol, atol=1e-6)


# --------------------------------------------------------------------------- #
# ModalityGeneralRanker
# --------------------------------------------------------------------------- #


def _tiny_net():
    return quick_template((3,), max_epochs=2, batch_size=-1)


@st.composite
def ranker_problems(draw):
    return {
        "n_samples": draw(st.integers(1, 16)),
        "n_features": draw(st.integers(1, 5)),
        "n_features_b": draw(st.integers(1, 3)),
        "n_classes": draw(st.sampled_from([1, 2, 2, 3, 3])),
        "x_kind": draw(st.sampled_from(["int64", "float32", "float64", "dataframe"])),
        "nullify": draw(st.sampled_from(["mean", "zero", "drop"])),
        "mode": draw(st.sampled_from(["general", "specific", "random"])),
        "ratio": draw(st.sampled_from([0.0, 0.2, 0.5, 0.75, 0.99])),
        "distance": draw(st.sampled_from(["mse", "mae", "kl"])),
        "normalize": draw(st.sampled_from(["max", "minmax"])),
        "layer": draw(st.sampled_from([None, None, None, 1])),
        "n_repeats": draw(st.integers(1, 2)),
        "seed": draw(st.integers(0, 2**16)),
    }


@_settings(30)
@given(ranker_problems())
def test_ranker_fit_transform_property(problem):
    p = problem
    rng = np.random.RandomState(p["seed"])
    values = 4 * rng.randn(p["n_samples"], p["n_features"])
    columns = [f"ch{i}" for i in range(p["n_features"])]
    if p["x_kind"] == "dataframe":
        X = pd.DataFrame(values, columns=columns)
        X_np = values
    else:
        X = X_np = values.astype(p["x_kind"])
    X_b = rng.randn(p["n_samples"], p["n_features_b"]).astype(np.float32)
    y = rng.permutation(np.arange(p["n_samples"]) % p["n_classes"]) * 7 - 3  # labels -3, 4, 11
    ranker = ModalityGeneralRanker(
        estimator_a=_tiny_net(),
        estimator_b=_tiny_net(),
        distance=p["distance"],
        n_repeats=p["n_repeats"],
        normalize=p["normalize"],
        layer=p["layer"],
        mode=p["mode"],
        ratio=p["ratio"],
        nullify=p["nullify"],
        random_state=p["seed"],
    )
    if len(np.unique(y)) < 2:
        event("error: one class")
        with pytest.raises(ValueError, match=r"y has 1 class"):
            ranker.fit(X, y, X_b=X_b)
        return
    event(f"ok: layer {p['layer']}, nullify {p['nullify']}")
    ranker.fit(X, y, X_b=X_b)

    n = p["n_features"] if p["layer"] is None else 3  # the hidden layer of _tiny_net is 3 wide
    assert ranker.importances_.shape == (n, p["n_repeats"])
    assert np.isfinite(ranker.distances_).all() and (ranker.distances_ >= 0).all()
    assert ranker.baseline_distance_ >= 0
    np.testing.assert_array_equal(ranker.importances_, ranker.distances_ - ranker.baseline_distance_)
    sal = ranker.salience_
    assert sal.shape == (n,) and np.isfinite(sal).all()
    assert (sal <= 1).all()  # "max" may dip below 0: a permutation that happened to bring f_a closer to f_b
    # "max" divides by the top increase, or by the largest |increase| where none is positive
    assert sal.max() == 1.0 or (sal == 0).all() or (p["normalize"] == "max" and sal.max() <= 0 and sal.min() == -1.0)
    if p["normalize"] == "minmax":
        assert sal.min() == 0.0 or (sal == 0).all()
    assert sorted(ranker.ranking_) == list(range(1, n + 1))
    order = np.argsort(ranker.ranking_)
    assert (np.diff(sal[order]) <= 0).all()  # rank 1 = most salient
    support = ranker.support_
    n_kept = max(1, n - round(p["ratio"] * n))  # at least one channel is kept
    assert support.dtype == bool and support.sum() == n_kept
    if 0 < n_kept < n and p["mode"] != "random":
        kept, removed = sal[support], sal[~support]
        if p["mode"] == "general":
            assert kept.min() >= removed.max()
        else:
            assert kept.max() <= removed.min()

    if p["layer"] is not None:
        with pytest.raises(
            ValueError,
            match=r"transform applies to input columns, but this ranker ranks the "
            r"channels of layer=1",
        ):
            ranker.transform(X)
        return
    out = ranker.transform(X)
    assert isinstance(out, np.ndarray)
    if p["nullify"] == "drop":
        assert out.shape == (p["n_samples"], n_kept)
        np.testing.assert_array_equal(out, np.asarray(X_np)[:, support])
    else:
        assert out.shape == (p["n_samples"], p["n_features"])
        np.testing.assert_array_equal(out[:, support], np.asarray(X_np, dtype=out.dtype)[:, support])
        fill = X_np.astype(np.float32).mean(axis=0) if p["nullify"] == "mean" else np.zeros(n)
        np.testing.assert_allclose(
            out[:, ~support], np.broadcast_to(fill[~support], out[:, ~support].shape), rtol=1e-6, atol=1e-6
        )
    if p["x_kind"] in ("float32", "float64"):
        assert out.dtype == np.dtype(p["x_kind"])
    elif p["x_kind"] == "dataframe":
        assert out.dtype == np.float64
    else:  # integer columns stay integer when dropped; nullified ones become floating point
        assert out.dtype == (np.int64 if p["nullify"] == "drop" else np.float32)
    if p["x_kind"] == "dataframe":
        names = ranker.get_feature_names_out()
        expected = np.asarray(columns)[support] if p["nullify"] == "drop" else np.asarray(columns)
        np.testing.assert_array_equal(names, expected)


# --------------------------------------------------------------------------- #
# MVDGenerator and make_modality_venn
# --------------------------------------------------------------------------- #


@st.composite
def venn_parameters(draw):
    counts = {
        name: draw(st.one_of(st.just(0), st.integers(1, 4)))
        for name in ("n_general", "n_specific_a", "n_specific_b", "n_hidden", "n_noise_a", "n_noise_b")
    }
    return dict(
        **counts,
        n_classes=draw(st.sampled_from([2, 2, 3, 4])),
        hyperplane=draw(st.sampled_from(["normal", "normal", "ones"])),
        mixing=draw(st.sampled_from(["identity", "linear", "mlp"])),
        random_state=draw(st.integers(0, 2**16)),
    )


def _expected_generator_error(params):
    """The documented ValueError for these parameters, as a regex, or None."""
    g, sa, sb = params["n_general"], params["n_specific_a"], params["n_specific_b"]
    if g + sa + sb == 0:
        return r"gamma is undefined: n_general \+ n_specific_a \+ n_specific_b must be >= 1"
    if g + sa + params["n_noise_a"] == 0:
        return r"Modality a has no column: n_general \+ n_specific_a \+ n_noise_a must be >= 1"
    if g + sb + params["n_noise_b"] == 0:
        return r"Modality b has no column: n_general \+ n_specific_b \+ n_noise_b must be >= 1"
    if params["hyperplane"] == "ones" and params["n_classes"] > 2:
        return rf"hyperplane='ones' defines a binary rule and needs n_classes=2; got n_classes={params['n_classes']}"
    return None


@_settings(80)
@given(venn_parameters(), st.integers(1, 15), st.booleans())
def test_generator_property(params, n_samples, through_function):
    error = _expected_generator_error(params)
    event(f"error: {error.split(':')[0].split(' defines')[0]}" if error else f"ok: {params['mixing']}")
    if error is not None:
        with pytest.raises(ValueError, match=error):
            if through_function:
                make_modality_venn(n_samples, **params)
            else:
                MVDGenerator(**params).fit()
        return
    if through_function:
        X_a, X_b, y, info = make_modality_venn(n_samples, return_info=True, **params)
        gen = info.generator
        assert (info.gamma, info.alpha, info.beta) == (gen.gamma_, gen.alpha_, gen.beta_)
        for role in ("general", "specific", "noise"):
            for m in ("a", "b"):
                np.testing.assert_array_equal(info[f"{role}_mask_{m}"], getattr(gen, f"{role}_mask_{m}_"))
    else:
        gen = MVDGenerator(**params).fit()
        X_a, X_b, y = gen.sample(n_samples)

    g, sa, sb = params["n_general"], params["n_specific_a"], params["n_specific_b"]
    assert X_a.shape == (n_samples, g + sa + params["n_noise_a"]) == (n_samples, gen.n_features_a_)
    assert X_b.shape == (n_samples, g + sb + params["n_noise_b"]) == (n_samples, gen.n_features_b_)
    assert X_a.dtype == X_b.dtype == np.float64 and y.dtype == np.int64 and y.shape == (n_samples,)
    assert np.isfinite(X_a).all() and np.isfinite(X_b).all()
    assert ((y >= 0) & (y < params["n_classes"])).all()
    assert math.isclose(gen.gamma_ + gen.alpha_ + gen.beta_, 1.0)
    assert gen.gamma_ == g / (g + sa + sb) and gen.alpha_ == sa / (g + sa + sb) and gen.beta_ == sb / (g + sa + sb)
    for m, n_specific, n_noise in (("a", sa, params["n_noise_a"]), ("b", sb, params["n_noise_b"])):
        masks = [getattr(gen, f"{role}_mask_{m}_") for role in ("general", "specific", "noise")]
        assert all(mask.dtype == bool for mask in masks)
        assert [int(mask.sum()) for mask in masks] == [g, n_specific, n_noise]
        np.testing.assert_array_equal(masks[0] | masks[1] | masks[2], True)  # a partition, in this order
        np.testing.assert_array_equal(
            np.argmax(np.stack(masks), axis=0), np.repeat([0, 1, 2], [g, n_specific, n_noise])
        )
    assert list(gen.latent_roles_) == (
        ["general"] * g + ["specific_a"] * sa + ["specific_b"] * sb + ["hidden"] * params["n_hidden"]
    )
    assert gen.coef_.shape == (1 if params["n_classes"] == 2 else params["n_classes"], g + sa + sb + params["n_hidden"])
    if params["mixing"] == "identity":
        np.testing.assert_array_equal(X_a[:, gen.general_mask_a_], X_b[:, gen.general_mask_b_])
        if params["n_hidden"] == 0:  # every decisive latent is a column: the rule can be checked
            latents = np.hstack(
                [X_a[:, gen.general_mask_a_], X_a[:, gen.specific_mask_a_], X_b[:, gen.specific_mask_b_]]
            )
            scores = latents @ gen.coef_.T
            assert_labels_follow_scores(y, scores[:, 0] if params["n_classes"] == 2 else scores)


# --------------------------------------------------------------------------- #
# kd_kl_loss
# --------------------------------------------------------------------------- #

_TORCH_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


def _kd_reference(s, lt, temperature, reduction, w):
    """The documented loss in float64 from the rounded inputs."""
    s = s.detach().double() / temperature
    lt = lt.double()
    log_q = s - torch.logsumexp(s, dim=1, keepdim=True)
    p = lt.exp()
    per_row = torch.where(p > 0, p * (lt - log_q), torch.zeros_like(p)).sum(dim=1)
    if w is not None:
        per_row = per_row * torch.as_tensor(w, dtype=torch.float64)
    divisor = {"batchmean": s.shape[0], "mean": s.numel(), "sum": 1}[reduction]
    return (per_row.sum() / divisor * temperature**2).item()


_VALID_REDUCTIONS = ("batchmean", "mean", "sum")


@st.composite
def kd_problems(draw):
    return {
        "n_samples": draw(st.integers(1, 6)),
        "n_classes": draw(st.integers(1, 5)),
        "teacher_dtype": draw(st.sampled_from(["float32", "float64", "numpy"])),
        "reduction": draw(st.sampled_from(_VALID_REDUCTIONS)),
        "temperature": draw(st.floats(0.05, 20.0)),
        "scale": draw(st.sampled_from([0.1, 1.0, 10.0, 100.0])),
        "weighted": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
    }


@pytest.mark.parametrize("dtype_name", sorted(_TORCH_DTYPES))
@_settings(25)
@given(problem=kd_problems())
def test_kd_kl_loss_property(dtype_name, problem):
    p = problem
    gen = torch.Generator().manual_seed(p["seed"])
    dtype = _TORCH_DTYPES[dtype_name]
    shape = (p["n_samples"], p["n_classes"])
    T = p["temperature"]
    s = (p["scale"] * torch.randn(shape, generator=gen, dtype=torch.float64)).to(dtype).requires_grad_()
    teacher_logits = p["scale"] * torch.randn(shape, generator=gen, dtype=torch.float64)
    w = torch.rand(p["n_samples"], generator=gen, dtype=torch.float64).numpy() if p["weighted"] else None
    lt = tempered_log_proba(teacher_logits, T)
    if p["teacher_dtype"] == "float32":
        lt = lt.float()
    elif p["teacher_dtype"] == "numpy":
        lt = lt.numpy()

    loss = kd_kl_loss(s, lt, temperature=T, reduction=p["reduction"], sample_weight=w)
    assert loss.shape == () and loss.dtype == dtype
    value = loss.item()
    assert math.isfinite(value)
    # Tolerance: the logits' precision, amplified by 1/T inside and T**2 outside.
    eps = torch.finfo(dtype).eps
    divisor = {"batchmean": shape[0], "mean": shape[0] * shape[1], "sum": 1}[p["reduction"]]
    weight_sum = float(np.sum(w)) if w is not None else shape[0]
    span = float(s.detach().double().abs().max()) / T + 1.0
    tol = 16 * eps * span * weight_sum * T * T / divisor * (1 if eps < 1e-6 else 8)
    assert value >= -tol - 1e-6
    lt_rounded = torch.as_tensor(lt).to(dtype).clamp_min(torch.finfo(dtype).min)
    reference = _kd_reference(s, lt_rounded, T, p["reduction"], w)
    assert abs(value - reference) <= tol + 1e-5 * abs(reference), (value, reference, tol)
    if p["n_classes"] == 1:  # a one-class distribution is [1] for both
        assert abs(value) <= tol
    loss.backward()
    assert s.grad.shape == shape and s.grad.dtype == dtype
    assert torch.isfinite(s.grad).all()


@_settings(40)
@given(
    temperature=st.one_of(
        st.floats(0.05, 20.0),
        st.sampled_from([0.0, -1.0, float("inf"), float("nan"), True, 1, 3]),
        st.sampled_from(["1", None, np.float32(2.0)]),
    ),
    reduction=st.sampled_from(list(_VALID_REDUCTIONS) + ["none", "BatchMean", None, 1]),
    dtype_name=st.sampled_from(sorted(_TORCH_DTYPES)),
)
def test_kd_kl_loss_arguments_property(temperature, reduction, dtype_name):
    s = torch.linspace(-1, 1, 6, dtype=_TORCH_DTYPES[dtype_name]).reshape(2, 3)
    lt = torch.log_softmax(torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]]), dim=1)
    valid_t = (
        isinstance(temperature, (int, float, np.floating))
        and not isinstance(temperature, bool)
        and math.isfinite(temperature)
        and temperature > 0
    )
    if not valid_t:
        event("error: temperature")
        with pytest.raises(ValueError, match=r"temperature must be a finite real number > 0; got "):
            kd_kl_loss(s, lt, temperature=temperature, reduction=reduction)
    elif reduction not in _VALID_REDUCTIONS:
        event("error: reduction")
        with pytest.raises(ValueError, match=r"reduction must be one of 'batchmean', 'mean', 'sum'; got "):
            kd_kl_loss(s, lt, temperature=temperature, reduction=reduction)
    else:
        event("ok")
        loss = kd_kl_loss(s, lt, temperature=temperature, reduction=reduction)
        assert loss.dtype == s.dtype and math.isfinite(loss.item())


# --------------------------------------------------------------------------- #
# Dataset loaders
# --------------------------------------------------------------------------- #


@cache
def _mfeat_all():
    return load_mfeat()


@st.composite
def view_selections(draw):
    kind = draw(st.sampled_from(["none", "one", "subset", "empty", "repeat", "unknown"]))
    if kind == "none":
        return None
    if kind == "one":
        return draw(st.sampled_from(VIEW_NAMES))
    if kind == "empty":
        return []
    names = draw(st.permutations(VIEW_NAMES))[: draw(st.integers(1, 6))]
    if kind == "repeat":
        return names + [names[0]]
    if kind == "unknown":
        return names + ["pixels"]
    return names


@_settings(25)
@given(view_selections(), st.booleans(), st.booleans())
def test_load_mfeat_property(views, return_X_y, as_frame):
    kwargs = {"views": views, "return_X_y": return_X_y, "as_frame": as_frame}
    names = list(VIEW_NAMES) if views is None else [views] if isinstance(views, str) else list(views)
    if not names:
        with pytest.raises(ValueError, match=r"views must name at least one view"):
            load_mfeat(**kwargs)
        return
    if any(name not in VIEW_NAMES for name in names):
        with pytest.raises(ValueError, match=r"Unknown view name\(s\) \['pixels'\] in views="):
            load_mfeat(**kwargs)
        return
    if len(set(names)) < len(names):
        with pytest.raises(ValueError, match=r"views must not repeat a view"):
            load_mfeat(**kwargs)
        return
    result = load_mfeat(**kwargs)
    arrays, target = result if return_X_y else (result.views, result.target)
    assert list(arrays) == names
    full = _mfeat_all()
    for name in names:
        view = arrays[name]
        assert view.shape == (2000, N_FEATURES[name])
        if as_frame:
            assert isinstance(view, pd.DataFrame)
            assert list(view.columns) == full.feature_names[name]
            view = view.to_numpy()
        assert view.dtype == np.float64
        np.testing.assert_array_equal(view, full.views[name])
    target = np.asarray(target)
    assert target.dtype == np.int64 and target.shape == (2000,)
    np.testing.assert_array_equal(np.bincount(target), np.full(10, 200))


@cache
def _av_default():
    return load_av_digits()


@_settings(5)
@given(st.one_of(st.none(), st.integers(0, 2**31 - 2)))
def test_load_av_digits_property(random_state):
    views, target = load_av_digits(random_state=random_state, return_X_y=True)
    default = _av_default()
    assert views["image"].shape == (3000, 784) and views["audio"].shape == (3000, 286)
    assert views["image"].dtype == views["audio"].dtype == np.float64
    assert views["image"].min() >= 0 and views["image"].max() <= 1
    np.testing.assert_array_equal(target, default.target)  # the recordings keep their order
    np.testing.assert_array_equal(views["audio"], default.audio)
    if random_state is None:
        np.testing.assert_array_equal(views["image"], default.image)
    else:
        again = load_av_digits(random_state=random_state)
        np.testing.assert_array_equal(again.image, views["image"])
        assert len(np.unique(again.image_index)) == 3000
