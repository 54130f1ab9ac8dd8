"""
==================================================
Few labels, many pairs: distil from unlabelled rows
==================================================

Labels are often scarce where paired recordings are cheap: a handful of
labelled scans, thousands of unlabelled scans seen by two sensors. A
teacher fitted on the few labelled rows of one modality can then label
every pair for a student of the other modality ("supervision transfer",
Gupta et al., CVPR 2016). :class:`~crossmodal.CrossModalDistiller` takes
such data as scikit-learn's semi-supervised estimators do: ``-1`` in ``y``
marks a row without a label. The teacher is fitted on the labelled rows and
queried on every row; the student's cross-entropy covers the labelled rows,
its KD term every row.

Whether that pays depends on the teacher's modality, as *The Modality
Focusing Hypothesis* (Xue et al., ICLR 2023) says: the student can only
pick up what its own modality sees of the teacher's decision. This example
uses the UCI Multiple Features digits that ship with the library
(:func:`crossmodal.datasets.load_mfeat`): a teacher on the ``pix`` view
(pixel averages) helps a student on ``fou`` (Fourier coefficients of the
contours), while a teacher on ``zer`` (Zernike moments, weaker than the
student's own view) hurts a student on ``pix``. The full reproduction, on
six view pairs, is one command: ``crossmodal reproduce transfer --out
results``.

Set the environment variable ``CROSSMODAL_EXAMPLE_SCALE`` (default 1.0) to a
smaller value to train fewer runs for fewer epochs.
"""

# %%
# Ten labels per class, every pair
# --------------------------------
# A third of the 2,000 digits is kept for testing. Of the 1,333 training
# pairs, ten per class keep their label; the others are marked ``-1``.
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier

from crossmodal import CrossModalDistiller, diagnose
from crossmodal.datasets import load_mfeat
from crossmodal.experiments.transfer import SETTINGS, run_dataset
from crossmodal.nets import MLP

# Written out in every gallery example on purpose (like its docstring's last paragraph): each runs alone.
scale = float(os.environ.get("CROSSMODAL_EXAMPLE_SCALE", "1.0"))
n_runs = max(2, round(3 * scale))
n_epochs = max(3, round(20 * scale))

views, y = load_mfeat(views=["pix", "fou", "zer"], return_X_y=True)
train, test = train_test_split(np.arange(len(y)), test_size=1 / 3, stratify=y, random_state=0)
X = {name: StandardScaler().fit(v[train]).transform(v).astype(np.float32) for name, v in views.items()}
rng = np.random.RandomState(0)
keep = np.concatenate([rng.permutation(np.flatnonzero(y[train] == c))[:10] for c in np.unique(y)])
y_semi = np.full(len(train), -1)
y_semi[keep] = y[train][keep]
print(f"{len(train)} training pairs, {np.sum(y_semi != -1)} of them labelled; {len(test)} test rows")

# %%
# Labels only against KD on every pair
# ------------------------------------
# The same student (an MLP with 64 hidden units) is trained twice on the
# ``fou`` view of every training pair: from the 100 labels alone
# (``rho=1``), and with a logistic-regression teacher on ``pix`` fitted on
# the labelled rows and queried on all 1,333 pairs.
student = NeuralNetClassifier(
    MLP,
    module__hidden_sizes=(64,),
    optimizer=torch.optim.Adam,
    lr=3e-3,
    max_epochs=n_epochs,
    batch_size=128,
    iterator_train__shuffle=True,
    train_split=None,
    callbacks="disable",
)


def labels_only_and_kd(teacher_view, student_view):
    """Test accuracy of the label-only student and of the student distilled on every pair."""
    nokd = CrossModalDistiller(student=student, rho=1.0, random_state=0)
    nokd.fit(X[student_view][train], y_semi)
    kd = CrossModalDistiller(teacher=LogisticRegression(max_iter=1000), student=student, rho=0.3, random_state=0)
    kd.fit(X[student_view][train], y_semi, X_teacher=X[teacher_view][train])
    return nokd.score(X[student_view][test], y[test]), kd.score(X[student_view][test], y[test])


for teacher_view, student_view in (("pix", "fou"), ("zer", "pix")):
    nokd, kd = labels_only_and_kd(teacher_view, student_view)
    gain = 100 * (kd - nokd)
    print(f"{teacher_view} -> {student_view}: labels only {nokd:.3f}, KD on every pair {kd:.3f} ({gain:+.1f} points)")

# %%
# Ask before training
# -------------------
# :func:`~crossmodal.diagnose` sees the same training pairs with the same
# ``-1`` markers and predicts, in accuracy points, with a 90% interval and
# a verdict, what distilling on every pair gains over labels alone for
# ``CrossModalDistiller()`` with its defaults (MLP teacher and student,
# ``rho=0.5``): not the configuration trained above, so compare the
# direction and rough size of the two gains, not their digits.
for teacher_view, student_view in (("pix", "fou"), ("zer", "pix")):
    result = diagnose(X[teacher_view][train], X[student_view][train], y_semi, random_state=0)
    low, high = result.predicted_gain_ci
    print(
        f"{teacher_view} -> {student_view}: predicted gain {result.predicted_gain:+.1f} points "
        f"[{low:+.1f}, {high:+.1f}], verdict: {result.verdict}"
    )

# %%
# Label-budget curves
# -------------------
# :func:`~crossmodal.experiments.transfer.run_dataset` repeats this per seed
# at 3, 10 and 30 labels per class and with every label, for six students
# that share initial weights and batches: labels only, KD on the labelled
# rows only, KD on every pair, and three teachers from Algorithm 1's jointly
# trained network ``f_a`` (its modality-general half of channels, all of
# them, or its modality-specific half). Settings come from
# :data:`~crossmodal.experiments.transfer.SETTINGS`, chosen on validation
# rows.
curves = run_dataset("mfeat-pix-fou", runs=n_runs, max_epochs=n_epochs)
students = {
    "student_labels_acc": "labels only",
    "student_kd_labelled_acc": "KD, labelled rows",
    "student_kd_every_acc": "KD, every pair",
    "student_general_acc": "modality-general f_a, every pair",
}
summary = curves.groupby("budget")[["labels_per_class", *students]].mean().sort_values("labels_per_class")
print((100 * summary[list(students)]).rename(columns=students).round(1).to_string())
print(f"settings (rho, temperature, epochs) of KD on every pair: {SETTINGS['mfeat-pix-fou']['kd_every']}")

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for column, label in students.items():
    ax.plot(summary["labels_per_class"], 100 * summary[column], marker="o", label=label)
ax.set_xscale("log")
ax.set_xticks(summary["labels_per_class"], [f"{v:.0f}" for v in summary["labels_per_class"]])
ax.minorticks_off()
ax.set(xlabel="labels per class (last: all)", ylabel="test accuracy on fou (%)", title="pix -> fou")
ax.legend(fontsize="small")
plt.show()
