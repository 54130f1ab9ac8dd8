"""Tests for MVDGenerator and make_modality_venn.

sklearn's ``parametrize_with_checks`` is not run here on purpose: the
generator learns nothing from ``fit(X, y)`` (it ignores both and has no
``predict``/``transform``), so the estimator checks, which feed data to
``fit`` and compare fitted behaviour, would test nothing it does. The
sklearn contract it does follow (``get_params``/``set_params``/``clone``,
parameter validation, ``NotFittedError``) is tested directly below.
"""

import pickle

import numpy as np
import pytest
from conftest import assert_labels_follow_scores
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

from crossmodal import MVDGenerator, make_modality_venn
from crossmodal.datasets._mvd_mixing import _TANH_STD, row_independent_product


def fig2(overlap, **kwargs):
    return dict(
        n_general=overlap,
        n_specific_a=10 - overlap,
        n_specific_b=10 - overlap,
        n_hidden=overlap,
        n_noise_a=15,
        n_noise_b=40,
        hyperplane="normal",
        **kwargs,
    )


def fig3(k, **kwargs):
    return dict(
        n_general=10,
        n_specific_a=k,
        n_specific_b=0,
        n_hidden=40 - k,
        n_noise_a=40 - k,
        n_noise_b=40,
        hyperplane="normal",
        **kwargs,
    )


def table2(xs1, xs2, **kwargs):
    return dict(
        n_general=xs2,
        n_specific_a=xs1,
        n_specific_b=0,
        n_hidden=0,
        n_noise_a=50 - xs1 - xs2,
        n_noise_b=50 - xs2,
        hyperplane="ones",
        **kwargs,
    )


# --- the paper's settings ------------------------------------------------------------


@pytest.mark.parametrize("overlap, gamma", [(0, 0.0), (2, 0.111), (4, 0.25), (6, 0.429), (8, 0.667), (10, 1.0)])
def test_fig2_gamma_and_sizes(overlap, gamma):
    gen = MVDGenerator(**fig2(overlap), random_state=0).fit()
    assert gen.gamma_ == pytest.approx(gamma, abs=5e-4)
    assert gen.alpha_ == pytest.approx((1 - gamma) / 2, abs=5e-4)
    assert gen.beta_ == pytest.approx((1 - gamma) / 2, abs=5e-4)
    assert gen.alpha_ + gen.beta_ + gen.gamma_ == pytest.approx(1.0)
    assert (gen.n_features_a_, gen.n_features_b_) == (25, 50)
    assert gen.coef_.shape == (1, 20)  # the paper's d = 20 decisive latents
    X_a, X_b, y = gen.sample(30, random_state=0)
    assert X_a.shape == (30, 25) and X_b.shape == (30, 50) and y.shape == (30,)


@pytest.mark.parametrize("k, alpha", [(0, 0.0), (10, 0.5), (20, 0.667), (30, 0.75), (40, 0.8)])
def test_fig3_alpha_and_sizes(k, alpha):
    gen = MVDGenerator(**fig3(k), random_state=0).fit()
    assert gen.alpha_ == pytest.approx(alpha, abs=5e-4)
    assert gen.beta_ == 0.0
    assert gen.gamma_ == pytest.approx(1 - alpha, abs=5e-4)
    assert (gen.n_features_a_, gen.n_features_b_) == (50, 50)


@pytest.mark.parametrize("xs1, xs2", [(15, 5), (10, 5), (10, 10), (10, 15), (10, 20), (10, 25), (10, 30)])
def test_table2_gamma_and_sizes(xs1, xs2):
    gen = MVDGenerator(**table2(xs1, xs2), random_state=0).fit()
    assert gen.gamma_ == pytest.approx(xs2 / (xs1 + xs2))
    assert gen.alpha_ == pytest.approx(xs1 / (xs1 + xs2))
    assert gen.beta_ == 0.0
    assert (gen.n_features_a_, gen.n_features_b_) == (50, 50)
    np.testing.assert_array_equal(gen.coef_, np.ones((1, xs1 + xs2)))


def test_student_accuracy_near_paper():
    # The paper's students on X_b (Fig. 2) sit near 70%: X_b sees 10 of the 20
    # decisive latents. Labels independent of X_b would give ~50%, an X_b that
    # sees every decisive latent ~89% (measured with this same protocol).
    accuracies = []
    for seed, overlap in enumerate([0, 2, 4, 6, 8, 10, 4, 6]):
        gen = MVDGenerator(**fig2(overlap), random_state=seed).fit()
        _, X_train, y_train = gen.sample(200, random_state=100 + seed)
        _, X_test, y_test = gen.sample(1000, random_state=200 + seed)
        accuracies.append(LogisticRegression().fit(X_train, y_train).score(X_test, y_test))
    assert 0.62 < np.mean(accuracies) < 0.78, accuracies


# --- identity mixing puts the latents where the masks say ------------------------


def test_masks_partition_columns_in_documented_order():
    gen = MVDGenerator(n_general=3, n_specific_a=2, n_specific_b=4, n_noise_a=5, n_noise_b=1).fit()
    np.testing.assert_array_equal(np.flatnonzero(gen.general_mask_a_), [0, 1, 2])
    np.testing.assert_array_equal(np.flatnonzero(gen.specific_mask_a_), [3, 4])
    np.testing.assert_array_equal(np.flatnonzero(gen.noise_mask_a_), [5, 6, 7, 8, 9])
    np.testing.assert_array_equal(np.flatnonzero(gen.general_mask_b_), [0, 1, 2])
    np.testing.assert_array_equal(np.flatnonzero(gen.specific_mask_b_), [3, 4, 5, 6])
    np.testing.assert_array_equal(np.flatnonzero(gen.noise_mask_b_), [7])
    for m in "ab":
        masks = [getattr(gen, f"{role}_mask_{m}_") for role in ("general", "specific", "noise")]
        assert all(mask.dtype == bool for mask in masks)
        np.testing.assert_array_equal(np.sum(masks, axis=0), 1)  # each column has one role


def test_identity_columns_hold_the_latents():
    gen = MVDGenerator(n_general=4, n_specific_a=5, n_specific_b=6, n_noise_a=7, n_noise_b=8, random_state=0)
    X_a, X_b, y = gen.fit().sample(4000, random_state=1)
    assert X_a.dtype == np.float64 and X_b.dtype == np.float64 and y.dtype == np.int64
    # The shared latents are the very same numbers in both modalities.
    np.testing.assert_array_equal(X_a[:, gen.general_mask_a_], X_b[:, gen.general_mask_b_])
    # Everything is N(0, 1).
    for X in (X_a, X_b):
        np.testing.assert_allclose(X.mean(axis=0), 0, atol=0.1)
        np.testing.assert_allclose(X.std(axis=0), 1, atol=0.1)
    # Specific and noise columns are uncorrelated with every column of the other modality.
    n_a = X_a.shape[1]
    cross = np.corrcoef(X_a, X_b, rowvar=False)[:n_a, n_a:]
    private_a = ~gen.general_mask_a_
    private_b = ~gen.general_mask_b_
    assert np.abs(cross[private_a]).max() < 0.07
    assert np.abs(cross[:, private_b]).max() < 0.07
    # Within a modality the columns are independent latents, not copies.
    within = np.corrcoef(X_a, rowvar=False) - np.eye(n_a)
    assert np.abs(within).max() < 0.07


def test_labels_follow_the_hyperplane():
    gen = MVDGenerator(n_general=4, n_specific_a=6, n_specific_b=6, n_hidden=0, random_state=3).fit()
    X_a, X_b, y = gen.sample(3000, random_state=4)
    latents = np.hstack([X_a[:, gen.general_mask_a_ | gen.specific_mask_a_], X_b[:, gen.specific_mask_b_]])
    # Exactly the rule of eq. 27: y = 1(<delta, x*> > 0), latents ordered as latent_roles_.
    assert_labels_follow_scores(y, latents @ gen.coef_[0])
    assert list(gen.latent_roles_) == ["general"] * 4 + ["specific_a"] * 6 + ["specific_b"] * 6
    assert 0.4 < y.mean() < 0.6
    # A learner on the concatenated decisive latents recovers it; on the noise it cannot.
    model = LogisticRegression().fit(latents[:2000], y[:2000])
    assert model.score(latents[2000:], y[2000:]) > 0.97
    noise = X_b[:, gen.noise_mask_b_]
    assert LogisticRegression().fit(noise[:2000], y[:2000]).score(noise[2000:], y[2000:]) < 0.57


def test_hidden_latents_enter_the_rule_but_no_column():
    gen = MVDGenerator(n_general=2, n_specific_a=2, n_specific_b=2, n_hidden=6, random_state=0).fit()
    assert gen.coef_.shape == (1, 12)
    assert list(gen.latent_roles_[-6:]) == ["hidden"] * 6
    assert gen.gamma_ == pytest.approx(1 / 3)  # hidden latents do not count
    X_a, X_b, y = gen.sample(3000, random_state=0)
    seen = np.hstack([X_a[:, ~gen.noise_mask_a_], X_b[:, gen.specific_mask_b_]])
    seen_coef = gen.coef_[0, :6]
    agreement = np.mean((seen @ seen_coef > 0) == y)
    # The seen latents explain only part of <delta, x*>: the rule is not reproduced...
    assert agreement < 0.95
    # ...and their agreement matches 1 - arccos(rho) / pi, rho = |delta_seen| / |delta|.
    rho = np.linalg.norm(seen_coef) / np.linalg.norm(gen.coef_[0])
    assert agreement == pytest.approx(1 - np.arccos(rho) / np.pi, abs=0.03)


def test_ones_hyperplane_labels():
    gen = MVDGenerator(**table2(10, 5), random_state=0).fit()
    X_a, _, y = gen.sample(500, random_state=0)
    assert_labels_follow_scores(y, X_a[:, ~gen.noise_mask_a_].sum(axis=1))


@pytest.mark.parametrize("n_classes", [3, 4])
def test_multiclass_argmax_rule_and_balance(n_classes):
    for seed in range(4):
        gen = MVDGenerator(n_classes=n_classes, n_hidden=0, random_state=seed).fit()
        assert gen.coef_.shape == (n_classes, 16)
        X_a, X_b, y = gen.sample(4000, random_state=seed)
        latents = np.hstack([X_a[:, ~gen.noise_mask_a_], X_b[:, gen.specific_mask_b_]])
        assert_labels_follow_scores(y, latents @ gen.coef_.T)
        frequencies = np.bincount(y, minlength=n_classes) / len(y)
        assert frequencies.min() > 0.6 / n_classes, frequencies
        assert frequencies.max() < 1.6 / n_classes, frequencies


# --- randomness -----------------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data():
    first = MVDGenerator(random_state=0).fit().sample(50, random_state=1)
    again = MVDGenerator(random_state=0).fit().sample(50, random_state=1)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    other_structure = MVDGenerator(random_state=7).fit().sample(50, random_state=1)
    np.testing.assert_array_equal(first[0], other_structure[0])  # same latents...
    assert not np.array_equal(first[2], other_structure[2])  # ...another hyperplane
    other_samples = MVDGenerator(random_state=0).fit().sample(50, random_state=2)
    assert not np.array_equal(first[0], other_samples[0])
    assert not np.array_equal(first[1], other_samples[1])


def test_structure_is_fixed_across_sample_calls():
    gen = MVDGenerator(mixing="mlp", random_state=0).fit()
    coef = gen.coef_.copy()
    weights = [w.copy() for w, _ in gen.mixing_a_]
    first = gen.sample(20)
    second = gen.sample(20)
    assert not np.array_equal(first[0], second[0])  # None: fresh draws
    np.testing.assert_array_equal(gen.coef_, coef)
    for w, (w_now, _) in zip(weights, gen.mixing_a_):
        np.testing.assert_array_equal(w, w_now)
    # Refitting with the same seed replays the same stream of draws.
    gen.fit()
    for a, b in zip(first, gen.sample(20)):
        np.testing.assert_array_equal(a, b)
    # An integer seed ignores the stream; a larger draw extends a smaller one.
    small = gen.sample(10, random_state=5)
    large = gen.sample(40, random_state=5)
    for a, b in zip(small, large):
        np.testing.assert_array_equal(a, b[:10])


def test_random_state_instance_is_consumed():
    gen = MVDGenerator(random_state=0).fit()
    rng = np.random.RandomState(3)
    first = gen.sample(10, random_state=rng)
    second = gen.sample(10, random_state=rng)
    assert not np.array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[0], gen.sample(10, random_state=np.random.RandomState(3))[0])


def test_clone_and_pickle_keep_the_structure():
    gen = MVDGenerator(n_general=2, mixing="linear", random_state=4).fit()
    refit = clone(gen).fit()
    np.testing.assert_array_equal(refit.coef_, gen.coef_)
    np.testing.assert_array_equal(refit.mixing_b_[0][0], gen.mixing_b_[0][0])
    assert clone(gen).get_params() == gen.get_params()
    restored = pickle.loads(pickle.dumps(gen))
    for a, b in zip(gen.sample(15), restored.sample(15)):
        np.testing.assert_array_equal(a, b)


def test_make_modality_venn_reproducible_and_info():
    params = dict(n_general=3, n_specific_a=4, n_specific_b=5, n_hidden=1, n_noise_a=2, n_noise_b=6)
    X_a, X_b, y, info = make_modality_venn(300, **params, random_state=0, return_info=True)
    again = make_modality_venn(300, **params, random_state=0)
    for a, b in zip((X_a, X_b, y), again):
        np.testing.assert_array_equal(a, b)
    assert len(again) == 3
    other = make_modality_venn(300, **params, random_state=1)
    assert not np.array_equal(X_a, other[0])
    assert (X_a.shape, X_b.shape) == ((300, 9), (300, 14))
    assert (info.gamma, info.alpha, info.beta) == pytest.approx((0.25, 1 / 3, 5 / 12))
    assert (info.n_features_a, info.n_features_b) == (9, 14)
    gen = info.generator
    for role in ("general", "specific", "noise"):
        for m in "ab":
            np.testing.assert_array_equal(info[f"{role}_mask_{m}"], getattr(gen, f"{role}_mask_{m}_"))
    np.testing.assert_array_equal(info.coef, gen.coef_)
    np.testing.assert_array_equal(X_a[:, info.general_mask_a], X_b[:, info.general_mask_b])
    # The returned generator holds the rule that labelled the data: more samples share it.
    X_a2, X_b2, y2 = gen.sample(2000, random_state=0)
    latents = np.hstack([X_a2[:, ~info.noise_mask_a], X_b2[:, info.specific_mask_b]])
    seen = gen.coef_[0, : latents.shape[1]]
    assert 0.85 < np.mean((latents @ seen > 0) == y2) < 1.0


# --- linear and mlp mixing ------------------------------------------------------------


@pytest.mark.parametrize("mixing", ["linear", "mlp"])
def test_mixing_maps_the_identity_data(mixing):
    params = dict(n_general=4, n_specific_a=6, n_specific_b=6, n_hidden=0, random_state=0)
    plain = MVDGenerator(**params).fit()
    mixed = MVDGenerator(**params, mixing=mixing).fit()
    Z_a, Z_b, y = plain.sample(500, random_state=1)
    X_a, X_b, y_mixed = mixed.sample(500, random_state=1)
    assert (X_a.shape, X_b.shape) == (Z_a.shape, Z_b.shape)
    assert X_a.dtype == np.float64
    np.testing.assert_array_equal(y, y_mixed)  # same seeds: same rule, same latents
    np.testing.assert_array_equal(mixed.coef_, plain.coef_)
    np.testing.assert_array_equal(mixed.general_mask_a_, plain.general_mask_a_)
    assert not np.allclose(X_a, Z_a) and not np.allclose(X_b, Z_b)
    # No column of X_a copies a column of X_b any more.
    n_a = X_a.shape[1]
    assert np.abs(np.corrcoef(X_a, X_b, rowvar=False)[:n_a, n_a:]).max() < 0.9
    for X, Z, layers in ((X_a, Z_a, mixed.mixing_a_), (X_b, Z_b, mixed.mixing_b_)):
        identity = np.eye(Z.shape[1])
        if mixing == "linear":  # x = Q z with Q orthogonal
            [(q, bias)] = layers
            np.testing.assert_allclose(q @ q.T, identity, atol=1e-10)
            np.testing.assert_allclose(X, Z @ q.T, atol=1e-12)
        else:  # x = Q2 tanh(Q1 z) / c, inverted by hand
            (q1, bias), (q2_over_c, bias_2) = layers
            q2 = q2_over_c * _TANH_STD
            np.testing.assert_array_equal(bias_2, 0.0)
            for q in (q1, q2):
                np.testing.assert_allclose(q @ q.T, identity, atol=1e-10)
            recovered = np.arctanh(X @ q2 * _TANH_STD) @ q1
            np.testing.assert_allclose(recovered, Z, atol=1e-6)
        np.testing.assert_array_equal(bias, 0.0)
        np.testing.assert_allclose(np.mean(X.var(axis=0)), 1.0, atol=0.1)


@pytest.mark.parametrize("mixing", ["linear", "mlp"])
def test_mixed_labels_learnable(mixing):
    gen = MVDGenerator(n_general=4, n_specific_a=6, n_specific_b=6, mixing=mixing, random_state=0).fit()
    X_a, _, y = gen.sample(500, random_state=1)
    X_test, _, y_test = gen.sample(2000, random_state=2)
    # X_a sees 10 of the 16 decisive latents: well above chance, below perfect.
    assert 0.70 < LogisticRegression().fit(X_a, y).score(X_test, y_test) < 0.97


def test_tanh_std_constant():
    nodes, weights = np.polynomial.hermite_e.hermegauss(100)
    assert _TANH_STD == pytest.approx(np.sqrt(weights @ np.tanh(nodes) ** 2 / weights.sum()), rel=1e-10)


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_general": -1}, "'n_general' parameter of MVDGenerator must be an int in the range"),
        ({"n_specific_a": -2}, "'n_specific_a' parameter"),
        ({"n_specific_b": 1.5}, "'n_specific_b' parameter"),
        ({"n_hidden": -1}, "'n_hidden' parameter"),
        ({"n_noise_a": -1}, "'n_noise_a' parameter"),
        ({"n_noise_b": "5"}, "'n_noise_b' parameter"),
        ({"n_classes": 1}, "'n_classes' parameter of MVDGenerator must be an int in the range \\[2, inf\\)"),
        ({"hyperplane": "uniform"}, "'hyperplane' parameter of MVDGenerator must be a str among"),
        ({"mixing": "relu"}, "'mixing' parameter of MVDGenerator must be a str among"),
        ({"random_state": "seed"}, "'random_state' parameter"),
    ],
)
def test_invalid_parameters(params, match):
    with pytest.raises(InvalidParameterError, match=match):
        MVDGenerator(**params).fit()


@pytest.mark.parametrize("name", ["n_general", "n_specific_a", "n_specific_b", "n_hidden", "n_noise_a", "n_noise_b"])
@pytest.mark.parametrize("value", [True, False])
def test_boolean_counts_are_rejected(name, value):
    # scikit-learn's Integral constraint accepts booleans as 1 and 0.
    match = f"{name} must be an integer count, not a boolean; got {value!r}"
    with pytest.raises(ValueError, match=match):
        MVDGenerator(**{name: value}).fit()
    with pytest.raises(ValueError, match=match):
        make_modality_venn(10, **{name: value})


@pytest.mark.parametrize("mixing", ["identity", "linear"])
def test_sample_uses_the_fitted_layout_until_refit(mixing):
    gen = MVDGenerator(n_general=3, n_specific_a=2, n_specific_b=4, n_noise_a=5, n_noise_b=6, mixing=mixing)
    gen.set_params(random_state=0).fit()
    before = gen.sample(20, random_state=1)
    gen.set_params(n_general=0, n_specific_a=5, n_noise_a=2, n_noise_b=1)
    after = gen.sample(20, random_state=1)
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)
    assert after[0].shape[1] == gen.n_features_a_ == 10 and after[1].shape[1] == gen.n_features_b_ == 13
    refit = gen.fit().sample(20, random_state=1)
    assert refit[0].shape[1] == 7 and refit[1].shape[1] == 5


def test_ones_hyperplane_needs_two_classes():
    match = "hyperplane='ones' defines a binary rule and needs n_classes=2; got n_classes=3"
    with pytest.raises(ValueError, match=match):
        MVDGenerator(hyperplane="ones", n_classes=3).fit()


def test_gamma_undefined_without_seen_decisive_latents():
    params = dict(n_general=0, n_specific_a=0, n_specific_b=0, n_hidden=5)
    match = r"gamma is undefined: n_general \+ n_specific_a \+ n_specific_b must be >= 1.*got n_general=0"
    with pytest.raises(ValueError, match=match):
        MVDGenerator(**params).fit()
    with pytest.raises(ValueError, match="gamma is undefined"):
        make_modality_venn(10, **params)


def test_modality_without_columns():
    match = r"Modality a has no column: n_general \+ n_specific_a \+ n_noise_a must be >= 1; got 0"
    with pytest.raises(ValueError, match=match):
        MVDGenerator(n_general=0, n_specific_a=0, n_noise_a=0).fit()
    with pytest.raises(ValueError, match="Modality b has no column"):
        MVDGenerator(n_general=0, n_specific_b=0, n_noise_b=0).fit()


def test_sample_before_fit_and_bad_n_samples():
    with pytest.raises(NotFittedError, match="This MVDGenerator instance is not fitted yet"):
        MVDGenerator().sample(10)
    gen = MVDGenerator(random_state=0).fit()
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1; got 0"):
        gen.sample(0)
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1; got 2.5"):
        gen.sample(2.5)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_samples": 0}, r"'n_samples' parameter of make_modality_venn must be an int in the range \[1, inf\)"),
        ({"n_samples": 10, "n_general": -1}, "'n_general' parameter of make_modality_venn"),
        ({"n_samples": 10, "mixing": "tanh"}, "'mixing' parameter of make_modality_venn"),
        ({"n_samples": 10, "return_info": "yes"}, "'return_info' parameter of make_modality_venn"),
    ],
)
def test_make_modality_venn_invalid_parameters(params, match):
    with pytest.raises(InvalidParameterError, match=match):
        make_modality_venn(**params)


def test_row_independent_product_checks_inner_dimensions():
    with pytest.raises(ValueError, match="inner dimensions differ: A has 3 columns, B has 2"):
        row_independent_product(np.ones((4, 3)), np.ones((5, 2)))
