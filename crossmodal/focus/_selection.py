"""What the ranker does with the salience: normalise it, choose the channels to remove, and their fill values."""

from numbers import Real

import numpy as np

from crossmodal.focus._layers import layer_activations
from crossmodal.focus._salience import minmax_normalize

__all__ = ["MODES", "NULLIFY", "channel_means", "fill_values", "normalize_salience", "ranks", "select_channels"]

#: Which channels a selection removes: the least salient, the most salient, or a random set.
MODES = ("general", "specific", "random")
#: What replaces the removed channels: their training mean, zero, or nothing (the columns are dropped).
NULLIFY = ("mean", "zero", "drop")


def normalize_salience(increase, normalize):
    """Salience from each channel's mean increase over the baseline distance.

    ``"minmax"`` spans [0, 1] exactly. ``"max"`` divides by the largest
    increase: 1 for the top channel, about 0 for channels whose
    permutation does not move ``f_a`` away from ``f_b``, below 0 when a
    permutation brought them closer (far below where the top increase is
    itself small). Where no increase is positive (a pair whose outputs do
    not align), it divides by the largest ``|increase|`` instead (all 0
    where every increase is). Both keep the order of the raw mean
    distances (the paper's ``p_i``).
    """
    if normalize == "minmax":
        return minmax_normalize(increase)
    top = increase.max()
    scale = top if top > 0 else np.abs(increase).max()
    return increase / scale if scale > 0 else np.zeros_like(increase)


def ranks(salience):
    """Rank of each channel, 1 for the most salient; ties keep the channels' order."""
    order = np.argsort(-salience, kind="stable")
    out = np.empty(len(order), dtype=np.intp)
    out[order] = np.arange(1, len(order) + 1)
    return out


def select_channels(salience, mode, ratio, seed):
    """Support mask keeping all but ``round(ratio * n)`` channels (ties to the even count, as Python's
    ``round``; at least one channel is kept), removed as ``mode`` says.

    ``mode`` is one of :data:`MODES`, ``ratio`` in [0, 1); ``seed`` fixes the
    draw of ``mode="random"``. Channels of equal salience are taken in the
    order of :func:`ranks` (the lower column counts as more salient), so
    ``"general"`` removes the worst-ranked channels and ``"specific"`` the
    best-ranked.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'general', 'specific' or 'random'; got {mode!r}.")
    if not isinstance(ratio, Real) or not 0 <= ratio < 1:
        raise ValueError(f"ratio must be in [0, 1); got {ratio!r}.")
    n = len(salience)
    n_remove = min(int(round(ratio * n)), n - 1)
    support = np.ones(n, dtype=bool)
    if n_remove == 0:
        return support
    rank = ranks(salience)
    if mode == "general":
        removed = rank > n - n_remove
    elif mode == "specific":
        removed = rank <= n_remove
    else:
        removed = np.random.RandomState(seed).choice(n, size=n_remove, replace=False)
    support[removed] = False
    return support


def channel_means(X, module_a, layer, n_channels):
    """Training mean (float64) of every ranked channel: a column of ``X``, or a channel of ``layer`` of ``module_a``."""
    # Summed in float64: a float32 running sum over many rows drifts (1% on a million rows near 1000).
    if layer is None:
        return np.asarray(X).mean(axis=0, dtype=np.float64)
    acts = layer_activations(module_a, layer, X)
    return np.asarray(acts).reshape(len(X), n_channels, -1).mean(axis=(0, 2), dtype=np.float64)


def fill_values(nullify, means):
    """Values written into removed channels: the training ``means`` (``"mean"``) or zeros (``"zero"``, ``"drop"``)."""
    if nullify not in NULLIFY:
        raise ValueError(f"nullify must be 'mean', 'zero' or 'drop'; got {nullify!r}.")
    return means.copy() if nullify == "mean" else np.zeros(len(means))
