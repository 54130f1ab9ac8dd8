"""The paper's synthetic protocol: setups, the MVD diagrams of Fig. 2, Fig. 3 and Table 2, draws and linear models.

What :mod:`crossmodal.experiments.synthetic` runs, and what the ``diagnose``
reproduction and the calibration scripts measure KD gains with: the paper's
logistic regressions (``nn.Linear(d, 2)``) trained as stacks by
:mod:`crossmodal.experiments._batched_linear`, on data drawn from
:class:`~crossmodal.datasets.MVDGenerator` with the named seeds of one run.
"""

import dataclasses

import numpy as np

from crossmodal.datasets._mvd_generator import MVDGenerator
from crossmodal.experiments._batched_linear import (
    accuracy_batch,
    default_linear_init,
    softmax_proba,
    stack_inputs,
    stack_linear,
    train_softmax_batch,
)

__all__ = [
    # the diagrams of Fig. 2, Fig. 3 and Table 2
    "FIG2_OVERLAPS",
    "fig2_params",
    "FIG3_SPECIFIC",
    "fig3_params",
    "TABLE2_SETTINGS",
    "table2_params",
    # the training protocol
    "SyntheticSetup",
    "PAPER_SETUP",
    "QUICK_SETUP",
    "paper_protocol_accuracies",
]

#: The paper's settings: Fig. 2's overlaps ``o``, Fig. 3's teacher-specific latents ``k``, Table 2's ``(xs1, xs2)``.
FIG2_OVERLAPS = (0, 2, 4, 6, 8, 10)
FIG3_SPECIFIC = (0, 10, 20, 30, 40)
TABLE2_SETTINGS = ((15, 5), (10, 5), (10, 10), (10, 15), (10, 20), (10, 25), (10, 30))
# Mixed into each run's seed, so the experiments of one run draw different streams.
_EXPERIMENT_CODE = {"fig2": 2, "fig3": 3, "table2": 4}
_N_CLASSES = 2


@dataclasses.dataclass(frozen=True)
class SyntheticSetup:
    """Training protocol of the synthetic experiments (defaults: the paper's).

    Parameters
    ----------
    n_train, n_test : int
        Training and test samples per draw.
    n_epochs : int
        Full-batch SGD steps for every teacher and student.
    lr : float
        SGD learning rate (no momentum).
    ce_weight, kl_weight : float
        Weights of CE and KL in the KD student's loss.
    kl_reduction : {"mean", "batchmean"}
        ``"mean"`` is torch's default ``KLDivLoss()`` (the authors' code).
    pair_lr, pair_momentum, pair_epochs : float, float, int
        SGD for Algorithm 1's jointly trained pair.
    n_repeats : int
        Permutations per channel in Algorithm 1 (``M``).
    """

    n_train: int = 200
    n_test: int = 1000
    n_epochs: int = 1000
    lr: float = 0.1
    ce_weight: float = 1.0
    kl_weight: float = 1.0
    kl_reduction: str = "mean"
    pair_lr: float = 0.01
    pair_momentum: float = 0.9
    pair_epochs: int = 1000
    n_repeats: int = 100


PAPER_SETUP = SyntheticSetup()
QUICK_SETUP = SyntheticSetup(n_epochs=500, pair_epochs=500, n_repeats=20)


def _run_seeds(run_seed, experiment):
    """Named integer seeds of one run of one experiment, shared by its settings."""
    names = (
        "structure",
        "train",
        "test",
        "train2",
        "teacher",
        "student",
        "pair_a",
        "pair_b",
        "mg_teacher",
        "permutation",
        "random_columns",
    )
    ss = np.random.SeedSequence([int(run_seed), _EXPERIMENT_CODE[experiment]])
    return dict(zip(names, (int(s) for s in ss.generate_state(len(names)))))


def _draw(params, seeds, setup, second_draw=False):
    gen = MVDGenerator(**params, random_state=seeds["structure"]).fit()
    data = {
        "gen": gen,
        "train": gen.sample(setup.n_train, random_state=seeds["train"]),
        "test": gen.sample(setup.n_test, random_state=seeds["test"]),
    }
    if second_draw:
        data["train2"] = gen.sample(setup.n_train, random_state=seeds["train2"])
    return data


def _f32(X):
    return np.asarray(X, dtype=np.float32)


def _fit(inits, X, y, setup, *, kl_weight=0.0, teacher_proba=None, width=None):
    """Train a stack of linear models from their inits on their own inputs."""
    return train_softmax_batch(
        stack_linear(inits, width),
        stack_inputs([_f32(x) for x in X], width),
        np.stack(y),
        lr=setup.lr,
        n_epochs=setup.n_epochs,
        ce_weight=np.where(np.asarray(kl_weight) > 0, setup.ce_weight, 1.0),  # no-KD models: CE alone
        kl_weight=kl_weight,
        teacher_proba=teacher_proba,
        kl_reduction=setup.kl_reduction,
    )


def _acc(weights, X, y, width=None):
    return accuracy_batch(weights, stack_inputs([_f32(x) for x in X], width), np.stack(y))


def _proba(weights, X, width=None):
    return softmax_proba(weights, stack_inputs([_f32(x) for x in X], width)).numpy()


def fig2_params(overlap):
    """MVDGenerator parameters of Fig. 2 at one overlap ``o`` (Appendix B.2)."""
    return dict(
        n_general=overlap,
        n_specific_a=10 - overlap,
        n_specific_b=10 - overlap,
        n_hidden=overlap,
        n_noise_a=15,
        n_noise_b=40,
        hyperplane="normal",
    )


def fig3_params(k):
    """MVDGenerator parameters of Fig. 3 with ``k`` teacher-specific latents."""
    return dict(
        n_general=10,
        n_specific_a=k,
        n_specific_b=0,
        n_hidden=40 - k,
        n_noise_a=40 - k,
        n_noise_b=40,
        hyperplane="normal",
    )


def table2_params(xs1, xs2):
    """MVDGenerator parameters of Table 2 at ``(xs1, xs2)``."""
    return dict(
        n_general=xs2,
        n_specific_a=xs1,
        n_specific_b=0,
        n_hidden=0,
        n_noise_a=50 - xs1 - xs2,
        n_noise_b=50 - xs2,
        hyperplane="ones",
    )


def paper_protocol_accuracies(data, seeds, setup):
    """Test accuracies of the no-KD and the KD student of the paper's synthetic protocol on ``data``.

    ``data`` and ``seeds`` as :func:`_draw` makes and takes them: a linear
    teacher on modality a, then two linear students on b from the same
    initial weights, one on labels alone.
    """
    gen = data["gen"]
    (Xa, Xb, y), (_, Xb_te, y_te) = data["train"], data["test"]
    teacher = _fit([default_linear_init(gen.n_features_a_, _N_CLASSES, seeds["teacher"])], [Xa], [y], setup)
    proba = _proba(teacher, [Xa])
    init = [default_linear_init(gen.n_features_b_, _N_CLASSES, seeds["student"])] * 2
    students = _fit(
        init, [Xb] * 2, [y] * 2, setup, kl_weight=[0.0, setup.kl_weight], teacher_proba=np.concatenate([proba, proba])
    )
    nokd, kd = _acc(students, [Xb_te] * 2, [y_te] * 2)
    return nokd, kd
