"""How well do intervals for ``crossmodal.diagnose``'s gamma cover the truth on MVD data?

Question: which construction of gamma and of its 95% interval covers the
true share of the teacher's decision that modality *b* sees, at 200 and at
2,000 rows, and at what cost?

Data: the 13 settings with equal decision weights (``hyperplane="ones"``)
of ``crossmodal reproduce diagnose`` (Fig. 2's six overlaps and Table 2's
seven settings), drawn exactly as there but with run seeds 100 and up,
which no report uses (the report's runs are seeds 0-4). Truth: the teacher's
decision share ``d0 / (d0 + d_sa)`` (:func:`crossmodal.experiments.diagnose.teacher_share`),
what ``gamma`` estimates, and the diagram's ``gamma_ = d0 / (d0 + d_sa + d_sb)``,
what ``shared_gamma`` estimates.

Methods, all on the default models with 5-fold cross-fitting:

* ``row bootstrap``: the uncorrected R^2 and the percentile interval of a
  row bootstrap of fixed out-of-fold predictions (no correction).
* ``half-split x H``: ``2 R^2 - mean R^2`` over 2H disjoint stratified halves
  of the rows (each cross-fitted within itself), interval ``+- 1.96 sd`` with
  ``sd^2 = v_rows + 5 max(0, v_halves - v_rows)``.
* ``half-train x R`` (the library's, ``R = _N_SUBSAMPLES``): ``2 R^2 - mean R^2``
  over R replicates with each fold's models fitted on half of its training
  rows, interval ``+- 1.96 sd`` with ``sd^2 = v_rows + c var(replicates)``
  for c = 0, 2 and 5 (5 is the library's); also ``Welch t``: c = 5 with
  Student's t quantile at the Welch-Satterthwaite degrees of freedom of the
  two variances (``n_boot - 1`` and ``R - 1``) instead of 1.96.
* ``shared: ...``: the diagram's gamma from both directions, ``g_ab g_ba /
  (g_ab + g_ba - g_ab g_ba)``, where ``g_ab`` is the half-train estimate above
  and ``g_ba`` the same construction the other way round (the label-trained
  *b*-model's centred out-of-fold log-probabilities regressed on ``X_a``, with
  its own 4 half-train replicates of the *b*-model and of the mimic on *a*).
  Intervals: ``box`` (the library's: the combination of both directions'
  lower ends and of their upper ends, each direction's interval built as
  gamma's; also with only 2 or 3 *b*-side replicates, and each direction's
  interval with the Welch t quantile), ``delta`` (row
  bootstrap of the combination plus each direction's ``5 var(replicates)``
  carried by the combination's derivatives), ``rows only``, ``paired
  halves`` (5 times the variance of the combination of the r-th replicates of
  both directions), ``simulated fit noise`` (percentile interval of the
  combination of bootstrap values plus normal fit noise of variance
  ``5 var(replicates)``), and a variant with an uncorrected ``g_ba``.
* ``diagnose()``: the library call itself (its own folds and seeds), its
  ``gamma_ci`` and ``shared_gamma_ci``.
* ``reliability``: the uncorrected R^2 divided by the teacher's split-half
  reliability (two teachers per fold, each fitted on one half of the fold's
  training rows; variance-weighted correlation ``r`` of their out-of-fold
  centred log-probabilities, Spearman-Brown ``2 r / (1 + r)``), percentile
  interval of a row bootstrap of that ratio.

Also (``--random 60``): ``diagnose`` itself on random diagrams with random
decision weights (``scripts/calibrate_diagnose.py``'s recipe, seeds 20_000
and up, which nothing else uses), coverage of the teacher's share.

Run: ``PYTHONPATH=. python scripts/study_diagnose_intervals.py [--runs 20 10]
[--random 60]`` (runs at 200 and at 2,000 rows).
Prints coverage and mean width per method.
"""

import argparse
import os
import sys

import numpy as np
from scipy.stats import norm, t
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from crossmodal import MVDGenerator, diagnose
from crossmodal.diagnosis._crossfit import _centred_log, _fold_regress, _fold_teacher
from crossmodal.diagnosis._intervals import (
    _FIT_NOISE_FACTOR,
    _extrapolated,
    _margin,
    _shared_gamma,
    _union_share,
    _weighted_r2,
)
from crossmodal.diagnosis._lda import default_estimator
from crossmodal.diagnosis._replicates import _N_SUBSAMPLES, _subsampled_cross_fits
from crossmodal.experiments._diagnose_mvd import _mvd_settings, teacher_share
from crossmodal.experiments._synthetic_protocol import PAPER_SETUP, _draw, _run_seeds

sys.path.insert(0, os.path.dirname(__file__))

from _diagnose_sources import _random_latents  # noqa: E402

Z = norm.ppf(0.975)


def _welch_quantile(v_rows, n_rows, v_fit, n_fit):
    """Student t quantile at Welch-Satterthwaite's degrees of freedom of ``v_rows + v_fit``."""
    df = (v_rows + v_fit) ** 2 / (v_rows**2 / (n_rows - 1) + v_fit**2 / (n_fit - 1))
    return float(t.ppf(0.975, df))


def _diagram(rng):
    """Random diagram parameters (decision weights drawn at random)."""
    return {**_random_latents(rng, (5, 30), (5, 40)), "hyperplane": "normal"}


def _cross_fit(X_a, X_b, y, folds, n_classes):
    """Teacher on ``X_a`` cross-fitted; its centred out-of-fold log-probabilities and their mimic on ``X_b``."""
    P = np.zeros((len(y), n_classes))
    for tr, te in folds:
        P[te] = _fold_teacher(default_estimator(), X_a, y, tr, te, n_classes, 0)
    L = _centred_log(P)
    M = np.zeros_like(L)
    for tr, te in folds:
        M[te] = _fold_regress(None, X_b, L, tr, te, 0)
    return L, M


def _half_of(train, y, rng):
    """A random half of the rows ``train`` (rounded up), stratified by class."""
    labels = y[train]
    halves = [rng.permutation(train[labels == c])[: (int(np.sum(labels == c)) + 1) // 2] for c in np.unique(labels)]
    return np.sort(np.concatenate(halves))


def _r2(L, M):
    return float(_weighted_r2(np.ones((1, len(L))), L, M)[0])


def _reliability(X_a, y, folds, k, W, rng):
    """Spearman-Brown split-half reliability of the teacher's decision, for all rows and per resample."""
    L1, L2 = np.zeros((len(y), k)), np.zeros((len(y), k))
    for tr, te in folds:
        first = _half_of(tr, y, rng)
        second = np.setdiff1d(tr, first)
        L1[te] = _fold_teacher(default_estimator(), X_a, y, first, te, k, 0)
        L2[te] = _fold_teacher(default_estimator(), X_a, y, second, te, k, 0)
    L1, L2 = _centred_log(L1), _centred_log(L2)
    out = []
    for weights in (np.ones((1, len(y))), W):
        n = weights.sum(axis=1)[:, None]
        m1, m2 = weights @ L1 / n, weights @ L2 / n
        cov = (weights @ (L1 * L2) / n - m1 * m2).sum(axis=1)
        v1 = (weights @ L1**2 / n - m1**2).sum(axis=1)
        v2 = (weights @ L2**2 / n - m2**2).sum(axis=1)
        r = np.clip(cov / np.sqrt(v1 * v2), 1e-6, 1.0)
        out.append(2 * r / (1 + r))
    return out[0][0], out[1]


def intervals(X_a, X_b, y, seed, n_boot=200, halves=(1, 2)):
    """Every method's (estimate, low, high) on one data set."""
    rng = np.random.default_rng(seed)
    n, k = len(y), int(y.max()) + 1
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(X_a, y))
    L, M = _cross_fit(X_a, X_b, y, folds, k)
    W = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    full, full_boot = _r2(L, M), _weighted_r2(W, L, M)
    out = {"row bootstrap": (full, *np.quantile(full_boot, [0.025, 0.975]))}
    reps = _subsampled_cross_fits(default_estimator(), None, X_a, X_b, y, folds, k, seed, rng, None)
    half = np.array([_r2(L_r, M_r) for L_r, M_r in reps])
    est = 2 * full - half.mean()
    v_rows = np.var(2 * full_boot - np.mean([_weighted_r2(W, L_r, M_r) for L_r, M_r in reps], axis=0), ddof=1)
    for c in (0.0, 2.0, _FIT_NOISE_FACTOR):
        sd = np.sqrt(v_rows + c * np.var(half, ddof=1))
        out[f"half-train x {_N_SUBSAMPLES}, c={c:g}"] = (est, est - Z * sd, est + Z * sd)
    q = _welch_quantile(v_rows, n_boot, _FIT_NOISE_FACTOR * np.var(half, ddof=1), len(half))
    sd = np.sqrt(v_rows + _FIT_NOISE_FACTOR * np.var(half, ddof=1))
    out[f"half-train x {_N_SUBSAMPLES}, c=5, Welch t"] = (est, est - q * sd, est + q * sd)
    # The diagram's gamma from both directions: the label-trained b-model's decision regressed on X_a too.
    L_ba, M_ba = _cross_fit(X_b, X_a, y, folds, k)
    reps_ba = _subsampled_cross_fits(default_estimator(), None, X_b, X_a, y, folds, k, seed + 1, rng, None)
    ab, ba = _extrapolated(L, M, reps, W), _extrapolated(L_ba, M_ba, reps_ba, W)
    point, (lo, hi) = _shared_gamma(ab, ba)  # the library's: the box of both directions' intervals
    out["shared: box of both intervals"] = (point, lo, hi)
    ends = []
    for part in (ab, ba):
        v_r, v_f = np.var(part[1], ddof=1), _FIT_NOISE_FACTOR * np.var(part[2], ddof=1)
        m = _welch_quantile(v_r, len(part[1]), v_f, len(part[2])) * np.sqrt(v_r + v_f)
        ends.append((part[0] - m, part[0] + m))
    out["shared: box, Welch t"] = (
        point,
        float(_union_share(ends[0][0], ends[1][0])),
        float(_union_share(ends[0][1], ends[1][1])),
    )
    boot = _union_share(ab[1], ba[1])
    v_rows = np.var(boot, ddof=1)
    a, b = np.clip(ab[0], 0, 1), np.clip(ba[0], 0, 1)
    denom = max(a + b - a * b, 1e-12)
    m = _margin(v_rows, (b / denom) ** 4 * np.var(ab[2], ddof=1) + (a / denom) ** 4 * np.var(ba[2], ddof=1))
    out["shared: delta fit noise, c=5"] = (point, point - m, point + m)
    out["shared: rows only"] = (point, point - Z * np.sqrt(v_rows), point + Z * np.sqrt(v_rows))
    m = _margin(v_rows, np.var(_union_share(ab[2], ba[2]), ddof=1))
    out["shared: paired halves, c=5"] = (point, point - m, point + m)
    for n_ba in (2, 3):
        ba_few = _extrapolated(L_ba, M_ba, reps_ba[:n_ba], W)
        p_few, (lo_few, hi_few) = _shared_gamma(ab, ba_few)
        out[f"shared: box, {n_ba} b-side replicates"] = (p_few, lo_few, hi_few)
    noise = np.random.default_rng(seed + 2).standard_normal((2, len(W)))
    sim = _union_share(
        ab[1] + noise[0] * np.sqrt(_FIT_NOISE_FACTOR * np.var(ab[2], ddof=1)),
        ba[1] + noise[1] * np.sqrt(_FIT_NOISE_FACTOR * np.var(ba[2], ddof=1)),
    )
    out["shared: simulated fit noise, pct"] = (point, *np.quantile(sim, [0.025, 0.975]))
    plain = float(_union_share(ab[0], ba[3]))
    boot_plain = _union_share(ab[1], _weighted_r2(W, L_ba, M_ba))
    out["shared: g_ba uncorrected (probe)"] = (plain, *np.quantile(boot_plain, [0.025, 0.975]))
    res = diagnose(X_a, X_b, y, random_state=seed)
    out["diagnose(): gamma_ci"] = (res.gamma, *res.gamma_ci)
    out["diagnose(): shared_gamma_ci"] = (res.shared_gamma, *res.shared_gamma_ci)
    rel, rel_boot = _reliability(X_a, y, folds, k, W, rng)
    out["reliability"] = (full / rel, *np.quantile(full_boot / rel_boot, [0.025, 0.975]))
    split_r2 = []
    for h in range(max(halves)):
        order = rng.permutation(n)
        for part in (np.sort(np.concatenate([order[y[order] == c][j::2] for c in range(k)])) for j in (0, 1)):
            f = list(StratifiedKFold(5, shuffle=True, random_state=seed + h).split(X_a[part], y[part]))
            split_r2.append(_r2(*_cross_fit(X_a[part], X_b[part], y[part], f, k)))
        if h + 1 in halves:
            values = np.array(split_r2)
            est = 2 * full - values.mean()
            v_boot = np.var(full_boot, ddof=1)
            sd = np.sqrt(v_boot + 5 * max(0.0, np.var(values, ddof=1) - v_boot))
            out[f"half-split x {h + 1}"] = (est, est - Z * sd, est + Z * sd)
    return {m: tuple(float(np.clip(v, 0, 1)) for v in t) for m, t in out.items()}


def study(n, runs):
    rows = []
    for family, label, params in _mvd_settings(quick=False):
        for run_seed in range(100, 100 + runs):
            seeds = _run_seeds(run_seed, "fig2" if family == "fig2" else "table2")
            data = _draw({**params, "hyperplane": "ones"}, seeds, PAPER_SETUP)
            gen = data["gen"]
            X_a, X_b, y = data["train"] if n == 200 else gen.sample(n, random_state=seeds["train2"])
            rows.append((label, teacher_share(gen), gen.gamma_, intervals(X_a, X_b, y, run_seed)))
    return rows


def random_diagrams(n, count):
    """Coverage of the teacher's share by ``diagnose``'s interval on ``count`` random diagrams."""
    covered, errors = [], []
    for seed in range(20_000, 20_000 + count):
        params = _diagram(np.random.default_rng(seed))
        if params["n_general"] + params["n_specific_a"] == 0:
            params["n_specific_a"] = 1
        gen = MVDGenerator(**params, random_state=seed).fit()
        X_a, X_b, y = gen.sample(n, random_state=seed + 1)
        res = diagnose(X_a, X_b, y, random_state=seed)
        covered.append(res.gamma_ci[0] <= teacher_share(gen) <= res.gamma_ci[1])
        errors.append(res.gamma - teacher_share(gen))
    return float(np.mean(covered)), float(np.mean(errors))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs=2, default=(20, 10), help="runs at n=200 and at n=2000")
    parser.add_argument("--random", type=int, default=60, help="random diagrams per n (0: none)")
    args = parser.parse_args()
    with threadpool_limits(limits=1, user_api="blas"):
        for n, runs in zip((200, 2000), args.runs):
            rows = study(n, runs)
            print(f"n={n}: {len(rows)} cases (13 settings x {runs} runs)")
            for method in rows[0][3]:
                share = np.mean(
                    [lo <= s <= hi for _, s, _, (_, lo, hi) in ((r[0], r[1], r[2], r[3][method]) for r in rows)]
                )
                true = np.mean([r[3][method][1] <= r[2] <= r[3][method][2] for r in rows])
                width = np.mean([r[3][method][2] - r[3][method][1] for r in rows])
                bias = np.mean([r[3][method][0] - r[1] for r in rows])
                bias_gamma = np.mean([r[3][method][0] - r[2] for r in rows])
                print(
                    f"  {method:34s} covers share {share:4.0%}  diagram gamma {true:4.0%}  "
                    f"mean width {width:.3f}  mean error vs share {bias:+.3f}  vs diagram gamma {bias_gamma:+.3f}"
                )
            if args.random:
                cover, bias = random_diagrams(n, args.random)
                print(f"  diagnose on {args.random} random diagrams: covers share {cover:4.0%}, mean error {bias:+.3f}")


if __name__ == "__main__":
    main()
