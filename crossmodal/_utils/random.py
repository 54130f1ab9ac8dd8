"""Seeds: one integer per component, drawn from a ``random_state`` up front.

As scikit-learn's ``permutation_importance`` does, each estimator or
function draws the integer seeds of its sub-steps from its
``random_state`` at the start, so a fixed ``random_state`` fixes every
sub-step and no ``Generator`` is stored on an estimator (they do not pickle).
"""

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

__all__ = ["SEED_MAX", "checked_random_state", "draw_seeds", "seeded_clone"]

#: Exclusive upper bound of the seeds drawn from a ``random_state`` for each
#: sub-step (``rng.randint(SEED_MAX)``): any int32 seed but the largest.
SEED_MAX = int(np.iinfo(np.int32).max)


def checked_random_state(random_state, name="random_state"):
    """:func:`sklearn.utils.check_random_state`, with a message that names the argument and what it accepts."""
    try:
        return check_random_state(random_state)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be None, an integer from 0 to 2**32 - 1 or a numpy RandomState; got {random_state!r} ({exc})"
        ) from exc


def draw_seeds(random_state, n):
    """``n`` integer seeds drawn from ``random_state`` (int, RandomState or None)."""
    rng = checked_random_state(random_state)
    return [int(s) for s in rng.randint(0, SEED_MAX, size=n)]


def seeded_clone(estimator, seed, **params):
    """An unfitted clone of ``estimator`` with ``params`` set, seeded with ``seed`` where its ``random_state`` is None.

    Nested estimators (a Pipeline's steps, a meta-estimator's base
    estimator) whose ``random_state`` is None get seeds drawn from ``seed``,
    one per parameter in sorted order, so the clone is reproducible as a
    whole. A ``random_state`` the user set is kept: the clone then draws
    what the user asked for.
    """
    est = clone(estimator)
    if params:
        est.set_params(**params)
    if est.get_params(deep=False).get("random_state", 0) is None:
        est.set_params(random_state=seed)
    nested = sorted(
        key for key, value in est.get_params(deep=True).items() if key.endswith("__random_state") and value is None
    )
    if nested:
        est.set_params(**dict(zip(nested, draw_seeds(seed, len(nested)))))
    return est
