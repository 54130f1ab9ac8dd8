"""``"crd"``: contrastive representation distillation (Tian et al., ICLR 2020)."""

import math
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from crossmodal._utils.compat import Interval
from crossmodal.distill.objectives._base import DistillationObjective

__all__ = ["CRD", "ContrastiveMemory", "draw_negatives", "nce_row_losses"]

# A memory of at most this many rows per scored column (the positive and the K negatives) is scored with one
# matrix product against all of it; a larger one has the sampled rows gathered instead. Gathering copies
# (K + 1) rows of the memory per anchor, far slower per row than the product's BLAS, so the product wins
# until the memory is some 30 times the columns (benchmarks/RESULTS.md, "Figures behind design choices").
_FULL_PRODUCT_ROWS_PER_COLUMN = 24


class CRD(DistillationObjective):
    """Contrastive representation distillation: the student's embedding of a row is told apart from other rows'.

    Student and teacher features (``student_layer``, ``teacher_layer``) are
    mapped by learned linear heads to a shared ``feature_dim`` and
    L2-normalised: ``g_s(s_i)`` and ``g_t(t_i)``. A memory holds an
    embedding of every training row for each side. With the teacher as
    anchor, the positive of row ``i`` is the student's memory entry of row
    ``i`` and its ``K`` negatives are entries of other rows, drawn uniformly
    for every batch; with the student as anchor, the same with the teacher's
    memory. Each pair scores ``u = <g(.), memory entry> / nce_t`` and the
    NCE loss of an anchor is::

        -log h(u_pos) - sum_k log(1 - h(u_k)),   h(u) = e^u / (e^u + K * c)

    the paper's ``h = e^u / (e^u + N / M)`` (``N = K`` negatives out of ``M``
    rows) with ``e^u`` divided by the partition function ``Z = M * c``,
    where ``c`` is the mean of ``e^u`` over the first batch, held fixed from
    then on. The term is the batch mean (weighted by ``sample_weight``) of
    each row's two losses, teacher-anchored plus student-anchored.

    Parameters
    ----------
    feature_dim : int, default=128
        Width of the shared embedding (the paper's 128).
    nce_k : int, default=16384
        Negatives per anchor (the paper's 16384), capped at ``n_samples - 1``
        (as many as there are other training rows).
    nce_t : float > 0, default=0.07
        Temperature of the scores (the paper's 0.07).
    momentum : float in [0, 1), default=0.5
        The memory entry of row ``i`` becomes
        ``normalize(momentum * entry + (1 - momentum) * g(x_i))`` after every
        batch that holds row ``i`` (the paper's 0.5).
    student_layer, teacher_layer : int, str or None, default=None
        The hidden layers whose outputs are embedded (index or name; None:
        the penultimate child of an ``nn.Sequential``).

    Notes
    -----
    Every row is a positive pair with itself (the student's and the
    teacher's view of one sample), so the term needs no label: it covers
    rows without a label exactly as labelled ones. Negatives are drawn with
    replacement among the other rows (never the anchor's own row) from
    torch's random generator, which the distiller seeds with the student;
    the memory starts as random unit vectors, so the first epoch's negatives
    carry no information yet. The memory is updated only in training mode
    (not on a validation batch of skorch's loop). The heads and the memory
    live in the student's ``objective_module_``
    (:class:`ContrastiveMemory`), trained by the student's optimizer. The
    distiller's ``temperature`` does not apply: set ``nce_t`` instead.

    References
    ----------
    Tian, Y., Krishnan, D., Isola, P. (2020). Contrastive Representation
    Distillation. ICLR 2020, section 3 (the critic ``h``, its NCE bound and
    the memory buffer).
    Wu, Z., Xiong, Y., Yu, S. X., Lin, D. (2018). Unsupervised Feature
    Learning via Non-Parametric Instance Discrimination. CVPR 2018 (the
    NCE normalisation held constant).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from crossmodal.distill.objectives import CRD, ModuleContext, ObjectiveBatch, TeacherOutputs
    >>> _ = torch.manual_seed(0)
    >>> crd = CRD(feature_dim=4)
    >>> teacher = TeacherOutputs(proba=np.full((10, 2), 0.5), features=np.ones((10, 3), dtype=np.float32))
    >>> targets = {k: torch.as_tensor(v) for k, v in crd.targets(teacher).items()}
    >>> memory = crd.build_module(ModuleContext(10, 2, student_features=5, teacher_features=3))
    >>> memory.student_memory.shape  # one entry per training row
    torch.Size([10, 4])
    >>> batch = ObjectiveBatch(
    ...     student_logits=torch.zeros(10, 2), targets=targets, student_features=torch.randn(10, 5), module=memory
    ... )
    >>> loss = crd.loss(batch)
    >>> loss.shape, bool(loss > 0)
    (torch.Size([]), True)
    """

    requires = "features"
    needs_student_features = True

    _parameter_constraints = {
        "feature_dim": [Interval(Integral, 1, None, closed="left")],
        "nce_k": [Interval(Integral, 0, None, closed="left")],
        "nce_t": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "student_layer": [None, Integral, str],
        "teacher_layer": [None, Integral, str],
    }

    def __init__(self, feature_dim=128, nce_k=16384, nce_t=0.07, momentum=0.5, student_layer=None, teacher_layer=None):
        # scikit-learn's rule, as in every estimator here: store each argument as given.
        self.feature_dim = feature_dim
        self.nce_k = nce_k
        self.nce_t = nce_t
        self.momentum = momentum
        self.student_layer = student_layer
        self.teacher_layer = teacher_layer

    def targets(self, teacher):
        features = teacher.features
        return {"teacher_features": features, "index": np.arange(len(features), dtype=np.int64)}

    def build_module(self, context):
        self._validate_params()
        return ContrastiveMemory(
            context.n_samples, context.student_features, context.teacher_features, int(self.feature_dim)
        )

    def loss(self, batch):
        memory = batch.module
        index = batch.targets["index"]
        n_negatives = min(int(self.nce_k), memory.n_samples - 1)
        negatives = draw_negatives(index, memory.n_samples, n_negatives)
        per_row, student, teacher = memory(
            batch.student_features, batch.targets["teacher_features"], index, negatives, self.nce_t
        )
        if memory.training:
            memory.update(index, student.detach(), teacher.detach(), self.momentum)
        if batch.sample_weight is None:
            return per_row.mean()
        return (per_row * batch.sample_weight.to(per_row.dtype)).mean()


class ContrastiveMemory(nn.Module):
    """CRD's trainable heads and its memory of every training row's embeddings.

    Parameters
    ----------
    n_samples : int
        Training rows: the memory holds one entry per row and side.
    n_student_features, n_teacher_features : int
        Widths of the embedded layers.
    feature_dim : int
        Width of the embedding.

    Attributes
    ----------
    student_embed, teacher_embed : torch.nn.Linear
        The heads ``g_s`` and ``g_t`` (before the L2 normalisation).
    student_memory, teacher_memory : torch.Tensor of shape (n_samples, feature_dim)
        Buffers of unit vectors.
    log_mean_score : torch.Tensor of shape (2,)
        ``log c`` of the student-anchored and the teacher-anchored scores;
        NaN until the first batch sets it.
    """

    def __init__(self, n_samples, n_student_features, n_teacher_features, feature_dim):
        super().__init__()
        self.n_samples = int(n_samples)
        self.student_embed = nn.Linear(n_student_features, feature_dim)
        self.teacher_embed = nn.Linear(n_teacher_features, feature_dim)
        self.register_buffer("student_memory", F.normalize(torch.randn(n_samples, feature_dim), dim=1))
        self.register_buffer("teacher_memory", F.normalize(torch.randn(n_samples, feature_dim), dim=1))
        self.register_buffer("log_mean_score", torch.full((2,), math.nan))

    def embed(self, student_features, teacher_features):
        """``g_s`` and ``g_t`` of a batch: unit rows of width ``feature_dim``."""
        student = F.normalize(self.student_embed(student_features), dim=1)
        teacher = F.normalize(self.teacher_embed(teacher_features.to(student.dtype)), dim=1)
        return student, teacher

    def forward(self, student_features, teacher_features, index, negatives, temperature):
        """Each row's NCE loss (student-anchored plus teacher-anchored) and the two embeddings.

        ``index`` (m,) are the rows' positions in the memory, ``negatives``
        (m, K) those of their negatives. The first call sets
        ``log_mean_score``.

        Returns
        -------
        per_row : torch.Tensor of shape (m,)
        student, teacher : torch.Tensor of shape (m, feature_dim)
            The batch's embeddings (see :meth:`embed`).
        """
        student, teacher = self.embed(student_features, teacher_features)
        scores = [
            _scores(anchor, memory.to(anchor.dtype), index, negatives) / temperature
            for anchor, memory in ((student, self.teacher_memory), (teacher, self.student_memory))
        ]
        if bool(torch.isnan(self.log_mean_score).any()):
            with torch.no_grad():
                self.log_mean_score.copy_(torch.stack([_log_mean_exp(u.detach()) for u in scores]))
        n_negatives = negatives.shape[1]
        log_mean = self.log_mean_score.to(student.dtype)
        per_row = nce_row_losses(scores[0], log_mean[0], n_negatives) + nce_row_losses(
            scores[1], log_mean[1], n_negatives
        )
        return per_row, student, teacher

    @torch.no_grad()
    def update(self, index, student, teacher, momentum):
        """Move the memory entries of rows ``index`` towards the batch's embeddings and renormalise them."""
        for memory, new in ((self.student_memory, student), (self.teacher_memory, teacher)):
            mixed = momentum * memory[index] + (1.0 - momentum) * new.to(memory.dtype)
            memory[index] = F.normalize(mixed, dim=1)


def draw_negatives(index, n_samples, n_negatives):
    """For each row of ``index``, ``n_negatives`` positions drawn uniformly among the other ``n_samples - 1``.

    Drawn on torch's CPU generator (so that a seed gives the same negatives
    on every device), then moved to ``index``'s device.
    """
    if n_negatives == 0:
        return torch.empty((len(index), 0), dtype=torch.int64, device=index.device)
    drawn = torch.randint(0, n_samples - 1, (len(index), n_negatives)).to(index.device)
    return drawn + (drawn >= index[:, None]).to(drawn.dtype)


def nce_row_losses(scores, log_mean_score, n_negatives):
    """NCE loss of each anchor: ``-log h(u_pos) - sum_k log(1 - h(u_k))`` with ``h(u) = e^u / (e^u + K c)``.

    ``scores`` (m, 1 + K): the positive's score in column 0, then the
    negatives'. Computed in log space: ``log h = u - logaddexp(u, log(K c))``
    and ``log(1 - h) = log(K c) - logaddexp(u, log(K c))``.
    """
    if n_negatives == 0:  # no negative: h(u_pos) = 1, nothing to tell apart
        return scores[:, 0] * 0.0
    log_noise = log_mean_score + math.log(n_negatives)
    noise = log_noise.expand_as(scores)
    log_denominator = torch.logaddexp(scores, noise)
    positive = scores[:, 0] - log_denominator[:, 0]
    negatives = (noise[:, 1:] - log_denominator[:, 1:]).sum(1)
    return -(positive + negatives)


def _scores(anchor, memory, index, negatives):
    """(m, 1 + K): each anchor's inner product with its own row's memory entry, then with its negatives'."""
    columns = torch.cat([index[:, None], negatives], dim=1)
    if memory.shape[0] <= _FULL_PRODUCT_ROWS_PER_COLUMN * columns.shape[1]:
        # a snapshot: the product's backward needs the memory as scored, and the update changes it in place
        return (anchor @ memory.clone().T).gather(1, columns)
    return torch.bmm(memory[columns], anchor[:, :, None]).squeeze(2)


def _log_mean_exp(scores):
    return torch.logsumexp(scores.reshape(-1), 0) - math.log(scores.numel())
