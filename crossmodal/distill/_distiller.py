"""CrossModalDistiller: crossmodal knowledge distillation as a scikit-learn classifier."""

import os
from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from crossmodal._utils.compat import HasMethods, Interval, StrOptions, _fit_context
from crossmodal._utils.labels import check_labelled_weight, label_weights
from crossmodal._utils.random import draw_seeds
from crossmodal._utils.skorch_helpers import mlp_template
from crossmodal._utils.torch_helpers import resolve_device, state_with_cpu_nets
from crossmodal._utils.validation import (
    check_float32_range,
    check_paired_samples,
    check_probabilities,
    validate_numeric_data,
)
from crossmodal.distill import _teacher
from crossmodal.distill._net import as_distillation_net, fit_net, student_weights
from crossmodal.distill._student import StudentPredictionsMixin
from crossmodal.distill._teacher_outputs import check_teacher_proba_serves, feature_request, objective_outputs
from crossmodal.distill.objectives import OBJECTIVES, ModuleContext, resolve_objective
from crossmodal.focus._ranker import ModalityGeneralRanker

__all__ = ["CrossModalDistiller"]

_FLOAT_DTYPES = (np.float32, np.float64)


def default_student():
    """The student template used when ``student=None``: a one-hidden-layer MLP (128 units, Adam, 100 epochs)."""
    return mlp_template()


class CrossModalDistiller(StudentPredictionsMixin, ClassifierMixin, BaseEstimator):
    """Student classifier on one modality, distilled from a teacher on another.

    The student sees only ``X`` (modality *b*) at fit and predict time. The
    teacher sees the other modality ``X_teacher`` (*a*), or both (*a* + *b*),
    and is trained and queried once per fit; what it says then guides the
    student through ``rho * CE(y, s) + (1 - rho) * objective term``, by
    default the paper's eq. (1)::

        rho * CE(y, s) + (1 - rho) * T**2 * KL(softmax(t / T) || softmax(s / T))

    Rows of ``y`` marked ``-1`` (``None`` among string labels) carry no
    label: the teacher fits on the labelled rows and is queried on every
    row, the cross-entropy term covers the labelled rows and the objective
    every row (few labels, many pairs: supervision transfer).

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
        Weight of the cross-entropy term; ``1 - rho`` weighs the objective's
        term. With unlabelled rows, a mini-batch's cross-entropy term is
        ``sum over its labelled rows of (w_i / s) * CE_i``, divided by the
        batch size, where ``w`` are the sample weights (1 without them) and
        ``s`` the labelled rows' share of their sum over the training rows:
        an unbiased estimate of the weighted mean cross-entropy over the
        labelled rows, so ``rho`` weighs labels against teacher whatever the
        share of labels; the objective's term is the batch mean over every
        row. With no labelled row the cross-entropy term is 0, so ``rho``
        only scales the loss by ``1 - rho``: Adam (the default student's
        optimizer) takes the same steps whatever that scale, so ``rho`` then
        changes nothing (with plain SGD it scales the learning rate).
        ``rho=1`` is the no-KD baseline: no teacher is fitted, and neither
        ``X_teacher`` nor ``teacher_proba`` is needed (``teacher_`` and
        ``teacher_proba_`` are then None).
    temperature : float > 0 or None, default=None
        Softmax temperature T of an objective given by name that has one;
        None keeps the objective's own default (1 for ``"kd"``, as the
        paper, 4 for ``"dkd"``).
        The paper uses 1. The loss is computed in float32 and scaled by
        ``T**2``, so its value carries a rounding error of about
        ``1e-7 * T**2`` (the gradients stay accurate): from T of about 100
        the recorded ``train_loss`` is mostly rounding.
    kl_reduction : {"batchmean", "mean"}, default="batchmean"
        For ``objective="kd"``: ``"batchmean"`` is the KL divergence per
        sample (the mathematically correct form); ``"mean"`` also divides by
        the number of classes, as torch's default ``KLDivLoss()`` in the
        paper authors' code does.
    objective : str or DistillationObjective, default="kd"
        The distillation term: a name from
        :data:`crossmodal.distill.objectives.OBJECTIVES` or an objective
        object, whose parameters are this estimator's
        (``objective__temperature`` in a grid). A named objective takes
        ``temperature`` (and ``kl_reduction`` for ``"kd"``); with an object,
        set them on the object and leave these two at their defaults.
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
        "temperature": [None, Interval(Real, 0, None, closed="neither")],
        "kl_reduction": [StrOptions({"batchmean", "mean"})],
        "objective": [StrOptions(set(OBJECTIVES)), HasMethods(["targets", "loss"])],
        "teacher_input": [StrOptions({"teacher", "both", "student"})],
        "focus": [None, ModalityGeneralRanker],
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
        temperature=None,
        kl_reduction="batchmean",
        objective="kd",
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
        self.objective = objective
        self.teacher_input = teacher_input
        self.focus = focus
        self.device = device
        self.memory = memory
        self.random_state = random_state
        self.verbose = verbose

    def set_params(self, **params):
        """Set the parameters of this estimator (scikit-learn's ``set_params``).

        ``objective__<name>`` reaches an objective object (``objective=KD()``);
        with an objective given by name it is an error that says so.
        """
        objective = params.get("objective", self.objective)
        nested = sorted(key for key in params if key.startswith("objective__"))
        if nested and isinstance(objective, str):
            cls = OBJECTIVES.get(objective)
            spelled = f"{cls.__name__}(...)" if cls is not None else "an objective object"
            raise ValueError(
                f"{nested[0]} sets a parameter of an objective object, but objective={objective!r} is a name: pass "
                f"objective={spelled} with its settings (a named objective takes the distiller's temperature and "
                "kl_reduction)."
            )
        return super().set_params(**params)

    def __getstate__(self):  # teacher="joint"'s teacher_ is a bare module: a CPU copy, so a CUDA fit loads without CUDA
        return state_with_cpu_nets(super().__getstate__(), "teacher_")

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, X_teacher=None, teacher_proba=None, sample_weight=None):
        """Fit the teacher (unless given), then distill it into the student.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The student's modality.
        y : array-like of shape (n_samples,)
            Class labels; ``-1`` (``None`` among string labels, in an object
            array) marks a row without a label. With no labelled row at all,
            a prefit teacher (``FrozenEstimator``) or ``teacher_proba`` is
            required, and ``classes_`` come from the teacher. With ``None``
            among string labels, give ``cross_val_score`` or ``GridSearchCV``
            a splitter (``KFold(5, shuffle=True)``), not an integer ``cv``:
            scikit-learn sorts the labels to choose a stratified split, and
            ``None`` does not sort beside strings.
        X_teacher : array-like of shape (n_samples, n_teacher_features), default=None
            The teacher's modality, row i paired with row i of ``X``.
            Required unless ``teacher_proba`` is given or
            ``teacher_input="student"``.
        teacher_proba : array-like of shape (n_samples, n_classes), default=None
            Precomputed teacher probabilities (columns in the order of the
            sorted classes of ``y``'s labelled rows; with no labelled row, the
            columns are the classes 0, 1, ...); no teacher is fitted.
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
        check_float32_range(X, "X")
        for name, given in (("X_teacher", X_teacher), ("teacher_proba", teacher_proba)):
            if given is not None:  # checked even where this fit does not use it
                check_paired_samples(X, given, "X", name)
        device = resolve_device(self.device)
        sample_weight, weights = student_weights(sample_weight, X)
        teacher_seed, focus_seed, student_seed = draw_seeds(self.random_state, 3)
        self.classes_, codes, labelled = _teacher.encode_targets(y, self.teacher, self.rho, teacher_proba)
        check_labelled_weight(sample_weight, labelled)

        objective = resolve_objective(self.objective, self.temperature, self.kl_reduction)
        self.teacher_ = self.focus_ = self.teacher_proba_ = None
        fitted = None
        if self.rho == 1:
            pass  # the no-KD baseline: the objective has weight 0, so no teacher is fitted
        elif teacher_proba is not None and not isinstance(self.teacher, str):
            check_teacher_proba_serves(objective, self.focus)
            proba = check_probabilities(teacher_proba, len(X), len(self.classes_), classes=self.classes_)
            self.teacher_proba_ = proba.astype(np.float64)
        else:
            data = _teacher.TeacherData(
                X_given, X, y, codes, labelled, self.classes_, X_teacher, teacher_proba, sample_weight, weights
            )
            fitted = _teacher.fit_and_query(
                self.get_params(deep=False), data, device, teacher_seed, focus_seed, feature_request(objective)
            )
            self.teacher_, self.focus_, self.teacher_proba_ = fitted.teacher, fitted.focus, fitted.proba

        extra, context = {}, None
        if self.teacher_proba_ is not None:
            outputs = objective_outputs(objective, self.teacher_proba_, fitted)
            extra = objective.targets(outputs)
            context = ModuleContext(len(X), len(self.classes_), X.shape[1], teacher_module=outputs.module)
            if outputs.features is not None:
                context.teacher_features = outputs.features.shape[1]
            if outputs.inputs is not None:
                context.n_teacher_inputs = outputs.inputs.shape[1]
        extra["sample_weight"] = weights
        label_scale = None
        if not labelled.all() and weights is not None:
            extra["label_weight"] = label_weights(labelled, weights)
        elif not labelled.all():  # every labelled row's factor is the same: one fused, -1-ignoring cross-entropy
            label_scale = float(len(labelled) / labelled.sum()) if labelled.any() else 0.0
        template = self.student if self.student is not None else default_student()
        net = as_distillation_net(
            template,
            X.shape[1],
            len(self.classes_),
            device,
            rho=self.rho,
            objective=objective,
            objective_context=context,
            label_scale=label_scale,
        )
        if self.verbose:
            print(f"[CrossModalDistiller] training the student on {X.shape} ({len(self.classes_)} classes)")
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        self.student_ = fit_net(net, X32, codes, student_seed, extra)
        self.history_ = self.student_.history
        return self
