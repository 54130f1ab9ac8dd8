"""``"c2kd"``: customized crossmodal knowledge distillation (Huo et al., CVPR 2024)."""

import functools
import warnings
from numbers import Integral, Real

import torch
import torch.nn.functional as F
from torch import nn

from crossmodal._utils.compat import Interval, StrOptions
from crossmodal._utils.labels import labelled_cross_entropy
from crossmodal._utils.torch_helpers import eval_mode, module_device_and_dtype
from crossmodal.distill._features import FeatureTap, feature_layer
from crossmodal.distill.objectives._base import DistillationObjective

__all__ = ["C2KD", "C2KDModule", "c2kd_loss", "kendall_tau", "non_target_logits"]


class C2KD(DistillationObjective):
    """C2KD: teacher and student trained together, each through a proxy head, on the rows where they agree.

    A copy of the torch teacher trains beside the student. A proxy head on
    each side (one hidden layer on ``student_layer``'s or ``teacher_layer``'s
    output, then the classes) passes knowledge between the two modalities,
    and each network and its proxy distil into each other (bidirectional
    distillation). The term of a batch of ``m`` rows is::

        CE(y, t) + mean_i [ KL(t -> t') + KL(t' -> t) + KL(s -> s') + KL(s' -> s)
                            + [tau_i > threshold] * (NT(t' -> s') + NT(s' -> t')) ]

    with ``t``, ``s`` the teacher's and the student's logits, ``t'``, ``s'``
    their proxies', ``KL(a -> b) = T**2 KL(softmax(a / T) || softmax(b / T))``
    with ``a`` held fixed (``b`` learns from ``a``), and ``NT`` the same
    over the non-target classes only (the row's class left out, the rest
    renormalised): the non-target-class alignment, which leaves the target
    class's confidence, where the modalities differ most, to each side.
    ``tau_i`` is Kendall's tau-b between the two proxies' logits of row
    ``i`` (on-the-fly selection: a row whose class rankings disagree is not
    aligned). ``CE(y, t)`` is the teacher's cross-entropy on the labelled
    rows, weighted as the student's. With the distiller's ``rho`` the
    student's loss is ``rho * CE(y, s) + (1 - rho) *`` this term; ``rho=0.5``
    is the paper's sum of all terms, halved.

    Parameters
    ----------
    temperature : float > 0, default=1.0
        ``T`` of every KL term (the paper uses 1); ``T**2`` keeps the
        gradients' scale.
    threshold : float in [-1, 1], default=0.0
        A row is aligned when its Kendall's tau is greater than this (the
        authors' default, 0: the proxies rank the classes more alike than
        not). A row where either proxy ties every class has no tau (NaN) and
        is not aligned; 1 aligns none.
    unlabelled : {"teacher", "skip"}, default="teacher"
        The target class of a row without a label, which the non-target
        alignment needs: the co-trained teacher's predicted class (its logits'
        argmax), or none (``"skip"``: such rows are never aligned). The
        proxies' terms cover every row either way.
    student_layer, teacher_layer : int, str or None, default=None
        The hidden layers the proxies read (index or name; None: the
        penultimate child of an ``nn.Sequential``).

    Notes
    -----
    It needs a trainable torch teacher: the library's net (``teacher=None``),
    a skorch ``NeuralNetClassifier`` template or ``teacher="joint"``. The
    distiller fits it first (the paper's pre-trained teacher), then trains a
    copy with the student; ``teacher_`` stays the teacher as first fitted
    and the co-trained one is ``student_.objective_module_.teacher`` (the
    proxies are ``student_proxy`` and ``teacher_proxy`` beside it), all
    trained by the student's optimizer.

    With two classes a row's non-target set holds one class, so both ``NT``
    terms are 0: nothing passes between the modalities and the student only
    distils with its own proxy. The fit warns.

    References
    ----------
    Huo, F., Xu, W., Guo, J., Wang, H., Guo, S. (2024). C2KD: Bridging the
    Modality Gap for Cross-Modal Knowledge Distillation. CVPR 2024,
    pp. 16006-16015. Kendall, M. G. (1945). The treatment of ties in ranking
    problems. Biometrika 33(3) (tau-b).

    Examples
    --------
    >>> import torch
    >>> from crossmodal.distill.objectives._c2kd import kendall_tau
    >>> proxy_s = torch.tensor([[3.0, 2.0, 1.0, 0.0], [3.0, 2.0, 1.0, 0.0]])
    >>> proxy_t = torch.tensor([[9.0, 5.0, 4.0, 1.0], [0.0, 1.0, 2.0, 3.0]])
    >>> kendall_tau(proxy_s, proxy_t)  # same ranking, reversed ranking
    tensor([ 1., -1.])
    >>> from skorch import NeuralNetClassifier
    >>> from crossmodal import CrossModalDistiller, make_modality_venn
    >>> from crossmodal.distill.objectives import C2KD
    >>> from crossmodal.nets import MLP
    >>> X_a, X_b, y = make_modality_venn(120, n_general=4, n_classes=3, random_state=0)
    >>> net = NeuralNetClassifier(MLP, module__hidden_sizes=(16,), max_epochs=10, train_split=None, callbacks="disable")
    >>> kd = CrossModalDistiller(teacher=net, student=net, objective=C2KD(), random_state=0)
    >>> kd = kd.fit(X_b, y, X_teacher=X_a)
    >>> co_trained = kd.student_.objective_module_.teacher  # trained with the student
    >>> co_trained is kd.teacher_.module_
    False
    """

    requires = "trainable teacher"
    needs_student_features = True

    _parameter_constraints = {
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "threshold": [Interval(Real, -1, 1, closed="both")],
        "unlabelled": [StrOptions({"teacher", "skip"})],
        "student_layer": [None, Integral, str],
        "teacher_layer": [None, Integral, str],
    }

    def __init__(self, temperature=1.0, threshold=0.0, unlabelled="teacher", student_layer=None, teacher_layer=None):
        # scikit-learn's rule, as in every estimator here: store each argument as given.
        self.temperature = temperature
        self.threshold = threshold
        self.unlabelled = unlabelled
        self.student_layer = student_layer
        self.teacher_layer = teacher_layer

    def targets(self, teacher):
        if teacher.proba.shape[1] == 2:
            warnings.warn(
                "C2KD on two classes: each row's non-target set holds a single class, so the non-target alignment "
                "is 0 and nothing passes from the teacher to the student (the student only distils with its own "
                "proxy). Use an objective that distils the target class too, such as 'kd'.",
                UserWarning,
                stacklevel=2,
            )
        return {"teacher_inputs": teacher.inputs}

    def build_module(self, context):
        self._validate_params()
        return C2KDModule(
            context.teacher_module,
            self.teacher_layer,
            context.n_teacher_inputs,
            context.student_features,
            context.n_classes,
        )

    def loss(self, batch):
        teacher_logits, teacher_proxy, student_proxy = batch.module(
            batch.targets["teacher_inputs"], batch.student_features
        )
        loss, _ = c2kd_loss(
            batch.student_logits,
            teacher_logits,
            student_proxy,
            teacher_proxy,
            batch.y,
            temperature=self.temperature,
            threshold=self.threshold,
            unlabelled=self.unlabelled,
            sample_weight=batch.sample_weight,
            label_weight=batch.label_weight,
        )
        return loss


class C2KDModule(nn.Module):
    """C2KD's trainable parts: the co-trained teacher and the two proxy heads.

    Parameters
    ----------
    teacher : torch.nn.Module
        A copy of the fitted teacher's module; trained in place.
    teacher_layer : int, str or None
        The layer of ``teacher`` the teacher's proxy reads.
    n_teacher_inputs : int
        Width of the teacher's input (to size the teacher's feature layer).
    n_student_features : int
        Width of the student's feature layer.
    n_classes : int

    Attributes
    ----------
    teacher, student_proxy, teacher_proxy : torch.nn.Module
    teacher_tap : FeatureTap
        Keeps the output of ``teacher_layer`` at each forward pass.
    """

    def __init__(self, teacher, teacher_layer, n_teacher_inputs, n_student_features, n_classes):
        super().__init__()
        self.teacher = teacher
        self.teacher_tap = FeatureTap()
        feature_layer(teacher, teacher_layer, "teacher").register_forward_hook(self.teacher_tap)
        device, dtype = module_device_and_dtype(teacher)
        with torch.no_grad(), eval_mode(teacher):  # a probe to size the proxy, leaving batch statistics as they are
            teacher(torch.zeros((2, n_teacher_inputs), dtype=dtype, device=device))
        n_teacher_features = self.teacher_tap.output.shape[1]
        self.student_proxy = _proxy_head(n_student_features, n_classes)
        self.teacher_proxy = _proxy_head(n_teacher_features, n_classes)

    def forward(self, teacher_inputs, student_features):
        """The teacher's logits, its proxy's and the student's proxy's, on one batch."""
        teacher_logits = self.teacher(teacher_inputs)
        return teacher_logits, self.teacher_proxy(self.teacher_tap.output), self.student_proxy(student_features)


def _proxy_head(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_features), nn.ReLU(), nn.Linear(n_features, n_classes))


def c2kd_loss(
    student_logits,
    teacher_logits,
    student_proxy,
    teacher_proxy,
    y,
    *,
    temperature=1.0,
    threshold=0.0,
    unlabelled="teacher",
    sample_weight=None,
    label_weight=None,
    sources=None,
):
    """C2KD's term on one batch (see :class:`C2KD`) and the rows it aligned.

    Parameters
    ----------
    student_logits, teacher_logits, student_proxy, teacher_proxy : torch.Tensor of shape (m, n_classes)
    y : torch.Tensor of shape (m,)
        Class codes, -1 on a row without a label.
    temperature, threshold, unlabelled
        As for :class:`C2KD`.
    sample_weight : torch.Tensor of shape (m,) or None
        Weights of every row's terms (mean 1 over the training rows).
    label_weight : torch.Tensor of shape (m,) or None
        The distiller's factors of the teacher's cross-entropy term when
        some training rows carry no label. Without them, a batch that holds
        rows without a label averages the teacher's cross-entropy over its
        labelled rows (weighted by ``sample_weight``).
    sources : tuple of 4 torch.Tensor or None, default=None
        What each side learns from, held fixed (no gradient flows into it):
        the student's, the teacher's, the student proxy's and the teacher
        proxy's logits, in that order, which also give the rank agreement
        and the teacher's predicted classes. None: the four logits above,
        detached, as in training. Given separately, the term is an ordinary
        differentiable function of the four logits (for checking gradients).

    Returns
    -------
    loss : torch.Tensor, 0-d
    selected : torch.Tensor of shape (m,), bool
        The rows whose non-target classes were aligned.
    """
    labelled = y >= 0
    if label_weight is None and not bool(labelled.all()):
        weight = labelled.to(teacher_logits.dtype)
        if sample_weight is not None:
            weight = weight * sample_weight.to(weight.dtype)
        total = weight.sum()  # no labelled row: zero factors (m / tiny would overflow, and 0 * inf is NaN)
        label_weight = weight * (len(y) / total) if bool(total > 0) else torch.zeros_like(weight)
    cross_entropy = labelled_cross_entropy(teacher_logits, y, label_weight, sample_weight)

    if sources is None:
        sources = tuple(x.detach() for x in (student_logits, teacher_logits, student_proxy, teacher_proxy))
    fixed_s, fixed_t, fixed_ps, fixed_pt = sources
    target = torch.where(labelled, y, fixed_t.argmax(1))
    selected = kendall_tau(fixed_ps, fixed_pt) > threshold  # False where tau is NaN
    if unlabelled == "skip":
        selected = selected & labelled
    per_row = _kl_rows(fixed_t, teacher_proxy, temperature) + _kl_rows(fixed_pt, teacher_logits, temperature)
    per_row = per_row + _kl_rows(fixed_s, student_proxy, temperature) + _kl_rows(fixed_ps, student_logits, temperature)
    others = _other_classes(target, student_logits.shape[1])
    student_nt, teacher_nt = student_proxy.gather(1, others), teacher_proxy.gather(1, others)
    aligned = _kl_rows(fixed_pt.gather(1, others), student_nt, temperature)
    aligned = aligned + _kl_rows(fixed_ps.gather(1, others), teacher_nt, temperature)
    per_row = per_row + aligned.masked_fill(~selected, 0.0)
    if sample_weight is not None:
        per_row = per_row * sample_weight.to(per_row.dtype)
    return cross_entropy + per_row.mean(), selected


def kendall_tau(a, b):
    """Kendall's tau-b between each row of ``a`` and the same row of ``b``, both of shape (m, n_classes).

    ``(concordant - discordant pairs) / sqrt(untied pairs in a * untied pairs in b)``
    over the class pairs; NaN on a row where ``a`` or ``b`` ties every class.
    """
    first, second = _class_pairs(a.shape[1], a.device)
    sign_a = torch.sign(a[:, first] - a[:, second])
    sign_b = torch.sign(b[:, first] - b[:, second])
    untied = (sign_a != 0).sum(1) * (sign_b != 0).sum(1)
    return (sign_a * sign_b).sum(1) / untied.to(a.dtype).sqrt()


def non_target_logits(logits, target):
    """(m, n_classes - 1): each row's logits without the one of its ``target`` class, in class order."""
    return logits.gather(1, _other_classes(target, logits.shape[1]))


def _other_classes(target, n_classes):
    """(m, n_classes - 1): each row's classes but ``target``, in order."""
    others = _class_range(n_classes - 1, target.device).expand(len(target), n_classes - 1)
    return others + (others >= target[:, None]).to(others.dtype)


# Both are built once per class count and device: a batch's loss would otherwise allocate them every step.
@functools.lru_cache(maxsize=16)
def _class_range(n, device):
    return torch.arange(n, device=device)


@functools.lru_cache(maxsize=16)
def _class_pairs(n_classes, device):
    return torch.triu_indices(n_classes, n_classes, offset=1, device=device)


def _kl_rows(source, learner, temperature):
    """``T**2 KL(softmax(source / T) || softmax(learner / T))`` per row (``learner`` learns from ``source``)."""
    log_p = F.log_softmax(source / temperature, dim=1)
    log_q = F.log_softmax(learner / temperature, dim=1)
    return temperature * temperature * (log_p.exp() * (log_p - log_q)).sum(1)
