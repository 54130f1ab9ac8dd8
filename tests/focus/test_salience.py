"""permutation_salience against a plain reference loop fed the same permutations."""

import joblib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import ConvNet, quick_template
from joblib import parallel_config, register_parallel_backend
from joblib._parallel_backends import ThreadingBackend
from sklearn.utils import check_random_state
from torch import nn

from crossmodal import ModalityGeneralRanker, permutation_salience
from crossmodal._utils.torch_helpers import torch_threads
from crossmodal.focus._distances import Distance, distance_names, get_distance, register, unregister
from crossmodal.focus._permutations import draw_permutations
from crossmodal.nets import MLP

N, D_A, D_B, N_CLASSES = 60, 5, 4, 3


# --------------------------------------------------------------------------- #
# The reference: Algorithm 1, step 2, as a plain loop
# --------------------------------------------------------------------------- #


def reference_salience(module_a, module_b, X_a, X_b, n_repeats, distance, random_state, layer=None):
    """One full forward of module_a per (channel, repeat), the distance by its NumPy reference.

    A hidden layer is permuted by a forward hook that swaps its output.
    """
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    X_a = torch.as_tensor(X_a)
    module_a.eval()
    module_b.eval()
    with torch.no_grad():
        logits_b = module_b(torch.as_tensor(X_b)).double()
        if layer is None:
            Z, target = X_a, None
        else:
            target = (
                dict(module_a.named_modules())[layer] if isinstance(layer, str) else list(module_a.children())[layer]
            )
            captured = []
            handle = target.register_forward_hook(lambda mod, inp, out: captured.append(out))
            module_a(X_a)
            handle.remove()
            Z = captured[0]
        perms = draw_permutations(seed, len(X_a), n_repeats, 0, Z.shape[1])
        out = np.empty((Z.shape[1], n_repeats))
        for i in range(Z.shape[1]):
            for m in range(n_repeats):
                Z_perm = Z.clone()
                Z_perm[:, i] = Z[torch.as_tensor(perms[i, m]), i]
                if target is None:
                    logits_a = module_a(Z_perm)
                else:
                    handle = target.register_forward_hook(lambda mod, inp, out, Z_perm=Z_perm: Z_perm)
                    logits_a = module_a(X_a)
                    handle.remove()
                out[i, m] = reference_distance(logits_a, logits_b, distance)
    return out


def reference_distance(logits_a, logits_b, distance):
    """``Dist`` by the registry's slow NumPy reference, in float64."""
    dist = get_distance(distance)
    logits_a, logits_b = logits_a.double().numpy(), logits_b.double().numpy()
    return dist.numpy_rows(logits_a, logits_b).sum() / dist.terms(*logits_a.shape)


def assert_matches_reference(result, expected):
    np.testing.assert_allclose(result.importances, expected, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(result.importances_mean, expected.mean(axis=1), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(result.importances_std, expected.std(axis=1), rtol=1e-3, atol=1e-6)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X_a = rng.randn(N, D_A).astype(np.float32)
    X_b = (X_a[:, :D_B] + 0.3 * rng.randn(N, D_B)).astype(np.float32)
    return X_a, X_b


def make_mlp(in_features, hidden_sizes, seed, **kwargs):
    torch.manual_seed(seed)
    return MLP(in_features, N_CLASSES, hidden_sizes=hidden_sizes, **kwargs)


# --------------------------------------------------------------------------- #
# Both paths equal the reference
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("hidden_sizes", [(), (8,), (8, 6), (8, 6, 5)], ids=["linear", "1hidden", "2hidden", "3hidden"])
@pytest.mark.parametrize("distance", ["mse", "mae", "kl"])
def test_mlp_matches_reference(data, hidden_sizes, distance, salience_plans):
    X_a, X_b = data
    module_a, module_b = make_mlp(D_A, hidden_sizes, 1), make_mlp(D_B, (7,), 2)
    result = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=3, distance=distance, random_state=0)
    expected = reference_salience(module_a, module_b, X_a, X_b, 3, distance, 0)
    assert result.importances.shape == (D_A, 3)
    assert_matches_reference(result, expected)
    # The compiled plan ran, not the torch fallback.
    assert salience_plans == [{0: "linear", 1: "one_hidden"}.get(len(hidden_sizes), "mlp")]


def reference_baseline(module_a, module_b, X_a, X_b, distance):
    """The unpermuted distance, one plain forward of each module, by the distance's NumPy reference."""
    with torch.no_grad():
        logits_a = module_a.eval()(torch.as_tensor(X_a))
        logits_b = module_b.eval()(torch.as_tensor(X_b))
    return reference_distance(logits_a, logits_b, distance)


@pytest.mark.parametrize(
    "hidden_sizes, layer, distance",
    [((), None, "mse"), ((8,), None, "kl"), ((8, 6), None, "mae"), ((8,), 1, "mse"), ((8, 6), 2, "kl")],
    ids=["linear-mse", "1hidden-kl", "2hidden-mae", "layer-mse", "layer2-kl"],
)
def test_baseline_distance_is_the_unpermuted_distance(data, hidden_sizes, layer, distance):
    X_a, X_b = data
    module_a, module_b = make_mlp(D_A, hidden_sizes, 1), make_mlp(D_B, (7,), 2)
    result = permutation_salience(
        module_a, module_b, X_a, X_b, n_repeats=2, distance=distance, layer=layer, random_state=0
    )
    want = reference_baseline(module_a, module_b, X_a, X_b, distance)
    np.testing.assert_allclose(result.baseline_distance, want, rtol=1e-4, atol=1e-7)  # as assert_matches_reference
    # an unused channel: permuting it leaves the distance at the baseline
    with torch.no_grad():
        first = module_a[0]
        first.weight[:, 0] = 0.0
    again = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, distance=distance, random_state=0)
    np.testing.assert_allclose(again.importances[0], again.baseline_distance, rtol=1e-4, atol=1e-7)


def test_baseline_distance_of_a_conv_module():
    rng = np.random.RandomState(1)
    X_a = rng.randn(40, 3, 8).astype(np.float32)
    X_b = rng.randn(40, 5).astype(np.float32)
    torch.manual_seed(0)
    module_a, module_b = ConvNet(3, 8, n_classes=N_CLASSES), MLP(5, N_CLASSES, hidden_sizes=())
    result = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, distance="mse", random_state=0)
    np.testing.assert_allclose(
        result.baseline_distance, reference_baseline(module_a, module_b, X_a, X_b, "mse"), rtol=1e-4, atol=1e-7
    )


@pytest.mark.parametrize("batch_size", [1, 7, 25, 1000])
def test_block_pipeline_matches_reference_for_any_batch_size(data, batch_size, salience_plans):
    # Blocks smaller than, equal to and larger than n_samples, packed pairs, Tanh ("head" kind).
    X_a, X_b = data
    module_a = make_mlp(D_A, (8, 6), 1, activation=nn.Tanh)
    module_b = make_mlp(D_B, (), 2)
    result = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, random_state=3, batch_size=batch_size)
    assert_matches_reference(result, reference_salience(module_a, module_b, X_a, X_b, 2, "mse", 3))
    assert salience_plans == ["head"]


def test_mixed_activations_run_the_rest_in_torch(data, salience_plans):
    # Linear, ReLU, then a tail the kernels do not know: the "head" pipeline.
    X_a, X_b = data
    torch.manual_seed(0)
    module_a = nn.Sequential(nn.Linear(D_A, 8), nn.ReLU(), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, N_CLASSES))
    module_b = make_mlp(D_B, (), 2)
    result = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, random_state=0, distance="kl")
    assert_matches_reference(result, reference_salience(module_a, module_b, X_a, X_b, 2, "kl", 0))
    assert salience_plans == ["head"]


def test_bare_linear_module_and_dropout_use_compiled_path(data, salience_plans):
    X_a, X_b = data
    torch.manual_seed(0)
    module_a = nn.Sequential(nn.Linear(D_A, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, N_CLASSES))
    module_b = nn.Linear(D_B, N_CLASSES)
    for a, b in [(module_a, module_b), (module_b, module_b)]:
        X = X_a if a is module_a else X_b
        result = permutation_salience(a, b, X, X_b, n_repeats=2, random_state=0)
        assert_matches_reference(result, reference_salience(a, b, X, X_b, 2, "mse", 0))
    assert salience_plans == ["one_hidden", "linear"]


class TripledLinear(nn.Linear):
    """A Linear subclass with its own forward: the compiled path may not read its weights as a plain Linear."""

    def forward(self, x):
        return 3.0 * super().forward(x)


def _halve(_module, _inputs, output):
    return 0.5 * output


@pytest.mark.parametrize(
    "where, plans",
    [
        ("hidden hook", ["head"]),  # first Linear compiled, the hooked ReLU and the rest run in torch
        ("first layer hook", ["torch-split"]),
        ("container hook", ["torch-split"]),
        ("pre-hook", ["torch-split"]),
        ("subclass", ["torch-split"]),
    ],
)
def test_hooks_and_own_forwards_are_honoured(data, where, plans, salience_plans):
    X_a, X_b = data
    torch.manual_seed(0)
    first = TripledLinear(D_A, 8) if where == "subclass" else nn.Linear(D_A, 8)
    module_a = nn.Sequential(first, nn.ReLU(), nn.Linear(8, N_CLASSES))
    if where == "hidden hook":
        module_a[1].register_forward_hook(_halve)
    elif where == "first layer hook":
        module_a[0].register_forward_hook(_halve)
    elif where == "container hook":
        module_a.register_forward_hook(_halve)
    elif where == "pre-hook":
        module_a[0].register_forward_pre_hook(lambda _module, inputs: (inputs[0] * 2.0,))
    module_b = make_mlp(D_B, (), 2)
    result = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, random_state=0)
    assert_matches_reference(result, reference_salience(module_a, module_b, X_a, X_b, 2, "mse", 0))
    assert result.baseline_distance == pytest.approx(reference_baseline(module_a, module_b, X_a, X_b, "mse"), rel=1e-5)
    assert salience_plans == plans


@pytest.mark.parametrize("distance", ["mse", "kl"])
def test_conv_module_matches_reference(distance):
    rng = np.random.RandomState(1)
    X_a = rng.randn(30, 3, 8).astype(np.float32)
    X_b = rng.randn(30, 4).astype(np.float32)
    torch.manual_seed(0)
    module_a, module_b = ConvNet(3, 8, n_classes=N_CLASSES), make_mlp(4, (5,), 3)
    for batch_size in (None, 20, 45):
        result = permutation_salience(
            module_a, module_b, X_a, X_b, n_repeats=2, distance=distance, random_state=2, batch_size=batch_size
        )
        assert result.importances.shape == (3, 2)
        assert_matches_reference(result, reference_salience(module_a, module_b, X_a, X_b, 2, distance, 2))


@pytest.mark.parametrize("layer", [1, "1", 3, -2, "2"], ids=["int-1hidden", "name", "int-logits", "negative", "preact"])
def test_hidden_layer_of_mlp_matches_reference(data, layer, salience_plans):
    # 1 / "1": ReLU after the first Linear (one hidden layer follows); 3 / -2: the
    # last ReLU, feeding the logits; "2": a pre-activation (generic torch path).
    X_a, X_b = data
    module_a, module_b = make_mlp(D_A, (8, 6), 1), make_mlp(D_B, (7,), 2)
    result = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, layer=layer, random_state=4)
    width = 8 if layer in (1, "1") else 6
    assert result.importances.shape == (width, 2)
    assert_matches_reference(result, reference_salience(module_a, module_b, X_a, X_b, 2, "mse", 4, layer=layer))
    assert salience_plans == [{1: "one_hidden", "1": "one_hidden", 3: "linear", -2: "linear"}.get(layer, "torch-split")]


def test_nested_sequential_layer_name_is_a_split_point(data):
    X_a, X_b = data
    torch.manual_seed(0)
    module_a = nn.Sequential(nn.Sequential(nn.Linear(D_A, 8), nn.ReLU()), nn.Linear(8, N_CLASSES))
    module_b = make_mlp(D_B, (), 2)
    for layer in ("0", "0.1", 0):
        result = permutation_salience(
            module_a, module_b, X_a, X_b, n_repeats=2, layer=layer, random_state=5, distance="mae"
        )
        assert_matches_reference(result, reference_salience(module_a, module_b, X_a, X_b, 2, "mae", 5, layer=layer))


@pytest.mark.parametrize("layer", ["conv", "act", 0])
def test_hidden_layer_of_custom_module_uses_hooks(layer):
    rng = np.random.RandomState(1)
    X_a = rng.randn(25, 3, 8).astype(np.float32)
    X_b = rng.randn(25, 4).astype(np.float32)
    torch.manual_seed(0)
    module_a, module_b = ConvNet(3, 8, n_classes=N_CLASSES), make_mlp(4, (), 3)
    for batch_size in (None, 30):
        result = permutation_salience(
            module_a, module_b, X_a, X_b, n_repeats=2, layer=layer, random_state=6, batch_size=batch_size
        )
        assert result.importances.shape == (4, 2)
        assert_matches_reference(result, reference_salience(module_a, module_b, X_a, X_b, 2, "mse", 6, layer=layer))


def test_float64_modules_and_torch_inputs(data):
    X_a, X_b = data
    module_a = make_mlp(D_A, (8, 6), 1).double()
    module_b = make_mlp(D_B, (7,), 2).double()
    result = permutation_salience(
        module_a, module_b, torch.from_numpy(X_a), torch.from_numpy(X_b), n_repeats=2, random_state=0
    )
    expected = reference_salience(module_a, module_b, X_a.astype(np.float64), X_b.astype(np.float64), 2, "mse", 0)
    np.testing.assert_allclose(result.importances, expected, rtol=1e-10)


def test_skorch_nets_are_unwrapped(data):
    from skorch import NeuralNetClassifier

    X_a, X_b = data
    module_a, module_b = make_mlp(D_A, (8,), 1), make_mlp(D_B, (), 2)
    net_a = NeuralNetClassifier(module_a, max_epochs=0, train_split=None).initialize()
    net_b = NeuralNetClassifier(module_b, max_epochs=0, train_split=None).initialize()
    result = permutation_salience(net_a, net_b, X_a, X_b, n_repeats=2, random_state=0)
    direct = permutation_salience(net_a.module_, net_b.module_, X_a, X_b, n_repeats=2, random_state=0)
    np.testing.assert_array_equal(result.importances, direct.importances)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("hidden_sizes", [(), (8, 6)])
def test_cuda_module_matches_reference(data, hidden_sizes):
    X_a, X_b = data
    module_a, module_b = make_mlp(D_A, hidden_sizes, 1), make_mlp(D_B, (7,), 2)
    expected = reference_salience(module_a, module_b, X_a, X_b, 2, "kl", 0)
    result = permutation_salience(
        module_a.cuda(), module_b.cuda(), X_a, X_b, n_repeats=2, distance="kl", random_state=0
    )
    assert_matches_reference(result, expected)


# --------------------------------------------------------------------------- #
# A distance added to the registry
# --------------------------------------------------------------------------- #


def _cosine_training_loss(logits_a, logits_b):
    return (1 - F.cosine_similarity(logits_a, logits_b, dim=1)).mean()


def _cosine_reference_rows(logits_b):
    return logits_b / logits_b.norm(dim=1, keepdim=True), torch.zeros_like(logits_b[:, 0])


def _cosine_row_sums(L, ref, aux):
    return 1 - (L * ref).sum(dim=1) / L.norm(dim=1)


def _cosine_numpy_rows(logits_a, logits_b):
    norms = np.linalg.norm(logits_a, axis=1) * np.linalg.norm(logits_b, axis=1)
    return 1 - (logits_a * logits_b).sum(axis=1) / norms


@pytest.fixture
def cosine_distance():
    """A throw-away cosine distance (one minus the cosine similarity of the rows), without a compiled kernel."""
    register(
        Distance(
            name="test-cosine",
            summary="one minus the cosine similarity of the logits, averaged over rows.",
            training_loss=_cosine_training_loss,
            reference_rows=_cosine_reference_rows,
            row_sums=_cosine_row_sums,
            per_class=False,
            kernel_code=None,
            numpy_rows=_cosine_numpy_rows,
        )
    )
    try:
        yield "test-cosine"
    finally:
        unregister("test-cosine")
    assert "test-cosine" not in distance_names()


@pytest.mark.parametrize("hidden_sizes, layer", [((), None), ((8, 6), None), ((8, 6), 1)])
def test_a_registered_distance_takes_the_generic_path(data, hidden_sizes, layer, cosine_distance, salience_plans):
    X_a, X_b = data
    module_a, module_b = make_mlp(D_A, hidden_sizes, 1), make_mlp(D_B, (7,), 2)
    result = permutation_salience(
        module_a, module_b, X_a, X_b, n_repeats=3, distance=cosine_distance, layer=layer, random_state=0
    )
    assert_matches_reference(result, reference_salience(module_a, module_b, X_a, X_b, 3, cosine_distance, 0, layer))
    np.testing.assert_allclose(
        result.baseline_distance, reference_baseline(module_a, module_b, X_a, X_b, cosine_distance), rtol=1e-6
    )
    assert salience_plans == ["torch-split"]  # no compiled kernel
    with pytest.raises(ValueError, match=r"distance must be one of \('mse', 'mae', 'kl'.*'test-cosine'\); got 'cos'"):
        permutation_salience(module_a, module_b, X_a, X_b, distance="cos")


def test_the_ranker_accepts_a_registered_distance(data, cosine_distance):
    from sklearn.utils._param_validation import InvalidParameterError

    X_a, X_b = data
    y = (X_a[:, 0] > 0).astype(int)
    template = quick_template((), optimizer=torch.optim.SGD, lr=0.1, max_epochs=5, batch_size=-1)
    ranker = ModalityGeneralRanker(
        estimator_a=template, estimator_b=template, distance=cosine_distance, n_repeats=2, random_state=0
    )
    ranker.fit(X_a, y, X_b=X_b)
    assert ranker.pair_net_.distance == cosine_distance
    assert ranker.distances_.shape == (D_A, 2)
    f_a, f_b = ranker.nets_
    np.testing.assert_allclose(
        ranker.baseline_distance_, reference_baseline(f_a, f_b, X_a, X_b, cosine_distance), rtol=1e-6
    )
    with pytest.raises(InvalidParameterError, match="'test-cosine'"):
        ModalityGeneralRanker(distance="cos").fit(X_a, y, X_b=X_b)


# --------------------------------------------------------------------------- #
# Oracle, permutations, modes
# --------------------------------------------------------------------------- #


def test_shared_channels_are_salient_and_unused_ones_are_not():
    # f_a uses the 3 channels that X_b shares (with f_b's weights); channels 3..5 get weight 0.
    rng = np.random.RandomState(0)
    X_a = rng.randn(200, 6).astype(np.float32)
    X_b = X_a[:, :3].copy()
    module_b = nn.Linear(3, 2)
    module_a = nn.Linear(6, 2)
    with torch.no_grad():
        module_a.weight.zero_()
        module_a.weight[:, :3] = module_b.weight
        module_a.bias.copy_(module_b.bias)
    result = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=4, random_state=0)
    assert np.all(result.importances_mean[:3] > 1e-3)
    np.testing.assert_allclose(result.importances[3:], 0.0, atol=1e-10)


def test_draw_permutations_is_a_chunkable_stream():
    full = draw_permutations(7, 11, 3, 0, 5)
    assert full.shape == (5, 3, 11)
    assert all(sorted(p) == list(range(11)) for p in full.reshape(-1, 11))
    np.testing.assert_array_equal(draw_permutations(7, 11, 3, 2, 4), full[2:4])
    np.testing.assert_array_equal(draw_permutations(7, 11, 3, 0, 5, parallel=True), full)
    assert not np.array_equal(draw_permutations(8, 11, 3, 0, 5), full)
    # Channel-major: the stream of (i, m) starts at word (i * n_repeats + m) * (n // 2).
    words = np.random.PCG64(7).random_raw(15 * 5)
    j = (int(words[(4 * 3 + 1) * 5]) & 0xFFFFFFFF) * 11 >> 32  # first swap of pair (4, 1): position 10 <-> j
    assert full[4, 1, 10] == j
    np.testing.assert_array_equal(draw_permutations(7, 1, 2, 0, 3), np.zeros((3, 2, 1)))


def test_random_state_controls_the_result(data):
    X_a, X_b = data
    module_a, module_b = make_mlp(D_A, (8,), 1), make_mlp(D_B, (), 2)
    one = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, random_state=0)
    same = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, random_state=np.random.RandomState(0))
    other = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, random_state=1)
    np.testing.assert_array_equal(one.importances, same.importances)
    assert not np.allclose(one.importances, other.importances)


def test_modes_are_restored_and_no_gradients_are_kept(data):
    X_a, X_b = data
    module_a = make_mlp(D_A, (8,), 1, dropout=0.5)
    module_b = make_mlp(D_B, (7,), 2)
    module_a.train()
    module_a[2].eval()  # a mixed state must come back as it was
    module_b.eval()
    before = [m.training for m in module_a.modules()]
    weights = [p.detach().clone() for p in module_a.parameters()]
    result = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, random_state=0)
    assert [m.training for m in module_a.modules()] == before
    assert not any(m.training for m in module_b.modules())
    assert all(p.grad is None for p in module_a.parameters())
    assert all(torch.equal(a, b) for a, b in zip(weights, module_a.parameters()))
    # eval mode was used: dropout off, so the result equals that of an eval-mode module.
    module_a.eval()
    again = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, random_state=0)
    np.testing.assert_array_equal(result.importances, again.importances)


# --------------------------------------------------------------------------- #
# Parallelism
# --------------------------------------------------------------------------- #


class CountingBackend(ThreadingBackend):
    calls = 0

    def submit(self, func, callback=None):
        CountingBackend.calls += 1
        return super().submit(func, callback=callback)

    def apply_async(self, func, callback=None):
        CountingBackend.calls += 1
        return super().apply_async(func, callback=callback)


@pytest.mark.parametrize("hidden_sizes", [(), (8,), (8, 6)])
@pytest.mark.parametrize("threads_for_any_size", [False, True])
def test_n_jobs_and_backends_give_identical_results(data, hidden_sizes, threads_for_any_size, monkeypatch):
    from crossmodal.focus import _permutations, _rank_one_plan

    if threads_for_any_size:  # prange kernels and the one-job thread fan-out even for this tiny problem
        monkeypatch.setattr(_rank_one_plan, "PARALLEL_MIN_WORK", 0)
        monkeypatch.setattr(_permutations, "PARALLEL_MIN_INDICES", 0)
    X_a, X_b = data
    module_a, module_b = make_mlp(D_A, hidden_sizes, 1), make_mlp(D_B, (7,), 2)
    kwargs = dict(n_repeats=3, random_state=0, batch_size=40)
    threads_before = torch.get_num_threads()
    serial = permutation_salience(module_a, module_b, X_a, X_b, n_jobs=1, **kwargs).importances
    two = permutation_salience(module_a, module_b, X_a, X_b, n_jobs=2, **kwargs).importances
    with parallel_config(backend="threading"):
        threaded = permutation_salience(module_a, module_b, X_a, X_b, n_jobs=2, **kwargs).importances
    with parallel_config(backend="threading", n_jobs=2):
        configured = permutation_salience(module_a, module_b, X_a, X_b, **kwargs).importances
    np.testing.assert_array_equal(serial, two)
    np.testing.assert_array_equal(serial, threaded)
    np.testing.assert_array_equal(serial, configured)
    with torch_threads(1):  # one job on one torch thread: prange kernels instead of the thread fan-out
        other_mode = permutation_salience(module_a, module_b, X_a, X_b, n_jobs=1, **kwargs).importances
    np.testing.assert_array_equal(serial, other_mode)
    assert torch.get_num_threads() == threads_before


def test_user_backend_is_respected(data):
    X_a, X_b = data
    module_a, module_b = make_mlp(D_A, (8,), 1), make_mlp(D_B, (7,), 2)
    register_parallel_backend("salience-counting", CountingBackend)
    CountingBackend.calls = 0
    expected = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, random_state=0).importances
    with parallel_config(backend="salience-counting", n_jobs=2):
        got = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, random_state=0).importances
    assert CountingBackend.calls >= 2
    np.testing.assert_array_equal(got, expected)


def test_worker_in_another_process_sets_and_restores_torch_threads(data, monkeypatch):
    # A worker whose pid differs from the caller's (a process backend) sets
    # torch's thread count itself and restores it; the numbers do not change.
    # (Starting real loky workers is slow; this calls the task directly.)
    from crossmodal.focus import _schedule

    X_a, X_b = data
    module_a, module_b = make_mlp(D_A, (8, 6), 1), make_mlp(D_B, (), 2)
    expected = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, random_state=0, batch_size=40)
    seen = []
    original = _schedule._evaluate_range

    def spy(*args, **kwargs):
        seen.append((torch.get_num_threads(), kwargs["parallel"]))
        return original(*args, **kwargs)

    worker = _schedule._evaluate_in_worker
    set_threads = _schedule.torch_threads
    thread_requests = []

    def spy_threads(n):
        thread_requests.append(n)
        return set_threads(n)

    monkeypatch.setattr(_schedule, "torch_threads", spy_threads)
    monkeypatch.setattr(_schedule, "_evaluate_range", spy)
    monkeypatch.setattr(_schedule, "_evaluate_in_worker", lambda *args: worker(*args[:-1], -1))  # "another pid"
    before = torch.get_num_threads()
    got = permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2, random_state=0, batch_size=40, n_jobs=2)
    assert torch.get_num_threads() == before
    expected_threads = max(1, joblib.cpu_count() // 2)
    assert seen and all(threads == expected_threads and not parallel for threads, parallel in seen)
    # the caller sets threads before dispatching, then each task in its "own process" does
    assert len(thread_requests) >= 1 + len(seen)
    assert thread_requests[-(1 + len(seen)) :] == [expected_threads] * (1 + len(seen))
    np.testing.assert_array_equal(got.importances, expected.importances)


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def pair():
    return make_mlp(D_A, (8,), 1), make_mlp(D_B, (), 2)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_repeats=0), ValueError, r"n_repeats must be an integer >= 1; got 0"),
        (dict(n_repeats=2.5), ValueError, r"n_repeats must be an integer >= 1; got 2.5"),
        (dict(distance="nope"), ValueError, r"distance must be one of \('mse', 'mae', 'kl'.*\); got 'nope'"),
        (dict(batch_size=0), ValueError, r"batch_size must be an integer >= 1; got 0"),
        (
            dict(layer=7),
            ValueError,
            r"layer=7 is out of range: module_a \(MLP\) has 3 children, so layer must be in -3..2",
        ),
        (
            dict(layer="nope"),
            ValueError,
            r"layer='nope' is not a submodule name of module_a; valid names .*'0', '1', '2'",
        ),
        (dict(layer=1.5), TypeError, r"layer must be None, an int \(child index\) or a str \(module name\); got 1.5"),
        (dict(layer=True), TypeError, r"layer must be None, an int .*; got True"),
    ],
)
def test_bad_arguments_raise(data, pair, kwargs, error, match):
    X_a, X_b = data
    with pytest.raises(error, match=match):
        permutation_salience(*pair, X_a, X_b, **kwargs)


def test_bad_data_raise(data, pair):
    X_a, X_b = data
    bad = X_a.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="X_a contains NaN"):
        permutation_salience(*pair, bad, X_b)
    bad_b = X_b.copy()
    bad_b[0, 0] = np.inf
    with pytest.raises(ValueError, match="X_b contains infinity"):
        permutation_salience(*pair, X_a, bad_b)
    with pytest.raises(ValueError, match="X_a and X_b have different numbers of samples: 60 and 50"):
        permutation_salience(*pair, X_a, X_b[:50])
    with pytest.raises(ValueError, match=r"X_a must have shape \(n_samples, n_channels, ...\); got shape \(60,\)"):
        permutation_salience(*pair, X_a[:, 0], X_b)
    with pytest.raises(ValueError, match=r"module_a cannot be applied to X_a of shape \(60, 4\)"):
        permutation_salience(*pair, X_a[:, :4], X_b)


def test_bad_modules_raise(data, pair):
    from skorch import NeuralNetClassifier

    X_a, X_b = data
    with pytest.raises(TypeError, match="module_a must be a torch.nn.Module or a fitted skorch net; got str"):
        permutation_salience("mlp", pair[1], X_a, X_b)
    with pytest.raises(ValueError, match="module_b is a skorch net without module_ \\(not initialized\\)"):
        permutation_salience(pair[0], NeuralNetClassifier(MLP), X_a, X_b)
    with pytest.raises(
        ValueError,
        match=r"same shape \(n_samples, n_classes\); got \(2, 3\) from module_a on "
        r"X_a\[:2\] and \(60, 2\) from module_b",
    ):
        permutation_salience(pair[0], nn.Linear(D_B, 2), X_a, X_b)


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(D_A, D_A)
        self.out = nn.Linear(D_A, N_CLASSES)

    def forward(self, x):
        return self.out(self.inner(self.inner(x)))


class Squash(nn.Module):
    def __init__(self):
        super().__init__()
        self.total = nn.Flatten(0)
        self.out = nn.Linear(1, N_CLASSES)

    def forward(self, x):
        return self.out(self.total(x.sum(1, keepdim=True)).unsqueeze(1))


class ShrinksLargeBatches(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(D_A, N_CLASSES)

    def forward(self, x):
        y = self.out(x)
        return y if len(x) <= 2 else y[:-1]


def test_bad_layers_and_outputs_raise(data, pair):
    X_a, X_b = data
    with pytest.raises(ValueError, match="layer Linear ran 2 times in one forward pass of module_a"):
        permutation_salience(Twice(), pair[1], X_a, X_b, layer="inner")
    with pytest.raises(
        ValueError,
        match=r"layer must output a tensor of shape \(n_samples, n_channels, ...\); got "
        r"shape \(60,\)",
    ):
        permutation_salience(Squash(), pair[1], X_a, X_b, layer="total")
    with pytest.raises(
        ValueError,
        match=r"module_a returned logits of shape \(59, 3\) on permuted rows; "
        r"expected \(60, 3\)",
    ):
        permutation_salience(ShrinksLargeBatches(), pair[1], X_a, X_b, n_repeats=1, batch_size=N)
