"""CrossModalDistiller: crossmodal knowledge distillation as a scikit-learn classifier."""

import os
import warnings
from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.frozen import FrozenEstimator
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_random_state
from skorch import NeuralNetClassifier

from crossmodal._utils.compat import HasMethods, Interval, StrOptions, _check_sample_weight, _fit_context
from crossmodal._utils.proba import KD_PROBA_FLOOR, logits_to_proba
from crossmodal._utils.random import SEED_MAX, seeded_clone
from crossmodal._utils.skorch_helpers import (
    fit_seeded,
    fresh_module,
    mlp_template,
    replaced_criterion,
    sized_module_params,
)
from crossmodal._utils.torch_helpers import predict_logits, resolve_device
from crossmodal._utils.validation import (
    check_at_least_two_classes,
    check_modality,
    check_paired_samples,
    check_probabilities,
    validate_numeric_data,
)
from crossmodal.distill._cache import fit_focus, fit_teacher
from crossmodal.distill._joint_teacher import check_joint_focus, joint_teacher, joint_teacher_proba
from crossmodal.distill._net import DistillationNet
from crossmodal.distill._teacher_io import (
    check_teacher_output,
    fitted_net,
    n_rows,
    teacher_fit_params,
    to_teacher_dtype,
)
from crossmodal.distill.objectives._kl import teacher_targets

__all__ = ["CrossModalDistiller"]

_FLOAT_DTYPES = (np.float32, np.float64)


def default_student():
    """The student template used when ``student=None``: a one-hidden-layer MLP (128 units, Adam, 100 epochs)."""
    return mlp_template()


def default_teacher():
    """The teacher used when ``teacher=None``: the same MLP trained on cross-entropy."""
    return default_student()


def _as_distillation_net(template, n_features, n_classes, device, **loss_params):
    """Copy a skorch NeuralNetClassifier template into a DistillationNet sized for the data."""
    if type(template) not in (NeuralNetClassifier, DistillationNet):
        raise TypeError(
            "student (and a skorch teacher) must be a skorch.NeuralNetClassifier template; got "
            f"{type(template).__name__}. Subclasses are not supported because the distiller "
            "rebuilds the net with its own loss."
        )
    replaced = replaced_criterion(template)
    if replaced:
        module = getattr(template.module, "__name__", type(template.module).__name__)
        warnings.warn(
            f"The skorch template of {module} sets {', '.join(replaced)}; the distiller trains it on "
            "cross-entropy from the module's logits (plus the KD term for the student) and ignores that "
            "setting. Leave criterion unset or use torch.nn.CrossEntropyLoss without arguments.",
            UserWarning,
            stacklevel=4,
        )
    params = template.get_params(deep=False)
    params.pop("_metadata_request", None)
    params["module"] = fresh_module(params["module"])
    for key in ("rho", "temperature", "kl_reduction"):
        params.pop(key, None)
    params.update(sized_module_params(template, n_features, n_classes))
    params["criterion"] = torch.nn.CrossEntropyLoss
    if device is not None:
        params["device"] = str(device)
    return DistillationNet(**params, **loss_params)


def _side_by_side(X_teacher, X_given, X):
    """The columns of the DataFrame ``X_teacher`` then the student's, as one DataFrame.

    The student's columns keep their names when ``X_given`` is a DataFrame,
    else they are named ``student_0``, ``student_1``, ...
    """
    import pandas as pd

    if hasattr(X_given, "columns"):
        student = X_given.set_axis(X_teacher.index, axis=0)
    else:
        student = pd.DataFrame(X, index=X_teacher.index, columns=[f"student_{i}" for i in range(X.shape[1])])
    shared = sorted(set(map(str, X_teacher.columns)) & set(map(str, student.columns)))
    if shared:
        raise ValueError(
            f"teacher_input='both' puts the columns of X_teacher and X side by side, but both have columns named "
            f"{shared[:5]}; rename them in one of the two DataFrames."
        )
    return pd.concat([X_teacher, student], axis=1)


def _fit_net(net, X, y, seed, extra=None):
    """Train a DistillationNet on ``{"X": X, **extra}`` (None entries left out)."""
    batch = {"X": X, **{k: v for k, v in (extra or {}).items() if v is not None}}
    return fit_seeded(net, batch, y, seed)


# The docstring's References and Examples open as in every public docstring, on purpose (numpydoc pages stand alone).
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
        # scikit-learn's contract, the same in every estimator on purpose: store each argument as given.
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
        check_classification_targets(y)
        self.classes_, y_encoded = np.unique(y, return_inverse=True)
        check_at_least_two_classes(self.classes_)
        n_classes = len(self.classes_)
        device = resolve_device(self.device)
        sample_weight, weights = self._check_weights(sample_weight, X)
        rng = check_random_state(self.random_state)
        teacher_seed, focus_seed, student_seed = (int(s) for s in rng.randint(0, SEED_MAX, size=3))

        self.teacher_ = None
        self.focus_ = None
        self.teacher_proba_ = None
        targets = None
        if self.rho == 1:
            pass  # the no-KD baseline: the KD term has weight 0, so no teacher is fitted
        elif isinstance(self.teacher, str):  # "joint": the paper's real-data protocol
            check_joint_focus(self.focus, teacher_proba)
            if sample_weight is not None:
                warnings.warn(
                    "teacher='joint' trains the focus ranker's pair unweighted: sample_weight weighs the student only.",
                    UserWarning,
                    stacklevel=2,
                )
            X_t = self._teacher_input(X_given, X, y, X_teacher, focus_seed, rank_inputs=False)
            self.focus_ = fit_focus(self.memory, self._seeded_focus(focus_seed), X_t, y, X)
            self.teacher_ = joint_teacher(self.focus_)
            self.teacher_proba_ = joint_teacher_proba(self.teacher_, X_t)
        elif teacher_proba is not None:
            if self.focus is not None:
                raise ValueError(
                    "focus needs the teacher modality to train a focused teacher, so it cannot be "
                    "combined with teacher_proba; pass X_teacher instead."
                )
            self.teacher_proba_ = check_probabilities(teacher_proba, len(X), n_classes).astype(np.float64)
        else:
            X_t = self._teacher_input(X_given, X, y, X_teacher, focus_seed)
            layer_focus = self.focus is not None and getattr(self.focus, "layer", None) is not None
            # the teacher (and its probabilities) come from self.memory when cached there
            self.teacher_, self.teacher_proba_ = fit_teacher(
                self,
                X_t,
                y,
                y_encoded,
                n_classes,
                device,
                teacher_seed,
                sample_weight,
                weights,
                with_proba=not layer_focus,
            )
            if layer_focus:
                self._focus_hidden_layer(self.teacher_, X_t, X, y, focus_seed)
                self.teacher_proba_ = self._predict_teacher_proba(self.teacher_, X_t, n_classes)
        if self.teacher_proba_ is not None:
            targets = teacher_targets(self.teacher_proba_, self.temperature).numpy()

        template = self.student if self.student is not None else default_student()
        net = _as_distillation_net(
            template,
            X.shape[1],
            n_classes,
            device,
            rho=float(self.rho),
            temperature=float(self.temperature),
            kl_reduction=self.kl_reduction,
        )
        if self.verbose:
            print(f"[CrossModalDistiller] training the student on {X.shape} ({n_classes} classes)")
        extra = {"teacher_log_proba": targets, "sample_weight": weights}
        self.student_ = _fit_net(
            net, np.ascontiguousarray(X, dtype=np.float32), y_encoded.astype(np.int64), student_seed, extra
        )
        self.history_ = self.student_.history
        return self

    @staticmethod
    def _check_weights(sample_weight, X):
        """The validated weights (for a scikit-learn teacher) and the student's, rescaled to mean 1."""
        if sample_weight is None:
            return None, None
        w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        total = w.sum()
        if not total > 0:
            raise ValueError(f"sample_weight must have a positive sum; got sum {total}.")
        return w, (w * (len(w) / total)).astype(np.float32)

    def _teacher_needs_numbers(self):
        """True when the library's own code reads the teacher's input (its nets, the focus ranker)."""
        teacher = self.teacher
        return (
            teacher is None
            or isinstance(teacher, NeuralNetClassifier)
            or fitted_net(teacher) is not None
            or self.focus is not None
        )

    def _teacher_input(self, X_given, X, y, X_teacher, focus_seed, rank_inputs=True):
        """The teacher's training input; fits an input-level focus ranker on the way.

        A scikit-learn teacher gets ``X_teacher`` (and ``X`` for
        ``teacher_input="student"``) as the user gave it, so a DataFrame keeps
        its column names and dtypes; the library's own nets and the focus
        ranker need a float array.
        """
        numeric = self._teacher_needs_numbers()
        if self.teacher_input == "student":
            if self.focus is not None:
                raise ValueError(
                    "focus ranks the teacher modality against the student's; "
                    "it needs teacher_input='teacher' or 'both'."
                )
            return X if numeric else X_given
        if X_teacher is None:
            raise ValueError(
                "CrossModalDistiller.fit needs X_teacher (the teacher's modality, one row per row of X) "
                f"when teacher_input={self.teacher_input!r}, or precomputed teacher_proba; got neither."
            )
        frame = hasattr(X_teacher, "columns") and not numeric
        if frame:
            check_paired_samples(X, X_teacher, "X", "X_teacher")
        else:
            X_teacher = check_modality(X_teacher, "X_teacher", dtype=_FLOAT_DTYPES)
            check_paired_samples(X, X_teacher, "X", "X_teacher")
        if rank_inputs and self.focus is not None and getattr(self.focus, "layer", None) is None:
            focus = fit_focus(self.memory, self._seeded_focus(focus_seed), X_teacher, y, X)
            X_teacher = np.asarray(focus.transform(X_teacher))
            self.focus_ = focus
        if self.teacher_input == "both":
            return (
                _side_by_side(X_teacher, X_given, X)
                if frame
                else np.hstack([X_teacher, X.astype(X_teacher.dtype, copy=False)])
            )
        return X_teacher

    def _seeded_focus(self, seed, **params):
        return seeded_clone(self.focus, seed, **params)

    def _focus_hidden_layer(self, teacher, X_t, X, y, seed):
        """Rank a hidden layer of the fitted torch teacher and nullify it in place."""
        if not isinstance(teacher, NeuralNetClassifier):
            raise TypeError(
                f"focus with layer={self.focus.layer!r} masks a hidden layer of a torch teacher; "
                f"teacher must be None or a skorch NeuralNetClassifier, got {type(teacher).__name__}."
            )
        focus = fit_focus(self.memory, self._seeded_focus(seed, estimator_a=teacher), X_t, y, X)
        focus.nullify_module(teacher.module_)
        self.focus_ = focus

    def _fit_teacher(self, X_t, y, y_encoded, n_classes, device, seed, sample_weight, student_weights):
        """Fit the teacher; sample weights reach it where its fit takes them (see ``_teacher_io``)."""
        teacher = self.teacher
        if teacher is None or isinstance(teacher, NeuralNetClassifier):
            template = default_teacher() if teacher is None else teacher
            net = _as_distillation_net(template, X_t.shape[1], n_classes, device if teacher is None else None)
            return _fit_net(
                net,
                np.ascontiguousarray(X_t, dtype=np.float32),
                y_encoded.astype(np.int64),
                seed,
                {"sample_weight": student_weights},
            )
        if not (hasattr(teacher, "predict_proba") or hasattr(teacher, "decision_function")):
            raise TypeError(f"teacher must have predict_proba or decision_function; got {type(teacher).__name__}.")
        if isinstance(teacher, FrozenEstimator):
            return teacher  # prefit: fit would do nothing, and sample weights cannot change it
        teacher = seeded_clone(teacher, seed)
        return teacher.fit(X_t, y, **teacher_fit_params(teacher, sample_weight))

    def _predict_teacher_proba(self, teacher, X_t, n_classes):
        """Teacher class probabilities on the training rows, columns aligned with classes_."""
        if isinstance(teacher, NeuralNetClassifier):
            logits = predict_logits(teacher.module_, X_t, teacher.device)
            return logits_to_proba(logits)
        teacher_classes = np.asarray(getattr(teacher, "classes_", self.classes_))
        unknown = np.setdiff1d(teacher_classes, self.classes_)
        if unknown.size:
            raise ValueError(
                f"The teacher predicts classes {unknown.tolist()} that are not in y "
                f"(classes {self.classes_.tolist()}); "
                "the student can only learn the classes present in y."
            )
        columns = np.searchsorted(self.classes_, teacher_classes)
        n_samples = n_rows(X_t)
        X_t = to_teacher_dtype(teacher, X_t)
        if hasattr(teacher, "predict_proba"):
            raw = check_teacher_output(teacher.predict_proba(X_t), teacher, n_samples, len(teacher_classes))
            proba = np.zeros((n_samples, n_classes))
            proba[:, columns] = raw
            return proba
        scores = check_teacher_output(
            teacher.decision_function(X_t), teacher, n_samples, len(teacher_classes), method="decision_function"
        )
        if scores.ndim == 1:
            scores = np.column_stack([np.zeros_like(scores), scores])
        logits = np.full((n_samples, n_classes), np.log(KD_PROBA_FLOOR))
        logits[:, columns] = scores
        return logits_to_proba(logits)

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
