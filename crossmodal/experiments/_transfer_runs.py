"""One seed of the transfer reproduction: data, label budgets, teachers, the stacked students and ``diagnose``.

Per seed and label budget every student is trained on all training pairs,
with the same initial weights and batches (one stack,
:func:`~crossmodal.experiments._batched_mlp.distil_students`); the labels
are ``-1`` on every row outside the budget. Each student is what one
:class:`~crossmodal.CrossModalDistiller` fit gives (``X`` the student view of
every training pair, ``y`` with ``-1`` markers, ``random_state`` the seed):

* ``labels``: ``rho=1`` (no teacher);
* ``kd_every``: ``teacher=LogisticRegression(max_iter=1000)`` and
  ``X_teacher``: fitted on the labelled rows, queried on every pair;
* ``kd_labelled``: the same teacher's probabilities as ``teacher_proba`` and
  ``sample_weight`` 1 on the labelled rows, 0 elsewhere, so both terms cover
  the labelled rows only (what fitting on those rows alone does, with as many
  optimiser steps as the other students);
* ``general``, ``regular``, ``specific``: ``teacher="joint"``,
  ``focus=ModalityGeneralRanker(layer=PAIR_LAYER, mode=..., ratio=PAIR_RATIO)``
  (``regular``: nothing nullified); the pair is trained on every pair, its
  cross-entropy terms on the labelled rows.
"""

import dataclasses

import numpy as np
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from crossmodal._utils.labels import label_weights
from crossmodal._utils.torch_helpers import torch_threads
from crossmodal.distill._joint_teacher import joint_teacher, joint_teacher_proba
from crossmodal.experiments import _transfer_protocol as protocol
from crossmodal.experiments._batched_mlp import distil_students
from crossmodal.experiments._diagnose_gains import measure_gains
from crossmodal.experiments._ranking_protocol import _net
from crossmodal.experiments._rows import labelled_rows
from crossmodal.experiments._views import standardized_views
from crossmodal.focus._ranker import ModalityGeneralRanker

__all__ = [
    "Student",
    "prepare",
    "fit_teachers",
    "train_students",
    "diagnosed",
    "default_distiller_accuracy",
    "teacher_model",
    "seed_cells",
]

#: The logistic-regression teacher's iteration cap (lbfgs reaches its tolerance well before it on these data).
LR_MAX_ITER = 1000


@dataclasses.dataclass(frozen=True)
class Student:
    """One student of a stack: its key, the teacher it learns from and its settings.

    ``teacher`` is ``"none"`` (labels only; ``rho`` must be 1), ``"lr"`` or
    one of :data:`protocol.JOINT_MODES`; ``epochs`` are the epochs after which it is
    scored; ``labelled_kd`` restricts its KD term to the labelled rows.
    """

    key: str
    teacher: str
    rho: float
    temperature: float
    epochs: tuple
    labelled_kd: bool = False


def teacher_model():
    """The scikit-learn teacher of the KD students, unfitted."""
    return LogisticRegression(max_iter=LR_MAX_ITER)


def prepare(dataset, seed, validation):
    """Standardised views of one seed: (Xt_fit, Xt_eval, Xs_fit, Xs_eval, y_fit, y_eval).

    The fitted rows are every training pair (validation: all but the
    validation rows); the views are standardised on them, labels or not.
    """
    X_t, X_s, y = protocol.DATASETS[dataset][0](seed)
    y = np.asarray(y)
    fit_rows, eval_rows = protocol.split_rows(y, seed, validation)
    (Xt_fit, Xt_eval), (Xs_fit, Xs_eval) = standardized_views([X_t, X_s], fit_rows, eval_rows)
    return Xt_fit, Xt_eval, Xs_fit, Xs_eval, y[fit_rows], y[eval_rows]


def fit_teachers(Xt_fit, Xt_eval, Xs_fit, y_semi, y_eval, seed, modes=protocol.JOINT_MODES):
    """Each teacher's probabilities on the training pairs and accuracy on the scored rows.

    Returns ``(proba, accuracy)``, dicts keyed by ``"lr"`` and ``modes``:
    the logistic regression fitted on the labelled rows, and ``f_a`` of one
    :class:`ModalityGeneralRanker` fitted on every pair, with its least
    salient (``general``), most salient (``specific``) or no (``regular``)
    channels nullified.
    """
    labelled = y_semi != -1
    lr = teacher_model().fit(Xt_fit[labelled], y_semi[labelled])
    proba = {"lr": lr.predict_proba(Xt_fit)}
    accuracy = {"lr": float(np.mean(lr.predict(Xt_eval) == y_eval))}
    if not modes:
        return proba, accuracy
    pair = _net(protocol.PAIR_HIDDEN, protocol.PAIR_EPOCHS)  # the ranker clones one template for f_a and one for f_b
    layer, ratio = protocol.PAIR_LAYER, protocol.PAIR_RATIO
    ranker = ModalityGeneralRanker(estimator_a=pair, estimator_b=pair, layer=layer, n_repeats=protocol.N_REPEATS)
    ranker.set_params(random_state=seed).fit(Xt_fit, y_semi, X_b=Xs_fit)
    for mode in modes:
        support = np.ones(len(ranker.salience_), bool) if mode == "regular" else ranker.support_for(mode, ratio)
        module = joint_teacher(ranker, support)
        proba[mode] = joint_teacher_proba(module, Xt_fit)
        accuracy[mode] = float(np.mean(lr.classes_[joint_teacher_proba(module, Xt_eval).argmax(1)] == y_eval))
    return proba, accuracy


def train_students(students, X, codes, proba, X_eval, eval_codes, seed):
    """Train ``students`` as one stack; returns ``{(key, epoch): accuracy on the scored rows}``.

    ``codes``: the training pairs' labels as class indices, -1 where
    unlabelled; ``proba``: the teachers' probabilities by name.
    """
    labelled = codes != -1
    n_classes = next(iter(proba.values())).shape[1]
    uniform = np.full((len(codes), n_classes), 1.0 / n_classes)
    teachers = np.stack([uniform if s.teacher == "none" else proba[s.teacher] for s in students])
    factor = label_weights(labelled)
    kd_weight = np.stack([factor if s.labelled_kd else np.ones(len(codes), np.float32) for s in students])
    wanted = {e for s in students for e in s.epochs}
    accuracy = {}

    def record(epoch, logits):
        if epoch in wanted:
            hits = logits(X_eval).argmax(2) == eval_codes
            scored = [(r, s.key) for r, s in enumerate(students) if epoch in s.epochs]
            accuracy.update({(key, epoch): float(hits[r].mean()) for r, key in scored})

    net = dict(
        hidden_sizes=protocol.STUDENT_HIDDEN,
        batch_size=protocol.STUDENT_BATCH,
        lr=protocol.STUDENT_LR,
        epochs=max(wanted),
    )
    rho, temperature = [s.rho for s in students], [s.temperature for s in students]
    weights = dict(label_weight=factor, kd_weight=kd_weight)
    distil_students(
        X, codes, teachers, rho, temperature=temperature, random_state=seed, on_epoch=record, **net, **weights
    )
    return accuracy


def diagnosed(X_a, X_b, y_semi, seed):
    """``diagnose``'s prediction for distilling on every pair, as the tidy frame's columns.

    ``predicted_gain`` (and its interval) in accuracy, as the frame's other
    columns (``diagnose`` states it in points), ``verdict``,
    ``regime`` where the result states the regime it describes, and
    ``diagnose_error``: empty, or the message of the ValueError that
    ``diagnose`` raised on these data (its numbers are then NaN and its
    verdict ``"error"``, so the report shows the failure instead of hiding
    the cell). Folds: 5, or as many as the smallest class has labelled
    rows (at least 2), as the error of ``diagnose`` advises a user with so
    few labels.
    """
    from crossmodal.diagnosis._diagnose import diagnose

    labelled = y_semi[y_semi >= 0]
    folds = int(max(2, min(5, np.bincount(labelled).min()))) if len(labelled) else 5
    try:
        result = diagnose(X_a, X_b, y_semi, cv=folds, random_state=seed)
    except ValueError as exc:
        nan = float("nan")
        return dict(
            predicted_gain=nan,
            predicted_gain_lo=nan,
            predicted_gain_hi=nan,
            verdict="error",
            regime="",
            diagnose_error=str(exc),
        )
    low, high = result.predicted_gain_ci
    return dict(
        predicted_gain=float(result.predicted_gain) / 100,
        predicted_gain_lo=float(low) / 100,
        predicted_gain_hi=float(high) / 100,
        verdict=str(result.verdict),
        regime=str(getattr(result, "regime", "")),
        diagnose_error="",
    )


def default_distiller_accuracy(Xt_fit, Xt_eval, Xs_fit, Xs_eval, codes, eval_codes, seed):
    """Test accuracy of ``CrossModalDistiller()``'s defaults and of their labels-only twin (``rho=1``), on these rows.

    The configuration whose gain ``diagnose`` predicts: the default MLP
    teacher fitted on the labelled rows and queried on every pair, the
    default MLP student, ``rho=0.5``, ``T=1`` (fitted as
    :func:`~crossmodal.experiments._diagnose_gains.measure_gains` fits it).
    Returns ``default_kd_acc`` and ``default_labels_acc``.
    """
    train = {"a": np.asarray(Xt_fit, np.float32), "b": np.asarray(Xs_fit, np.float32)}
    test = {"a": np.asarray(Xt_eval, np.float32), "b": np.asarray(Xs_eval, np.float32)}
    with torch_threads(1), threadpool_limits(limits=1):
        _, kd, labels = measure_gains(train, test, codes, eval_codes, [("a", "b")], seed)[("a", "b")]
    return dict(default_kd_acc=kd, default_labels_acc=labels)


def seed_cells(run, run_seed, dataset, budgets, students, validation, diagnose_cells, modes=protocol.JOINT_MODES):
    """Yield ``(row, accuracy)`` per budget of one seed: the cell's shared columns and its students' scores.

    ``students(budget)`` gives the :class:`Student` stack of a budget; the
    teachers are fitted on that budget's labelled rows, and ``diagnose`` is
    called when ``diagnose_cells`` is true (and, with few labels in the
    first :data:`~._transfer_protocol.DEFAULT_RUNS` runs,
    :func:`default_distiller_accuracy`).
    """
    Xt_fit, Xt_eval, Xs_fit, Xs_eval, y_fit, y_eval = prepare(dataset, run_seed, validation)
    classes = np.unique(y_fit)
    eval_codes = np.searchsorted(classes, y_eval)
    for per_class in budgets:
        labelled = labelled_rows(y_fit, per_class, run_seed)
        y_semi = np.where(labelled, y_fit, -1)
        codes = np.where(labelled, np.searchsorted(classes, y_fit), -1)
        with threadpool_limits(limits=1, user_api="blas"):
            proba, teacher_acc = fit_teachers(Xt_fit, Xt_eval, Xs_fit, y_semi, y_eval, run_seed, modes)
        row = dict(dataset=dataset, budget=protocol.budget_label(per_class), run=run, seed=run_seed)
        row.update(labels_per_class=labelled.sum() / len(classes), n_labelled=int(labelled.sum()), n_train=len(y_fit))
        row.update({f"teacher_{name}_acc": acc for name, acc in teacher_acc.items()})
        # the labels the teacher gives the pairs that have none (NaN when every pair keeps its label)
        hits = classes[proba["lr"][~labelled].argmax(1)] == y_fit[~labelled]
        row["teacher_lr_unlabelled_acc"] = float(hits.mean()) if hits.size else float("nan")
        accuracy = train_students(students(per_class), Xs_fit, codes, proba, Xs_eval, eval_codes, run_seed)
        if diagnose_cells:
            with threadpool_limits(limits=1, user_api="blas"):
                row.update(diagnosed(Xt_fit, Xs_fit, y_semi, run_seed))
            # Beside diagnose, the gain of the configuration it predicts (few labels: where its regime is).
            row.update(default_kd_acc=float("nan"), default_labels_acc=float("nan"))
            if run < protocol.DEFAULT_RUNS and not labelled.all():
                row.update(default_distiller_accuracy(Xt_fit, Xt_eval, Xs_fit, Xs_eval, codes, eval_codes, run_seed))
        yield row, accuracy
