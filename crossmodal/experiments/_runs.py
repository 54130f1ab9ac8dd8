"""Repeated runs of a reproduction, in parallel through joblib."""

import pandas as pd
from sklearn.utils.parallel import Parallel, delayed

from crossmodal._utils.torch_helpers import torch_threads

__all__ = ["collect_runs"]


def collect_runs(worker, runs, seed, jobs, progress, desc, **kwargs):
    """Run ``worker`` once per run (in parallel with joblib) and gather its rows."""
    from tqdm import tqdm

    tasks = (delayed(worker)(run=r, run_seed=int(seed) + r, **kwargs) for r in range(runs))
    rows = []
    # One torch thread here too, so that thread-based joblib workers find it set
    # and never change the process-wide count under each other.
    with torch_threads(1):
        results = Parallel(n_jobs=jobs, return_as="generator")(tasks)
        for chunk in tqdm(results, total=runs, desc=desc, disable=not progress, leave=False, unit="run"):
            rows.extend(chunk)
    return pd.DataFrame(rows)
