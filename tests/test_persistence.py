"""Persistence of fitted estimators: pickle and joblib round trips, and CUDA -> CPU loading.

Round trips: every fitted public estimator goes through ``pickle.dumps/loads``
and ``joblib.dump/load``; the restored object must give bitwise-identical
outputs and hold bitwise-identical fitted state (arrays, network weights,
optimizer state, training history), and a restored distiller must refit.

CUDA -> CPU: this machine has no GPU, so a CUDA fit is simulated at the point
where it matters for persistence. torch tags each pickled storage with a
location string from ``torch.serialization.location_tag`` (a module global
that both ``torch.save`` paths, the zip format and the legacy format used by
``pickle`` through ``TypedStorage.__reduce__``, look up at call time), and
``torch.load`` refuses a ``"cuda:0"`` storage when CUDA is unavailable unless
a ``map_location`` maps it (skorch nets pass one; other attributes do not).
:func:`storages_on_cuda` makes the tensors of the fitted state (what a GPU
fit creates or moves there, and anything sharing their storage) look like
CUDA tensors while the estimator is pickled: their storage is tagged
``"cuda:0"`` and ``Tensor.is_cuda`` reports True for them, so code that
copies CUDA tensors to the CPU before pickling (as
``ModalityGeneralRanker.__getstate__`` does) takes the branch it takes on a
GPU, and the copies it makes are (truthfully) tagged ``"cpu"``. Tagging every
CPU storage instead would also tag those copies, and a module instance in an
untouched template, and report failures that a real GPU pickle does not have.
:func:`pretend_fitted_on_cuda` sets the ``device`` attributes a CUDA fit
leaves behind. The simulation is shown to be faithful first: a plain
``torch.nn.Linear`` pickled this way fails to load with torch's own CUDA
error, and so does a ranker whose CPU-copy step is switched off.
"""

import contextlib
import copy
import functools
import math
import pickle
import types

import joblib
import numpy as np
import pytest
import torch
from conftest import quick_template
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from skorch import NeuralNet
from skorch.exceptions import DeviceWarning

from crossmodal import CrossModalDistiller, ModalityGeneralRanker, MVDGenerator, make_modality_venn
from crossmodal.distill._joint_teacher import joint_teacher_proba
from crossmodal.nets import MLP

HOW = ["pickle", "joblib"]
RANKER_KINDS = ["mean", "hidden_layer", "prefit_nets", "frozen_a"]
CUDA_LOAD_ERROR = r"Attempting to deserialize object on a CUDA device but torch\.cuda\.is_available\(\) is False"
requires_no_cuda = pytest.mark.skipif(
    torch.cuda.is_available(),
    reason="a real GPU is present: the CPU-side simulation of a CUDA pickle only applies without CUDA "
    "(load a real CUDA pickle on a CPU-only machine instead)",
)


# ---------------------------------------------------------------- data and small models
def small_net(**kw):
    """A tiny skorch template (one hidden layer of 8, few epochs) for fast fits."""
    params = dict(
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.05,
        max_epochs=10,
        batch_size=64,
        iterator_train__shuffle=True,
    )
    return quick_template(kw.pop("module__hidden_sizes", (8,)), **{**params, **kw})


def linear_net(**kw):
    params = dict(module__hidden_sizes=(), optimizer=torch.optim.SGD, lr=0.1, max_epochs=20, batch_size=-1)
    params.update(kw)
    return small_net(**params)


def paired_data(n_classes=2, seed=0):
    X_a, X_b, y = make_modality_venn(
        160,
        n_general=3,
        n_specific_a=2,
        n_specific_b=2,
        n_noise_a=3,
        n_noise_b=3,
        n_classes=n_classes,
        random_state=seed,
    )
    return X_a, X_b, y


def small_ranker(**kw):
    params = dict(estimator_a=linear_net(), estimator_b=linear_net(), n_repeats=2, ratio=0.5, random_state=0)
    params.update(kw)
    return ModalityGeneralRanker(**params)


def fit_distiller(case):
    """Fit one distiller configuration; returns (estimator, fit kwargs, X_b, y, X_a)."""
    X_a, X_b, y = paired_data(n_classes=3 if case == "logistic_teacher_3_string_classes" else 2)
    fit_kw = {"X_teacher": X_a}
    student = small_net()
    if case == "default_teacher":
        kd = CrossModalDistiller(student=student, random_state=0)
    elif case == "skorch_teacher_both_modalities":
        kd = CrossModalDistiller(teacher=small_net(), student=student, teacher_input="both", random_state=0)
    elif case == "logistic_teacher_3_string_classes":
        y = np.array(["cat", "dog", "emu"])[y]
        kd = CrossModalDistiller(teacher=LogisticRegression(), student=student, temperature=2.0, random_state=0)
    elif case == "boosting_teacher":
        teacher = GradientBoostingClassifier(n_estimators=10, max_depth=2)
        kd = CrossModalDistiller(teacher=teacher, student=student, kl_reduction="mean", random_state=0)
    elif case == "teacher_proba_only":
        proba = LogisticRegression().fit(X_a, y).predict_proba(X_a)
        fit_kw = {"teacher_proba": proba}
        kd = CrossModalDistiller(student=student, rho=0.3, random_state=0)
    elif case == "input_focus":
        kd = CrossModalDistiller(teacher=small_net(), student=student, focus=small_ranker(), random_state=0)
    elif case == "student_module_instance":
        # skorch accepts an initialised module instead of a class
        torch.manual_seed(0)
        student = small_net(module=MLP(X_b.shape[1], 2, hidden_sizes=(8,)))
        kd = CrossModalDistiller(teacher=LogisticRegression(), student=student, random_state=0)
    elif case == "joint_teacher":  # the teacher_ is a bare torch module: a copy of the ranker's f_a
        kd = CrossModalDistiller(teacher="joint", student=student, focus=small_ranker(), random_state=0)
    elif case == "hidden_layer_focus":
        focus = ModalityGeneralRanker(estimator_b=linear_net(), layer=1, n_repeats=2, ratio=0.5)
        kd = CrossModalDistiller(teacher=small_net(), student=student, focus=focus, random_state=0)
    else:  # pragma: no cover - a typo in the parametrization
        raise AssertionError(case)
    return kd.fit(X_b, y, **fit_kw), fit_kw, X_b, y, X_a


# Round-trip tests share one fit per configuration; the CUDA simulation sets
# device attributes on the estimator it pickles, so it fits its own.
cached_distiller = functools.lru_cache(maxsize=None)(fit_distiller)


DISTILLER_CASES = [
    "default_teacher",
    "skorch_teacher_both_modalities",
    "logistic_teacher_3_string_classes",
    "boosting_teacher",
    "teacher_proba_only",
    "input_focus",
    "hidden_layer_focus",
    "student_module_instance",
    "joint_teacher",
]


@pytest.fixture(scope="module", params=DISTILLER_CASES)
def fitted_distiller(request):
    return cached_distiller(request.param)


def fit_ranker(kind):
    """Fit one ranker configuration; returns (ranker, X_a, X_b, y)."""
    X_a, X_b, y = paired_data()
    if kind in ("mean", "drop"):
        ranker = small_ranker(nullify=kind)
    elif kind == "hidden_layer":
        ranker = small_ranker(estimator_a=small_net(), layer=1, nullify="zero")
    elif kind in ("prefit_nets", "frozen_a"):
        # fitted nets are used as they are: both prefit skips step 1 (nets_ are
        # the users' modules); a prefit f_a alone trains f_b to agree with it
        # (skorch's own fit loop costs ~15 ms an epoch here: 3 epochs make a fitted net)
        net_a = linear_net(module__in_features=X_a.shape[1], module__n_classes=2, max_epochs=3)
        net_b = linear_net(module__in_features=X_b.shape[1], module__n_classes=2, max_epochs=3)
        net_a.fit(X_a.astype(np.float32), y)
        net_b.fit(X_b.astype(np.float32), y)
        ranker = small_ranker(
            estimator_a=FrozenEstimator(net_a), estimator_b=net_b if kind == "prefit_nets" else linear_net()
        )
    else:  # pragma: no cover - a typo in the parametrization
        raise AssertionError(kind)
    return ranker.fit(X_a, y, X_b=X_b), X_a, X_b, y


cached_ranker = functools.lru_cache(maxsize=None)(fit_ranker)


@pytest.fixture(scope="module", params=["mean", "drop"])
def fitted_ranker(request):
    return cached_ranker(request.param)


@pytest.fixture(scope="module", params=["identity", "mlp"])
def fitted_generator(request):
    gen = MVDGenerator(
        n_general=2,
        n_specific_a=2,
        n_specific_b=1,
        n_hidden=1,
        n_noise_a=3,
        n_noise_b=2,
        n_classes=3,
        mixing=request.param,
        random_state=0,
    )
    return gen.fit()


# ---------------------------------------------------------------- helpers
def dump(obj, how, tmp_path):
    """Serialise ``obj``; returns what :func:`load` needs (bytes or a file path)."""
    if how == "pickle":
        return pickle.dumps(obj)
    path = tmp_path / "model.joblib"
    joblib.dump(obj, path)
    return path


def load(blob, how):
    return pickle.loads(blob) if how == "pickle" else joblib.load(blob)


def round_trip(obj, how, tmp_path):
    return load(dump(obj, how, tmp_path), how)


_SCALARS = (str, bytes, int, float, complex, bool, type(None), np.generic, torch.device, torch.dtype, range)
_BY_REFERENCE = (type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType)


def assert_same_state(a, b, where="estimator", ignore=frozenset(), _seen=None):
    """Assert that ``b`` holds bitwise the same state as ``a``, recursively.

    Arrays and tensors must match in dtype, shape and every bit; torch modules
    by ``state_dict``, training flag and forward hooks; optimizers by
    ``state_dict``; classes and functions by identity (pickle stores them by
    reference); other objects attribute by attribute. Attribute names in
    ``ignore`` are skipped.
    """
    _seen = set() if _seen is None else _seen
    if (id(a), id(b)) in _seen:
        return
    _seen.add((id(a), id(b)))
    recurse = functools.partial(assert_same_state, ignore=ignore, _seen=_seen)
    assert type(a) is type(b), f"{where}: type {type(a).__name__} became {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), f"{where}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        if a.dtype == object:
            for i, (x, y) in enumerate(zip(a.ravel(), b.ravel())):
                recurse(x, y, f"{where}.flat[{i}]")
        else:
            np.testing.assert_array_equal(a, b, err_msg=where, strict=True)
    elif isinstance(a, torch.Tensor):
        assert (a.dtype, a.shape, a.requires_grad) == (b.dtype, b.shape, b.requires_grad), where
        assert b.device.type == "cpu", f"{where}: restored on {b.device}"
        assert torch.equal(a.detach().cpu(), b.detach()), f"{where}: tensor values differ"
    elif isinstance(a, torch.nn.Module):
        assert a.training == b.training, f"{where}: training flag"
        recurse(dict(a.state_dict()), dict(b.state_dict()), f"{where}.state_dict()")
        recurse(list(a._forward_hooks.values()), list(b._forward_hooks.values()), f"{where} forward hooks")
    elif isinstance(a, torch.optim.Optimizer):
        recurse(a.state_dict(), b.state_dict(), f"{where}.state_dict()")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} vs {list(b)}"
        for key in a:
            if key not in ignore:
                recurse(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            recurse(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    elif isinstance(a, (set, frozenset) + _SCALARS):
        assert a == b, f"{where}: {a!r} vs {b!r}"
    elif isinstance(a, functools.partial):
        assert a.func is b.func, f"{where}: {a.func!r} vs {b.func!r}"
        recurse((a.args, a.keywords), (b.args, b.keywords), f"{where} arguments")
    elif isinstance(a, _BY_REFERENCE):
        assert a is b, f"{where}: {a!r} vs {b!r}"
    elif hasattr(a, "__dict__"):
        state_a, state_b = vars(a), vars(b)
        assert sorted(state_a) == sorted(state_b), f"{where}: attributes {sorted(state_a)} vs {sorted(state_b)}"
        for key in state_a:
            if key not in ignore:
                recurse(state_a[key], state_b[key], f"{where}.{key}")
    else:  # extension types without __dict__ (RandomState, sklearn trees): compare their pickled state
        recurse(a.__getstate__(), b.__getstate__(), f"{where}.__getstate__()")


def assert_same_params(a, b):
    """``get_params`` (shallow and deep) hold the same values after the round trip."""
    for deep in (False, True):
        params_a, params_b = a.get_params(deep=deep), b.get_params(deep=deep)
        assert sorted(params_a) == sorted(params_b)
        assert_same_state(params_a, params_b, where=f"get_params(deep={deep})")


def fitted_teacher_view(kd, X_b, X_a):
    """What the fitted teacher of ``kd`` sees: the (focused) teacher modality, then X_b when 'both'."""
    X_t = X_a
    if kd.focus_ is not None and kd.focus_.layer is None:
        X_t = kd.focus_.transform(X_a)
    if kd.teacher_input == "both":
        X_t = np.hstack([X_t, X_b])
    return X_t.astype(np.float32) if isinstance(kd.teacher_, NeuralNet) else X_t


def fitted_teacher_proba(kd, X_b, X_a):
    """The fitted teacher's probabilities on the rows of ``X_b`` (``teacher="joint"``'s module reads ``X_a``)."""
    if isinstance(kd.teacher_, torch.nn.Module):
        return joint_teacher_proba(kd.teacher_, X_a.astype(np.float32))
    return kd.teacher_.predict_proba(fitted_teacher_view(kd, X_b, X_a))


def _walk(obj, fitted_only=False):
    """Every object reachable from ``obj`` through attributes and containers.

    With ``fitted_only``, estimators and skorch nets are entered only through
    their fitted attributes (public names ending in ``_``): constructor
    parameters such as an unfitted template are left out, unless fitted state
    refers to them too.
    """
    stack, seen = [obj], set()
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, _SCALARS + _BY_REFERENCE + (np.ndarray,)):
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, torch.Tensor):
            continue
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif fitted_only and isinstance(item, (BaseEstimator, NeuralNet)):
            stack.extend(v for k, v in vars(item).items() if k.endswith("_") and not k.startswith("_"))
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())


def fitted_skorch_nets(obj):
    return [item for item in _walk(obj) if isinstance(item, NeuralNet) and getattr(item, "initialized_", False)]


def pretend_fitted_on_cuda(estimator):
    """Set the device attributes that a fit with ``device="cuda"`` on a GPU leaves behind.

    The estimator's (and a fitted focus ranker's) ``device`` parameter is
    "cuda", and so is the ``device`` of every fitted skorch net inside it.
    Unfitted templates keep theirs, as the user passed them.
    """
    for item in _walk(estimator):
        if isinstance(item, (CrossModalDistiller, ModalityGeneralRanker)) and hasattr(item, "n_features_in_"):
            item.device = "cuda"
    for net in fitted_skorch_nets(estimator):
        net.device = "cuda"


def _storage_key(tensor):
    storage = tensor.untyped_storage()
    return storage.data_ptr() if storage.nbytes() else None


@contextlib.contextmanager
def storages_on_cuda(obj):
    """While active, every tensor of the fitted state of ``obj`` pickles as a CUDA tensor.

    These are the tensors a fit on a GPU creates or moves there (weights,
    optimizer state, salience networks, and anything sharing their storage).
    Their storage is tagged ``"cuda:0"`` by ``torch.serialization.location_tag``
    and ``tensor.is_cuda`` is True. Other tensors (a module instance in an
    unfitted template that the fit did not touch, copies made by a
    ``__getstate__``) stay CPU tensors. Yields the set of tagged storages.
    """
    on_device = {
        key
        for item in _walk(obj, fitted_only=True)
        if isinstance(item, torch.Tensor)
        if (key := _storage_key(item)) is not None
    }
    real_location_tag = torch.serialization.location_tag
    real_is_cuda = torch._C.TensorBase.is_cuda

    def location_tag(storage):
        tag = real_location_tag(storage)
        return "cuda:0" if tag == "cpu" and storage.data_ptr() in on_device else tag

    def is_cuda(tensor):
        if real_is_cuda.__get__(tensor):
            return True
        try:
            return _storage_key(tensor) in on_device
        except (RuntimeError, NotImplementedError):  # tensors without a plain storage
            return False

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", location_tag)
        patch.setattr(torch.Tensor, "is_cuda", property(is_cuda))
        yield on_device


def dump_as_if_fitted_on_cuda(estimator, how, tmp_path):
    """Turn ``estimator`` into what a CUDA fit leaves (in place) and pickle it; returns (blob, n_tagged).

    The estimator itself is changed, not a copy: ``copy.deepcopy`` goes
    through skorch's ``__getstate__`` and would break the sharing of modules
    between skorch nets and other attributes that a real fit leaves behind.
    Compute its outputs before calling this (its nets now claim to be on CUDA).
    """
    pretend_fitted_on_cuda(estimator)
    with storages_on_cuda(estimator) as tagged:
        blob = dump(estimator, how, tmp_path)
    return blob, len(tagged)


def load_on_cpu_only_machine(blob, how):
    with pytest.warns(DeviceWarning, match="no CUDA devices are available"):
        return load(blob, how)


def assert_everything_on_cpu(restored):
    for net in fitted_skorch_nets(restored):
        assert torch.device(net.device).type == "cpu", f"{type(net).__name__}.device is {net.device!r} after loading"
    tensors = [item for item in _walk(restored) if isinstance(item, torch.Tensor)]
    assert tensors and all(t.device.type == "cpu" for t in tensors)


# ---------------------------------------------------------------- round trips: CrossModalDistiller
@pytest.mark.parametrize("how", HOW)
def test_distiller_round_trip_is_bitwise_identical(fitted_distiller, how, tmp_path):
    kd, _fit_kw, X_b, y, X_a = fitted_distiller
    restored = round_trip(kd, how, tmp_path)

    assert type(restored) is CrossModalDistiller
    np.testing.assert_array_equal(restored.predict_proba(X_b), kd.predict_proba(X_b), strict=True)
    np.testing.assert_array_equal(restored.predict(X_b), kd.predict(X_b), strict=True)
    assert restored.score(X_b, y) == kd.score(X_b, y)
    for name in ("classes_", "n_features_in_", "teacher_proba_"):
        assert_same_state(getattr(kd, name), getattr(restored, name), name)
    assert_same_state(kd, restored)
    assert_same_params(kd, restored)
    assert restored.history_ is restored.student_.history  # shared history survives as one object
    if kd.teacher_ is not None:
        np.testing.assert_array_equal(fitted_teacher_proba(restored, X_b, X_a), fitted_teacher_proba(kd, X_b, X_a))


@pytest.mark.parametrize("how", HOW)
def test_hidden_layer_focus_hook_survives_the_round_trip(how, tmp_path):
    # The focused teacher nullifies its hidden channels through a forward
    # hook; a restored teacher without it would predict differently.
    kd, *_, X_a = cached_distiller("hidden_layer_focus")
    restored = round_trip(kd, how, tmp_path)
    removed = np.flatnonzero(~restored.focus_.support_)
    assert removed.size and len(restored.teacher_.module_[1]._forward_hooks) == 1
    X_a = X_a.astype(np.float32)
    hidden = torch.nn.Sequential(*list(restored.teacher_.module_)[:2])
    acts = hidden(torch.from_numpy(X_a)).detach().numpy()
    fill = np.broadcast_to(restored.focus_.fill_values_[removed].astype(np.float32), (len(acts), removed.size))
    np.testing.assert_array_equal(acts[:, removed], fill)
    np.testing.assert_array_equal(restored.teacher_.predict_proba(X_a), kd.teacher_.predict_proba(X_a))


def test_restored_distiller_refits_to_the_same_model(fitted_distiller, tmp_path):
    kd, fit_kw, X_b, y, _X_a = fitted_distiller
    restored = round_trip(kd, "pickle", tmp_path)
    refit = clone(restored)
    assert_same_params(kd, refit)
    refit.fit(X_b, y, **fit_kw)
    np.testing.assert_array_equal(refit.predict_proba(X_b), kd.predict_proba(X_b), strict=True)
    # and the restored object itself can be fitted again in place
    restored.fit(X_b, y, **fit_kw)
    np.testing.assert_array_equal(restored.predict_proba(X_b), kd.predict_proba(X_b), strict=True)


# ---------------------------------------------------------------- round trips: ModalityGeneralRanker
@pytest.mark.parametrize("how", HOW)
def test_ranker_round_trip_is_bitwise_identical(fitted_ranker, how, tmp_path):
    ranker, X_a, X_b, _y = fitted_ranker
    restored = round_trip(ranker, how, tmp_path)

    assert type(restored) is ModalityGeneralRanker
    np.testing.assert_array_equal(restored.transform(X_a), ranker.transform(X_a), strict=True)
    np.testing.assert_array_equal(restored.get_support(), ranker.get_support(), strict=True)
    np.testing.assert_array_equal(restored.get_support(indices=True), ranker.get_support(indices=True))
    np.testing.assert_array_equal(restored.get_feature_names_out(), ranker.get_feature_names_out())
    for mode in ("general", "specific", "random"):
        for ratio in (0.0, 0.3, 0.5):
            np.testing.assert_array_equal(restored.support_for(mode, ratio), ranker.support_for(mode, ratio))
    for name in (
        "salience_",
        "importances_",
        "importances_std_",
        "ranking_",
        "support_",
        "fill_values_",
        "n_features_in_",
    ):
        assert_same_state(getattr(ranker, name), getattr(restored, name), name)
    assert_same_state(ranker, restored)
    assert_same_params(ranker, restored)
    # the salience networks answer exactly as before
    for module, module_restored, X in zip(ranker.nets_, restored.nets_, (X_a, X_b)):
        x = torch.as_tensor(X, dtype=torch.float32)
        assert torch.equal(module_restored(x), module(x))


@pytest.mark.parametrize("how", HOW)
def test_layer_ranker_round_trip_nullifies_the_same_channels(how, tmp_path):
    ranker, X_a, _X_b, _y = cached_ranker("hidden_layer")
    restored = round_trip(ranker, how, tmp_path)
    assert_same_state(ranker, restored)
    x = torch.as_tensor(X_a, dtype=torch.float32)
    outputs = []
    for est in (ranker, restored):
        module = copy.deepcopy(ranker.nets_[0])
        handle = est.nullify_module(module)
        outputs.append(module(x).detach())
        handle.remove()
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.equal(outputs[0], ranker.nets_[0](x))  # the hook did something


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("which", ["prefit_nets", "frozen_a"])
def test_ranker_with_prefit_nets_round_trip(which, how, tmp_path):
    ranker, X_a, _X_b, _y = cached_ranker(which)
    assert (ranker.pair_net_ is None) == (which == "prefit_nets")
    restored = round_trip(ranker, how, tmp_path)
    assert_same_state(ranker, restored)
    np.testing.assert_array_equal(restored.transform(X_a), ranker.transform(X_a), strict=True)


def test_restored_ranker_refits_to_the_same_ranking(fitted_ranker, tmp_path):
    ranker, X_a, X_b, y = fitted_ranker
    refit = clone(round_trip(ranker, "pickle", tmp_path)).fit(X_a, y, X_b=X_b)
    np.testing.assert_array_equal(refit.importances_, ranker.importances_, strict=True)
    np.testing.assert_array_equal(refit.transform(X_a), ranker.transform(X_a), strict=True)


# ---------------------------------------------------------------- round trips: MVDGenerator
@pytest.mark.parametrize("how", HOW)
def test_generator_round_trip_samples_identically(fitted_generator, how, tmp_path):
    gen = fitted_generator
    restored = round_trip(gen, how, tmp_path)
    assert_same_state(gen, restored)
    assert_same_params(gen, restored)
    for seed in (0, 7):
        for drawn, drawn_restored in zip(gen.sample(30, random_state=seed), restored.sample(30, random_state=seed)):
            np.testing.assert_array_equal(drawn_restored, drawn, strict=True)
    # random_state=None continues the stream seeded at fit from where it was pickled
    for drawn, drawn_restored in zip(gen.sample(30), restored.sample(30)):
        np.testing.assert_array_equal(drawn_restored, drawn, strict=True)


def test_round_trip_of_an_unfitted_distiller_keeps_its_params(tmp_path):
    kd = CrossModalDistiller(teacher=LogisticRegression(C=0.5), student=small_net(), focus=small_ranker(), rho=0.2)
    restored = round_trip(kd, "joblib", tmp_path)
    assert_same_params(kd, restored)
    assert not hasattr(restored, "student_")


# ---------------------------------------------------------------- CUDA -> CPU (simulated)
@requires_no_cuda
@pytest.mark.parametrize("how", HOW)
def test_simulation_reproduces_torchs_cuda_load_failure(how, tmp_path):
    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)
    # control: pickled normally, it loads
    assert torch.equal(round_trip(module, how, tmp_path).weight, module.weight)
    with storages_on_cuda(module) as tagged:
        assert len(tagged) == 2 and module.weight.is_cuda and not torch.zeros(1).is_cuda
        blob = dump(module, how, tmp_path)
    assert not module.weight.is_cuda  # the patch is undone
    with pytest.raises(RuntimeError, match=CUDA_LOAD_ERROR):
        load(blob, how)


@requires_no_cuda
@pytest.mark.parametrize("how", HOW)
def test_simulation_catches_a_ranker_that_pickles_its_cuda_nets_as_they_are(how, tmp_path, monkeypatch):
    # Sensitivity check: without the CPU copy in its __getstate__, the
    # salience networks (nets_, outside any skorch net) keep their CUDA tag
    # and the ranker cannot be loaded without CUDA.
    ranker = fit_ranker("mean")[0]
    monkeypatch.setattr(ModalityGeneralRanker, "__getstate__", BaseEstimator.__getstate__)
    blob, _ = dump_as_if_fitted_on_cuda(ranker, how, tmp_path)
    with pytest.raises(RuntimeError, match=CUDA_LOAD_ERROR):
        load(blob, how)


def _attribute_snapshot(obj):
    """(object, shallow copy of its attributes) for every estimator and skorch net inside ``obj``."""
    return [(item, dict(vars(item))) for item in _walk(obj) if isinstance(item, (BaseEstimator, NeuralNet))]


@requires_no_cuda
@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("which", ["distiller_hidden_layer_focus", "distiller_joint_teacher", *RANKER_KINDS])
def test_pickling_a_cuda_fitted_estimator_leaves_it_unchanged(which, how, tmp_path):
    # Saving a model must not modify it: after the dump the estimator (and
    # every estimator and skorch net inside it) holds the very same objects.
    if which.startswith("distiller"):
        estimator = fit_distiller(which.removeprefix("distiller_"))[0]
    else:
        estimator = fit_ranker(which)[0]
    pretend_fitted_on_cuda(estimator)
    snapshot = _attribute_snapshot(estimator)
    with storages_on_cuda(estimator):
        dump(estimator, how, tmp_path)
    for item, attributes in snapshot:
        for name, value in attributes.items():
            assert getattr(item, name) is value, f"pickling replaced {type(item).__name__}.{name}"


@requires_no_cuda
@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("case", DISTILLER_CASES)
def test_distiller_fitted_on_cuda_loads_and_predicts_on_cpu(case, how, tmp_path):
    on_gpu, _fit_kw, X_b, _y, X_a = fit_distiller(case)
    expected_proba, expected_labels = on_gpu.predict_proba(X_b), on_gpu.predict(X_b)
    expected_teacher = None if on_gpu.teacher_ is None else fitted_teacher_proba(on_gpu, X_b, X_a)
    blob, n_tagged = dump_as_if_fitted_on_cuda(on_gpu, how, tmp_path)
    assert n_tagged > 0
    restored = load_on_cpu_only_machine(blob, how)

    assert_everything_on_cpu(restored)
    np.testing.assert_array_equal(restored.predict_proba(X_b), expected_proba, strict=True)
    np.testing.assert_array_equal(restored.predict(X_b), expected_labels, strict=True)
    assert_same_state(on_gpu, restored, ignore={"device"})
    if expected_teacher is not None:
        np.testing.assert_array_equal(fitted_teacher_proba(restored, X_b, X_a), expected_teacher)


@requires_no_cuda
def test_distiller_fitted_on_cuda_refits_on_cpu_once_told_to(tmp_path):
    on_gpu, fit_kw, X_b, y, _X_a = fit_distiller("skorch_teacher_both_modalities")
    expected = on_gpu.predict_proba(X_b)
    blob, _ = dump_as_if_fitted_on_cuda(on_gpu, "pickle", tmp_path)
    restored = load_on_cpu_only_machine(blob, "pickle")
    assert restored.device == "cuda"  # a parameter: kept as the user set it
    with pytest.raises(ValueError, match="device='cuda'.*CUDA is not available"):
        clone(restored).fit(X_b, y, **fit_kw)
    refit = clone(restored).set_params(device="auto").fit(X_b, y, **fit_kw)
    np.testing.assert_array_equal(refit.predict_proba(X_b), expected, strict=True)


@requires_no_cuda
@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("which", RANKER_KINDS)
def test_ranker_fitted_on_cuda_loads_and_transforms_on_cpu(which, how, tmp_path):
    on_gpu, X_a, X_b, _y = fit_ranker(which)
    xs = [torch.as_tensor(X, dtype=torch.float32) for X in (X_a, X_b)]
    expected_logits = [module(x).detach() for module, x in zip(on_gpu.nets_, xs)]
    expected_transform = on_gpu.transform(X_a) if on_gpu.layer is None else None
    blob, n_tagged = dump_as_if_fitted_on_cuda(on_gpu, how, tmp_path)
    assert n_tagged > 0
    restored = load_on_cpu_only_machine(blob, how)

    assert_everything_on_cpu(restored)
    assert_same_state(on_gpu, restored, ignore={"device"})
    if expected_transform is not None:
        np.testing.assert_array_equal(restored.transform(X_a), expected_transform, strict=True)
    for mode in ("general", "specific", "random"):
        np.testing.assert_array_equal(restored.support_for(mode, 0.3), on_gpu.support_for(mode, 0.3))
    for module, x, logits in zip(restored.nets_, xs, expected_logits):
        assert torch.equal(module(x), logits)


@requires_no_cuda
@pytest.mark.parametrize("how", HOW)
def test_generator_pickled_beside_cuda_tensors_loads_on_cpu(fitted_generator, how, tmp_path):
    # The generator holds no torch state: nothing is tagged, and it samples identically.
    blob, n_tagged = dump_as_if_fitted_on_cuda(fitted_generator, how, tmp_path)
    assert n_tagged == 0
    restored = load(blob, how)
    assert_same_state(fitted_generator, restored)
    for drawn, drawn_restored in zip(fitted_generator.sample(20, random_state=3), restored.sample(20, random_state=3)):
        np.testing.assert_array_equal(drawn_restored, drawn, strict=True)
