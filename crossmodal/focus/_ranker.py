"""ModalityGeneralRanker: Algorithm 1 of the MFH paper as a feature selector."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted

from crossmodal._utils import validation
from crossmodal._utils.compat import HasMethods, Interval, StrOptions, _check_feature_names_in, _fit_context
from crossmodal._utils.labels import check_label_classes, encode_labels, label_weights
from crossmodal._utils.random import draw_seeds
from crossmodal._utils.torch_helpers import resolve_device, state_with_cpu_nets
from crossmodal._utils.validation import check_modality, check_paired_samples, validate_numeric_data
from crossmodal.focus import _selection as selection
from crossmodal.focus._distances import distance_constraint, document_distances
from crossmodal.focus._layers import ChannelNullifier, resolve_layer
from crossmodal.focus._salience import permutation_salience
from crossmodal.focus._selection import MODES, NULLIFY
from crossmodal.focus._templates import fit_pair, is_prefit

__all__ = ["ModalityGeneralRanker", "is_prefit"]

_FLOAT_DTYPES = (np.float32, np.float64)


@document_distances
class ModalityGeneralRanker(SelectorMixin, BaseEstimator):
    """Rank channels of one modality by how modality-general they are.

    Algorithm 1 of the MFH paper: (1) jointly train ``f_a`` on ``X`` and
    ``f_b`` on the partner modality ``X_b`` with
    ``Dist(f_a(X), f_b(X_b)) + CE(y, f_a) + CE(y, f_b)`` (eq. 28); (2) for each
    channel of ``X`` (or of a hidden layer of ``f_a``) and each of
    ``n_repeats`` permutations, record how far ``f_a`` moves from ``f_b``;
    the normalised mean is the channel's salience. High salience =
    modality-general decisive channel. The selector then removes the
    ``ratio`` least salient channels (``mode="general"``: a modality-general
    teacher), the most salient (``"specific"``) or a random set
    (``"random"``), by replacing them with their training mean, zero, or by
    dropping them.

    Parameters
    ----------
    estimator_a, estimator_b : skorch.NeuralNetClassifier or None, default=None
        Templates of ``f_a`` and ``f_b`` (their modules), trained jointly in
        step 1 in one skorch loop whose training settings come from
        ``estimator_a``: optimiser, ``lr``, ``max_epochs``, ``batch_size``,
        ``iterator_train*``, ``dataset*``, ``callbacks`` and ``train_split``
        (callbacks such as ``EarlyStopping`` run as in skorch). Training
        settings of ``estimator_b`` that differ, a ``criterion`` (the loss is
        eq. 28) and a ``device`` other than the ranker's are not used, with a
        ``UserWarning`` naming them. ``None`` uses a one-hidden-layer MLP (Adam,
        lr 1e-3, 100 epochs, batches of 64). Fitted nets (or
        ``FrozenEstimator`` of fitted nets) are used as they are: with both
        prefit, step 1 is skipped (and ``y`` may hold no label at all: step
        2 needs none); with only ``estimator_a`` prefit, ``f_b``
        is trained to agree with the frozen ``f_a``, with ``estimator_b``'s
        training settings.
    distance : {distance_names}, default="mse"
        ``Dist`` in both steps, a name from the registry of distances
        (:mod:`crossmodal.focus._distances`); ``"mse"`` on logits is the
        authors' choice. See :func:`permutation_salience`.
    n_repeats : int, default=10
        Permutations per channel (M in the paper).
    normalize : {"max", "minmax"}, default="max"
        How ``salience_`` is scaled from each channel's mean increase ``g``
        of the distance over the unpermuted one: ``g / max(g)`` (by
        ``max |g|`` where no ``g`` is positive) or ``(g - min(g)) / (max(g)
        - min(g))`` (the authors' code; the same as min-max scaling the raw
        distances). The paper's text divides the raw mean distance ``p = g
        + baseline`` by its maximum, which keeps the same order but crowds
        every channel near 1 whenever the baseline dominates (0.980-0.992
        over the 128 hidden channels of an mfeat teacher).
    layer : int, str or None, default=None
        Rank the output channels of this child (index) or named submodule of
        ``f_a`` instead of the input columns, as the paper does for RAVDESS
        and VGGSound. ``transform`` then does not apply; use
        :meth:`nullify_module` (``CrossModalDistiller(focus=...)`` does;
        with ``teacher="joint"`` it distils from this ranker's ``f_a``).
    mode : {"general", "specific", "random"}, default="general"
        Which channels to remove.
    ratio : float in [0, 1), default=0.5
        Fraction of channels removed, rounded to the nearest count (ties to
        the even one); at least one channel is always kept.
    nullify : {"mean", "zero", "drop"}, default="mean"
        Replace removed channels by their training mean (the authors'
        RAVDESS code), by zero (VGGSound), or drop the columns.

        ``mode``, ``ratio`` and ``nullify`` act after fit, as the threshold
        of :class:`~sklearn.feature_selection.SelectFromModel` does:
        ``set_params(ratio=0.25).transform(X)`` needs no refit, and one
        fitted ranker serves every selection (``CrossModalDistiller(memory=...)``
        reuses it across a grid over them).
    device : str, default="auto"
        Torch device for step 1 and the salience.
    n_jobs : int or None, default=None
        Parallel jobs for the salience (joblib, over channel chunks).
    random_state : int, RandomState instance or None, default=None
        Seeds step 1, the permutations and the random mode.
    verbose : int, default=0
        Verbosity.

    Attributes
    ----------
    salience_ : ndarray of shape (n_channels,)
        Normalised salience (see ``normalize``): 1 for the channel whose
        permutation moves ``f_a`` furthest from ``f_b``, about 0 for channels
        that do not matter; larger = more modality-general.
    importances_ : ndarray of shape (n_channels, n_repeats)
        Increase of the distance over ``baseline_distance_`` per channel and
        permutation, ``distances_ - baseline_distance_`` (as
        :func:`sklearn.inspection.permutation_importance` reports the drop
        from the baseline score).
    importances_mean_ : ndarray of shape (n_channels,)
        Mean of ``importances_`` over repeats.
    importances_std_ : ndarray of shape (n_channels,)
        Standard deviation of ``importances_`` over repeats.
    distances_ : ndarray of shape (n_channels, n_repeats)
        Raw distances ``Dist(f_a(X_perm), f_b(X_b))`` per channel and
        permutation (the paper's ``p_i`` is their mean over repeats).
    baseline_distance_ : float
        ``Dist(f_a(X), f_b(X_b))`` with nothing permuted.
    ranking_ : ndarray of shape (n_channels,)
        Rank of each channel, 1 = most modality-general.
    support_ : ndarray of bool, shape (n_channels,)
        Channels kept (True) by the current ``mode`` and ``ratio``.
    fill_values_ : ndarray of shape (n_channels,)
        Values written into removed channels by the current ``nullify``
        (training mean or zeros).
    nets_ : tuple of torch.nn.Module
        ``(f_a, f_b)`` used for the salience.
    pair_net_ : JointPairNet or None
        The skorch net of step 1, when it ran.
    n_features_in_ : int
        Number of columns of ``X`` seen at fit.

    See Also
    --------
    permutation_salience : step 2 on any two torch modules.
    crossmodal.CrossModalDistiller : uses a ranker through its ``focus`` parameter.

    References
    ----------
    Xue, Z., Gao, Z., Ren, S., Zhao, H. (2023). The Modality Focusing
    Hypothesis: Towards Understanding Crossmodal Knowledge Distillation.
    ICLR 2023, Appendix B.4, Algorithm 1.

    Examples
    --------
    >>> from crossmodal import ModalityGeneralRanker, make_modality_venn
    >>> X_a, X_b, y = make_modality_venn(300, n_general=3, n_specific_a=3, n_specific_b=3,
    ...                                  n_noise_a=4, n_noise_b=4, random_state=0)
    >>> ranker = ModalityGeneralRanker(n_repeats=3, ratio=0.5, random_state=0).fit(X_a, y, X_b=X_b)
    >>> ranker.transform(X_a).shape
    (300, 10)
    >>> int(ranker.support_.sum())
    5
    """

    __metadata_request__fit = {"X_b": True}

    _parameter_constraints = {
        "estimator_a": [None, HasMethods(["fit"])],
        "estimator_b": [None, HasMethods(["fit"])],
        "distance": [distance_constraint()],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "normalize": [StrOptions({"max", "minmax"})],
        "layer": [None, Interval(Integral, None, None, closed="neither"), str],
        "mode": [StrOptions(set(MODES))],
        "ratio": [Interval(Real, 0, 1, closed="left")],
        "nullify": [StrOptions(set(NULLIFY))],
        "device": [str, torch.device],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        estimator_a=None,
        estimator_b=None,
        distance="mse",
        n_repeats=10,
        normalize="max",
        layer=None,
        mode="general",
        ratio=0.5,
        nullify="mean",
        device="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator_a = estimator_a
        self.estimator_b = estimator_b
        self.distance = distance
        self.n_repeats = n_repeats
        self.normalize = normalize
        self.layer = layer
        self.mode = mode
        self.ratio = ratio
        self.nullify = nullify
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, X_b):
        """Train the pair (step 1), compute the salience (step 2) and select.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The modality being ranked (*a*).
        y : array-like of shape (n_samples,)
            Class labels.
        X_b : array-like of shape (n_samples, n_features_b)
            The partner modality, row i paired with row i of ``X``.

        Returns
        -------
        self : ModalityGeneralRanker
        """
        X, y = validate_numeric_data(self, X, y, dtype=_FLOAT_DTYPES)
        X_b = check_modality(X_b, "X_b", dtype=_FLOAT_DTYPES)
        check_paired_samples(X, X_b, "X", "X_b")
        classes, y_encoded, labelled = encode_labels(y)
        if not (is_prefit(self.estimator_a) and is_prefit(self.estimator_b)):  # step 1 trains on the labels
            check_label_classes(classes, labelled)
        n_classes = 0 if classes is None else len(classes)
        label_weight = None if labelled.all() else label_weights(labelled)
        device = resolve_device(self.device)
        train_seed, salience_seed, selection_seed = draw_seeds(self.random_state, 3)
        X32 = np.ascontiguousarray(validation.check_float32_range(X, "X"), dtype=np.float32)
        Xb32 = np.ascontiguousarray(validation.check_float32_range(X_b, "X_b"), dtype=np.float32)
        module_a, module_b, self.pair_net_ = fit_pair(
            self, X32, Xb32, y_encoded.astype(np.int64), n_classes, device, train_seed, label_weight
        )
        self.nets_ = (module_a, module_b)

        if self.verbose:
            print(f"[ModalityGeneralRanker] salience of {X.shape[1] if self.layer is None else 'hidden'} channels")
        result = permutation_salience(
            module_a,
            module_b,
            X32,
            Xb32,
            n_repeats=self.n_repeats,
            distance=self.distance,
            layer=self.layer,
            random_state=salience_seed,
            n_jobs=self.n_jobs,
        )
        self.distances_ = np.asarray(result.importances)
        self.baseline_distance_ = float(result.baseline_distance)
        self.importances_ = self.distances_ - self.baseline_distance_
        self.importances_mean_ = self.importances_.mean(axis=1)
        self.importances_std_ = np.asarray(result.importances_std)
        self.salience_ = selection.normalize_salience(self.importances_mean_, self.normalize)
        self.ranking_ = selection.ranks(self.salience_)
        # mode, ratio and nullify act after fit (properties below): keep the random draw's seed and the means
        self._selection_seed = selection_seed
        self._channel_means = selection.channel_means(X32, module_a, self.layer, len(self.salience_))
        return self

    # ------------------------------------------------------------------ selection
    @property
    def support_(self):
        """Channels kept (True) by the current ``mode`` and ``ratio``.

        Computed from ``salience_`` (and, for ``mode="random"``, the draw
        fixed at fit) whenever it is read, so ``set_params(ratio=...)`` after
        fit takes effect without a refit.
        """
        check_is_fitted(self, "salience_")
        return self.support_for(self.mode, self.ratio)

    @property
    def fill_values_(self):
        """Values written into removed channels under the current ``nullify``.

        The training mean of every channel (``"mean"``) or zeros (``"zero"``,
        ``"drop"``); the means are stored at fit, so ``nullify`` can change
        after fit.
        """
        check_is_fitted(self, "salience_")
        return selection.fill_values(self.nullify, self._channel_means)

    def support_for(self, mode, ratio):
        """Support mask that another ``mode`` and ``ratio`` would give, without refitting.

        Parameters
        ----------
        mode : {"general", "specific", "random"}
        ratio : float in [0, 1)

        Returns
        -------
        support : ndarray of bool, shape (n_channels,)
            The random mode reuses the selection seed drawn at fit.
        """
        check_is_fitted(self, "salience_")
        return selection.select_channels(self.salience_, mode, ratio, self._selection_seed)

    def _get_support_mask(self):
        check_is_fitted(self, "salience_")
        return self.support_

    def _check_input_level(self, what):
        check_is_fitted(self, "salience_")
        if self.layer is not None:
            raise ValueError(
                f"{what} applies to input columns, but this ranker ranks the channels of layer={self.layer!r} "
                "of f_a; use nullify_module(module) to nullify them inside a network."
            )

    # ------------------------------------------------------------------ outputs
    def transform(self, X):
        """Nullify (``"mean"``/``"zero"``, same shape) or drop the removed channels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features) or (n_samples, n_kept)
            ``"drop"`` keeps the input's dtype (scikit-learn's selectors do);
            ``"mean"`` and ``"zero"`` write float fill values, so float32 and
            float64 inputs keep their dtype and other inputs become float32.
        """
        self._check_input_level("transform")
        if self.nullify == "drop":  # on X as given, whose dtype and column names scikit-learn's selectors keep
            check_modality(X, "X", dtype="numeric")  # numbers only, dense, as the other modes; names: below
            return super().transform(X)
        out = np.array(validate_numeric_data(self, X, reset=False, dtype=_FLOAT_DTYPES), copy=True)
        removed = ~self.support_
        out[:, removed] = self.fill_values_[removed].astype(out.dtype)
        return out

    def inverse_transform(self, X):
        """``X`` at the fitted width with the removed channels 0, as scikit-learn's selectors give: ``"drop"``'s
        output gets its columns back; ``"mean"`` and ``"zero"`` outputs have them, and they are set to 0."""
        self._check_input_level("inverse_transform")
        if self.nullify == "drop":
            return super().inverse_transform(X)
        out = np.array(check_modality(X, "X", dtype=_FLOAT_DTYPES), copy=True)  # no names, as sklearn's selectors
        if out.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {out.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        out[:, ~self.support_] = 0
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns (all of them unless ``nullify="drop"``)."""
        self._check_input_level("get_feature_names_out")
        if self.nullify == "drop":
            return super().get_feature_names_out(input_features)
        return _check_feature_names_in(self, input_features)

    def nullify_module(self, module):
        """Register a forward hook that nullifies the removed channels of ``layer``.

        Parameters
        ----------
        module : torch.nn.Module
            A network with the same architecture as ``f_a`` (usually ``f_a``
            itself, or the teacher that was ranked).

        Returns
        -------
        handle : torch.utils.hooks.RemovableHandle
            Call ``handle.remove()`` to undo. The hook keeps the selection
            and fill values of the call; after ``set_params(ratio=...)``
            remove it and call again.
        """
        check_is_fitted(self, "support_")
        if self.layer is None:
            raise ValueError("nullify_module needs a ranker fitted with layer set; this one ranks input columns.")
        removed = np.flatnonzero(~self.support_)
        nullifier = ChannelNullifier(removed, self.fill_values_[removed])
        return resolve_layer(module, self.layer).register_forward_hook(nullifier)

    def __getstate__(self):  # salience networks as CPU copies: a CUDA fit loads without CUDA
        return state_with_cpu_nets(super().__getstate__())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.target_tags.required = True  # step 1 trains on the labels
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = ["float64", "float32"]  # see transform
        return tags
