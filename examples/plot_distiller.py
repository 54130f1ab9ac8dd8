"""
=======================================================
Crossmodal knowledge distillation at low and high gamma
=======================================================

:class:`crossmodal.CrossModalDistiller` trains a *student* that sees one
modality (``X``, modality *b*) with help from a *teacher* trained on another
(``X_teacher``, modality *a*). The student minimises the paper's eq. (1),
``rho * CE(y, s) + (1 - rho) * KL(teacher || student)``.

The Modality Focusing Hypothesis (Xue et al., ICLR 2023) says the student
gains from the teacher only through the *modality-general* decisive
information, the part of the label both modalities can see. Its share is
``gamma``. Here the same teacher/student pair is trained on
:class:`crossmodal.MVDGenerator` data at ``gamma = 0`` (the modalities share
no decisive latent) and ``gamma = 1`` (they share all of them they see): KD
helps the student at high ``gamma`` and not at low ``gamma``, while the
teacher is just as accurate in both.

The distiller is an ordinary scikit-learn classifier: the last part puts it in
a :class:`~sklearn.pipeline.Pipeline` and tunes ``rho`` with
:class:`~sklearn.model_selection.GridSearchCV`, with ``X_teacher`` passed as
a fit parameter.

Set the environment variable ``CROSSMODAL_EXAMPLE_SCALE`` (default 1.0) to a
smaller value to train fewer seeds for fewer epochs on smaller test sets.
"""

# %%
# Data at low and high gamma
# --------------------------
# The setting of the paper's Fig. 2: 20 decisive latents, modality *a* with
# 25 columns, modality *b* with 50. With an overlap of ``o`` latents, both
# modalities see ``o`` general latents and ``10 - o`` specific ones each.
# ``o = 0`` gives ``gamma = 0`` and ``o = 10`` gives ``gamma = 1``.
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier

from crossmodal import CrossModalDistiller, MVDGenerator
from crossmodal.experiments.synthetic import fig2_params
from crossmodal.nets import MLP

scale = float(os.environ.get("CROSSMODAL_EXAMPLE_SCALE", "1.0"))
n_seeds = max(2, round(5 * scale))
n_epochs = max(30, round(300 * scale))
n_train, n_test = 200, max(200, round(1000 * scale))


overlaps = {"low": 0, "high": 10}
for level, overlap in overlaps.items():
    gen = MVDGenerator(**fig2_params(overlap)).fit()
    print(f"{level} gamma: overlap {overlap}, gamma={gen.gamma_:.2f}, alpha={gen.alpha_:.2f}, beta={gen.beta_:.2f}")

# %%
# Teacher and student
# -------------------
# The teacher is any scikit-learn classifier with ``predict_proba``; here a
# logistic regression on modality *a*. The student is a skorch
# ``NeuralNetClassifier`` template: ``MLP`` with ``hidden_sizes=()`` is the
# paper's logistic regression, trained by full-batch SGD. With
# ``train_split=None`` and ``callbacks="disable"`` the distiller trains it in
# a tight loop.
student = NeuralNetClassifier(
    MLP,
    module__hidden_sizes=(),
    optimizer=torch.optim.SGD,
    lr=0.1,
    max_epochs=n_epochs,
    batch_size=-1,
    train_split=None,
    callbacks="disable",
)
distiller = CrossModalDistiller(teacher=LogisticRegression(), student=student, rho=0.5)

# %%
# KD and no KD, paired over seeds
# -------------------------------
# For each seed, both students start from the same weights: the distiller
# draws one seed per component from ``random_state``, so two distillers with
# the same ``random_state`` differ only in ``rho``. ``rho=1`` drops the KD
# term: that is the no-KD baseline. Their difference isolates what the
# teacher adds.
results = {level: {"teacher": [], "no KD": [], "KD": []} for level in overlaps}
for level, overlap in overlaps.items():
    for seed in range(n_seeds):
        gen = MVDGenerator(**fig2_params(overlap), random_state=seed).fit()
        X_a, X_b, y = gen.sample(n_train, random_state=1000 + seed)
        X_a_test, X_b_test, y_test = gen.sample(n_test, random_state=2000 + seed)
        kd = clone(distiller).set_params(random_state=seed).fit(X_b, y, X_teacher=X_a)
        no_kd = clone(distiller).set_params(random_state=seed, rho=1.0).fit(X_b, y, X_teacher=X_a)
        results[level]["teacher"].append(kd.teacher_.score(X_a_test, y_test))
        results[level]["KD"].append(kd.score(X_b_test, y_test))
        results[level]["no KD"].append(no_kd.score(X_b_test, y_test))

print(f"\n{n_seeds} seeds, {n_train} training samples, accuracy (%) on {n_test} test samples")
print(f"{'':>12} {'teacher':>8} {'no KD':>8} {'KD':>8} {'KD - no KD':>16} {'KD better':>10}")
for level, scores in results.items():
    acc = {key: 100 * np.array(value) for key, value in scores.items()}
    gain = acc["KD"] - acc["no KD"]
    print(
        f"{level + ' gamma':>12} {acc['teacher'].mean():8.2f} {acc['no KD'].mean():8.2f} {acc['KD'].mean():8.2f} "
        f"{gain.mean():+8.2f} +- {gain.std(ddof=1):4.2f} {np.mean(gain > 0):10.0%}"
    )

# %%
# Plot the paired students
# ------------------------
# Each grey line joins the two students of one seed. At ``gamma = 0`` the
# teacher's soft labels come from latents the student cannot see, so they act
# as label noise and the KD student is no better (usually worse). At
# ``gamma = 1`` every line climbs: the same kind of teacher, equally
# accurate, now helps.
fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), sharey=True, layout="constrained")
for ax, (level, scores) in zip(axes, results.items()):
    acc = {key: 100 * np.array(value) for key, value in scores.items()}
    for before, after in zip(acc["no KD"], acc["KD"]):
        ax.plot([0, 1], [before, after], color="0.6", marker="o")
    ax.plot(
        [0, 1], [acc["no KD"].mean(), acc["KD"].mean()], color="C3", marker="s", linewidth=2, label="mean over seeds"
    )
    ax.axhline(acc["teacher"].mean(), color="C0", linestyle="--", label="teacher (modality a)")
    ax.set_xticks([0, 1], ["student, no KD", "student, KD"])
    ax.set_xlim(-0.3, 1.3)
    ax.set_title(f"{level} gamma (overlap {overlaps[level]})")
axes[0].set_ylabel("test accuracy (%)")
axes[1].legend(loc="best", fontsize="small")

# %%
# A distiller in a pipeline
# -------------------------
# ``X`` is always the student's modality, the one it predicts from; the
# teacher's modality is per-sample fit metadata. A :class:`Pipeline` hands it
# to its step by the usual ``<step>__<parameter>`` name. The teacher itself
# can be a pipeline too.
gen = MVDGenerator(**fig2_params(overlaps["high"]), random_state=0).fit()
X_a, X_b, y = gen.sample(n_train, random_state=1000)
X_a_test, X_b_test, y_test = gen.sample(n_test, random_state=2000)
teacher = Pipeline([("scale", StandardScaler()), ("logreg", LogisticRegression())])
pipe = Pipeline([("scale", StandardScaler()), ("kd", clone(distiller).set_params(teacher=teacher, random_state=0))])
pipe.fit(X_b, y, kd__X_teacher=X_a)
print(f"\npipeline student accuracy: {pipe.score(X_b_test, y_test):.3f}")

# %%
# Tune rho by cross-validation
# ----------------------------
# :class:`GridSearchCV` slices ``X_teacher`` with ``X`` and ``y`` in every
# fold, so each fold's teacher only sees that fold's training rows, and the
# student is scored on its own modality alone. ``rho=1`` (no KD) is in the
# grid: the search decides whether the teacher is worth listening to. (With
# ``sklearn.set_config(enable_metadata_routing=True)`` the distiller requests
# ``X_teacher`` by default, and ``search.fit(X_b, y, X_teacher=X_a)`` works
# as well.)
search = GridSearchCV(pipe, {"kd__rho": [0.25, 0.5, 1.0]}, cv=3)
search.fit(X_b, y, kd__X_teacher=X_a)
for rho, score in zip(search.cv_results_["param_kd__rho"], search.cv_results_["mean_test_score"]):
    print(f"rho={rho:<5} cross-validated student accuracy {score:.3f}")
print(f"best rho: {search.best_params_['kd__rho']}, test accuracy {search.score(X_b_test, y_test):.3f}")
plt.show()
