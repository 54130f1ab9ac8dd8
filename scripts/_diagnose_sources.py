"""Calibration data of ``crossmodal.diagnose``: sources that no report of the library uses.

Each *cell* is (source, teacher view, student view, labels per class);
each cell is drawn with several seeds (a new split and a new labelled
subset, and the distillers' ``random_state``). :func:`draws` yields, per
(source, seed, budget), the training views, the encoded training labels
(-1 where a row is left unlabelled), the test views and labels, and the
ordered view pairs.

* ``digits``: scikit-learn's 8x8 ``load_digits`` (1,797 images, 10
  classes) cut into ten views: the top, bottom, left and right halves, the
  central 4x4 block and the border around it, the 8 row sums and the 8
  column sums, the first 8 principal components of the whole image (a
  fixed unsupervised transform) and the whole image under Gaussian pixel
  noise (standard deviation 6, a fixed draw). 90 ordered pairs; 50/50
  stratified split per seed; every training row labelled, or 3, 10 or 30
  labelled rows per class.
* ``cancer``: scikit-learn's breast-cancer table (569 rows, 2 classes) as
  three views of 10 columns (means, standard errors, worst values). 6
  ordered pairs, 50/50 split; all labelled, or 5 or 20 per class.
* ``mvd``: random modality Venn diagrams (:class:`crossmodal.MVDGenerator`,
  structure seeds 10_000 and up; the reports use the paper's settings and
  other seeds): random numbers of general, specific, hidden and noise
  latents, either hyperplane. Diagram ``i`` is labelled in full on 200
  training rows when ``i % 3 == 0``, else has 10 (``i % 3 == 1``) or 50
  labelled rows per class among 1,000 training pairs; 1,000 test rows.
* ``mvd-wide``: random diagrams as wide as real views (structure seeds
  20_000 and up): 20 to 300 noise columns per modality, 2, 5 or 10
  classes (either hyperplane with 2, "normal" with more), 10 (even ``i``) or 30 labelled rows per class among 1,000
  training pairs (10 where a class of the draw has fewer than 30); 1,000 test rows.
* ``mnist``: the 2,000 MNIST digits of the av-digits archive that no
  shipped pair uses, as six views built like mfeat's (pixel blocks,
  principal components, shape profiles, Zernike moments, ring Fourier
  magnitudes, morphology; ``scripts/_mnist_views.py``). 30 ordered pairs;
  50/50 stratified split per seed; all labelled, or 3, 10 or 30 per class.
"""

import itertools

import numpy as np
from _mnist_views import mnist_views
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split

from crossmodal import MVDGenerator
from crossmodal.experiments._views import standardized_views


def few_labels(codes, per_class, seed):
    """``codes`` with all but ``per_class`` rows of each class (drawn with ``seed``) set to -1; None keeps all.

    The calibration's own draw, kept as the recorded gains were measured with it.
    """
    if per_class is None:
        return codes
    rng = np.random.default_rng(seed)
    keep = np.concatenate([rng.choice(np.flatnonzero(codes == c), per_class, replace=False) for c in np.unique(codes)])
    out = np.full_like(codes, -1)
    out[keep] = codes[keep]
    return out


BUDGETS = {"digits": (None, 3, 10, 30), "cancer": (None, 5, 20), "mnist": (None, 3, 10, 30)}
MVD_BUDGETS = (None, 10, 50)


def digits_views():
    X, y = load_digits(return_X_y=True)
    img = X.reshape(-1, 8, 8)
    centre = np.zeros((8, 8), dtype=bool)
    centre[2:6, 2:6] = True
    centred = X - X.mean(axis=0)
    components = np.linalg.svd(centred, full_matrices=False)[2][:8]
    views = {
        "top": img[:, :4].reshape(len(X), -1),
        "bottom": img[:, 4:].reshape(len(X), -1),
        "left": img[:, :, :4].reshape(len(X), -1),
        "right": img[:, :, 4:].reshape(len(X), -1),
        "centre": img[:, centre],
        "border": img[:, ~centre],
        "rowsum": img.sum(axis=2),
        "colsum": img.sum(axis=1),
        "pca8": centred @ components.T,
        "noisy": X + np.random.default_rng(0).normal(scale=6.0, size=X.shape),
    }
    return views, y


def cancer_views():
    X, y = load_breast_cancer(return_X_y=True)
    return {"mean": X[:, :10], "se": X[:, 10:20], "worst": X[:, 20:]}, y


def _split_draws(source, views, y, seeds):
    for seed in seeds:
        idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=0.5, stratify=y, random_state=seed)
        parts = standardized_views(list(views.values()), idx_tr, idx_te)
        train = {name: part[0] for name, part in zip(views, parts)}
        test = {name: part[1] for name, part in zip(views, parts)}
        for budget in BUDGETS[source]:
            codes = few_labels(y[idx_tr], budget, [seed, budget or 0])
            yield dict(source=source, seed=seed, budget=budget, train=train, test=test, codes=codes, y_test=y[idx_te])


def _random_latents(rng, noise_a, noise_b):
    """Random latent counts of a diagram, the noise columns of a and of b drawn from ``[low, high)`` each."""
    return dict(
        n_general=int(rng.integers(0, 11)),
        n_specific_a=int(rng.integers(0, 11)),
        n_specific_b=int(rng.integers(0, 11)),
        n_hidden=int(rng.integers(0, 6)),
        n_noise_a=int(rng.integers(*noise_a)),
        n_noise_b=int(rng.integers(*noise_b)),
    )


def _each_modality_decides(params):
    """At least one decisive latent per modality, so that both teacher and student can learn something."""
    if params["n_general"] + params["n_specific_a"] == 0:
        params["n_specific_a"] = 1
    if params["n_general"] + params["n_specific_b"] == 0:
        params["n_specific_b"] = 1
    return params


def mvd_diagram(i):
    """Parameters of random diagram ``i`` (structure seed ``10_000 + i``) and its labelled rows per class."""
    rng = np.random.default_rng(10_000 + i)
    params = _random_latents(rng, (5, 30), (5, 40))
    params["hyperplane"] = str(rng.choice(["normal", "ones"]))
    return _each_modality_decides(params), MVD_BUDGETS[i % 3]


def mvd_wide_diagram(i):
    """Parameters of wide random diagram ``i`` (structure seed ``20_000 + i``) and its labelled rows per class."""
    rng = np.random.default_rng(20_000 + i)
    params = _random_latents(rng, (20, 301), (20, 301))
    params["n_classes"] = int(rng.choice([2, 5, 10]))
    # hyperplane="ones" is a binary rule.
    params["hyperplane"] = str(rng.choice(["normal", "ones"])) if params["n_classes"] == 2 else "normal"
    return _each_modality_decides(params), (10, 30)[i % 2]


def _mvd_draws(diagrams, seeds, source="mvd"):
    diagram, structure = (mvd_diagram, 10_000) if source == "mvd" else (mvd_wide_diagram, 20_000)
    for i in diagrams:
        params, budget = diagram(i)
        gen = MVDGenerator(**params, random_state=structure + i).fit()
        for seed in seeds:
            draw_seed = 1000 * i + seed
            n_train = 200 if budget is None else 1000
            X_a, X_b, y = gen.sample(n_train, random_state=draw_seed)
            # A wide diagram's draw whose smallest class is too small for 30 labels each gets 10.
            per_class = 10 if budget is not None and np.bincount(y).min() < budget else budget
            T_a, T_b, y_test = gen.sample(1000, random_state=draw_seed + 500)
            f32 = lambda X: np.asarray(X, dtype=np.float32)  # noqa: E731
            yield dict(
                source=source,
                seed=draw_seed,
                budget=per_class,
                diagram=i,
                train={"a": f32(X_a), "b": f32(X_b)},
                test={"a": f32(T_a), "b": f32(T_b)},
                codes=few_labels(y, per_class, draw_seed),
                y_test=y_test,
            )


SOURCES = ("digits", "cancer", "mvd", "mvd-wide", "mnist")


def draws(sources=SOURCES, *, seeds=4, diagrams=150, wide_diagrams=30):
    """Every calibration draw of ``sources``: dicts with ``train``, ``test``, ``codes``, ``y_test`` and their keys.

    ``diagrams`` counts the ``"mvd"`` diagrams; ``"mvd-wide"`` always has ``wide_diagrams``.
    """
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise ValueError(f"unknown calibration source(s) {unknown}; the sources are {list(SOURCES)}.")
    for source in sources:
        if source == "digits":
            yield from _split_draws("digits", *digits_views(), range(seeds))
        elif source == "cancer":
            yield from _split_draws("cancer", *cancer_views(), range(seeds))
        elif source == "mnist":
            yield from _split_draws("mnist", *mnist_views(), range(seeds))
        elif source == "mvd":
            yield from _mvd_draws(range(diagrams), range(seeds))
        else:
            yield from _mvd_draws(range(wide_diagrams), range(seeds), "mvd-wide")


def pairs_of(draw):
    """The ordered (teacher view, student view) pairs of a draw."""
    return list(itertools.permutations(draw["train"], 2))
