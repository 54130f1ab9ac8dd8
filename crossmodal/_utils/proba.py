"""Class probabilities: from logits, and their logarithm under a stated floor."""

import numpy as np
import torch

__all__ = [
    "CENTRED_LOG_PROBA_FLOOR",
    "KD_PROBA_FLOOR",
    "PROBA_ATOL",
    "clipped_log",
    "logits_to_proba",
    "rows_are_probabilities",
]

#: Teacher probabilities are clipped here before the logarithm that makes the
#: KD targets: a zero becomes a finite log-probability whose softmax weight is
#: exactly 0 in float32, so the KL term sees ``0 * finite`` instead of ``0 * inf``.
KD_PROBA_FLOOR = 1e-30

#: :func:`crossmodal.diagnose` regresses centred log-probabilities; clipping
#: at 1e-6 keeps a linear model's near-certain predictions (probabilities of
#: 1e-20 and below) from dominating the targets' variance with classes that
#: carry no decision.
CENTRED_LOG_PROBA_FLOOR = 1e-6
#: Values beyond [0, 1] and row sums off 1 by more than this are not rounding: float32 probabilities over 1000
#: classes sum to 1 within ~1e-5.
PROBA_ATOL = 1e-4


def clipped_log(proba, floor):
    """``log(clip(proba, floor, 1))`` as a float64 ndarray."""
    return np.log(np.clip(np.asarray(proba, dtype=np.float64), floor, 1.0))


def logits_to_proba(logits):
    """Softmax over the last axis of ``logits`` (array or tensor), computed and returned in float64 (ndarray)."""
    return torch.softmax(torch.as_tensor(logits, dtype=torch.float64), dim=-1).numpy()


def rows_are_probabilities(P):
    """True where the finite 2-D array ``P`` holds values in [0, 1] whose rows sum to 1, up to :data:`PROBA_ATOL`."""
    sums = P.sum(axis=1)
    return bool(
        P.min(initial=0.0) >= -PROBA_ATOL
        and P.max(initial=0.0) <= 1 + PROBA_ATOL
        and np.all(np.abs(sums - 1.0) <= PROBA_ATOL)
    )
