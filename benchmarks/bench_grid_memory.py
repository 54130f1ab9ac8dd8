"""How much faster is a focused grid search with ``CrossModalDistiller(memory=...)``?

Question: ``GridSearchCV(CrossModalDistiller(focus=ModalityGeneralRanker(),
memory=...), {"rho": [0.2, 0.5, 0.8], "focus__ratio": [0.25, 0.5, 0.75]},
cv=3)`` on ``make_modality_venn(1500, n_general=8, n_specific_a=4,
n_specific_b=4, n_noise_a=20, n_noise_b=20)`` with the default nets: how long
does it take with a cold disk cache against ``memory=None``, and does it pick
the same ``best_params_`` with the same ``cv_results_`` scores? Without memory
every one of the 27 candidate fits (and the refit) trains a ranker, a teacher
and a student; with it each fold trains one ranker, one teacher per ratio and
the 9 students. The library's target: >= 3x (not met here: see benchmarks/RESULTS.md).

Per fold the search without memory costs 9 (R + T + S) and the cached one
R + 3 T + 9 S, with R, T and S the CPU cost of one ranker, one teacher (with
its probabilities) and one student fit. Their ratio is >= 3 exactly when
R >= 3 S, whatever T is: ``--parts`` measures R, T and S on one fold's rows
and prints that bound.

Run:  python benchmarks/bench_grid_memory.py [--repeats N] [--parts]

Each repeat times the two searches back to back (order alternating between
repeats), each cached search with a fresh cache directory; medians are quoted.
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
from sklearn.model_selection import GridSearchCV

from crossmodal import CrossModalDistiller, ModalityGeneralRanker, make_modality_venn

GRID = {"rho": [0.2, 0.5, 0.8], "focus__ratio": [0.25, 0.5, 0.75]}


def search(X_a, X_b, y, memory):
    distiller = CrossModalDistiller(focus=ModalityGeneralRanker(), memory=memory, random_state=0)
    grid = GridSearchCV(distiller, GRID, cv=3)
    wall, cpu = time.perf_counter(), time.process_time()
    grid.fit(X_b, y, X_teacher=X_a)
    return grid, time.perf_counter() - wall, time.process_time() - cpu


def part_costs(X_a, X_b, y, repeats):
    """Median CPU seconds of one ranker, one teacher and one student fit on one fold's rows, interleaved."""
    rows = np.arange(len(y)) % 3 != 0  # the size of one training fold of cv=3
    X_a, X_b, y = X_a[rows], X_b[rows], y[rows]
    teacher_proba = CrossModalDistiller(random_state=0).fit(X_b, y, X_teacher=X_a).teacher_proba_
    fits = {
        "ranker": lambda: ModalityGeneralRanker(random_state=0).fit(X_a, y, X_b=X_b),
        "teacher + student": lambda: CrossModalDistiller(random_state=0).fit(X_b, y, X_teacher=X_a),
        "student": lambda: CrossModalDistiller(random_state=0).fit(X_b, y, teacher_proba=teacher_proba),
    }
    costs = {name: [] for name in fits}
    for _ in range(repeats):
        for name, fit in fits.items():
            cpu = time.process_time()
            fit()
            costs[name].append(time.process_time() - cpu)
    R, TS, S = (statistics.median(costs[name]) for name in fits)
    T = TS - S
    print(f"CPU s per fit (median of {repeats}): ranker R {R:.2f}, teacher T {T:.2f}, student S {S:.2f}")
    print(
        f"bound per fold 9(R+T+S)/(R+3T+9S) = {9 * (R + T + S) / (R + 3 * T + 9 * S):.2f}x; "
        f">= 3x needs R >= 3S: R/S = {R / S:.2f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--parts", action="store_true", help="only measure R, T, S and the bound (5 repeats)")
    args = parser.parse_args()
    X_a, X_b, y = make_modality_venn(
        1500, n_general=8, n_specific_a=4, n_specific_b=4, n_noise_a=20, n_noise_b=20, random_state=0
    )
    if args.parts:
        print(f"load average before: {os.getloadavg()}")
        part_costs(X_a, X_b, y, repeats=5)
        print(f"load average after: {os.getloadavg()}")
        return
    print(f"load average before: {os.getloadavg()}")
    times = {"none": [], "memory": []}
    score_keys = [f"split{i}_test_score" for i in range(3)] + ["mean_test_score"]
    for repeat in range(args.repeats):
        order = ("none", "memory") if repeat % 2 == 0 else ("memory", "none")
        grids = {}
        for which in order:
            with tempfile.TemporaryDirectory() as cache:
                grid, wall, cpu = search(X_a, X_b, y, cache if which == "memory" else None)
            grids[which] = grid
            times[which].append((wall, cpu))
            print(
                f"repeat {repeat}: memory={'<fresh dir>' if which == 'memory' else 'None':11s} "
                f"wall {wall:7.1f} s  cpu {cpu:7.1f} s  best {grid.best_params_}"
            )
        same_best = grids["none"].best_params_ == grids["memory"].best_params_
        diff = max(np.max(np.abs(grids["none"].cv_results_[k] - grids["memory"].cv_results_[k])) for k in score_keys)
        print(f"repeat {repeat}: same best_params_: {same_best}; max |cv score difference|: {diff:.3g}")
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    print(f"load average after: {os.getloadavg()}")
    print(
        f"median wall: none {med['none'][0]:.1f} s, memory {med['memory'][0]:.1f} s, "
        f"ratio {med['none'][0] / med['memory'][0]:.2f}x (target >= 3x)"
    )
    print(
        f"median cpu:  none {med['none'][1]:.1f} s, memory {med['memory'][1]:.1f} s, "
        f"ratio {med['none'][1] / med['memory'][1]:.2f}x"
    )


if __name__ == "__main__":
    main()
