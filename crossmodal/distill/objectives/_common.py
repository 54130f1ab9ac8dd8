"""What several objectives share: the sample-weighted batch mean, and the base of the feature objectives."""

from crossmodal.distill.objectives._base import DistillationObjective

__all__ = ["FeatureObjective", "row_mean"]


def row_mean(per_row, sample_weight):
    """``sum_i w_i * per_row_i / m``: the batch mean of a per-row term, weighted as the cross-entropy term is.

    The weights have mean 1 over the training rows, not over the batch, so
    the divisor stays the batch size (an unbiased estimate of the weighted
    mean over the training rows).
    """
    if sample_weight is None:
        return per_row.mean()
    return (per_row * sample_weight.to(per_row.dtype)).sum() / per_row.shape[0]


class FeatureObjective(DistillationObjective):
    """An objective on the output of a hidden layer of the student and of a torch teacher.

    Its targets are the teacher's features, one row per training row; the
    student's come from a forward hook on ``student_layer``.
    """

    requires = "features"
    needs_student_features = True

    def targets(self, teacher):
        return {"teacher_features": teacher.features}
