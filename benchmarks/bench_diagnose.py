"""Is ``crossmodal.diagnose`` at least 10x faster than the distillation it predicts?

Question: on n = 10,000 rows with 200 teacher and 200 student columns and 10
classes (MVD data), how long does one default ``diagnose`` call (5-fold
cross-fitting, 200 bootstrap resamples) take against one default
``CrossModalDistiller`` fit (MLP teacher and MLP student, 100 epochs each)?
Both regimes: every row labelled, and 100 labelled rows (10 per class) among
the 10,000 pairs (the teacher then fits 100 rows, the student every pair).
The library's target: at least 10x faster. One warm-up call of each first
(numba compilation, imports); then the median of ``--repeats`` timed calls of
diagnose and one timed distiller fit per regime (their times: ``benchmarks/RESULTS.md``).

Run:  python benchmarks/bench_diagnose.py [--repeats 3]
"""

import argparse
import os
import statistics
import time

import numpy as np

from crossmodal import CrossModalDistiller, diagnose, make_modality_venn


def problem(n=10_000, seed=0):
    # 200 + 200 columns, 10 classes: 20 general, 10 + 10 specific latents, the rest noise.
    return make_modality_venn(
        n, n_general=20, n_specific_a=10, n_specific_b=10, n_noise_a=170, n_noise_b=170, n_classes=10, random_state=seed
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    X_a, X_b, y = problem()
    X_a, X_b = X_a.astype(np.float32), X_b.astype(np.float32)
    print(f"data: X_a {X_a.shape}, X_b {X_b.shape}, {len(np.unique(y))} classes; load {os.getloadavg()[0]:.2f}")
    small = problem(500)
    diagnose(small[0], small[1], small[2], random_state=0)
    CrossModalDistiller(random_state=0).set_params().fit(
        small[1].astype(np.float32), small[2], X_teacher=small[0].astype(np.float32)
    )
    few = np.full_like(y, -1)
    rng = np.random.default_rng(0)
    keep = np.concatenate([rng.choice(np.flatnonzero(y == c), 10, replace=False) for c in np.unique(y)])
    few[keep] = y[keep]
    for regime, labels in (("every row labelled", y), ("100 labels among 10,000 pairs", few)):
        times = []
        for r in range(args.repeats):
            start = time.perf_counter()
            result = diagnose(X_a, X_b, labels, random_state=r)
            times.append(time.perf_counter() - start)
        t_diag = statistics.median(times)
        print(
            f"[{regime}] diagnose: median {t_diag:.2f} s over {args.repeats} calls "
            f"({', '.join(f'{t:.2f}' for t in times)}); gamma {result.gamma:.3f}, predicted gain "
            f"{result.predicted_gain:+.2f} points ({result.verdict})"
        )
        start = time.perf_counter()
        kd = CrossModalDistiller(random_state=0).fit(X_b, labels, X_teacher=X_a)
        t_kd = time.perf_counter() - start
        print(f"[{regime}] CrossModalDistiller default fit: {t_kd:.1f} s (train accuracy {kd.score(X_b, y):.3f})")
        print(f"[{regime}] speed-up: {t_kd / t_diag:.1f}x (target >= 10x); load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
