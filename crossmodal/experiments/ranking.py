"""``crossmodal reproduce ranking``: focused teachers, the paper's real-data protocol (Tables 4 and 8).

What the paper's RAVDESS experiment does, on data that ship with the library
(see :class:`crossmodal.CrossModalDistiller`, ``teacher="joint"``):

1. Algorithm 1, step 1: train ``f_a`` (teacher modality) and ``f_b``
   (student modality) jointly on ``MSE(logits) + CE + CE``;
2. step 2: rank the channels of ``f_a``'s hidden layer by permutation
   salience (how far ``f_a`` moves from ``f_b`` when a channel is permuted);
3. the teacher is that same ``f_a``: the ``r`` least salient channels
   (modality-general teacher), the ``r`` most salient (modality-specific) or
   ``r`` random ones are replaced by their training mean when it is queried,
   with no retraining; ``r = 0`` is the regular teacher;
4. each teacher is distilled into the same student (same initial weights and
   batches) from the KD term alone (``rho = 0``).

The ranking is computed once per seed; every mode and ratio reuses it
(:meth:`ModalityGeneralRanker.support_for`). MFH predicts the students'
order modality-general >= regular >= random >= modality-specific.

Datasets (teacher view -> student view):

* ``av-digits``: spoken -> written digits (audio MFCC -> MNIST image), the
  paper's RAVDESS direction; the two share only their label;
* ``mfeat-pix-fou``, ``mfeat-fac-zer``, ``mfeat-kar-mor``: UCI Multiple
  Features, a pixel-like view teaching a rotation-invariant one;
* ``mvd-mlp``: :class:`MVDGenerator` data passed through a fixed random
  nonlinear map per modality (``mixing="mlp"``).

The ranked layer, the temperature and the number of epochs of each dataset
(:data:`SETTINGS`) were chosen by :func:`tune` on validation rows carved from
the training rows, never on the test rows; ``python -m
crossmodal.experiments.ranking --tune`` reruns that search.
"""

import numpy as np
import pandas as pd

from crossmodal.distill._joint_teacher import joint_teacher, joint_teacher_proba
from crossmodal.experiments._batched_mlp import distil_students
from crossmodal.experiments._ranking_protocol import (
    MODES,
    N_REPEATS,
    PAIR_HIDDEN,
    RATIOS,
    STUDENT_BATCH,
    STUDENT_HIDDEN,
    STUDENT_LR,
    TEACHERS,  # noqa: F401 (re-exported: the protocol's constants stay importable from here)
    TUNE_GRID,
    VALIDATION_SHARE,
    _mfeat,
    _net,
    load_av_digits_audio_image,
    load_mvd_mlp,
)
from crossmodal.experiments._ranking_report import check_trends, write_report
from crossmodal.experiments._report import write_csv
from crossmodal.experiments._reproduction import Entry
from crossmodal.experiments._rows import split_rows
from crossmodal.experiments._runs import collect_runs
from crossmodal.experiments._views import standardized_views
from crossmodal.focus._ranker import ModalityGeneralRanker

__all__ = ["run", "run_dataset", "tune", "check_trends", "DATASETS", "SETTINGS"]

#: name -> (loader(seed) -> (X_teacher, X_student, y), "teacher -> student" label)
DATASETS = {
    "av-digits": (load_av_digits_audio_image, "audio -> image"),
    "mfeat-pix-fou": (_mfeat("pix", "fou"), "pix -> fou"),
    "mfeat-fac-zer": (_mfeat("fac", "zer"), "fac -> zer"),
    "mfeat-kar-mor": (_mfeat("kar", "mor"), "kar -> mor"),
    "mvd-mlp": (load_mvd_mlp, "a -> b, mixing='mlp'"),
}

#: Per dataset: ranked layer, temperature and epochs, chosen by :func:`tune`
#: on validation rows (see benchmarks/RESULTS.md for the search).
SETTINGS = {
    "av-digits": dict(layer=1, temperature=4.0, epochs=20),
    "mfeat-pix-fou": dict(layer=0, temperature=2.0, epochs=20),
    "mfeat-fac-zer": dict(layer=1, temperature=4.0, epochs=20),
    "mfeat-kar-mor": dict(layer=1, temperature=8.0, epochs=20),
    "mvd-mlp": dict(layer=1, temperature=1.0, epochs=20),
}
QUICK = dict(epochs=2, n_repeats=2, ratios=(0.5,), runs=2)
ENTRY = Entry(
    "ranking",
    runs=5,
    quick_runs=QUICK["runs"],
    returns="``frame``",
    quick=f"One ratio ({QUICK['ratios'][0]}), {QUICK['epochs']} epochs, {QUICK['n_repeats']} permutations per channel.",
)


def _split(y, seed, validation):
    """Rows to fit on and rows to score (:func:`crossmodal.experiments._rows.split_rows`, halves)."""
    return split_rows(y, seed, validation, validation_share=VALIDATION_SHARE)


def _prepare(dataset, seed, validation):
    X_t, X_s, y = DATASETS[dataset][0](seed)
    fit_rows, eval_rows = _split(y, seed, validation)
    (Xt_fit, Xt_eval), (Xs_fit, Xs_eval) = standardized_views([X_t, X_s], fit_rows, eval_rows)
    return Xt_fit, Xt_eval, Xs_fit, Xs_eval, y[fit_rows], y[eval_rows]


def _accuracy_of_module(module, X, y, classes):
    proba = joint_teacher_proba(module, X)
    return float(np.mean(classes[np.argmax(proba, axis=1)] == y))


def _joint_run(run, run_seed, dataset, ratios, layers, temperatures, epochs, n_repeats, validation=False, modes=MODES):
    """One seed: train the pair, rank once per layer, distil every teacher at every temperature.

    All students of a seed (and temperature) share their initial weights and
    batches and are trained together (:func:`distil_students`), as
    ``CrossModalDistiller(student=..., random_state=run_seed)`` would train
    each of them.
    """
    Xt_fit, Xt_eval, Xs_fit, Xs_eval, y_fit, y_eval = _prepare(dataset, run_seed, validation)
    classes, y_code = np.unique(y_fit, return_inverse=True)
    keys, probas, teacher_acc, salience = [], [], {}, {}
    for layer in layers:
        ranker = ModalityGeneralRanker(
            estimator_a=_net(PAIR_HIDDEN, epochs),
            estimator_b=_net(PAIR_HIDDEN, epochs),
            layer=layer,
            n_repeats=n_repeats,
            random_state=run_seed,
        )
        ranker.fit(Xt_fit, y_fit, X_b=Xs_fit)
        salience[layer] = ranker.salience_
        masks = {("regular", 0.0): np.ones(len(ranker.salience_), dtype=bool)} if not keys else {}
        masks.update({(mode, ratio): ranker.support_for(mode, ratio) for ratio in ratios for mode in modes})
        for (mode, ratio), support in masks.items():  # the pair, so the regular teacher, does not depend on layer
            module = joint_teacher(ranker, support)
            key = (None if mode == "regular" else layer, mode, ratio)
            keys.append(key)
            probas.append(joint_teacher_proba(module, Xt_fit))
            teacher_acc[key] = _accuracy_of_module(module, Xt_eval, y_eval, classes)
    uniform = np.full_like(probas[0], 1.0 / len(classes))
    rho = [0.0] * len(keys) + [1.0]  # the last student learns from the labels alone (no KD)
    student_acc = {}
    for temperature in temperatures:
        student = dict(hidden_sizes=STUDENT_HIDDEN, batch_size=STUDENT_BATCH, lr=STUDENT_LR)
        teachers = np.stack(probas + [uniform])
        train = distil_students(
            Xs_fit, y_code, teachers, rho, temperature=temperature, epochs=epochs, random_state=run_seed, **student
        )
        logits = train(Xs_eval)
        accuracy = (classes[logits.argmax(2)] == y_eval).mean(axis=1)
        for key, acc in zip(keys + ["nokd"], accuracy):
            student_acc[temperature, key] = float(acc)
    rows = []
    for layer in layers:
        for temperature in temperatures:
            for ratio in ratios:
                row = dict(dataset=dataset, layer=layer, temperature=temperature, epochs=epochs, ratio=ratio)
                row.update(run=run, seed=run_seed, salience_min=float(salience[layer].min()))
                row.update(salience_median=float(np.median(salience[layer])))
                row.update(student_nokd_acc=student_acc[temperature, "nokd"])
                row.update(teacher_regular_acc=teacher_acc[None, "regular", 0.0])
                row.update(student_regular_acc=student_acc[temperature, (None, "regular", 0.0)])
                for mode in modes:
                    row[f"teacher_{mode}_acc"] = teacher_acc[layer, mode, ratio]
                    row[f"student_{mode}_acc"] = student_acc[temperature, (layer, mode, ratio)]
                rows.append(row)
    return rows


def run_dataset(
    dataset,
    *,
    ratios=RATIOS,
    runs=5,
    seed=0,
    layer=None,
    temperature=None,
    epochs=None,
    n_repeats=N_REPEATS,
    jobs=None,
    progress=False,
):
    """Tidy frame (one row per run and ratio) of the protocol on one dataset, scored on its test rows.

    ``layer``, ``temperature`` and ``epochs`` default to :data:`SETTINGS`.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}; got {dataset!r}.")
    chosen = SETTINGS[dataset]
    layer = chosen["layer"] if layer is None else layer
    temperature = chosen["temperature"] if temperature is None else temperature
    epochs = chosen["epochs"] if epochs is None else epochs
    return collect_runs(
        _joint_run,
        runs,
        seed,
        jobs,
        progress,
        f"ranking {dataset}",
        dataset=dataset,
        ratios=tuple(ratios),
        layers=(layer,),
        temperatures=(float(temperature),),
        epochs=int(epochs),
        n_repeats=n_repeats,
    )


def tune(datasets=None, *, runs=2, seed=100, grid=None, jobs=None, progress=False):
    """Choose layer, temperature and epochs per dataset on validation rows.

    Each seed's training half is split again (``VALIDATION_SHARE`` held out);
    everything is fitted on the rest and scored on the held-out validation
    rows. The test half is never read. Seeds start at ``seed`` (100), apart
    from the reported runs (0-4). Rule: the epochs and temperature that give
    the best mean validation accuracy of the *regular* teacher's student
    (nothing to do with the ranking), then the layer whose modality-general
    students (mean over ratios) score best at those settings, as a user would
    pick ``focus`` by cross-validated student score.

    Returns
    -------
    chosen : dict of {dataset: dict(layer, temperature, epochs)}
    frame : DataFrame
        Every validation score.
    """
    grid = dict(TUNE_GRID if grid is None else grid)
    frames = []
    for name in datasets or DATASETS:
        for epochs in grid["epochs"]:
            frames.append(
                collect_runs(
                    _joint_run,
                    runs,
                    seed,
                    jobs,
                    progress,
                    f"tune {name}",
                    dataset=name,
                    ratios=RATIOS,
                    layers=tuple(grid["layer"]),
                    temperatures=tuple(grid["temperature"]),
                    epochs=epochs,
                    n_repeats=N_REPEATS,
                    validation=True,
                    modes=("general",),
                )
            )
    frame = pd.concat(frames, ignore_index=True)
    chosen = {}
    for name, part in frame.groupby("dataset", sort=False):
        regular = part.groupby(["epochs", "temperature"])["student_regular_acc"].mean()
        epochs, temperature = regular.idxmax()
        at = part[(part["epochs"] == epochs) & (part["temperature"] == temperature)]
        general = at.groupby("layer")["student_general_acc"].mean()
        chosen[name] = dict(layer=int(general.idxmax()), temperature=float(temperature), epochs=int(epochs))
    return chosen, frame


@ENTRY.document
def run(out_dir, *, runs=None, seed=0, jobs=None, quick=False, progress=False):
    """Run the protocol on every dataset and write CSV, report and one figure per dataset."""
    out = ENTRY.start(out_dir, runs, quick)
    ratios = QUICK["ratios"] if quick else RATIOS
    n_repeats = QUICK["n_repeats"] if quick else N_REPEATS
    frames = []
    used = {name: {**SETTINGS[name], **(dict(epochs=QUICK["epochs"]) if quick else {})} for name in DATASETS}
    for name in DATASETS:
        frames.append(
            run_dataset(
                name,
                ratios=ratios,
                runs=out.runs,
                seed=seed,
                epochs=used[name]["epochs"],
                n_repeats=n_repeats,
                jobs=jobs,
                progress=progress,
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    out.computed()
    out.csv(frame, "ranking.csv")
    checks = write_report(out, frame, DATASETS, used, n_repeats)  # the settings as trained
    return out.result(checks, frame=frame)


if __name__ == "__main__":  # pragma: no cover - the search behind SETTINGS
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Choose SETTINGS on validation rows (never test rows).")
    parser.add_argument("--tune", action="store_true", required=True)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", default=None, help="CSV of every validation score")
    parser.add_argument("datasets", nargs="*")
    args = parser.parse_args()
    chosen, scores = tune(args.datasets or None, runs=args.runs, progress=True)
    if args.out:
        write_csv(scores, args.out)
    print(json.dumps(chosen, indent=1))
