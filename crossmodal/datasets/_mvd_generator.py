"""Synthetic multimodal data that follow the modality Venn diagram (MVD).

The generator is the multimodal Gaussian example of Xue et al. (2023),
Appendix B.2 (eq. 27), generalised to K classes with the linear decision rule
of eq. (3) and to non-identity generating functions ``g^a``, ``g^b`` of eq. (2).
"""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from crossmodal._utils.compat import Interval, StrOptions, _fit_context
from crossmodal._utils.random import SEED_MAX, checked_random_state
from crossmodal._utils.validation import check_positive_int
from crossmodal.datasets._mvd_mixing import apply_mixing, mixing_layers, row_independent_product

__all__ = ["MVD_CONSTRAINTS", "MVDGenerator"]

_COUNT = [Interval(Integral, 0, None, closed="left")]
MVD_CONSTRAINTS = {
    "n_general": _COUNT,
    "n_specific_a": _COUNT,
    "n_specific_b": _COUNT,
    "n_hidden": _COUNT,
    "n_noise_a": _COUNT,
    "n_noise_b": _COUNT,
    "n_classes": [Interval(Integral, 2, None, closed="left")],
    "hyperplane": [StrOptions({"normal", "ones"})],
    "mixing": [StrOptions({"identity", "linear", "mlp"})],
    "random_state": ["random_state"],
}


class MVDGenerator(BaseEstimator):
    """Draw paired two-modality data from a fixed modality Venn diagram.

    A latent decisive vector ``x* ~ N(0, I_d)``, with ``d = n_general +
    n_specific_a + n_specific_b + n_hidden``, sets the label through a linear
    rule drawn once at :meth:`fit`. Modality *a* sees the ``n_general``
    modality-general latents, its own ``n_specific_a`` latents and
    ``n_noise_a`` label-irrelevant N(0, 1) channels; modality *b* likewise.
    The ``n_hidden`` latents drive the label but neither modality sees them.

    Parameters
    ----------
    n_general : int, default=4
        Modality-general decisive latents (``d_0``), seen by both modalities.
    n_specific_a : int, default=6
        Decisive latents seen by modality *a* only (``d_sa``).
    n_specific_b : int, default=6
        Decisive latents seen by modality *b* only (``d_sb``).
    n_hidden : int, default=0
        Decisive latents seen by neither modality. They lower every model's
        ceiling but do not enter ``gamma_``, ``alpha_``, ``beta_``.
    n_noise_a : int, default=15
        Label-irrelevant N(0, 1) channels of modality *a*.
    n_noise_b : int, default=40
        Label-irrelevant N(0, 1) channels of modality *b*.
    n_classes : int, default=2
        Number of classes ``K``. ``K = 2`` uses the paper's separating
        hyperplane, ``y = 1(<delta, x*> > 0)``; ``K > 2`` uses
        ``y = argmax(W x*)`` (eq. 3).
    hyperplane : {"normal", "ones"}, default="normal"
        Decision weights: ``"normal"`` draws every entry from N(0, 1) at fit
        (Fig. 2 and 3 of the paper); ``"ones"`` sets ``delta`` to all ones
        (Table 2), which only defines a rule for ``n_classes=2``.
    mixing : {"identity", "linear", "mlp"}, default="identity"
        The generating functions ``g^a``, ``g^b`` of eq. (2), applied to each
        modality's ``[general, specific, noise]`` vector. ``"identity"`` copies
        the latents into columns (Appendix B.2). ``"linear"`` multiplies by a
        fixed random orthogonal matrix (invertible, condition number 1).
        ``"mlp"`` applies ``x = Q2 tanh(Q1 z) / c`` with fixed random
        orthogonal ``Q1``, ``Q2`` and ``c = sqrt(E[tanh(u)^2]) ~ 0.628`` for
        ``u ~ N(0, 1)``: injective, smooth, and unit variance on average.
        The output width equals the identity case's in every mode.
    random_state : int, RandomState instance or None, default=None
        Seeds the structure drawn at :meth:`fit` (decision weights, mixing
        maps) and the default sample stream of :meth:`sample`.

    Attributes
    ----------
    n_features_a_, n_features_b_ : int
        Columns of ``X_a`` (``n_general + n_specific_a + n_noise_a``) and of
        ``X_b``.
    gamma_, alpha_, beta_ : float
        ``d_0 / (d_0 + d_sa + d_sb)``, ``d_sa / (...)``, ``d_sb / (...)``; they
        sum to one.
    general_mask_a_, specific_mask_a_, noise_mask_a_ : ndarray of bool of shape (n_features_a_,)
        Which entries of modality *a*'s vector are modality-general decisive,
        *a*-specific decisive and noise. The order is fixed: general, then
        specific, then noise. With ``mixing="identity"`` these are columns of
        ``X_a``; with ``"linear"``/``"mlp"`` they index the latent factors
        *before* mixing, and every column of ``X_a`` mixes all of them.
    general_mask_b_, specific_mask_b_, noise_mask_b_ : ndarray of bool of shape (n_features_b_,)
        The same for modality *b*.
    coef_ : ndarray of shape (1, d) or (n_classes, d)
        Decision weights on ``x*``: the hyperplane ``delta`` as one row when
        ``n_classes=2`` (``y = 1(x* @ coef_[0] > 0)``), else ``W`` with
        ``y = argmax(x* @ coef_.T)``.
    latent_roles_ : ndarray of str of shape (d,)
        The role of each entry of ``x*``, in order: ``"general"``,
        ``"specific_a"``, ``"specific_b"``, ``"hidden"``.
    mixing_a_, mixing_b_ : list of (weight, bias) tuples
        The fixed map of each modality as affine layers with ``tanh`` between
        consecutive layers: ``[]`` for identity, one orthogonal layer for
        ``"linear"``, two for ``"mlp"``. ``X_a = layers(Z_a)`` where ``Z_a``
        is the identity-mixing output.

    See Also
    --------
    make_modality_venn : Fit a generator and draw one data set in one call.
    crossmodal.ModalityGeneralRanker : Recovers the modality-general channels.

    Notes
    -----
    Only ``fit`` draws the structure; :meth:`sample` draws fresh latents and
    noise from it, so train and test sets drawn by two ``sample`` calls share
    one decision rule (the paper uses 200 training and 1,000 test samples).
    Output is float64 (exact, what scikit-learn estimators expect); cast
    with ``X.astype(np.float32)`` for torch models. Labels are int64 in
    ``0..n_classes-1``.

    If ``n_general + n_specific_a + n_specific_b == 0``, ``gamma_`` is
    undefined and neither modality carries any decisive latent, so :meth:`fit`
    raises. Each modality needs at least one column.

    The paper's settings as the reproductions draw them (``hyperplane="normal"``
    unless noted): Fig. 2, overlap ``o``: ``n_general=o,
    n_specific_a=n_specific_b=10-o, n_hidden=o, n_noise_a=15, n_noise_b=40``.
    Fig. 3, ``k``: ``n_general=10, n_specific_a=k, n_specific_b=0,
    n_hidden=40-k, n_noise_a=40-k, n_noise_b=40``. Table 2, ``(xs1, xs2)``:
    ``n_general=xs2, n_specific_a=xs1, n_specific_b=0, n_noise_a=50-xs1-xs2,
    n_noise_b=50-xs2, hyperplane="ones"``. The paper's gamma and alpha values
    are matched; Appendix B.2's text differs in two places: Fig. 3's decisive
    set grows from 10 to 50 there (here 50 latents decide at every ``k``,
    ``40 - k`` of them seen by neither modality), and Table 2's hyperplane
    is drawn from a normal there.

    References
    ----------
    .. [1] Z. Xue, Z. Gao, S. Ren, H. Zhao. "The Modality Focusing Hypothesis:
       Towards Understanding Crossmodal Knowledge Distillation", ICLR 2023,
       Sec. 4.1 (eqs. 2-3) and Appendix B.2 (eq. 27).

    Examples
    --------
    >>> from crossmodal import MVDGenerator
    >>> gen = MVDGenerator(n_general=4, n_specific_a=6, n_specific_b=6,
    ...                    random_state=0).fit()
    >>> round(gen.gamma_, 3), gen.n_features_a_, gen.n_features_b_
    (0.25, 25, 50)
    >>> X_a, X_b, y = gen.sample(200, random_state=1)
    >>> X_a.shape, X_b.shape, y.dtype
    ((200, 25), (200, 50), dtype('int64'))
    >>> bool((X_a[:, gen.general_mask_a_] == X_b[:, gen.general_mask_b_]).all())
    True
    """

    _parameter_constraints: dict = dict(MVD_CONSTRAINTS)

    def __init__(
        self,
        *,
        n_general=4,
        n_specific_a=6,
        n_specific_b=6,
        n_hidden=0,
        n_noise_a=15,
        n_noise_b=40,
        n_classes=2,
        hyperplane="normal",
        mixing="identity",
        random_state=None,
    ):
        self.n_general = n_general
        self.n_specific_a = n_specific_a
        self.n_specific_b = n_specific_b
        self.n_hidden = n_hidden
        self.n_noise_a = n_noise_a
        self.n_noise_b = n_noise_b
        self.n_classes = n_classes
        self.hyperplane = hyperplane
        self.mixing = mixing
        self.random_state = random_state

    def _check_counts(self):
        for name in ("n_general", "n_specific_a", "n_specific_b", "n_hidden", "n_noise_a", "n_noise_b"):
            value = getattr(self, name)
            # scikit-learn's Integral constraint lets True and False through as 1 and 0.
            if isinstance(value, bool):
                raise ValueError(f"{name} must be an integer count, not a boolean; got {value!r}.")
        n_decisive_seen = self.n_general + self.n_specific_a + self.n_specific_b
        if n_decisive_seen == 0:
            raise ValueError(
                "gamma is undefined: n_general + n_specific_a + n_specific_b must be >= 1 "
                f"(at least one decisive latent seen by a modality); got n_general={self.n_general}, "
                f"n_specific_a={self.n_specific_a}, n_specific_b={self.n_specific_b}."
            )
        for name, n_features in (
            ("a", self.n_general + self.n_specific_a + self.n_noise_a),
            ("b", self.n_general + self.n_specific_b + self.n_noise_b),
        ):
            if n_features == 0:
                raise ValueError(
                    f"Modality {name} has no column: n_general + n_specific_{name} + n_noise_{name} "
                    f"must be >= 1; got 0."
                )
        if self.hyperplane == "ones" and self.n_classes > 2:
            raise ValueError(
                f"hyperplane='ones' defines a binary rule and needs n_classes=2; got "
                f"n_classes={self.n_classes}. Use hyperplane='normal' for more classes."
            )
        return n_decisive_seen

    @staticmethod
    def _masks(n_general, n_specific, n_noise):
        roles = np.repeat([0, 1, 2], [n_general, n_specific, n_noise])
        return roles == 0, roles == 1, roles == 2

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Draw the decision weights and the mixing maps.

        Parameters
        ----------
        X, y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : MVDGenerator
            The fitted generator.
        """
        n_decisive_seen = self._check_counts()
        rng = check_random_state(self.random_state)
        # One seed per component, drawn up front: changing `mixing` keeps the rule.
        seed_rule, seed_mix_a, seed_mix_b, seed_samples = rng.randint(SEED_MAX, size=4)

        self.gamma_ = self.n_general / n_decisive_seen
        self.alpha_ = self.n_specific_a / n_decisive_seen
        self.beta_ = self.n_specific_b / n_decisive_seen
        self.n_features_a_ = self.n_general + self.n_specific_a + self.n_noise_a
        self.n_features_b_ = self.n_general + self.n_specific_b + self.n_noise_b
        self.general_mask_a_, self.specific_mask_a_, self.noise_mask_a_ = self._masks(
            self.n_general, self.n_specific_a, self.n_noise_a
        )
        self.general_mask_b_, self.specific_mask_b_, self.noise_mask_b_ = self._masks(
            self.n_general, self.n_specific_b, self.n_noise_b
        )
        self.latent_roles_ = np.repeat(
            np.array(["general", "specific_a", "specific_b", "hidden"]),
            [self.n_general, self.n_specific_a, self.n_specific_b, self.n_hidden],
        )

        n_latents = n_decisive_seen + self.n_hidden
        n_rows = 1 if self.n_classes == 2 else self.n_classes
        if self.hyperplane == "ones":
            self.coef_ = np.ones((1, n_latents))
        else:
            self.coef_ = np.random.RandomState(seed_rule).standard_normal((n_rows, n_latents))

        self.mixing_a_ = mixing_layers(self.mixing, self.n_features_a_, np.random.RandomState(seed_mix_a))
        self.mixing_b_ = mixing_layers(self.mixing, self.n_features_b_, np.random.RandomState(seed_mix_b))
        self._sample_rng = np.random.RandomState(seed_samples)
        return self

    def sample(self, n_samples, random_state=None):
        """Draw ``n_samples`` paired samples from the fitted structure.

        Parameters
        ----------
        n_samples : int
            Number of samples, >= 1.
        random_state : int, RandomState instance or None, default=None
            Seeds the latents and the noise. An int gives the same data on
            every call (the first rows of a larger draw with the same seed
            equal a smaller draw). ``None`` draws fresh data from a stream
            seeded at :meth:`fit`, so consecutive calls differ and refitting
            with the same ``random_state`` replays them.

        Returns
        -------
        X_a : ndarray of shape (n_samples, n_features_a_), float64
            Modality *a*.
        X_b : ndarray of shape (n_samples, n_features_b_), float64
            Modality *b*, paired row by row with ``X_a``.
        y : ndarray of shape (n_samples,), int64
            Labels in ``0..n_classes-1``.
        """
        check_is_fitted(self, "coef_")
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = self._sample_rng if random_state is None else checked_random_state(random_state)
        seed_latent, seed_noise_a, seed_noise_b = rng.randint(SEED_MAX, size=3)

        # The layout fitted, not the parameters as they are now: set_params without a refit changes nothing here.
        g, sa, sb = (int(mask.sum()) for mask in (self.general_mask_a_, self.specific_mask_a_, self.specific_mask_b_))
        n_noise_a, n_noise_b = int(self.noise_mask_a_.sum()), int(self.noise_mask_b_.sum())
        latents = np.random.RandomState(seed_latent).standard_normal((n_samples, self.coef_.shape[1]))
        noise_a = np.random.RandomState(seed_noise_a).standard_normal((n_samples, n_noise_a))
        noise_b = np.random.RandomState(seed_noise_b).standard_normal((n_samples, n_noise_b))

        general = latents[:, :g]
        Z_a = np.hstack([general, latents[:, g : g + sa], noise_a])
        Z_b = np.hstack([general, latents[:, g + sa : g + sa + sb], noise_b])

        scores = row_independent_product(latents, self.coef_)
        if self.coef_.shape[0] == 1:
            y = (scores[:, 0] > 0).astype(np.int64)
        else:
            y = np.argmax(scores, axis=1).astype(np.int64)
        return apply_mixing(Z_a, self.mixing_a_), apply_mixing(Z_b, self.mixing_b_), y
