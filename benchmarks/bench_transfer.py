"""Does distilling from pairs without labels train as fast as from labelled pairs?

Question: a student distilled on 1,000,000 pairs of which 1% carry a label
(the others marked -1) against the same pairs all labelled: rows per second
of ``CrossModalDistiller.fit`` (default student MLP, batches of 64 and of
1024, teacher probabilities given, one epoch). Target: the few-labels fit
trains at no fewer rows per second than the fully labelled one (ratio >= 1,
within the run-to-run noise).

The two fits are timed alternately, several rounds, and the medians compared.

Run:  python benchmarks/bench_transfer.py [--rows 1000000] [--rounds 3]
"""

import argparse
import os
import statistics
import time

import numpy as np
import torch

from crossmodal import CrossModalDistiller
from crossmodal._utils.skorch_helpers import mlp_template

N_FEATURES, N_CLASSES, LABELLED_SHARE = 32, 10, 0.01


def problem(n_rows, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, N_FEATURES), dtype=np.float32)
    y = rng.integers(0, N_CLASSES, n_rows)
    logits = rng.standard_normal((n_rows, N_CLASSES)) + 3 * np.eye(N_CLASSES)[y]
    proba = np.exp(logits - logits.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    y_few = np.where(rng.random(n_rows) < LABELLED_SHARE, y, -1)
    for c in np.setdiff1d(np.arange(N_CLASSES), y_few):  # every class keeps a label, however few the rows
        first = np.flatnonzero(y == c)[:1]
        y_few[first] = c
    return X, y, y_few, proba


def rows_per_second(X, y, proba, batch_size):
    student = mlp_template(max_epochs=1, batch_size=batch_size)
    kd = CrossModalDistiller(student=student, rho=0.5, device="cpu", random_state=0)
    start = time.perf_counter()
    kd.fit(X, y, teacher_proba=proba)
    return len(X) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    X, y, y_few, proba = problem(args.rows)
    print(
        f"{args.rows} rows x {N_FEATURES} features, {N_CLASSES} classes, {LABELLED_SHARE:.0%} labelled; "
        f"torch threads {torch.get_num_threads()}; load {os.getloadavg()[0]:.2f}"
    )
    for batch_size in (64, 1024):
        rows_per_second(X[:10_000], y[:10_000], proba[:10_000], batch_size)  # warm-up (kernels compiled)
        rates = {"all labelled": [], "1% labelled": []}
        for _ in range(args.rounds):
            rates["all labelled"].append(rows_per_second(X, y, proba, batch_size))
            rates["1% labelled"].append(rows_per_second(X, y_few, proba, batch_size))
        medians = {name: statistics.median(values) for name, values in rates.items()}
        ratio = medians["1% labelled"] / medians["all labelled"]
        print(
            f"batch {batch_size:5d}: "
            + ", ".join(f"{name} {rate:,.0f} rows/s" for name, rate in medians.items())
            + f"; ratio {ratio:.2f} (target >= 1)"
        )
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
