"""
===========================================
Should I distill? Diagnose before you train
===========================================

:func:`crossmodal.diagnose` predicts, before any distillation, what
distilling a teacher on modality *a* into a student on modality *b* will
change. It cross-fits closed-form linear models (a teacher on *a*, students
on *b* fitted to the labels, to the teacher's probabilities and to the
distiller's targets) and regresses the teacher's out-of-fold
log-probabilities on *b*. Out come:

* ``predicted_gain``: the accuracy change, in points, of
  ``CrossModalDistiller()`` with its defaults over the same estimator with
  ``rho=1`` (labels only), calibrated on data no report uses, with a 90%
  interval and a ``verdict`` ("helps", "unlikely to help", "likely to hurt");
* ``gamma``: the share of the teacher's decision that *b* can reproduce
  (the paper's modality-general share, estimated), with a 95% interval.

It serves two regimes: every row labelled, and few labels among many pairs
(-1 marks a pair without a label), where distilling on every pair is what
pays. Given several candidate teacher views it ranks them.

First on :class:`crossmodal.MVDGenerator` data, where the true ``gamma`` is
known; then on the real UCI mfeat digits, where each prediction is checked
against an actual :class:`crossmodal.CrossModalDistiller`.

Set the environment variable ``CROSSMODAL_EXAMPLE_SCALE`` (default 1.0) to a
smaller value to use fewer rows and candidate teachers.
"""

# %%
# Estimated against true gamma
# ----------------------------
# Diagrams with equal decision weights (``hyperplane="ones"``), from no shared
# decisive latent to all of them shared. A teacher on *a* sees the ``o``
# general and ``10 - o`` *a*-specific latents, so the share of its decision
# that *b* can predict is ``o / 10``; the diagram's ``gamma_`` also counts
# the ``10 - o`` *b*-specific latents the teacher never sees.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from crossmodal import CrossModalDistiller, MVDGenerator, diagnose
from crossmodal.datasets import load_mfeat

scale = float(os.environ.get("CROSSMODAL_EXAMPLE_SCALE", "1.0"))
n_rows = max(300, round(2000 * scale))

share, true, estimated, low, high = [], [], [], [], []
for overlap in (0, 2, 4, 6, 8, 10):
    gen = MVDGenerator(
        n_general=overlap,
        n_specific_a=10 - overlap,
        n_specific_b=10 - overlap,
        n_noise_a=15,
        n_noise_b=40,
        hyperplane="ones",
        random_state=0,
    ).fit()
    X_a, X_b, y = gen.sample(n_rows, random_state=1)
    result = diagnose(X_a, X_b, y, random_state=0)
    share.append(overlap / 10)
    true.append(gen.gamma_)
    estimated.append(result.gamma)
    low.append(result.gamma_ci[0])
    high.append(result.gamma_ci[1])
    print(
        f"teacher's share {overlap / 10:.2f} (diagram gamma {gen.gamma_:.2f}): estimated {result.gamma:.2f} "
        f"[{result.gamma_ci[0]:.2f}, {result.gamma_ci[1]:.2f}], verdict {result.verdict!r}"
    )

# %%
# One result in full: its summary and its table.
print(result)
print(result.to_frame().round(3))
print(f"predicted gain of KD: {result.predicted_gain:+.1f} points, verdict {result.verdict!r}")

# %%
# Which mfeat view should teach?
# ------------------------------
# mfeat has six views of the same 2,000 digits. Given every other view as a
# candidate teacher, ``diagnose`` ranks them for the student view ``fac``
# (every row labelled); each candidate is then distilled with
# ``CrossModalDistiller()``'s defaults and compared with the same estimator
# at ``rho=1``, on the test half.
views, target = load_mfeat(return_X_y=True)
rows = np.arange(len(target)) if scale >= 1 else np.arange(len(target))[:: max(1, round(0.25 / scale))]
idx_tr, idx_te = train_test_split(rows, test_size=0.5, stratify=target[rows], random_state=0)
y_tr, y_te = target[idx_tr], target[idx_te]
std = {name: StandardScaler().fit(X[idx_tr]) for name, X in views.items()}
train = {name: std[name].transform(X[idx_tr]).astype(np.float32) for name, X in views.items()}
test = {name: std[name].transform(X[idx_te]).astype(np.float32) for name, X in views.items()}


def measured_gain(a, b, y):
    """Test accuracy of CrossModalDistiller() distilling a into b, minus the labels-only twin's (points)."""
    kd = CrossModalDistiller(random_state=0).fit(train[b], y, X_teacher=train[a])
    labels = CrossModalDistiller(rho=1.0, random_state=0).fit(train[b], y)
    return 100 * (kd.score(test[b], y_te) - labels.score(test[b], y_te))


candidates = [v for v in views if v != "fac"][: 5 if scale >= 1 else 2]
ranking = diagnose({a: train[a] for a in candidates}, train["fac"], y_tr, random_state=0)
print(ranking)
print(ranking.to_frame()[["rank", "predicted_gain", "ci_low", "ci_high", "verdict"]].round(2))
predicted, measured, labels = [], [], []
for a in ranking.ranking:
    predicted.append(ranking.results[a].predicted_gain)
    measured.append(measured_gain(a, "fac", y_tr))
    labels.append(f"{a}->fac")
    print(f"{a:>3} -> fac: predicted {predicted[-1]:+6.2f}, measured {measured[-1]:+6.2f} points")

# %%
# Few labels, many pairs
# ----------------------
# Now only 10 training rows per class keep their label (-1 marks the others),
# but every pair is there. Distilling on every pair pays where the teacher's
# view is the stronger one (pix -> fou) and hurts where it is the weaker one
# (zer -> pix); ``diagnose`` says which before any training.
rng = np.random.default_rng(0)
per_class = 10 if scale >= 1 else 3
keep = np.concatenate([rng.choice(np.flatnonzero(y_tr == c), per_class, replace=False) for c in np.unique(y_tr)])
few = np.full_like(y_tr, -1)
few[keep] = y_tr[keep]
for a, b in (("pix", "fou"), ("zer", "pix")):
    res = diagnose(train[a], train[b], few, cv=min(5, per_class), random_state=0)
    predicted.append(res.predicted_gain)
    measured.append(measured_gain(a, b, few))
    labels.append(f"{a}->{b} ({res.n_labelled} labels)")
    print(
        f"{a:>3} -> {b:<3} with {res.n_labelled} labels among {res.n_samples} pairs ({res.regime}): predicted "
        f"{res.predicted_gain:+6.2f} [{res.predicted_gain_ci[0]:+.1f}, {res.predicted_gain_ci[1]:+.1f}], "
        f"measured {measured[-1]:+6.2f} points ({res.verdict})"
    )

# %%
# At a glance
# -----------
# Left: estimated gamma against the teacher's true share (the dashed line is
# perfect agreement); crosses mark the diagram's gamma.
# Right: predicted against measured gain, in points, for the mfeat pairs
# above (the dashed line is perfect agreement).
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
left.errorbar(
    share,
    estimated,
    yerr=[np.subtract(estimated, low), np.subtract(high, estimated)],
    fmt="o",
    label="against the teacher's share",
)
left.scatter(true, estimated, marker="x", color="0.4", label="against the diagram's gamma")
left.plot([0, 1], [0, 1], "--", color="0.5")
left.set(xlabel="true value", ylabel="estimated gamma", title=f"MVD data, n={n_rows}")
left.legend(fontsize="small")
right.scatter(predicted, measured)
for text, x, y in zip(labels, predicted, measured):
    right.annotate(text, (x, y), fontsize=7)
span = [min(predicted + measured) - 1, max(predicted + measured) + 1]
right.plot(span, span, "--", color="0.5")
right.set(xlabel="predicted gain (points)", ylabel="measured gain (points)", title="mfeat: CrossModalDistiller()")
plt.show()
