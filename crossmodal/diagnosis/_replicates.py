"""Half-data replicates of :func:`~crossmodal.diagnose`'s cross-fit, behind gamma's bias correction and interval.

Each replicate draws one stratified half of every row; each fold's teacher
and mimic are refitted on that half's share of the fold's training rows and
score the fold's test rows, as in the main cross-fit
(:mod:`crossmodal.diagnosis._crossfit`).
"""

import numpy as np
from sklearn.utils.parallel import Parallel, delayed

from crossmodal.diagnosis._crossfit import _centred_log, _fold_regress, _fold_teacher, fold_stats

# Replicates of the gamma cross-fit on half of each fold's training rows, behind gamma's bias correction.
# Chosen on MVD data that no report uses (run seeds 100+, 260 draws at n=200; harness:
# scripts/study_diagnose_intervals.py): the intervals covered the teacher's true decision share in 81% of the
# draws with 2 replicates and 87% with 4 (each fold then drew its own half; with one half of all rows per
# replicate, 88%). Each costs about half of the main cross-fit's teacher and mimic fits.
_N_SUBSAMPLES = 4


def _replicate_half(folds, codes, rng):
    """One replicate's half of the rows: a boolean mask, a random half of every (test fold, class) cell.

    The unlabelled rows count as one more class. Where a cell has an odd
    number of rows, its half is rounded up in a random half of the class's
    odd cells (the first ones of a random order) and down in the others, so
    that every class is halved as evenly as its cells allow.
    """
    keep = np.zeros(len(codes), dtype=bool)
    for c in np.unique(codes):
        cells = [te[codes[te] == c] for _, te in folds]
        odd = [k for k, cell in enumerate(cells) if len(cell) % 2]
        up = set(rng.permutation(odd)[: (len(odd) + 1) // 2].tolist())
        for k, cell in enumerate(cells):
            keep[rng.permutation(cell)[: (len(cell) + (k in up)) // 2]] = True
    return keep


def half_plan(folds, codes, rng):
    """The half-data replicates' rows: ``(replicate, test rows, half of the training rows)`` per replicate and fold.

    Each replicate draws one half of every row (:func:`_replicate_half`),
    and a fold's half is that half's share of the fold's training rows: a
    random half of them, stratified by class, so that a fold's half is the
    replicate's half without one block, as :func:`~._ridge._leave_block_out_stats`
    uses. Where the share misses a class the fold's training rows have, a
    random row of that class is added (the half then gets its own Gram
    matrix).
    """
    plan = []
    for r in range(_N_SUBSAMPLES):
        keep = _replicate_half(folds, codes, rng)
        for tr, te in folds:
            half = tr[keep[tr]]
            for c in np.setdiff1d(codes[tr], codes[half]):
                half = np.append(half, rng.choice(tr[codes[tr] == c]))
            plan.append((r, te, np.sort(half)))
    return plan


def _subsampled_cross_fits(
    teacher, mimic, X_a, X_b, codes, folds, n_classes, seed, rng, n_jobs, plan=None, stats=None, centred=None
):
    """Teacher and mimic cross-fitted again, each fold's models fitted on a random half of its training rows.

    ``teacher`` is the classifier on ``X_a`` whose decision the mimic
    predicts from ``X_b`` (the label-trained student on *b* for
    ``shared_gamma``'s other direction, with the views swapped); it fits the
    labelled rows of the half, the mimic every row of it. Returns one
    ``(L, M)`` per replicate: the centred out-of-fold log-probabilities of
    the half-data classifiers and the half-data mimic's out-of-fold
    predictions of them. Every row is still scored only by
    models fitted on rows of other folds. ``plan``: the halves
    (:func:`half_plan`, drawn here from ``rng`` when None); ``stats``: per
    entry of the plan, the half's :func:`~._ridge._gram_stats` on ``X_a``
    and on ``X_b`` (or None), so that both directions share them;
    ``centred``: ``X_b``'s :class:`~._ridge.CentredRows` for the default
    mimic.
    """
    n = len(codes)
    plan = half_plan(folds, codes, rng) if plan is None else plan
    stats = [(None, None)] * len(plan) if stats is None else stats
    parallel = Parallel(n_jobs=n_jobs)
    probas = parallel(
        delayed(_fold_teacher)(teacher, X_a, codes, half, te, n_classes, seed + i, stats[i][0])
        for i, (r, te, half) in enumerate(plan)
    )
    P = np.zeros((_N_SUBSAMPLES, n, n_classes))
    for (r, te, _), proba in zip(plan, probas):
        P[r, te] = proba
    L = [_centred_log(P_r) for P_r in P]
    regressed = parallel(
        delayed(_fold_regress)(mimic, X_b, L[r], half, te, seed + len(plan) + i, stats[i][1], centred)
        for i, (r, te, half) in enumerate(plan)
    )
    M = np.zeros_like(P)
    for (r, te, _), m in zip(plan, regressed):
        M[r, te] = m
    return list(zip(L, M))


def half_stats(X_a, X_b, plan, shares):
    """:func:`fold_stats` of every half of ``plan`` (:func:`half_plan`), in its order.

    A replicate's halves are its half of all rows without one test fold
    each, so each replicate's are computed together, with the blocks that
    half's rows form in the test folds.
    """
    stats = []
    for r in range(_N_SUBSAMPLES):
        entries = [(te, half) for i, te, half in plan if i == r]
        halves = [half for _, half in entries]
        rows = np.concatenate(halves)
        stats += fold_stats(X_a, X_b, halves, [np.intersect1d(te, rows) for te, _ in entries], shares)
    return stats
