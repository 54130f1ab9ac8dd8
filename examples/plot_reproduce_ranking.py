"""
===================================================
Focused teachers on real data: the ranking protocol
===================================================

Section 5.3 of *The Modality Focusing Hypothesis* (Xue et al., ICLR 2023)
ranks the channels of the teacher's hidden layer with Algorithm 1, then
nullifies the ``r`` least salient channels (a *modality-general* teacher),
the ``r`` most salient (a *modality-specific* teacher) or ``r`` random ones,
and distils each teacher into the same student (Tables 4 and 8). The
hypothesis predicts the students' order modality-general >= regular >=
random >= modality-specific.

On RAVDESS the authors' teacher is the network ``f_a`` that Algorithm 1
trains jointly with the student-modality network ``f_b``; the ranked
channels are replaced by their training mean when the teacher is queried,
with no retraining. :class:`~crossmodal.CrossModalDistiller` does exactly
that with ``teacher="joint"``. This example runs it on the UCI Multiple
Features digits that ship with the library
(:func:`crossmodal.datasets.load_mfeat`): the teacher sees the ``pix`` view
(pixel averages), the student the ``fou`` view (Fourier coefficients of the
contours). The whole reproduction, on five view pairs, is one command:
``crossmodal reproduce ranking --out results``.

Set the environment variable ``CROSSMODAL_EXAMPLE_SCALE`` (default 1.0) to a
smaller value to train fewer runs for fewer epochs.
"""

# %%
# The two views
# -------------
# Both views describe the same 2,000 scanned digits, 200 per class.
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier

from crossmodal import CrossModalDistiller, ModalityGeneralRanker
from crossmodal.datasets import load_mfeat
from crossmodal.experiments.ranking import run_dataset
from crossmodal.nets import MLP

# Written out in every gallery example on purpose (like its docstring's last paragraph): each runs alone.
scale = float(os.environ.get("CROSSMODAL_EXAMPLE_SCALE", "1.0"))
n_runs = max(2, round(3 * scale))
n_epochs = max(3, round(20 * scale))
n_repeats = max(2, round(10 * scale))

views, y = load_mfeat(views=["pix", "fou"], return_X_y=True)
print(f"teacher view pix {views['pix'].shape}, student view fou {views['fou'].shape}, {len(set(y))} classes")

# %%
# One modality-general teacher, in a few lines
# --------------------------------------------
# ``layer=1`` is the ReLU after the hidden layer of :class:`crossmodal.nets.MLP`
# (its children are Linear, ReLU, Linear): the ranker trains ``f_a`` and
# ``f_b`` jointly, ranks those 128 channels, and the distiller's teacher is
# ``f_a`` with the least salient half replaced by their means.
rows = np.arange(len(y))
train, test = train_test_split(rows, test_size=0.5, stratify=y, random_state=0)
pix = StandardScaler().fit(views["pix"][train]).transform(views["pix"]).astype(np.float32)
fou = StandardScaler().fit(views["fou"][train]).transform(views["fou"]).astype(np.float32)


def mlp(hidden):
    return NeuralNetClassifier(
        MLP,
        module__hidden_sizes=hidden,
        optimizer=torch.optim.Adam,
        lr=3e-3,
        max_epochs=n_epochs,
        batch_size=128,
        iterator_train__shuffle=True,
        train_split=None,
        callbacks="disable",
    )


focus = ModalityGeneralRanker(
    estimator_a=mlp((128,)), estimator_b=mlp((128,)), layer=1, mode="general", ratio=0.5, n_repeats=n_repeats
)
kd = CrossModalDistiller(teacher="joint", focus=focus, student=mlp((64,)), rho=0.0, temperature=4.0, random_state=0)
kd.fit(fou[train], y[train], X_teacher=pix[train])
salience = kd.focus_.salience_
print(
    f"salience of the 128 hidden channels: median {np.median(salience):.2f}, top 1.00, "
    f"{(salience < 0.1).sum()} channels below 0.1"
)
print(f"modality-general teacher's student on fou: {kd.score(fou[test], y[test]):.3f}")

# %%
# Run the protocol
# ----------------
# :func:`~crossmodal.experiments.ranking.run_dataset` does, for each run
# (seed): a stratified 50/50 split, one ranking of ``f_a``'s hidden layer,
# then for each ratio ``r`` and each mode a teacher (``f_a`` with those
# channels nullified) distilled into the same student (``rho=0``), plus the
# regular teacher (nothing nullified) and a no-KD student. The result is a
# tidy frame, one row per run and ratio.
results = run_dataset(
    "mfeat-pix-fou", ratios=(0.25, 0.5, 0.75), runs=n_runs, seed=0, epochs=n_epochs, n_repeats=n_repeats
)
print(f"{len(results)} rows (runs x ratios):")
print(results.filter(like="student").head(3).round(3).to_string())

# %%
# Summarise
# ---------
# Mean accuracy over runs, in percent. Every student of one run shares the
# data split and initial weights, so differences between them are paired.
teachers = ["regular", "general", "random", "specific"]
students = {f"student_{t}_acc": t for t in teachers} | {"student_nokd_acc": "no KD"}
summary = 100 * results.groupby("ratio")[list(students)].mean().rename(columns=students)
print("students (%):")
print(summary.round(2))
teacher_columns = {f"teacher_{t}_acc": t for t in teachers}
print("teachers (%):")
print((100 * results.groupby("ratio")[list(teacher_columns)].mean()).rename(columns=teacher_columns).round(2))
gap = 100 * (results["student_general_acc"] - results["student_specific_acc"])
print(
    f"modality-general - modality-specific student: {gap.mean():+.2f} +- {gap.std():.2f} points "
    f"(positive in {(gap > 0).mean():.0%} of run x ratio pairs)"
)

# %%
# Plot students and teachers against r
# ------------------------------------
# Bands are +-1 standard deviation over runs; ``r = 0`` is the regular
# teacher. Nullifying the most salient channels (modality-specific teacher)
# costs the teacher and, more, its student; nullifying the least salient
# ones costs the teacher little and its student less.
fig, (ax_s, ax_t) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
for ax, prefix, title in ((ax_s, "student", "Students on fou"), (ax_t, "teacher", "Teachers on pix")):
    base = results.groupby("run")[f"{prefix}_regular_acc"].first()
    for name in teachers[1:]:
        stats = 100 * results.groupby("ratio")[f"{prefix}_{name}_acc"].agg(["mean", "std"])
        x = np.concatenate([[0.0], 100 * stats.index.to_numpy()])
        mean = np.concatenate([[100 * base.mean()], stats["mean"]])
        sd = np.concatenate([[100 * base.std()], stats["std"]])
        ax.plot(x, mean, marker="o", label=f"{name} teacher")
        ax.fill_between(x, mean - sd, mean + sd, alpha=0.15)
    ax.set(xlabel="nullified channels r (%)", ylabel="test accuracy (%)", title=title)
ax_s.axhline(summary["no KD"].mean(), color="0.3", linestyle="--", label="no KD")
ax_s.legend(fontsize="small")
plt.show()
