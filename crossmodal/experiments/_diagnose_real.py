"""The real-data part of ``crossmodal reproduce diagnose``: predicted against measured gains on mfeat and av-digits.

Per seed, a 50/50 stratified split; views standardised on the training
half. Each *cell* is (dataset, teacher view, student view, labels per class
or all). For each cell, ``diagnose`` sees only the training half (with the
same rows unlabelled as the distiller), called once per student view with
every candidate teacher view (a :class:`~crossmodal.diagnosis.TeacherRanking`),
and the measured gain is the test accuracy of ``CrossModalDistiller()``'s
defaults minus that of the same estimator at ``rho=1``
(:func:`~crossmodal.experiments._diagnose_gains.measure_gains`), in points.
"""

import itertools

import numpy as np
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from crossmodal.diagnosis._diagnose import diagnose
from crossmodal.experiments._diagnose_gains import measure_gains
from crossmodal.experiments._rows import keep_labels
from crossmodal.experiments._runs import collect_runs
from crossmodal.experiments._views import standardized_views

__all__ = ["CELLS", "QUICK_CELLS", "run_real"]

#: Cells per dataset: labels per class (None: every row labelled) -> ordered view pairs ("all": every pair).
#: The few-labels cells of mfeat and av-digits are the supervision-transfer cells (a teacher stronger than the
#: student: pix -> fou, fac -> mor; weaker: zer -> pix), and every mfeat pair at 10 labels per class.
CELLS = {
    "mfeat": {
        None: "all",
        3: [("pix", "fou"), ("fac", "mor"), ("zer", "pix")],
        10: "all",
        30: [("pix", "fou"), ("fac", "mor"), ("zer", "pix")],
    },
    "av-digits": {10: [("image", "audio"), ("audio", "image")]},
}
QUICK_CELLS = {"mfeat": {None: "all", 10: [("pix", "fou"), ("fac", "mor"), ("zer", "pix")]}}


def _load(dataset, views):
    from crossmodal.datasets import load_av_digits, load_mfeat

    if dataset == "mfeat":
        all_views, y = load_mfeat(views=views, return_X_y=True)
    else:
        all_views, y = load_av_digits(return_X_y=True)
    return all_views, np.asarray(y)


def _row(dataset, budget, a, b, run, seed, gain, res, ranking):
    lo, hi = res.predicted_gain_ci
    row = dict(dataset=dataset, budget="all" if budget is None else int(budget), teacher_view=a, student_view=b)
    row.update(run=run, seed=seed, regime=res.regime, measured_gain=100 * gain[0], kd_acc=gain[1], nokd_acc=gain[2])
    row.update(predicted_gain=res.predicted_gain, predicted_gain_lo=lo, predicted_gain_hi=hi, verdict=res.verdict)
    row.update(gamma=res.gamma, teacher_score=res.teacher_score, student_score=res.student_score)
    row.update(accuracy_gap=res.teacher_score - res.student_score, complementarity=res.complementarity)
    return {**row, "rank": ranking.ranking.index(a) + 1, "candidates": len(ranking.ranking)}


def _real_run(run, run_seed, dataset, cells, n_bootstrap, views):
    """One seed of one dataset: every cell's measured gain and ``diagnose``'s rows."""
    views, y = _load(dataset, views)
    idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=0.5, stratify=y, random_state=run_seed)
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        parts = standardized_views(list(views.values()), idx_tr, idx_te)
        X_tr = {name: part[0] for name, part in zip(views, parts)}
        X_te = {name: part[1] for name, part in zip(views, parts)}
        for budget, pairs in cells[dataset].items():
            pairs = list(itertools.permutations(views, 2)) if pairs == "all" else pairs
            codes = keep_labels(y[idx_tr], budget, [run_seed, budget or 0])
            gains = measure_gains(X_tr, X_te, codes, y[idx_te], pairs, run_seed)
            cv = min(5, int(np.bincount(codes[codes >= 0]).min()))
            for b in dict.fromkeys(b for _, b in pairs):
                teachers = {a: X_tr[a] for a, b2 in pairs if b2 == b}
                ranking = diagnose(teachers, X_tr[b], codes, cv=cv, n_bootstrap=n_bootstrap, random_state=run_seed)
                for a, res in ranking.results.items():
                    rows.append(_row(dataset, budget, a, b, run, run_seed, gains[(a, b)], res, ranking))
    return rows


def run_real(dataset, *, runs=3, seed=0, jobs=None, progress=False, n_bootstrap=200, views=None, cells=None):
    """Tidy frame: one row per (cell, run) of ``dataset`` ("mfeat" or "av-digits").

    ``cells``: labels per class -> pairs for each dataset (default :data:`CELLS`); ``views`` (mfeat only)
    restricts the views.
    """
    if dataset not in ("mfeat", "av-digits"):
        raise ValueError(f"dataset must be 'mfeat' or 'av-digits'; got {dataset!r}.")
    cells = CELLS if cells is None else cells
    return collect_runs(
        _real_run,
        runs,
        seed,
        jobs,
        progress,
        f"diagnose {dataset}",
        dataset=dataset,
        cells=cells,
        n_bootstrap=n_bootstrap,
        views=views,
    )
