"""``crossmodal reproduce transfer``: few labels, many pairs (supervision transfer).

Crossmodal distillation pays in practice where labels are scarce and paired
recordings cheap: a teacher fitted on the few labelled rows of its modality
labels every pair for the student (Gupta et al., CVPR 2016; Aytar et al.,
NeurIPS 2016). This reproduction draws label-budget curves: per seed, a
stratified third of the rows is held out for testing; of the training pairs
only 3, 10 or 30 per class keep their label (or all do), the others are
marked ``-1``, and six students of the student view are trained on every
training pair (:mod:`~crossmodal.experiments._transfer_runs`):

* labels only;
* KD from a logistic-regression teacher fitted on the labelled rows, the KD
  term on those rows only (what distilling on the labelled rows alone gives);
* the same teacher's KD on every pair (``CrossModalDistiller`` with ``-1``
  in ``y``);
* Algorithm 1's jointly trained ``f_a`` (trained on every pair, its
  cross-entropy on the labelled rows) as teacher on every pair, with its
  least salient half of channels nullified (modality-general), nothing
  nullified (regular), or its most salient half (modality-specific).

:func:`crossmodal.diagnose`, given the teacher view, the student view and
the labels with their ``-1`` markers, predicts the gain of KD on every pair
over labels only; its prediction stands beside each measured gain.

View pairs (teacher -> student): mfeat pix -> fou and fac -> mor (a pixel-like
teacher, a rotation-invariant student), zer -> pix (a teacher weaker than
the student), av-digits audio -> image and image -> audio (pairs that share
only the label), and :class:`MVDGenerator` data of known gamma.

The students' ``rho``, temperature and epochs (:data:`SETTINGS`) were
chosen by :func:`tune` on validation rows carved from the training pairs,
never on the test rows; ``python -m crossmodal.experiments.transfer --tune``
reruns that search.
"""

import pandas as pd

from crossmodal.experiments._report import write_csv
from crossmodal.experiments._reproduction import Entry
from crossmodal.experiments._runs import collect_runs
from crossmodal.experiments._transfer_protocol import BUDGETS, DATASETS, JOINT_MODES, KD_STUDENTS, STUDENTS, TUNE_GRID
from crossmodal.experiments._transfer_runs import Student, seed_cells

__all__ = ["run", "run_dataset", "tune", "students_for", "DATASETS", "SETTINGS", "STUDENTS", "BUDGETS"]


def _chosen(labels_epochs, *kd):
    """One dataset's :data:`SETTINGS`: labels only's epochs, then ``(rho, temperature, epochs)`` per KD student."""
    chosen = dict(labels=dict(rho=1.0, temperature=1.0, epochs=labels_epochs))
    chosen.update({name: dict(zip(("rho", "temperature", "epochs"), s)) for name, s in zip(KD_STUDENTS, kd)})
    return chosen


#: Per dataset and student: rho, temperature and epochs chosen by :func:`tune` on validation rows
#: (``general`` and ``specific`` use ``regular``'s; ``labels`` has rho 1 and no temperature).
SETTINGS = {
    # dataset: labels only's epochs, then (rho, temperature, epochs) of KD on the labelled rows, KD on every pair
    # and the regular f_a's student (whose choice the general and specific f_a's students share)
    "mfeat-pix-fou": _chosen(20, (0.5, 4.0, 20), (0.1, 2.0, 20), (0.1, 1.0, 20)),
    "mfeat-fac-mor": _chosen(20, (0.7, 1.0, 20), (0.3, 1.0, 20), (0.1, 1.0, 20)),
    "mfeat-zer-pix": _chosen(20, (0.7, 1.0, 20), (0.7, 1.0, 5), (0.7, 1.0, 5)),
    "av-digits-audio-image": _chosen(20, (0.3, 1.0, 20), (0.1, 2.0, 10), (0.1, 1.0, 20)),
    "av-digits-image-audio": _chosen(20, (0.7, 2.0, 20), (0.5, 2.0, 10), (0.1, 1.0, 5)),
    "mvd": _chosen(20, (0.7, 2.0, 10), (0.7, 4.0, 10), (0.5, 2.0, 10)),
}
QUICK = dict(budgets=(10, None), runs=2, max_epochs=5)
_QUICK_TEXT = f"Two budgets (10 labels per class and all), at most {QUICK['max_epochs']} epochs per student."
ENTRY = Entry("transfer", runs=5, quick_runs=QUICK["runs"], quick=_QUICK_TEXT, returns="``frame``")

_TEACHERS = dict(kd_labelled="lr", kd_every="lr", regular="regular")


def students_for(settings, max_epochs=None):
    """The stack of one budget: each student of :data:`STUDENTS` with its settings from ``settings``.

    ``settings``: one dataset's entry of :data:`SETTINGS`; ``max_epochs``
    caps every student's epochs (``--quick``).
    """

    settings = _capped(settings, max_epochs)

    def epochs(name):
        return (int(settings[name]["epochs"]),)

    stack = [Student("labels", "none", 1.0, 1.0, epochs("labels"))]
    for name in STUDENTS[1:]:
        chosen = settings["regular" if name in JOINT_MODES else name]
        teacher = _TEACHERS.get(name, name)
        source = "regular" if name in JOINT_MODES else name
        rho, temperature = float(chosen["rho"]), float(chosen["temperature"])
        stack.append(Student(name, teacher, rho, temperature, epochs(source), labelled_kd=name == "kd_labelled"))
    return stack


def _transfer_run(run, run_seed, dataset, budgets, settings, max_epochs, diagnose_cells=True):
    """One seed of one dataset: a tidy row per budget, every student's test accuracy and ``diagnose``'s columns."""
    stack = students_for(settings, max_epochs)
    rows = []
    for row, accuracy in seed_cells(run, run_seed, dataset, budgets, lambda _: stack, False, diagnose_cells):
        for s in stack:
            row[f"student_{s.key}_acc"] = accuracy[s.key, s.epochs[0]]
        row["measured_gain"] = row["student_kd_every_acc"] - row["student_labels_acc"]
        rows.append(row)
    return rows


def run_dataset(dataset, *, budgets=BUDGETS, runs=5, seed=0, settings=None, max_epochs=None, jobs=None, progress=False):
    """Tidy frame (one row per run and budget) of the protocol on one dataset, scored on its test rows.

    ``settings`` defaults to ``SETTINGS[dataset]``.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}; got {dataset!r}.")
    return collect_runs(
        _transfer_run,
        runs,
        seed,
        jobs,
        progress,
        f"transfer {dataset}",
        dataset=dataset,
        budgets=tuple(budgets),
        settings=SETTINGS[dataset] if settings is None else settings,
        max_epochs=max_epochs,
    )


def _grid_students(grid):
    """Every candidate of ``grid`` as one stack: labels only, then each KD student at each rho and temperature."""
    epochs = tuple(sorted(grid["epochs"]))
    stack = [Student("labels", "none", 1.0, 1.0, epochs)]
    for name in KD_STUDENTS:
        for rho in grid["rho"]:
            for temperature in grid["temperature"]:
                key = f"{name}|{rho:g}|{temperature:g}"
                stack.append(Student(key, _TEACHERS[name], rho, temperature, epochs, name == "kd_labelled"))
    return stack


def _tune_run(run, run_seed, dataset, budgets, grid):
    stack = _grid_students(grid)
    rows = []
    cells = seed_cells(run, run_seed, dataset, budgets, lambda _: stack, True, False, modes=("regular",))
    for cell, accuracy in cells:
        for (key, epochs), acc in accuracy.items():
            name, rho, temperature = (key.split("|") + ["1", "1"])[:3]
            rows.append(
                dict(
                    dataset=dataset,
                    budget=cell["budget"],
                    run=run,
                    seed=run_seed,
                    student=name,
                    rho=float(rho),
                    temperature=float(temperature),
                    epochs=epochs,
                    validation_acc=acc,
                )
            )
    return rows


def tune(datasets=None, *, runs=3, seed=100, budgets=BUDGETS, grid=None, jobs=None, progress=False):
    """Choose each student's rho, temperature and epochs per dataset on validation rows.

    Each seed's training pairs are split again (``VALIDATION_SHARE`` held
    out, with their labels); the budgets are drawn from the rest, every
    teacher and student is fitted there and scored on the validation rows.
    The test rows are never read. Seeds start at ``seed`` (100), apart from
    the reported runs (0-4). Rule: per dataset and student, the candidate of
    ``grid`` with the best mean validation accuracy over budgets and seeds;
    the jointly trained teachers' students all take the regular one's
    choice (made without the ranking, so it favours none of them).

    Returns
    -------
    chosen : dict of {dataset: {student: dict(rho, temperature, epochs)}}
    frame : DataFrame
        Every validation score.
    """
    grid = dict(TUNE_GRID if grid is None else grid)
    frames = [
        collect_runs(
            _tune_run, runs, seed, jobs, progress, f"tune {name}", dataset=name, budgets=tuple(budgets), grid=grid
        )
        for name in datasets or DATASETS
    ]
    frame = pd.concat(frames, ignore_index=True)
    chosen = {}
    for (name, student), part in frame.groupby(["dataset", "student"], sort=False):
        best = part.groupby(["rho", "temperature", "epochs"])["validation_acc"].mean().idxmax()
        rho, temperature, epochs = best
        chosen.setdefault(name, {})[student] = dict(rho=float(rho), temperature=float(temperature), epochs=int(epochs))
    return chosen, frame


@ENTRY.document
def run(out_dir, *, runs=None, seed=0, jobs=None, quick=False, progress=False):
    """Run the label-budget curves on every dataset and write CSV, report and figures."""
    from crossmodal.experiments._transfer_report import write_report

    out = ENTRY.start(out_dir, runs, quick)
    reduced = {key: QUICK[key] if quick else None for key in ("budgets", "max_epochs")}
    reduced["budgets"] = reduced["budgets"] or BUDGETS
    shared = dict(runs=out.runs, seed=seed, jobs=jobs, progress=progress, **reduced)
    frame = pd.concat([run_dataset(name, **shared) for name in DATASETS], ignore_index=True)
    out.computed()
    out.csv(frame, "transfer.csv")
    return out.result(write_report(out, frame, DATASETS, settings_as_trained(reduced["max_epochs"])), frame=frame)


def _capped(settings, max_epochs):
    """One dataset's ``settings`` with every student's epochs capped at ``max_epochs`` (None: as they are)."""
    if max_epochs is None:
        return settings
    return {
        student: {**chosen, "epochs": min(int(chosen["epochs"]), int(max_epochs))}
        for student, chosen in settings.items()
    }


def settings_as_trained(max_epochs=None):
    """:data:`SETTINGS` as the students train them, epochs capped at ``max_epochs`` (``--quick``), for the report."""
    return {name: _capped(by, max_epochs) for name, by in SETTINGS.items()}


def _search(argv=None):  # pragma: no cover - the search behind SETTINGS
    """``python -m crossmodal.experiments.transfer --tune [--runs N] [--jobs J] [--out CSV] [DATASET ...]``."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Choose SETTINGS on validation rows (never test rows).")
    parser.add_argument("--tune", action="store_true", required=True)
    options = (("--runs", int, 3, "seeds, from 100"), ("--jobs", int, None, "joblib workers"), ("--out", str, None, ""))
    for flag, kind, default, text in options:
        parser.add_argument(flag, type=kind, default=default, help=text or "CSV of every validation score")
    parser.add_argument("datasets", nargs="*")
    args = parser.parse_args(argv)
    chosen, scores = tune(args.datasets or None, runs=args.runs, jobs=args.jobs, progress=True)
    if args.out:
        write_csv(scores, args.out)
    print(json.dumps(chosen, indent=1))


if __name__ == "__main__":  # pragma: no cover
    _search()
