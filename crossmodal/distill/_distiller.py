"""CrossModalDistiller: crossmodal knowledge distillation as a scikit-learn classifier."""

import os
from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils.validation import check_is_fitted, column_or_1d

from crossmodal._utils.compat import HasMethods, Interval, StrOptions, _fit_context, _safe_indexing
from crossmodal._utils.labels import label_weights, labelled_mask
from crossmodal._utils.proba import logits_to_proba
from crossmodal._utils.random import draw_seeds
from crossmodal._utils.skorch_helpers import mlp_template
from crossmodal._utils.torch_helpers import predict_logits, resolve_device
from crossmodal._utils.validation import check_probabilities, validate_numeric_data
from crossmodal.distill import _teacher
from crossmodal.distill._net import as_distillation_net, fit_net, student_weights
from crossmodal.distill.objectives import KD, TeacherOutputs

__all__ = ["CrossModalDistiller"]

_FLOAT_DTYPES = (np.float32, np.float64)


def default_student():
    """The student template used when ``student=None``: a one-hidden-layer MLP (128 units, Adam, 100 epochs)."""
    return mlp_template()


class CrossModalDistiller(ClassifierMixin, BaseEstimator):
    """Student classifier on one modality, distilled from a teacher on another.

    The student sees only ``X`` (modality *b*) at fit and predict time. The
    teacher sees the other modality ``X_teacher`` (*a*), or both (*a* + *b*),
    and is trained and queried once per fit; its class probabilities then
    guide the student through the loss of the paper's eq. (1)::

        rho * CE(y, s) + (1 - rho) * T**2 * KL(softmax(t / T) || softmax(s / T))

    Parameters
    ----------
    teacher : estimator, "joint" or None, default=None
        Any scikit-learn classifier with ``predict_proba`` or
        ``decision_function`` (cloned and fitted on the teacher's input), a
        skorch ``NeuralNetClassifier`` (its ``module__in_features`` and
        ``module__n_classes`` are filled in when its module takes them), or a
        prefit classifier wrapped in :class:`sklearn.frozen.FrozenEstimator`
        (used as is; a fitted skorch net gets its input in its module's
        dtype). ``None`` trains a one-hidden-layer MLP. A scikit-learn
        teacher receives ``X_teacher`` as given, so a DataFrame keeps its
        column names and dtypes (a ``ColumnTransformer`` can select and
        encode columns by name); the library's own nets and a ``focus``
        ranker need numbers. What the teacher's ``predict_proba`` returns is
        checked: anything but a probability matrix raises a ValueError.
        ``"joint"`` (needs ``focus``) is the paper's real-data protocol
        (RAVDESS, Tables 4 and 8): the teacher is the ``f_a`` that the focus
        ranker trains jointly with ``f_b`` (Algorithm 1, step 1), with the
        ranked channels replaced by their training mean (or zero) when it is
        queried, and no retraining. With ``focus.layer`` set those are
        channels of that hidden layer (the paper ranks the penultimate one,
        after its activation); with ``layer=None`` they are input columns of
        the teacher modality, and ``f_a`` is queried on
        ``focus.transform(X_teacher)``.
    student : skorch.NeuralNetClassifier or None, default=None
        Template of the student network; its module must return logits. It is
        cloned into a private skorch subclass that adds the KD term. ``None``
        uses a one-hidden-layer MLP (128 units, Adam, 100 epochs); use
        ``NeuralNetClassifier(crossmodal.nets.MLP, module__hidden_sizes=())``
        for the paper's logistic regression. With ``callbacks="disable"`` and
        ``train_split=None`` (as the default) training runs in a tight loop
        that skips skorch's per-epoch machinery; any other setting keeps the
        full skorch loop (callbacks, validation split, printing), and so does
        a template that sets ``iterator_train__*`` (other than ``shuffle``),
        ``dataset`` or ``dataset__*`` settings, which skorch's loop honours.
        A ``criterion`` other than cross-entropy is replaced, with a warning.
    rho : float in [0, 1], default=0.5
        Weight of the cross-entropy term; ``1 - rho`` weighs the KD term.
        ``rho=1`` is the no-KD baseline: no teacher is fitted, and neither
        ``X_teacher`` nor ``teacher_proba`` is needed (``teacher_`` and
        ``teacher_proba_`` are then None).
    temperature : float > 0, default=1.0
        Softmax temperature T. The paper uses 1.
    kl_reduction : {"batchmean", "mean"}, default="batchmean"
        ``"batchmean"`` is the KL divergence per sample (the mathematically
        correct form); ``"mean"`` also divides by the number of classes, as
        torch's default ``KLDivLoss()`` in the paper authors' code does.
    teacher_input : {"teacher", "both", "student"}, default="teacher"
        What the teacher sees: ``X_teacher`` (crossmodal KD), the columns of
        ``X_teacher`` then ``X`` (the multimodal teacher of the paper's
        section 3), or ``X`` itself (unimodal KD, a baseline; ``X_teacher``
        is then not needed).
    focus : ModalityGeneralRanker or None, default=None
        When set, it is cloned, fitted on ``(X_teacher, y, X_b=X)`` and the
        teacher is trained and queried on its ``transform`` of the teacher
        modality: a modality-general (or -specific, or random) teacher
        (input-column protocol; with ``layer`` set, a hidden layer of the
        separately trained teacher is ranked and nullified instead). With
        ``teacher="joint"`` the teacher is the ranker's own ``f_a``.
    device : str, default="auto"
        Torch device for the default networks and the student: ``"auto"``
        picks CUDA when available.
    memory : str, path-like, joblib.Memory or None, default=None
        Cache of what the student's parameters do not change, as in
        :class:`~sklearn.pipeline.Pipeline`: the fitted focus ranker (keyed
        without its ``mode``, ``ratio`` and ``nullify``, which act after fit)
        and the fitted teacher with its probabilities (keyed by the teacher's
        input after the focus transform). A string or path is the cache
        directory. Keys hold every parameter except the student's (``rho``,
        ``temperature``, ``kl_reduction``, ``student``), the seeds drawn from
        ``random_state``, the device, the data and the library's code, so
        results are the same with and without it; a grid search over
        ``rho`` or ``focus__ratio`` then fits one ranker per fold and one
        teacher per fold and selection. It saves time only with a fixed
        ``random_state`` (otherwise every fit draws new seeds). A cache that
        cannot be written or read warns and the fit runs without it.
    random_state : int, RandomState instance or None, default=None
        Seeds the teacher, the focus ranker and the student (weights
        initialisation and shuffling) through one integer seed each.
    verbose : int, default=0
        Verbosity.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    teacher_ : estimator, torch.nn.Module or None
        The fitted teacher (``None`` when ``teacher_proba`` was given). With
        ``teacher="joint"``, a copy of ``focus_.nets_[0]`` whose removed
        channels a forward hook nullifies (a pre-hook on the input columns
        when ``focus.layer`` is None); ``focus_.nets_[0]`` itself is unchanged.
    focus_ : ModalityGeneralRanker or None
        The fitted focus ranker.
    student_ : skorch.NeuralNetClassifier
        The fitted student net.
    history_ : skorch.callbacks.History
        The student's training history (``train_loss`` per epoch).
    teacher_proba_ : ndarray of shape (n_samples, n_classes) or None
        The teacher's class probabilities on the training rows (at T = 1);
        None when ``rho=1``.
    n_features_in_ : int
        Number of student features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of student features, when ``X`` has string column names.

    See Also
    --------
    ModalityGeneralRanker : ranks teacher channels by how modality-general they are.
    MVDGenerator : synthetic multimodal data with known modality-general channels.

    Notes
    -----
    ``X_teacher`` and ``teacher_proba`` are per-sample fit metadata:
    :class:`~sklearn.model_selection.GridSearchCV` and
    :func:`~sklearn.model_selection.cross_val_score` slice them with ``X``.
    Under metadata routing they are requested by default.

    Two ways to focus the teacher on modality-general information:
    ``focus=ModalityGeneralRanker()`` ranks the teacher modality's columns
    and trains the teacher on the nullified columns (input-column protocol,
    the paper's synthetic experiments); ``teacher="joint",
    focus=ModalityGeneralRanker(layer=...)`` distils from the ranker's
    jointly trained ``f_a`` with the ranked hidden channels nullified and
    no retraining (the paper's RAVDESS protocol; ``crossmodal reproduce
    ranking`` runs it).

    Tiny networks are thread-bound: when a training step costs fewer than
    about two million multiply-adds the student (and default teacher) train
    with one torch thread, and torch's setting is restored afterwards.

    References
    ----------
    Xue, Z., Gao, Z., Ren, S., Zhao, H. (2023). The Modality Focusing
    Hypothesis: Towards Understanding Crossmodal Knowledge Distillation.
    ICLR 2023.

    Examples
    --------
    >>> from crossmodal import CrossModalDistiller, make_modality_venn
    >>> from sklearn.linear_model import LogisticRegression
    >>> X_a, X_b, y = make_modality_venn(300, n_general=8, n_specific_a=2, n_specific_b=2, random_state=0)
    >>> kd = CrossModalDistiller(teacher=LogisticRegression(), random_state=0)
    >>> kd = kd.fit(X_b, y, X_teacher=X_a)
    >>> kd.predict(X_b[:3]).shape
    (3,)
    """

    __metadata_request__fit = {"X_teacher": True, "teacher_proba": True}

    _parameter_constraints = {
        "teacher": [None, HasMethods(["fit"]), StrOptions({"joint"})],
        "student": [None, HasMethods(["fit", "initialize"])],
        "rho": [Interval(Real, 0, 1, closed="both")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "kl_reduction": [StrOptions({"batchmean", "mean"})],
        "teacher_input": [StrOptions({"teacher", "both", "student"})],
        "focus": [None, HasMethods(["fit", "transform"])],
        "device": [str, torch.device],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        teacher=None,
        student=None,
        rho=0.5,
        temperature=1.0,
        kl_reduction="batchmean",
        teacher_input="teacher",
        focus=None,
        device="auto",
        memory=None,
        random_state=None,
        verbose=0,
    ):
        # scikit-learn's rule, as in every estimator here: store each argument as given; fit validates them.
        self.teacher = teacher
        self.student = student
        self.rho = rho
        self.temperature = temperature
        self.kl_reduction = kl_reduction
        self.teacher_input = teacher_input
        self.focus = focus
        self.device = device
        self.memory = memory
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, X_teacher=None, teacher_proba=None, sample_weight=None):
        """Fit the teacher (unless given), then distill it into the student.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The student's modality.
        y : array-like of shape (n_samples,)
            Class labels.
        X_teacher : array-like of shape (n_samples, n_teacher_features), default=None
            The teacher's modality, row i paired with row i of ``X``.
            Required unless ``teacher_proba`` is given or
            ``teacher_input="student"``.
        teacher_proba : array-like of shape (n_samples, n_classes), default=None
            Precomputed teacher probabilities (columns in the order of
            ``np.unique(y)``); no teacher is fitted.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of both loss terms of the student (rescaled to
            mean 1) and of the teacher's training: the library's nets use
            them; a scikit-learn teacher gets them when its ``fit`` takes
            ``sample_weight`` or, with metadata routing enabled, when it
            requests them (``teacher.set_fit_request(sample_weight=True)``);
            otherwise it trains unweighted, with a warning. A prefit
            (``FrozenEstimator``) teacher is not trained.

        Returns
        -------
        self : CrossModalDistiller
        """
        X_given = X  # a scikit-learn teacher on teacher_input="student" or "both" sees it as given
        X, y = validate_numeric_data(self, X, y, dtype=_FLOAT_DTYPES)
        device = resolve_device(self.device)
        sample_weight, weights = student_weights(sample_weight, X)
        teacher_seed, focus_seed, student_seed = draw_seeds(self.random_state, 3)
        self.classes_, codes, labelled = _teacher.encode_targets(y, self.teacher, self.rho, teacher_proba)

        self.teacher_ = self.focus_ = self.teacher_proba_ = None
        if self.rho == 1:
            pass  # the no-KD baseline: the KD term has weight 0, so no teacher is fitted
        elif teacher_proba is not None and not isinstance(self.teacher, str):
            if self.focus is not None:
                raise ValueError(
                    "focus needs the teacher modality to train a focused teacher, so it cannot be "
                    "combined with teacher_proba; pass X_teacher instead."
                )
            self.teacher_proba_ = check_probabilities(teacher_proba, len(X), len(self.classes_)).astype(np.float64)
        else:
            data = _teacher.TeacherData(
                X_given, X, y, codes, labelled, self.classes_, X_teacher, teacher_proba, sample_weight, weights
            )
            params = self.get_params(deep=False)
            self.teacher_, self.focus_, self.teacher_proba_ = _teacher.fit_and_query(
                params, data, device, teacher_seed, focus_seed
            )

        objective = KD(temperature=float(self.temperature), reduction=self.kl_reduction)
        extra = {} if self.teacher_proba_ is None else objective.targets(TeacherOutputs(self.teacher_proba_))
        extra["sample_weight"] = weights
        if not labelled.all():
            extra["label_weight"] = label_weights(labelled, weights)
        template = self.student if self.student is not None else default_student()
        net = as_distillation_net(template, X.shape[1], len(self.classes_), device, rho=self.rho, objective=objective)
        if self.verbose:
            print(f"[CrossModalDistiller] training the student on {X.shape} ({len(self.classes_)} classes)")
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        self.student_ = fit_net(net, X32, codes, student_seed, extra)
        self.history_ = self.student_.history
        return self

    # ------------------------------------------------------------------ predict
    def predict_proba(self, X):
        """Class probabilities of the student, from the student modality only.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The student's modality.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)

        Notes
        -----
        Rows go through the student in chunks whose converted input and
        layer outputs fit in scikit-learn's ``working_memory`` (1024 MiB
        unless set with :func:`sklearn.config_context`); ``X`` itself is not
        copied, whatever its float dtype.
        """
        check_is_fitted(self, "student_")
        X = validate_numeric_data(self, X, reset=False, dtype=_FLOAT_DTYPES)
        logits = predict_logits(self.student_.module_, X, self.student_.device)
        return logits_to_proba(logits)

    def predict(self, X):
        """Predicted class labels of the student.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy of the student on the labelled rows of ``(X, y)``.

        Rows marked as unlabelled (``-1``, or ``None`` among string labels)
        are left out, so a cross-validation fold that holds unlabelled rows
        never counts them as errors (scikit-learn's semi-supervised
        estimators count them). Scorers such as ``scoring="accuracy"`` call
        :meth:`predict` and see every row; leave ``scoring`` unset to use
        this method.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The student's modality.
        y : array-like of shape (n_samples,)
            True labels, with the markers of unlabelled rows.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            Mean accuracy over the labelled rows.

        Raises
        ------
        ValueError
            When no row of ``y`` carries a label.
        """
        y = column_or_1d(np.asarray(y))
        labelled = labelled_mask(y)
        if not labelled.any():
            raise ValueError(f"score needs at least one labelled row; all {len(y)} rows of y are marked unlabelled.")
        weights = None if sample_weight is None else np.asarray(sample_weight)[labelled]
        return accuracy_score(
            y[labelled], self.predict(_safe_indexing(X, np.flatnonzero(labelled))), sample_weight=weights
        )
