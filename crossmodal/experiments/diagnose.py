"""``crossmodal reproduce diagnose``: does :func:`crossmodal.diagnose` predict KD's pay-off?

Two parts:

* **MVD data** (:class:`crossmodal.MVDGenerator`, the Fig. 2 and Table 2
  settings of the paper): estimated ``gamma`` against the true one at
  n = 200 and n = 2,000 (Spearman, absolute error, interval coverage), and the
  predicted KD gain against the gain measured with the paper's synthetic
  protocol (:mod:`crossmodal.experiments.synthetic`: logistic-regression
  teacher and students, 200 training rows, full-batch SGD, 1,000 test rows).
* **Real data**: mfeat's 30 ordered view pairs and av-digits' two. Per seed,
  a 50/50 stratified split; ``diagnose`` sees only the training half; the
  measured gain is the test accuracy of a :class:`CrossModalDistiller`
  student (``rho = 0.5``) minus that of the same student trained on labels
  only (``rho = 1``), both the paper's logistic regression
  (``NeuralNetClassifier(MLP, module__hidden_sizes=())``), Adam, lr 0.01,
  batch 128, a few epochs, from the same initial weights. The teacher's
  probabilities (``teacher_proba``) are the cross-fitted (5-fold)
  probabilities of :func:`crossmodal.diagnose`'s default teacher on the
  training rows. Rival predictors: the teacher's accuracy and the
  teacher-student accuracy gap (both cross-fitted on the training half).
"""

import pandas as pd

from crossmodal.experiments._diagnose_mvd import N_BIG, run_mvd, teacher_share
from crossmodal.experiments._diagnose_real import STUDENT_EPOCHS, measured_gains, run_real
from crossmodal.experiments._diagnose_report import check_trends, real_summary, write_report
from crossmodal.experiments._reproduction import Entry
from crossmodal.experiments._synthetic_protocol import paper_protocol_accuracies

__all__ = [
    "run",
    "run_mvd",
    "run_real",
    "check_trends",
    "real_summary",
    "measured_gains",
    "teacher_share",
    "paper_protocol_accuracies",
    "N_BIG",
    "STUDENT_EPOCHS",
]

ENTRY = Entry(
    "diagnose",
    runs=5,
    quick_runs=2,
    returns="``mvd``, ``real`` (the tidy frames)",
    quick="Fewer MVD settings and epochs; mfeat only, four of its views (12 ordered pairs), 5 student "
    "epochs; 100 bootstrap resamples.",
)


@ENTRY.document
def run(out_dir, *, runs=None, seed=0, jobs=None, quick=False, progress=False):
    """Run both parts and write CSVs, a report and a figure into ``out_dir``."""
    out = ENTRY.start(out_dir, runs, quick)
    runs = out.runs
    n_boot = 100 if quick else 200
    epochs = 5 if quick else STUDENT_EPOCHS
    mvd = run_mvd(runs=runs, seed=seed, quick=quick, jobs=jobs, progress=progress, n_bootstrap=n_boot)
    datasets = ("mfeat",) if quick else ("mfeat", "av-digits")
    views = ["fac", "fou", "kar", "zer"] if quick else None
    real = pd.concat(
        [
            run_real(
                d, runs=runs, seed=seed, epochs=epochs, jobs=jobs, progress=progress, n_bootstrap=n_boot, views=views
            )
            for d in datasets
        ],
        ignore_index=True,
    )
    out.computed()
    out.csv(mvd, "diagnose_mvd.csv")
    out.csv(real, "diagnose_real.csv")
    checks = check_trends(mvd, real)
    write_report(out, mvd, real, checks, datasets=datasets, n_boot=n_boot, epochs=epochs)
    return out.result(checks, mvd=mvd, real=real)
