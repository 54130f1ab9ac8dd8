"""
===========================================
Synthetic data from a modality Venn diagram
===========================================

The Modality Focusing Hypothesis (Xue et al., ICLR 2023) describes paired
multimodal data ``(x_a, x_b, y)`` by a *modality Venn diagram*: the label is a
linear function of decisive latents, some seen by both modalities
(modality-general), some by only one (modality-specific), and every modality
also carries label-irrelevant noise. The share of modality-general decisive
latents is ``gamma``.

:class:`crossmodal.MVDGenerator` draws such data. This example rebuilds the
setting of the paper's Fig. 2 (Appendix B.2): 20 decisive latents, modality
*a* with 25 columns, modality *b* with 50, and the overlap ``o`` between the
two modalities' decisive latents going from 0 to 10. It shows which columns
hold what, and how well a logistic regression does on each modality as
``gamma`` grows.

Set the environment variable ``CROSSMODAL_EXAMPLE_SCALE`` (default 1.0) to a
smaller value to run fewer repetitions on smaller test sets.
"""

# %%
# One data set and its diagram
# ----------------------------
# With ``mixing="identity"`` the latents are copied into columns in a fixed
# order: modality-general first, then modality-specific, then noise. The
# boolean masks say which column is which, and the general columns of the two
# modalities hold the very same numbers.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression

from crossmodal import MVDGenerator, make_modality_venn
from crossmodal.experiments.synthetic import fig2_params  # the paper's Fig. 2 setting at an overlap

scale = float(os.environ.get("CROSSMODAL_EXAMPLE_SCALE", "1.0"))
n_repeats = max(1, round(5 * scale))
n_train, n_test = 200, max(100, round(1000 * scale))

X_a, X_b, y, info = make_modality_venn(100, **fig2_params(4), random_state=0, return_info=True)
print(f"X_a {X_a.shape}, X_b {X_b.shape}, classes {np.bincount(y)}")
print(f"gamma={info.gamma:.3f} alpha={info.alpha:.3f} beta={info.beta:.3f}")
print("general columns equal:", np.array_equal(X_a[:, info.general_mask_a], X_b[:, info.general_mask_b]))

# %%
# Column roles across the Fig. 2 overlaps
# ---------------------------------------
# Each row is one overlap ``o``; the colour of a cell is the role of that
# column. The general block grows with ``o`` while the specific blocks shrink;
# ``o`` further latents are seen by neither modality, so every modality always
# sees 10 of the 20 decisive latents.
overlaps = [0, 2, 4, 6, 8, 10]
roles = {"a": [], "b": []}
gammas = []
for overlap in overlaps:
    gen = MVDGenerator(**fig2_params(overlap), random_state=0).fit()
    gammas.append(gen.gamma_)
    for modality in ("a", "b"):
        general = getattr(gen, f"general_mask_{modality}_")
        specific = getattr(gen, f"specific_mask_{modality}_")
        roles[modality].append(np.where(general, 2, np.where(specific, 1, 0)))

fig, axes = plt.subplots(1, 2, figsize=(10, 3), width_ratios=[1, 2], sharey=True, layout="constrained")
axes[0].set_yticks(range(len(overlaps)), [f"o={o}, gamma={g:.2f}" for o, g in zip(overlaps, gammas)])
for ax, modality in zip(axes, ("a", "b")):
    image = ax.imshow(np.array(roles[modality]), cmap="viridis", vmin=0, vmax=2, aspect="auto")
    ax.set_xlabel(f"column of X_{modality}")
    ax.set_title(f"modality {modality}")
colorbar = fig.colorbar(image, ax=axes, ticks=[0, 1, 2])
colorbar.ax.set_yticklabels(["noise", "specific", "general"])

# %%
# How much each modality knows about the label
# --------------------------------------------
# A logistic regression on either modality alone sees half of the decisive
# latents, so it reaches about 70% test accuracy whatever ``gamma`` is (the
# paper's students, Fig. 2). Both modalities together see more of the latents
# when the overlap is small and the same ten when ``gamma = 1``: the union of
# what they know shrinks as ``gamma`` grows. What changes with ``gamma`` is
# *what* a teacher on ``X_a`` knows that a student on ``X_b`` can use. (With
# the same seed, ``X_a`` sees the same ten latents at every overlap, so its
# curve is flat.)
scores = {"X_a": [], "X_b": [], "[X_a, X_b]": []}
for overlap in overlaps:
    per_seed = {key: [] for key in scores}
    for seed in range(n_repeats):
        gen = MVDGenerator(**fig2_params(overlap), random_state=seed).fit()
        train = gen.sample(n_train, random_state=1000 + seed)
        test = gen.sample(n_test, random_state=2000 + seed)
        for key, pick in (("X_a", lambda d: d[0]), ("X_b", lambda d: d[1]), ("[X_a, X_b]", lambda d: np.hstack(d[:2]))):
            model = LogisticRegression().fit(pick(train), train[2])
            per_seed[key].append(model.score(pick(test), test[2]))
    for key in scores:
        scores[key].append(np.mean(per_seed[key]))

fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
for key, values in scores.items():
    ax.plot(gammas, values, marker="o", label=key)
ax.set_xlabel("gamma (share of modality-general decisive latents)")
ax.set_ylabel("test accuracy")
ax.set_title(f"Logistic regression, {n_train} train samples, {n_repeats} seeds")
ax.legend()
for gamma, acc_b in zip(gammas, scores["X_b"]):
    print(f"gamma={gamma:.3f}  accuracy on X_b={acc_b:.3f}")

# %%
# Mixed modalities
# ----------------
# ``mixing="linear"`` and ``"mlp"`` pass each modality through a fixed random
# invertible map, so no single column is modality-general any more: the masks
# then describe the latent factors before mixing. The largest absolute
# correlation of each ``X_a`` column with any ``X_b`` column shows it.
fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
for mixing in ("identity", "linear", "mlp"):
    n_samples = max(300, round(2000 * scale))
    X_a, X_b, y = make_modality_venn(n_samples, **fig2_params(6), mixing=mixing, random_state=0)
    cross = np.corrcoef(X_a, X_b, rowvar=False)[: X_a.shape[1], X_a.shape[1] :]
    ax.plot(np.abs(cross).max(axis=1), marker=".", label=mixing)
ax.set_xlabel("column of X_a")
ax.set_ylabel("max |corr| with a column of X_b")
ax.legend()
