"""Determinism: the same random_state gives the same bits on the CPU, whatever n_jobs.

``tests/focus/test_salience.py`` already checks n_jobs=1 against n_jobs=2 and the
threading backend for the "mse" distance on three float32 MLPs, with blocks
that hold one pair each. Here every execution path of
:func:`crossmodal.permutation_salience` (the compiled "linear", "one_hidden",
"mlp" and "head" rank-1 plans, the generic torch plan in split and in hook
mode; input channels and ``layer=``) runs with the three distances, float32
and float64 modules, blocks that pack several pairs, n_jobs 1, 2, 3 and -1
(threads, the default backend for ``prefer="threads"``), n_jobs set by
``joblib.parallel_config``, the loky process backend, one torch thread, and
the size thresholds of the parallel kernels at their defaults and at zero.
Every result must equal the serial one bit for bit. The estimators built on
it (``ModalityGeneralRanker``, ``CrossModalDistiller``) and the data
generator must give the same bits for the same ``random_state``, and a
different ``random_state`` a different result, so that these tests can fail.
"""

import multiprocessing
import threading

import numpy as np
import pytest
import torch
from conftest import ConvNet, quick_template
from joblib import parallel_config
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from torch import nn

from crossmodal import (
    CrossModalDistiller,
    ModalityGeneralRanker,
    MVDGenerator,
    make_modality_venn,
    permutation_salience,
)
from crossmodal._utils.torch_helpers import torch_threads
from crossmodal.focus import _permutations, _rank_one_plan
from crossmodal.nets import MLP

N, D_A, D_B, N_CLASSES = 45, 7, 4, 3


def _mlp(hidden_sizes, seed, activation=nn.ReLU):
    torch.manual_seed(seed)
    return MLP(D_A, N_CLASSES, hidden_sizes=hidden_sizes, activation=activation)


def _conv(seed):
    torch.manual_seed(seed)
    return ConvNet(D_A, 3, width=5, kernel_size=2, n_classes=N_CLASSES)


# name -> (module_a factory, layer, whether X_a is 3-D, expected plan)
PATHS = {
    "linear": (lambda: _mlp((), 1), None, False, "linear"),
    "one_hidden": (lambda: _mlp((8,), 1), None, False, "one_hidden"),
    "mlp": (lambda: _mlp((8, 6), 1), None, False, "mlp"),
    "head": (lambda: _mlp((8, 6), 1, nn.Tanh), None, False, "head"),
    "layer-one_hidden": (lambda: _mlp((8, 6), 1), 1, False, "one_hidden"),
    "layer-linear": (lambda: _mlp((8, 6), 1), -2, False, "linear"),
    "layer-torch-split": (lambda: _mlp((8, 6), 1), "2", False, "torch-split"),
    "conv-torch": (lambda: _conv(1), None, True, "torch-split"),
    "conv-layer-hooks": (lambda: _conv(1), "conv", True, "torch-hooks"),
}
DISTANCES = ["mse", "mae", "kl"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X_a = rng.randn(N, D_A, 3)
    X_b = X_a[:, :D_B, 0] + 0.3 * rng.randn(N, D_B)
    return X_a, X_b


def _problem(path, dtype, data):
    factory, layer, conv, expected = PATHS[path]
    module_a = factory().to(dtype)
    torch.manual_seed(2)
    module_b = MLP(D_B, N_CLASSES, hidden_sizes=(5,)).to(dtype)
    X_a, X_b = data
    X_a = X_a if conv else X_a[:, :, 0]
    return module_a, module_b, X_a, X_b, layer, expected


def _parallel_everywhere(monkeypatch):
    """Thresholds at zero: prange kernels, parallel permutation draws and the
    one-job thread fan-out run even on this tiny problem."""
    monkeypatch.setattr(_rank_one_plan, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(_permutations, "PARALLEL_MIN_INDICES", 0)


def _cases():
    """Every path with every distance in float32; each path once more in float64
    and once with the parallel thresholds at zero, the distance rotating."""
    for index, path in enumerate(PATHS):
        for distance in DISTANCES:
            yield pytest.param(path, distance, torch.float32, "default", id=f"{path}-{distance}-float32")
        yield pytest.param(
            path, DISTANCES[index % 3], torch.float64, "default", id=f"{path}-{DISTANCES[index % 3]}-float64"
        )
        yield pytest.param(
            path,
            DISTANCES[(index + 1) % 3],
            torch.float32,
            "zero",
            id=f"{path}-{DISTANCES[(index + 1) % 3]}-float32-parallel",
        )


@pytest.mark.parametrize(("path", "distance", "dtype", "thresholds"), list(_cases()))
def test_salience_is_bitwise_identical_for_every_n_jobs(
    data, path, distance, dtype, thresholds, salience_plans, monkeypatch
):
    if thresholds == "zero":
        _parallel_everywhere(monkeypatch)
    module_a, module_b, X_a, X_b, layer, expected_plan = _problem(path, dtype, data)
    # batch_size=100 packs two pairs per block/forward (N=45): which pairs share
    # a block then depends on the channel chunks, hence on n_jobs.
    kwargs = {"n_repeats": 3, "distance": distance, "layer": layer, "random_state": 0, "batch_size": 100}
    threads_before = torch.get_num_threads()

    def run(**extra):
        return permutation_salience(module_a, module_b, X_a, X_b, **kwargs, **extra).importances

    serial = run(n_jobs=1)
    assert salience_plans[0] == expected_plan
    assert serial.dtype == np.float64 and np.isfinite(serial).all()
    results = {"again": run(n_jobs=1)}
    for n_jobs in (2, 3, -1):
        results[f"n_jobs={n_jobs}"] = run(n_jobs=n_jobs)
    with parallel_config(backend="threading", n_jobs=3):
        results["parallel_config(threading, n_jobs=3)"] = run()
    with torch_threads(1):
        results["one torch thread"] = run(n_jobs=1)
    for name, got in results.items():
        np.testing.assert_array_equal(got, serial, err_msg=name)
    # The default batch_size packs other blocks (so other roundings): it is
    # compared with itself, with one and with two jobs.
    default_rows = {
        n_jobs: permutation_salience(
            module_a, module_b, X_a, X_b, **{**kwargs, "batch_size": None}, n_jobs=n_jobs
        ).importances
        for n_jobs in (1, 2)
    }
    np.testing.assert_array_equal(default_rows[2], default_rows[1], err_msg="batch_size=None")
    np.testing.assert_allclose(default_rows[1], serial, rtol=1e-5)
    assert torch.get_num_threads() == threads_before
    assert set(salience_plans) == {expected_plan}

    other = permutation_salience(module_a, module_b, X_a, X_b, **{**kwargs, "random_state": 1}, n_jobs=2)
    assert not np.array_equal(other.importances, serial)


def test_salience_with_the_loky_backend_equals_serial(data):
    # Plans pickled into worker processes, which set their own torch threads.
    # Starting the pool costs seconds here, so three paths share one pool: the
    # kernels with torch products between them, the hooks, and float64 "kl".
    cases = [
        ("mlp", torch.float32, "mse"),
        ("conv-layer-hooks", torch.float32, "mae"),
        ("one_hidden", torch.float64, "kl"),
    ]
    problems = [(_problem(path, dtype, data), distance) for path, dtype, distance in cases]
    kwargs = {"n_repeats": 2, "random_state": 3, "batch_size": 100}

    def run_all(**extra):
        return [
            permutation_salience(a, b, X_a, X_b, layer=layer, distance=distance, **kwargs, **extra).importances
            for (a, b, X_a, X_b, layer, _), distance in problems
        ]

    serial = run_all(n_jobs=1)
    with parallel_config(backend="loky", n_jobs=2):
        loky = run_all()
    for case, want, got in zip(cases, serial, loky):
        np.testing.assert_array_equal(got, want, err_msg=str(case))


# --------------------------------------------------------------------------- #
# Estimators
# --------------------------------------------------------------------------- #


def _tiny_net(hidden_sizes=(6,), max_epochs=3):
    return quick_template(hidden_sizes, max_epochs=max_epochs, batch_size=16, iterator_train__shuffle=True)


@pytest.fixture(scope="module")
def venn():
    # 7 channels of X_a and 3 repeats: two jobs cut the (channel, repeat) pairs
    # into chunks that start off the serial run's block boundaries.
    X_a, X_b, y = make_modality_venn(
        75, n_general=3, n_specific_a=2, n_specific_b=2, n_noise_a=2, n_noise_b=2, random_state=0
    )
    return X_a.astype(np.float32), X_b.astype(np.float32), y


def _ranker_outputs(venn, **params):
    X_a, X_b, y = venn
    params = {
        "estimator_a": _tiny_net(),
        "estimator_b": _tiny_net(),
        "n_repeats": 3,
        "ratio": 0.4,
        "random_state": 0,
        **params,
    }
    ranker = ModalityGeneralRanker(**params).fit(X_a, y, X_b=X_b)
    return {
        "importances_": ranker.importances_,
        "distances_": ranker.distances_,
        "baseline_distance_": ranker.baseline_distance_,
        "salience_": ranker.salience_,
        "ranking_": ranker.ranking_,
        "support_": ranker.support_,
        "transform": ranker.transform(X_a) if ranker.layer is None else ranker.fill_values_,
        "weights": np.concatenate([p.detach().numpy().ravel() for m in ranker.nets_ for p in m.parameters()]),
    }


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"estimator_a": _tiny_net((8, 6)), "mode": "random", "nullify": "drop", "distance": "kl"},
        {"layer": 1, "distance": "mae"},
    ],
    ids=["one-hidden", "two-hidden-random-drop-kl", "layer"],
)
def test_ranker_is_bitwise_identical_for_every_n_jobs(venn, params):
    serial = _ranker_outputs(venn, n_jobs=1, **params)
    runs = {
        "again": _ranker_outputs(venn, n_jobs=1, **params),
        "n_jobs=2": _ranker_outputs(venn, n_jobs=2, **params),
        "n_jobs=-1": _ranker_outputs(venn, n_jobs=-1, **params),
    }
    with parallel_config(backend="threading", n_jobs=2):
        runs["threading config"] = _ranker_outputs(venn, **params)
    for run, outputs in runs.items():
        for name, want in serial.items():
            np.testing.assert_array_equal(outputs[name], want, err_msg=f"{run}: {name}")
    other = _ranker_outputs(venn, n_jobs=2, **{**params, "random_state": 1})
    assert not np.array_equal(other["importances_"], serial["importances_"])


def _distiller_proba(venn, **params):
    X_a, X_b, y = venn
    params = {"student": _tiny_net(max_epochs=5), "random_state": 0, **params}
    return CrossModalDistiller(**params).fit(X_b, y, X_teacher=X_a).predict_proba(X_b)


@pytest.mark.parametrize(
    "params",
    [
        {"teacher": _tiny_net()},
        {"teacher": LogisticRegression(), "temperature": 2.0, "kl_reduction": "mean"},
        {
            "teacher": _tiny_net(),
            "focus": ModalityGeneralRanker(
                estimator_a=_tiny_net((8, 6)), estimator_b=_tiny_net(), n_repeats=2, ratio=0.3
            ),
        },
        {"teacher": _tiny_net(), "focus": ModalityGeneralRanker(estimator_b=_tiny_net(), n_repeats=2, layer=1)},
    ],
    ids=["torch-teacher", "logistic-teacher", "input-focus", "layer-focus"],
)
def test_distiller_predictions_are_bitwise_identical(venn, params):
    # The focus ranker has n_jobs=None, so joblib.parallel_config(n_jobs=2)
    # spreads its salience over two workers; training is seeded and thread-bound.
    first = _distiller_proba(venn, **params)
    runs = {"again": _distiller_proba(venn, **params)}
    with parallel_config(n_jobs=2):
        runs["parallel_config(n_jobs=2)"] = _distiller_proba(venn, **params)
    for n_threads in (1, 2):
        with torch_threads(n_threads):
            runs[f"torch threads {n_threads}"] = _distiller_proba(venn, **params)
    for run, proba in runs.items():
        np.testing.assert_array_equal(proba, first, err_msg=run)
    other = _distiller_proba(venn, **{**params, "random_state": 1})
    assert not np.array_equal(other, first)


def test_fits_in_concurrent_threads_equal_sequential_fits(venn):
    # torch's global generator is one per process: fits on joblib's threading backend take turns with it.
    X_a, X_b, y = venn
    distiller = CrossModalDistiller(teacher=_tiny_net(max_epochs=20), student=_tiny_net(max_epochs=20), random_state=0)
    search = dict(param_grid={"rho": [0.2, 0.4, 0.6, 0.8]}, cv=KFold(3), refit=False)

    def scores(n_jobs, backend):
        with parallel_config(backend=backend):
            grid = GridSearchCV(distiller, n_jobs=n_jobs, **search).fit(X_b, y, X_teacher=X_a)
        return np.column_stack([grid.cv_results_[f"split{i}_test_score"] for i in range(3)])

    sequential = scores(1, "loky")
    for attempt in range(3):
        np.testing.assert_array_equal(scores(2, "threading"), sequential, err_msg=f"attempt {attempt}")


def _seeded_draw(queue):
    from crossmodal._utils.torch_helpers import seeded

    with seeded(0):
        queue.put(float(torch.rand(1)))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_child_forked_while_a_thread_fits_does_not_wait_on_the_lock():
    from crossmodal._utils import torch_helpers

    held, release = threading.Event(), threading.Event()

    def hold():
        with torch_helpers.seeded(1):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(30)
    try:
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_seeded_draw, args=(queue,))
        child.start()
        child.join(20)
        alive = child.is_alive()
        if alive:
            child.kill()
        assert (
            not alive
            and child.exitcode == 0
            and queue.get(timeout=5) == pytest.approx(torch.rand(1, generator=torch.Generator().manual_seed(0)).item())
        )
    finally:
        release.set()
        thread.join()


def test_distiller_does_not_touch_the_global_torch_stream(venn):
    # One random_state seeds everything: the caller's torch stream and the
    # global NumPy stream neither change the result nor are consumed by fit.
    torch.manual_seed(123)
    np.random.seed(123)
    first = _distiller_proba(venn, teacher=None)
    torch_next, numpy_next = torch.rand(3), np.random.rand(3)
    torch.manual_seed(7)
    np.random.seed(7)
    second = _distiller_proba(venn, teacher=None)
    np.testing.assert_array_equal(first, second)
    torch.manual_seed(123)
    np.random.seed(123)
    assert torch.equal(torch.rand(3), torch_next)
    np.testing.assert_array_equal(np.random.rand(3), numpy_next)


# --------------------------------------------------------------------------- #
# Data generator
# --------------------------------------------------------------------------- #

_STRUCTURE = [
    "coef_",
    "gamma_",
    "alpha_",
    "beta_",
    "latent_roles_",
    "general_mask_a_",
    "specific_mask_a_",
    "noise_mask_a_",
    "general_mask_b_",
    "specific_mask_b_",
    "noise_mask_b_",
]


@pytest.mark.parametrize("mixing", ["identity", "linear", "mlp"])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_generator_same_seed_same_structure_and_samples(mixing, n_classes):
    params = {
        "n_general": 2,
        "n_specific_a": 3,
        "n_specific_b": 1,
        "n_hidden": 1,
        "n_noise_a": 2,
        "n_noise_b": 3,
        "n_classes": n_classes,
        "mixing": mixing,
    }
    first = MVDGenerator(random_state=5, **params).fit()
    second = MVDGenerator(random_state=np.random.RandomState(5), **params).fit()
    for name in _STRUCTURE:
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name), err_msg=name)
    for (w1, b1), (w2, b2) in zip(first.mixing_a_ + first.mixing_b_, second.mixing_a_ + second.mixing_b_):
        np.testing.assert_array_equal(w1, w2)
        np.testing.assert_array_equal(b1, b2)
    # the default stream (random_state=None) and a fixed seed
    for random_state in (None, 11):
        for a, b in zip(first.sample(30, random_state=random_state), second.sample(30, random_state=random_state)):
            np.testing.assert_array_equal(a, b)
    venn_one = make_modality_venn(30, random_state=5, return_info=True, **params)
    venn_two = make_modality_venn(30, random_state=5, return_info=True, **params)
    for a, b in zip(venn_one[:3], venn_two[:3]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(venn_one[3].coef, venn_two[3].coef)

    other = MVDGenerator(random_state=6, **params).fit()
    assert not np.array_equal(other.coef_, first.coef_)
    X_a, _, _ = make_modality_venn(30, random_state=6, **params)
    assert not np.array_equal(X_a, venn_one[0])


def test_nested_estimators_are_seeded_from_random_state():
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from crossmodal import diagnose
    from crossmodal._utils.random import seeded_clone

    pipe = make_pipeline(StandardScaler(), ExtraTreesClassifier(5))
    key = "extratreesclassifier__random_state"
    seeded = seeded_clone(pipe, 7).get_params()[key]
    assert isinstance(seeded, int) and seeded == seeded_clone(pipe, 7).get_params()[key]
    assert seeded != seeded_clone(pipe, 8).get_params()[key]
    # A seed the user set is kept.
    mine = make_pipeline(StandardScaler(), ExtraTreesClassifier(5, random_state=3))
    assert seeded_clone(mine, 7).get_params()[key] == 3
    # So diagnose with a pipeline teacher repeats itself under one random_state.
    X_a, X_b, y = make_modality_venn(120, n_general=3, n_specific_a=1, n_specific_b=1, random_state=1)
    first, second = (diagnose(X_a, X_b, y, teacher=pipe, n_bootstrap=5, random_state=0) for _ in range(2))
    assert first.to_dict() == second.to_dict()
