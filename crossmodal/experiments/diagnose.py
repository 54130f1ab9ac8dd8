"""``crossmodal reproduce diagnose``: does :func:`crossmodal.diagnose` predict what distilling changes?

Three parts, on data and settings that ``diagnose``'s calibration never saw
(``scripts/calibrate_diagnose.py`` uses digits and breast-cancer views,
mfeat-like views of MNIST digits that no shipped pair uses, and random MVD
diagrams, narrow and wide):

* **MVD data** (:class:`crossmodal.MVDGenerator`, the Fig. 2 and Table 2
  settings of the paper, 200 training rows): estimated ``gamma`` against the
  true one at n = 200 and n = 2,000, and the predicted gain against the gain
  of ``CrossModalDistiller()``'s defaults; one Table 2 setting with few
  labels among 1,000 pairs.
* **mfeat, every row labelled**: the 30 ordered view pairs, the predicted
  gain against the measured one, and which teacher view ``diagnose`` ranks
  first for each student view (the regret against the best measured one).
* **Few labels**: every mfeat pair at 10 labels per class, and the
  supervision-transfer pairs (mfeat pix -> fou, fac -> mor, zer -> pix at 3,
  10 and 30 labels per class; av-digits both ways at 10).

The measured gain is always the default distiller's test accuracy minus that
of the same estimator at ``rho=1``, fitted as a user would
(:mod:`crossmodal.experiments._diagnose_gains`). Rivals: teacher accuracy,
the teacher-student accuracy gap, the cross-modal complementarity criterion
and gamma.
"""

import pandas as pd

from crossmodal.experiments._diagnose_gains import measure_gains
from crossmodal.experiments._diagnose_mvd import N_BIG, run_mvd, run_mvd_few, teacher_share
from crossmodal.experiments._diagnose_real import CELLS, QUICK_CELLS, run_real
from crossmodal.experiments._diagnose_report import cell_rows, cell_summary, check_trends
from crossmodal.experiments._diagnose_tables import write_report
from crossmodal.experiments._reproduction import Entry

__all__ = [
    "run",
    "run_mvd",
    "run_mvd_few",
    "run_real",
    "check_trends",
    "cell_rows",
    "cell_summary",
    "measure_gains",
    "teacher_share",
    "N_BIG",
    "CELLS",
]

ENTRY = Entry(
    "diagnose",
    runs=3,
    quick_runs=2,
    returns="``mvd``, ``real`` (the tidy frames; ``real`` holds the few-labels MVD cells too)",
    quick="Fewer MVD settings (Fig. 2 at 3 overlaps, 3 of Table 2's), no few-labels MVD cells; mfeat only, its 30 "
    "pairs labelled and the three transfer pairs at 10 labels per class; 100 bootstrap resamples.",
)


@ENTRY.document
def run(out_dir, *, runs=None, seed=0, jobs=None, quick=False, progress=False):
    """Run the three parts and write CSVs, a report and a figure into ``out_dir``."""
    out = ENTRY.start(out_dir, runs, quick)
    runs = out.runs
    n_boot = 100 if quick else 200
    common = dict(runs=runs, seed=seed, jobs=jobs, progress=progress, n_bootstrap=n_boot)
    mvd = run_mvd(quick=quick, **common)
    cells = QUICK_CELLS if quick else CELLS
    datasets = list(cells)
    parts = [run_real(d, cells=cells, **common) for d in datasets]
    if not quick:
        parts.append(run_mvd_few(**common))
    real = pd.concat(parts, ignore_index=True)
    out.computed()
    out.csv(mvd, "diagnose_mvd.csv")
    out.csv(real, "diagnose_real.csv")
    checks = check_trends(mvd, real)
    write_report(out, mvd, real, checks, datasets=datasets, n_boot=n_boot, quick=ENTRY.quick if quick else None)
    return out.result(checks, mvd=mvd, real=real)
