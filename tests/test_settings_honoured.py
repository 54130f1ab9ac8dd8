"""Nothing a template sets is silently ignored.

A student, teacher or ranker template either has its settings honoured (the
tight loop hands over to skorch's own loop when a template customises how
batches are made; the ranker runs the template's callbacks and validation
split) or gets a warning naming what is not used.
"""

import warnings

import numpy as np
import pytest
import torch
from conftest import quick_template
from numpy.testing import assert_allclose
from sklearn.base import clone
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit
from torch.utils.data import SubsetRandomSampler, default_collate

from crossmodal import CrossModalDistiller, ModalityGeneralRanker, make_modality_venn
from crossmodal._utils.random import SEED_MAX
from crossmodal._utils.skorch_helpers import replaced_criterion
from crossmodal._utils.torch_helpers import seeded
from crossmodal.distill._net import DistillationNet, as_distillation_net

N_ROWS, BATCH = 50, 16  # the last batch of an epoch has 2 rows
# float32 training through two code paths (thread counts may differ): rtol of
# a few float32 ulps times the number of steps (3 epochs x 4 batches).
RTOL = 16 * np.finfo(np.float32).eps * 12


@pytest.fixture(scope="module")
def data():
    X_a, X_b, y = make_modality_venn(N_ROWS, n_general=3, n_specific_a=2, n_specific_b=2, random_state=0)
    return X_a.astype(np.float32), X_b.astype(np.float32), y


def template(**kw):
    params = dict(
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        lr=0.5,
        max_epochs=3,
        batch_size=BATCH,
        iterator_train__shuffle=True,
    )
    params.update(kw)
    if params["criterion"] is None:
        del params["criterion"]  # skorch's own default
    return quick_template(**params)


class _Doubling:
    """A collate_fn that doubles the student's input (picklable, so the template clones)."""

    def __call__(self, rows):
        X, y = default_collate(rows)
        return {**X, "X": 2 * X["X"]} if isinstance(X, dict) else 2 * X, y


class _Loader(torch.utils.data.DataLoader):
    """Another iterator_train class."""


def _class0_sampler():
    _, _, y = make_modality_venn(N_ROWS, n_general=3, n_specific_a=2, n_specific_b=2, random_state=0)
    return SubsetRandomSampler(np.flatnonzero(y == np.unique(y)[0]).tolist())


SETTINGS = {
    "drop_last": dict(iterator_train__drop_last=True),
    "sampler": dict(iterator_train__shuffle=False, iterator_train__sampler=_class0_sampler()),
    "collate_fn": dict(iterator_train__collate_fn=_Doubling()),
    "iterator_batch_size": dict(iterator_train__batch_size=7),
}


# --------------------------------------------------------------------------- #
# The tight loop hands over to skorch's loop
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "settings, names",
    [
        ({}, []),
        ({"iterator_train__shuffle": False}, []),
        (SETTINGS["drop_last"], ["iterator_train__drop_last"]),
        (SETTINGS["sampler"], ["iterator_train__sampler"]),
        (SETTINGS["collate_fn"], ["iterator_train__collate_fn"]),
        (SETTINGS["iterator_batch_size"], ["iterator_train__batch_size"]),
        ({"iterator_train": _Loader}, ["iterator_train"]),
        ({"dataset__length": N_ROWS}, ["dataset__length"]),
    ],
    ids=[
        "none",
        "shuffle",
        "drop_last",
        "sampler",
        "collate_fn",
        "iterator_batch_size",
        "iterator_class",
        "dataset_param",
    ],
)
def test_tight_loop_names_the_settings_it_leaves_to_skorch(settings, names, data):
    _, X_b, y = data
    net = as_distillation_net(template(**settings), X_b.shape[1], 2, None)
    assert isinstance(net, DistillationNet)
    assert net.settings_for_skorch_loop() == names
    net.fit({"X": X_b}, (y == y.max()).astype(np.int64))
    # skorch's loop records each batch in the history; the tight loop records epochs only.
    assert bool(net.history[-1]["batches"]) == bool(names)


def _plain_skorch(net, X, y, seed):
    """The reference: the same template trained by skorch alone, seeded as the distiller seeds its student."""
    with seeded(seed):
        net.initialize()
        net.partial_fit(X, y)
    return net


def _student_seed(random_state):
    return int(np.random.RandomState(random_state).randint(0, SEED_MAX, size=3)[2])


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_distiller_honours_iterator_settings_as_skorch_does(setting, data):
    _, X_b, y = data
    classes, y_enc = np.unique(y, return_inverse=True)
    uniform = np.full((len(y), len(classes)), 1 / len(classes))
    student = template(**SETTINGS[setting])
    kd = CrossModalDistiller(student=student, rho=1.0, device="cpu", random_state=0).fit(X_b, y, teacher_proba=uniform)

    reference = clone(student).set_params(module__in_features=X_b.shape[1], module__n_classes=len(classes))
    _plain_skorch(reference, X_b, y_enc.astype(np.int64), _student_seed(0))
    for (name, got), (_, want) in zip(kd.student_.module_.named_parameters(), reference.module_.named_parameters()):
        assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=RTOL, atol=RTOL, err_msg=name)
    # skorch with callbacks="disable" records batch losses only; the student's history also has the epoch means.
    want = [
        np.average(
            reference.history[e, "batches", :, "train_loss"],
            weights=reference.history[e, "batches", :, "train_batch_size"],
        )
        for e in range(3)
    ]
    assert_allclose(kd.history_[:, "train_loss"], want, rtol=RTOL)

    # The setting changes the result: without it, the same seed trains another student.
    plain = CrossModalDistiller(student=template(), rho=1.0, device="cpu", random_state=0).fit(
        X_b, y, teacher_proba=uniform
    )
    moved = max(
        float((a - b).detach().abs().max())
        for a, b in zip(kd.student_.module_.parameters(), plain.student_.module_.parameters())
    )
    assert moved > 1e3 * RTOL


def test_distiller_sampler_trains_on_the_sampled_rows_only(data):
    _, X_b, y = data
    uniform = np.full((len(y), 2), 0.5)
    share = {}
    for name, settings in (("sampler", SETTINGS["sampler"]), ("plain", {})):
        kd = CrossModalDistiller(student=template(max_epochs=20, **settings), rho=1.0, device="cpu", random_state=0)
        share[name] = np.mean(kd.fit(X_b, y, teacher_proba=uniform).predict(X_b) == np.unique(y)[0])
    # Cross-entropy on class-0 rows alone: (nearly) every row ends up predicted as class 0.
    assert share["sampler"] > 0.9 and share["plain"] < 0.7, share


@pytest.mark.parametrize("setting", ["drop_last", "sampler"])
def test_teacher_template_settings_are_honoured_as_skorch_does(setting, data):
    X_a, X_b, y = data
    classes, y_enc = np.unique(y, return_inverse=True)
    teacher = template(**SETTINGS[setting])
    kd = CrossModalDistiller(teacher=teacher, student=template(), device="cpu", random_state=0).fit(
        X_b, y, X_teacher=X_a
    )
    assert kd.teacher_.history[-1]["batches"]  # skorch's loop ran

    reference = clone(teacher).set_params(module__in_features=X_a.shape[1], module__n_classes=len(classes))
    teacher_seed = int(np.random.RandomState(0).randint(0, SEED_MAX, size=3)[0])
    _plain_skorch(reference, X_a, y_enc.astype(np.int64), teacher_seed)
    for (name, got), (_, want) in zip(kd.teacher_.module_.named_parameters(), reference.module_.named_parameters()):
        assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=RTOL, atol=RTOL, err_msg=name)


# --------------------------------------------------------------------------- #
# A criterion the distiller replaces is named
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "criterion_params, named",
    [
        (dict(criterion=torch.nn.MSELoss), "criterion=MSELoss"),
        (dict(criterion=torch.nn.CrossEntropyLoss, criterion__label_smoothing=0.2), "criterion__label_smoothing"),
        (dict(criterion=torch.nn.NLLLoss, criterion__weight=torch.tensor([1.0, 3.0])), "criterion__weight"),
        (
            dict(criterion=torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0]))),
            "criterion=CrossEntropyLoss instance with weight set",
        ),
    ],
    ids=["mse", "label_smoothing", "nll_weight", "ce_instance_weight"],
)
@pytest.mark.parametrize("role", ["student", "teacher"])
def test_distiller_warns_about_a_criterion_it_replaces(criterion_params, named, role, data):
    X_a, X_b, y = data
    nets = {"student": template(), "teacher": template()}
    nets[role] = template(**criterion_params)
    kd = CrossModalDistiller(**nets, device="cpu", random_state=0)
    with pytest.warns(UserWarning, match=rf"template of MLP sets {named}.*ignores that setting") as record:
        kd.fit(X_b, y, X_teacher=X_a)
    assert len([w for w in record if "template of MLP" in str(w.message)]) == 1  # only the role that sets it


@pytest.mark.parametrize(
    "criterion_params",
    [
        dict(criterion=None),
        dict(criterion=torch.nn.CrossEntropyLoss),
        dict(criterion=torch.nn.CrossEntropyLoss()),
        dict(criterion=torch.nn.CrossEntropyLoss, criterion__reduction="mean"),
    ],
    ids=["skorch_default", "ce_class", "ce_instance", "ce_default_argument"],
)
def test_no_warning_for_cross_entropy_or_the_default_criterion(criterion_params, data):
    X_a, X_b, y = data
    net = template(**criterion_params)
    assert replaced_criterion(net) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CrossModalDistiller(teacher=net, student=net, device="cpu", random_state=0).fit(X_b, y, X_teacher=X_a)


# --------------------------------------------------------------------------- #
# The ranker runs the template's callbacks and split, and names what it drops
# --------------------------------------------------------------------------- #
def test_ranker_early_stopping_on_estimator_a_stops_the_joint_training(data):
    X_a, X_b, y = data
    stop = EarlyStopping(monitor="valid_loss", patience=2, threshold=0.5, threshold_mode="rel")
    pair = template(max_epochs=100, callbacks=[stop], train_split=ValidSplit(5))
    ranker = ModalityGeneralRanker(estimator_a=pair, estimator_b=pair, n_repeats=1, device="cpu", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ranker.fit(X_a, y, X_b=X_b)
    history = ranker.pair_net_.history
    assert len(history) < 10  # 100 epochs without the callback
    assert "valid_loss" in history[-1]  # the template's validation split was used
    # 4 of 5 folds train: 40 rows, batches of 16 -> 3 training batches per epoch.
    assert len(history[-1, "batches"]) == 3 + 1

    control = ModalityGeneralRanker(
        estimator_a=template(max_epochs=100),
        estimator_b=template(max_epochs=100),
        n_repeats=1,
        device="cpu",
        random_state=0,
    ).fit(X_a, y, X_b=X_b)
    assert len(control.pair_net_.history) == 100


def test_ranker_honours_iterator_settings_of_estimator_a(data):
    X_a, X_b, y = data
    ranker = ModalityGeneralRanker(
        estimator_a=template(**SETTINGS["drop_last"]), estimator_b=template(), n_repeats=1, device="cpu", random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # estimator_b's training settings agree with estimator_a's
        ranker.fit(X_a, y, X_b=X_b)
    history = ranker.pair_net_.history
    assert len(history) == 3
    assert [len(h["batches"]) for h in history] == [N_ROWS // BATCH] * 3  # the 2-row batch is dropped


def test_ranker_with_frozen_estimator_a_trains_with_estimator_b_settings(data):
    X_a, X_b, y = data
    net_a = template(module__in_features=X_a.shape[1], module__n_classes=2).fit(X_a, y)
    b = template(
        callbacks=[EarlyStopping(monitor="train_loss", patience=1, threshold=10.0, threshold_mode="rel")], max_epochs=50
    )
    ranker = ModalityGeneralRanker(estimator_a=net_a, estimator_b=b, n_repeats=1, device="cpu", random_state=0)
    ranker.fit(X_a, y, X_b=X_b)
    assert len(ranker.pair_net_.history) < 50


@pytest.mark.parametrize(
    "estimator, settings, named",
    [
        ("estimator_a", dict(criterion=torch.nn.MSELoss), r"estimator_a sets criterion=MSELoss, which step 1"),
        ("estimator_a", dict(compile=True), r"estimator_a sets compile, which step 1 does not use"),
        ("estimator_a", dict(device="cuda:0"), r"estimator_a sets device='cuda:0'.*ranker's device \(cpu\)"),
        ("estimator_b", dict(criterion__weight=torch.ones(2)), r"estimator_b sets criterion__weight, which"),
        (
            "estimator_b",
            dict(lr=0.2, max_epochs=7),
            r"estimator_b sets lr, max_epochs, which step 1 does not use: "
            r"the pair trains in one loop with estimator_a's",
        ),
        ("estimator_b", dict(callbacks=[EarlyStopping()]), r"estimator_b sets callbacks, which"),
        ("estimator_b", dict(iterator_train__drop_last=True), r"estimator_b sets iterator_train__drop_last, which"),
    ],
    ids=["a_criterion", "a_compile", "a_device", "b_criterion_weight", "b_training", "b_callbacks", "b_iterator"],
)
def test_ranker_warns_about_template_settings_it_does_not_use(estimator, settings, named, data):
    X_a, X_b, y = data
    nets = {"estimator_a": template(), "estimator_b": template(), estimator: template(**settings)}
    ranker = ModalityGeneralRanker(**nets, n_repeats=1, device="cpu", random_state=0)
    with pytest.warns(UserWarning, match=named):
        ranker.fit(X_a, y, X_b=X_b)


def test_ranker_default_estimator_a_with_estimator_b_training_settings_warns(data):
    X_a, X_b, y = data
    ranker = ModalityGeneralRanker(estimator_b=template(), n_repeats=1, device="cpu", random_state=0)
    with pytest.warns(
        UserWarning,
        match=r"estimator_b sets batch_size, lr, max_epochs, which step 1 does not "
        r"use: the pair trains in one loop with the default template's \(estimator_a=None\)",
    ):
        ranker.set_params(estimator_a=None).fit(X_a, y, X_b=X_b)


def test_ranker_does_not_warn_for_one_template_or_its_clones(data):
    X_a, X_b, y = data
    pair = template(callbacks=[EarlyStopping(monitor="train_loss", patience=3)], iterator_train__drop_last=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ModalityGeneralRanker(estimator_a=pair, estimator_b=pair, n_repeats=1, device="cpu", random_state=0).fit(
            X_a, y, X_b=X_b
        )
        # clone() deep-copies the callback and the template: equal settings, other objects
        clone(ModalityGeneralRanker(estimator_a=pair, estimator_b=pair, n_repeats=1, device="cpu", random_state=0)).fit(
            X_a, y, X_b=X_b
        )


# --------------------------------------------------------------------------- #
# Tags
# --------------------------------------------------------------------------- #
def test_ranker_tags_say_y_is_required_and_float32_is_kept(data):
    X_a, X_b, y = data
    tags = ModalityGeneralRanker().__sklearn_tags__()
    assert tags.target_tags.required
    assert tags.transformer_tags.preserves_dtype == ["float64", "float32"]
    for nullify in ("mean", "zero", "drop"):
        ranker = ModalityGeneralRanker(
            estimator_a=template(), estimator_b=template(), n_repeats=1, nullify=nullify, device="cpu", random_state=0
        ).fit(X_a, y, X_b=X_b)
        for dtype in (np.float32, np.float64):
            assert ranker.transform(X_a.astype(dtype)).dtype == dtype


# ---------------------------------------------------------------- devices, dtypes and batch sizes of templates
def _pairs(n=80, seed=0):
    X_a, X_b, y = make_modality_venn(n, n_general=3, n_specific_a=1, n_specific_b=1, random_state=seed)
    return X_a, X_b, y


def test_a_student_template_device_the_distiller_replaces_is_named_in_a_warning():
    X_a, X_b, y = _pairs()
    kd = CrossModalDistiller(student=quick_template((4,), max_epochs=1, device="cuda:7"), device="cpu", random_state=0)
    with pytest.warns(UserWarning, match=r"sets device='cuda:7'; the distiller trains it on its own device \('cpu'"):
        kd.fit(X_b, y, X_teacher=X_a)
    with warnings.catch_warnings():  # the template's default device, or the distiller's own, says nothing
        warnings.simplefilter("error")
        CrossModalDistiller(student=quick_template((4,), max_epochs=1), device="cpu", random_state=0).fit(
            X_b, y, X_teacher=X_a
        )


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_skorch_teacher_on_a_device_this_machine_lacks_is_an_error_naming_it():
    X_a, X_b, y = _pairs()
    kd = CrossModalDistiller(teacher=quick_template((4,), max_epochs=1, device="cuda"), random_state=0)
    with pytest.raises(ValueError, match=r"teacher.device='cuda' was requested but CUDA is not available"):
        kd.fit(X_b, y, X_teacher=X_a)


def test_the_ranker_takes_a_module_instance_for_either_modality():
    from crossmodal.nets import MLP

    X_a, X_b, y = _pairs()
    torch.manual_seed(0)
    b = quick_template(module=MLP(X_b.shape[1], 2, hidden_sizes=(4,)), max_epochs=2)
    ranker = ModalityGeneralRanker(estimator_b=b, n_repeats=2, random_state=0).fit(X_a, y, X_b=X_b)
    assert isinstance(ranker.nets_[1], MLP) and ranker.nets_[1][0].in_features == X_b.shape[1]
    assert 0 < ranker.support_.sum() < ranker.n_features_in_


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_a_module_that_is_not_float32_is_an_error_naming_its_dtype(dtype):
    from crossmodal.nets import MLP

    X_a, X_b, y = _pairs()
    student = quick_template(module=MLP(X_b.shape[1], 2, hidden_sizes=(4,)).to(dtype), max_epochs=1)
    with pytest.raises(ValueError, match=rf"holds {dtype} parameters; the library trains its nets on float32 inputs"):
        CrossModalDistiller(student=student, random_state=0).fit(X_b, y, X_teacher=X_a)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:  # the library's default nets under a float64 default dtype
        with pytest.raises(ValueError, match=r"holds torch.float64 parameters"):
            ModalityGeneralRanker(n_repeats=2, random_state=0).fit(X_a, y, X_b=X_b)
    finally:
        torch.set_default_dtype(previous)


def test_batch_size_none_is_an_error_in_either_training_loop():
    X_a, X_b, y = _pairs()
    for callbacks in ("disable", []):  # the fast loop, and skorch's own
        student = quick_template((4,), max_epochs=1, batch_size=None, callbacks=callbacks)
        with pytest.raises(ValueError, match=r"batch_size=None in the skorch template of MLP is ambiguous; pass -1"):
            CrossModalDistiller(student=student, random_state=0).fit(X_b, y, X_teacher=X_a)
