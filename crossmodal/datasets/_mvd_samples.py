"""``make_modality_venn``: one draw from a random modality Venn diagram, in one call."""

from numbers import Integral

from sklearn.utils import Bunch, check_random_state

from crossmodal._utils.compat import Interval, validate_params
from crossmodal._utils.random import SEED_MAX
from crossmodal.datasets._mvd_generator import MVD_CONSTRAINTS, MVDGenerator

__all__ = ["make_modality_venn"]


# The keyword arguments repeat MVDGenerator's: a make_* function in scikit-learn's style,
# validated by the same constraints.
@validate_params(
    {"n_samples": [Interval(Integral, 1, None, closed="left")], **MVD_CONSTRAINTS, "return_info": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def make_modality_venn(
    n_samples,
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
    return_info=False,
):
    """Generate one paired two-modality data set from a random modality Venn diagram.

    Fits an :class:`MVDGenerator` and draws ``n_samples`` from it. Two integer
    seeds are drawn from ``random_state`` up front, one for the structure
    (decision weights, mixing maps) and one for the samples, so a fixed
    ``random_state`` gives the same data every time.

    Parameters
    ----------
    n_samples : int
        Number of samples, >= 1.
    n_general, n_specific_a, n_specific_b, n_hidden, n_noise_a, n_noise_b : int
        Latent and noise counts; see :class:`MVDGenerator`.
    n_classes : int, default=2
        Number of classes.
    hyperplane : {"normal", "ones"}, default="normal"
        Decision weights; see :class:`MVDGenerator`.
    mixing : {"identity", "linear", "mlp"}, default="identity"
        Generating functions; see :class:`MVDGenerator`.
    random_state : int, RandomState instance or None, default=None
        Seeds structure and samples.
    return_info : bool, default=False
        Also return a :class:`~sklearn.utils.Bunch` describing the diagram.

    Returns
    -------
    X_a : ndarray of shape (n_samples, n_general + n_specific_a + n_noise_a)
        Modality *a*, float64.
    X_b : ndarray of shape (n_samples, n_general + n_specific_b + n_noise_b)
        Modality *b*, float64.
    y : ndarray of shape (n_samples,)
        int64 labels in ``0..n_classes-1``.
    info : Bunch
        Only if ``return_info=True``: ``gamma``, ``alpha``, ``beta``,
        ``n_features_a``, ``n_features_b``, the six masks (``general_mask_a``,
        ``specific_mask_a``, ``noise_mask_a`` and the ``_b`` ones), ``coef``
        and ``generator``, the fitted :class:`MVDGenerator` (call its
        ``sample`` for more data, e.g. a test set, from the same rule).

    See Also
    --------
    MVDGenerator : The generator, for repeated draws from one structure.

    References
    ----------
    .. [1] Z. Xue, Z. Gao, S. Ren, H. Zhao. "The Modality Focusing Hypothesis:
       Towards Understanding Crossmodal Knowledge Distillation", ICLR 2023,
       Appendix B.2.

    Examples
    --------
    >>> from crossmodal import make_modality_venn
    >>> X_a, X_b, y, info = make_modality_venn(
    ...     100, n_general=2, n_specific_a=8, n_specific_b=8, n_hidden=2,
    ...     random_state=0, return_info=True)
    >>> X_a.shape, X_b.shape, round(info.gamma, 3)
    ((100, 25), (100, 50), 0.111)
    """
    diagram = {name: value for name, value in locals().items() if name in MVD_CONSTRAINTS}
    rng = check_random_state(random_state)
    seed_structure, seed_samples = rng.randint(SEED_MAX, size=2)
    generator = MVDGenerator(**{**diagram, "random_state": int(seed_structure)}).fit()
    X_a, X_b, y = generator.sample(n_samples, random_state=int(seed_samples))
    if not return_info:
        return X_a, X_b, y
    info = Bunch(
        gamma=generator.gamma_,
        alpha=generator.alpha_,
        beta=generator.beta_,
        n_features_a=generator.n_features_a_,
        n_features_b=generator.n_features_b_,
        coef=generator.coef_,
        generator=generator,
    )
    for role in ("general", "specific", "noise"):
        for modality in ("a", "b"):
            info[f"{role}_mask_{modality}"] = getattr(generator, f"{role}_mask_{modality}_")
    return X_a, X_b, y, info
