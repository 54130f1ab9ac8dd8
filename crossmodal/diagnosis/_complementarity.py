"""The cross-modal complementarity criterion (Xie, Xu and Sanguinetti, 2025) with a Gaussian estimator.

Their hypothesis: crossmodal KD helps when the mutual information between the
teacher's and the student's representations exceeds the mutual information
between the student's representation and the labels. :func:`diagnose`
reports both terms, estimated here as follows.

* Representations: the cross-fitted log-probability ratios ``log p_k -
  log p_K`` (``K - 1`` columns) of the teacher on *a* and of the
  label-trained student on *b*, each row scored by models not fitted on it.
* Estimator: the mutual information of jointly Gaussian variables with the
  sample covariance, ``-1/2 sum_i log(1 - r_i^2)`` over the canonical
  correlations ``r_i`` of the two blocks; the labels enter as ``K - 1``
  one-hot columns, which makes the student-label term the Gaussian
  estimate of a linear discriminant's class information. Each estimate
  is corrected by its leading small-sample bias under independence,
  ``p q / (2 n)`` for blocks of ``p`` and ``q`` columns on ``n`` rows, and
  floored at 0.
* Rows: teacher-student information on every row (it needs no label), the
  student-label information on the labelled rows.
"""

import numpy as np

from crossmodal._utils.proba import CENTRED_LOG_PROBA_FLOOR, clipped_log

__all__ = ["complementarity", "gaussian_mutual_information"]

# Canonical correlations are capped below 1 so that a deterministic relation gives a large, finite information.
_MAX_CORRELATION = 1.0 - 1e-9


def _inverse_root(cov):
    values, vectors = np.linalg.eigh(cov)
    floor = 1e-10 * max(float(values.max()), np.finfo(np.float64).tiny)
    return (vectors / np.sqrt(np.maximum(values, floor))) @ vectors.T


def gaussian_mutual_information(A, B):
    """Mutual information (nats) of two blocks of columns under a joint Gaussian, bias-corrected, floored at 0.

    Parameters
    ----------
    A : ndarray of shape (n_samples, p)
    B : ndarray of shape (n_samples, q)

    Returns
    -------
    float
        ``max(0, -1/2 sum log(1 - r_i^2) - p q / (2 n))`` over the canonical
        correlations ``r_i`` of ``A`` and ``B``; 0 when a block is constant.
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    n = len(A)
    A = A - A.mean(axis=0)
    B = B - B.mean(axis=0)
    if n < 2 or not np.any(A) or not np.any(B):
        return 0.0
    whitened = _inverse_root(A.T @ A / n) @ (A.T @ B / n) @ _inverse_root(B.T @ B / n)
    r = np.clip(np.linalg.svd(whitened, compute_uv=False), 0.0, _MAX_CORRELATION)
    information = -0.5 * float(np.sum(np.log1p(-(r**2))))
    return max(0.0, information - A.shape[1] * B.shape[1] / (2.0 * n))


def _log_ratios(proba):
    log_p = clipped_log(proba, CENTRED_LOG_PROBA_FLOOR)
    return log_p[:, :-1] - log_p[:, -1:]


def complementarity(teacher_proba, student_proba, codes):
    """``(I(teacher; student), I(student; labels))`` in nats, from cross-fitted probabilities (see the module)."""
    labelled = codes >= 0
    n_classes = teacher_proba.shape[1]
    teacher_student = gaussian_mutual_information(_log_ratios(teacher_proba), _log_ratios(student_proba))
    onehot = np.eye(n_classes)[codes[labelled]][:, :-1]
    student_labels = gaussian_mutual_information(_log_ratios(student_proba[labelled]), onehot)
    return teacher_student, student_labels
