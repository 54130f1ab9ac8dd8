"""How well could any statistic of ``diagnose``'s models rank the supervision-transfer report's default gains?

Question: ``diagnose`` predicts the gain of ``CrossModalDistiller()``'s
defaults from models it fits and scores on the labelled rows only. If it
knew the labels of every unlabelled training pair too, how well would its
own models' accuracies there rank and size the gains that ``crossmodal
reproduce transfer`` measures? That bounds what a better map from its
statistics could reach on the report's few-labels cells.

Data: the transfer report's few-labels cells (every pair and seed of
:data:`crossmodal.experiments._transfer_protocol.DATASETS`, 3, 10 and 30
labels per class), drawn as the report draws them, and the gains of the
defaults it measured (its ``transfer.csv``: ``default_kd_acc`` and
``default_labels_acc``). This script only reads the report's rows; no
constant of the library is fitted here.

Per cell, with ``diagnose``'s default models cross-fitted as ``diagnose``
fits them (shrunk-LDA teacher on a and label-trained student on b, fitted
on the labelled rows; the student on b fitted to the teacher's out-of-fold
probabilities on every pair, the "imitator"), the accuracies on the
unlabelled training pairs, scored with their true labels:

* ``imitator - defaults' labels-only``: the imitator's accuracy there minus
  the test accuracy of the defaults at ``rho=1`` (the measured baseline);
* ``imitator - student``: both of ``diagnose``'s models on those pairs;
* ``teacher - student``: the accuracy gap on those pairs;

beside what ``diagnose`` can compute, on the labelled rows: its predicted
gain, the cross-fitted imitation gain and accuracy gap. For each: Spearman
with the measured gain over the cells (means over seeds), and the median
|statistic in points - measured gain|.

``--mlp-imitator`` adds a student with the default MLP's settings trained
on the same teacher's out-of-fold probabilities over every pair (``rho=0``;
it never sees a label, so the labelled rows score it fairly), scored on
the test rows against the defaults' labels-only accuracy, and on the
labelled rows against ``diagnose``'s label-trained student: what a
simulation of the default student would add, at the cost of one default
student fit per cell.

Run (after the report; its time is in ``benchmarks/RESULTS.md``)::

    crossmodal reproduce transfer --out /tmp/reproduce
    PYTHONPATH=. nice python scripts/diagnose_transfer_bound.py /tmp/reproduce/transfer/transfer.csv [--mlp-imitator]
"""

import argparse

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from threadpoolctl import threadpool_limits

from crossmodal._utils.torch_helpers import torch_threads
from crossmodal.diagnosis._diagnose import _cross_fitted
from crossmodal.diagnosis._gain import gain_statistics, predicted_gain
from crossmodal.experiments import _transfer_protocol as protocol
from crossmodal.experiments._diagnose_gains import _default_settings, stacked_students
from crossmodal.experiments._rows import labelled_rows
from crossmodal.experiments._transfer_runs import prepare

BUDGETS = (3, 10, 30)


def _mlp_imitator_hits(X_b, X_b_test, teacher_proba, run):
    """Hits of a default-MLP student fitted to ``teacher_proba`` alone (``rho=0``) on the training and test rows."""
    X_b, X_b_test = np.asarray(X_b, np.float32), np.asarray(X_b_test, np.float32)
    with torch_threads(1), threadpool_limits(limits=1):
        no_labels = np.full(len(X_b), -1)
        logits = stacked_students(X_b, no_labels, teacher_proba[None], [0.0], run, **_default_settings())
        return logits(X_b)[0].argmax(axis=1), logits(X_b_test)[0].argmax(axis=1)


def cell_rows(dataset, run, mlp_imitator=False):
    """One row per few-labels budget of one seed: diagnose's statistics and its models' unlabelled-pair accuracies."""
    X_a, _, X_b, X_b_test, y, y_test = prepare(dataset, run, False)
    classes = np.unique(y)
    for per_class in BUDGETS:
        labelled = labelled_rows(y, per_class, run)
        y_semi = np.where(labelled, y, -1)
        folds = int(max(2, min(5, per_class)))  # as the report calls diagnose
        with threadpool_limits(limits=1):
            parts = _cross_fitted(X_a, X_b, y_semi, None, None, None, folds, 200, run, None, False)
        point, boot = gain_statistics(parts.fits, parts.codes, parts.W, parts.n_features_b)
        codes = np.searchsorted(classes, y)
        hit = {
            name: parts.fits[name][~labelled].argmax(axis=1) == codes[~labelled]
            for name in ("teacher", "student", "imitator")
        }
        row = dict(
            dataset=dataset,
            run=run,
            budget=str(per_class),
            predicted=predicted_gain("few labels", point, boot)[0],
            imitation_gain=100 * point["imitation_gain"],
            accuracy_gap=100 * point["accuracy_gap"],
            teacher_unlabelled=hit["teacher"].mean(),
            student_unlabelled=hit["student"].mean(),
            imitator_unlabelled=hit["imitator"].mean(),
        )
        if mlp_imitator:
            train, test = _mlp_imitator_hits(X_b, X_b_test, parts.fits["teacher"], run)
            row["mlp_imitator_test"] = np.mean(test == np.searchsorted(classes, y_test))
            label_trained = parts.fits["student"][labelled].argmax(axis=1) == codes[labelled]
            row["mlp_imitation_gain"] = 100 * (np.mean(train[labelled] == codes[labelled]) - label_trained.mean())
        yield row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transfer_csv", help="transfer.csv written by `crossmodal reproduce transfer`")
    parser.add_argument("--mlp-imitator", action="store_true", help="add the default-MLP imitator (slow)")
    args = parser.parse_args()
    report = pd.read_csv(args.transfer_csv, dtype={"budget": str})
    report = report[report["budget"].isin([str(b) for b in BUDGETS]) & report["default_kd_acc"].notna()]
    report = report.assign(measured=100 * (report["default_kd_acc"] - report["default_labels_acc"]))
    runs = sorted(report["run"].unique())
    rows = [row for dataset in protocol.DATASETS for run in runs for row in cell_rows(dataset, run, args.mlp_imitator)]
    data = pd.DataFrame(rows).merge(
        report[["dataset", "run", "budget", "measured", "default_labels_acc"]], on=["dataset", "run", "budget"]
    )
    cells = data.groupby(["dataset", "budget"]).mean(numeric_only=True)
    candidates = {
        "diagnose's predicted gain (labelled rows)": cells["predicted"],
        "cross-fitted imitation gain (labelled rows)": cells["imitation_gain"],
        "cross-fitted accuracy gap (labelled rows)": cells["accuracy_gap"],
        "imitator - defaults' labels-only (unlabelled pairs)": 100
        * (cells["imitator_unlabelled"] - cells["default_labels_acc"]),
        "imitator - student (unlabelled pairs)": 100 * (cells["imitator_unlabelled"] - cells["student_unlabelled"]),
        "teacher - student (unlabelled pairs)": 100 * (cells["teacher_unlabelled"] - cells["student_unlabelled"]),
    }
    if args.mlp_imitator:
        candidates["MLP imitator - defaults' labels-only (test rows)"] = 100 * (
            cells["mlp_imitator_test"] - cells["default_labels_acc"]
        )
        candidates["MLP imitator - student (labelled rows)"] = cells["mlp_imitation_gain"]
    print(f"{len(cells)} cells, {data['run'].nunique()} seeds each")
    for name, value in candidates.items():
        rho = spearmanr(value, cells["measured"])[0]
        error = np.median(np.abs(value - cells["measured"]))
        print(f"{name:55s} Spearman {rho:+.2f}   median |error| {error:.2f} points")
    print((cells[["measured", "predicted", "imitator_unlabelled", "default_labels_acc"]]).round(3).to_string())


if __name__ == "__main__":
    main()
