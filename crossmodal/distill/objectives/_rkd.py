"""``"rkd"``: relational knowledge distillation, distances and angles among a batch's embeddings."""

from numbers import Real

import torch
import torch.nn.functional as F

from crossmodal._utils.compat import Interval
from crossmodal.distill.objectives._common import FeatureObjective

__all__ = ["RKD", "rkd_terms"]


def _relations(x):
    """Pairwise distances (m, m) and unit difference vectors ``e[j, i] = (x_i - x_j) / ||x_i - x_j||`` (m, m, d)."""
    # Differences, not the |a|^2 + |b|^2 - 2ab expansion: a translated embedding
    # would lose its small distances to cancellation there.
    diff = x.unsqueeze(0) - x.unsqueeze(1)
    dist = torch.linalg.vector_norm(diff, dim=2)
    # Two equal rows (duplicates, or rows a ReLU layer maps to zero) have no
    # direction: their unit vector is 0 with a finite gradient, not 0 / 0.
    return dist, diff / dist.masked_fill(dist == 0, 1.0).unsqueeze(2)


def rkd_terms(student_features, teacher_features, sample_weight=None):
    """The distance-wise and angle-wise RKD terms of a batch (unweighted by ``lambda``).

    Parameters
    ----------
    student_features : torch.Tensor of shape (m, d_student)
    teacher_features : torch.Tensor of shape (m, d_teacher)
    sample_weight : torch.Tensor of shape (m,) or None

    Returns
    -------
    distance, angle : torch.Tensor, 0-d
        ``sum over pairs i != j of w_i w_j huber(d_S / mu_S - d_T / mu_T) /
        (m (m - 1))`` and ``sum over distinct triplets of w_i w_j w_k
        huber(cos_S - cos_T) / (m (m - 1) (m - 2))``; 0 on a batch too small
        to hold a pair (a triplet).
    """
    s = student_features
    t = teacher_features.to(s.dtype)
    m = s.shape[0]
    zero = s.sum() * 0.0  # keeps the graph on a batch with no pair
    if m < 2:
        return zero, zero
    d_s, e_s = _relations(s)
    d_t, e_t = _relations(t)
    # No masks are needed for the entries where rows repeat: a row's distance
    # to itself and its unit vector to itself are exactly 0 on both sides, so
    # those pairs and the triplets with i == j or k == j add exactly 0; the
    # triplets with i == k (cos 1, or 0 for equal rows) are subtracted below.
    w = None if sample_weight is None else sample_weight.to(s.dtype)
    if w is None:
        w2, total = None, m * (m - 1)
    else:
        w2 = w[:, None] * w[None, :]
        total = (w.sum() ** 2 - w.square().sum()).clamp_min(torch.finfo(s.dtype).tiny)  # the pairs i != j

    def weighted_sum(pair_values):
        return pair_values.sum() if w2 is None else (w2 * pair_values).sum()

    def mean_distance(d):
        # A batch of equal rows, or of zero weights, has no scale: 1 keeps its
        # (zero, or zero-weighted) terms finite.
        mu = weighted_sum(d) / total
        return torch.where(mu > 0, mu, torch.ones_like(mu))

    mu_s, mu_t = mean_distance(d_s), mean_distance(d_t)
    huber = F.smooth_l1_loss(d_s / mu_s, d_t / mu_t, reduction="none", beta=1.0)
    distance = weighted_sum(huber) / (m * (m - 1))
    if m < 3:
        return distance, zero
    # cos[j, i, k]: the angle at x_j between x_i and x_k.
    gap = F.smooth_l1_loss(e_s @ e_s.transpose(1, 2), e_t @ e_t.transpose(1, 2), reduction="none", beta=1.0)
    repeated = gap.diagonal(dim1=1, dim2=2)  # (j, i): the triplets (i, j, i)
    if w is None:
        angle = gap.sum() - repeated.sum()
    else:
        angle = torch.einsum("jik,j,i,k->", gap, w, w, w) - torch.einsum("ji,j,i->", repeated, w, w.square())
    return distance, angle / (m * (m - 1) * (m - 2))


class RKD(FeatureObjective):
    """Relational KD: the student's embeddings keep the distances and angles among the teacher's.

    For the embeddings ``s_i`` (the student's ``student_layer``) and ``t_i``
    (the teacher's ``teacher_layer``) of a batch's rows, the term is
    ``distance_weight * L_D + angle_weight * L_A`` with

    * ``L_D``: the Huber loss between ``||s_i - s_j|| / mu_S`` and ``||t_i -
      t_j|| / mu_T`` over the pairs ``i != j``, where ``mu`` is the mean
      distance over the batch's pairs;
    * ``L_A``: the Huber loss between the cosines of the angle at ``j`` of
      the triangle ``(i, j, k)`` in the student's and the teacher's
      embedding, over the triplets of distinct rows.

    The Huber loss is ``x**2 / 2`` for ``|x| <= 1`` and ``|x| - 1/2``
    beyond. Only relations are compared, so the two embeddings may have
    different widths, and a rotation, translation (or, for the distances
    normalised by ``mu`` and the angles, a scaling) of either changes
    nothing.

    Parameters
    ----------
    distance_weight : float >= 0, default=25.0
        ``lambda_D``; the paper uses 25.
    angle_weight : float >= 0, default=50.0
        ``lambda_A``; the paper uses 50.
    student_layer : int, str or None, default=None
        The student's embedding layer: a child index or a submodule name;
        None is the penultimate child of an ``nn.Sequential`` (the last
        hidden activation of the library's MLP).
    teacher_layer : int, str or None, default=None
        The teacher's embedding layer, likewise. The teacher must be a torch
        model (the library's net, a skorch net, ``teacher="joint"``).

    Notes
    -----
    The paper writes both terms as sums over pairs and triplets; they are
    means here, so the term does not grow with the batch size (``m**2`` and
    ``m**3``) and the weights 25 and 50 keep one meaning for every
    ``batch_size``. The relations are among a mini-batch's rows: a batch of
    one row has no pair (both terms are 0), one of two rows no triplet (the
    angle term is 0). Time and memory grow as ``m**3 * width`` for the angle
    term.

    The relations need no label: every row counts. Two classes need nothing
    special. With sample weights ``w``, a pair counts ``w_i * w_j`` and a
    triplet ``w_i * w_j * w_k`` (and ``mu`` is the weighted mean distance);
    the divisors stay the numbers of pairs and triplets. Two rows with equal
    embeddings have distance 0 and no direction: their unit difference
    vector is taken as 0.

    References
    ----------
    Park, W., Kim, D., Lu, Y., Cho, M. (2019). Relational Knowledge
    Distillation. CVPR 2019, pp. 3967-3976.

    Examples
    --------
    >>> import torch
    >>> from crossmodal.distill.objectives import RKD, ObjectiveBatch
    >>> teacher = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> rkd = RKD()
    >>> batch = ObjectiveBatch(torch.zeros(3, 2), targets={"teacher_features": teacher}, student_features=teacher * 3)
    >>> round(rkd.loss(batch).item(), 6)  # a scaled copy keeps every relation
    0.0
    >>> batch.student_features = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])  # on a line
    >>> round(rkd.loss(batch).item(), 4)
    31.8554
    """

    _parameter_constraints = {
        "distance_weight": [Interval(Real, 0, None, closed="left")],
        "angle_weight": [Interval(Real, 0, None, closed="left")],
        "student_layer": [None, int, str],
        "teacher_layer": [None, int, str],
    }

    def __init__(self, distance_weight=25.0, angle_weight=50.0, student_layer=None, teacher_layer=None):
        self.distance_weight = distance_weight
        self.angle_weight = angle_weight
        self.student_layer = student_layer
        self.teacher_layer = teacher_layer

    def loss(self, batch):
        distance, angle = rkd_terms(batch.student_features, batch.targets["teacher_features"], batch.sample_weight)
        return self.distance_weight * distance + self.angle_weight * angle
