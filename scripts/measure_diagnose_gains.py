"""Measure the KD gain of ``CrossModalDistiller()``'s defaults on ``diagnose``'s calibration data.

Question: on data that no report of the library uses
(``scripts/_diagnose_sources.py``: digits and breast-cancer views, MNIST
views, random MVD diagrams), what does distilling with ``CrossModalDistiller()``'s
defaults (default MLP teacher and student, ``rho=0.5``, ``T=1``) change
in test accuracy against the same estimator with ``rho=1``, fully labelled
and with few labels?

The distillers are fitted as :mod:`crossmodal.experiments._diagnose_gains`
fits them (the library's own teacher fit; the students of one student view
in one stack, equal to the estimator's up to rounding). One CSV row per
(source, pair, seed, budget); ``scripts/calibrate_diagnose.py`` reads it.

Run (it appends, so it can resume; its time is in ``benchmarks/RESULTS.md``)::

    PYTHONPATH=. nice python scripts/measure_diagnose_gains.py [--out scripts/diagnose_calibration_gains.csv]
"""

import argparse
import csv
import os
import sys
import time

from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(__file__))

from _diagnose_sources import SOURCES, draws, pairs_of  # noqa: E402

from crossmodal._utils.torch_helpers import torch_threads  # noqa: E402
from crossmodal.experiments._diagnose_gains import measure_gains  # noqa: E402

FIELDS = ("source", "teacher", "student", "seed", "budget", "gain", "kd_acc", "labels_acc")
DEFAULT_OUT = os.path.join(os.path.dirname(__file__), "diagnose_calibration_gains.csv")


def _done(path):
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return {(r["source"], r["seed"], r["budget"]) for r in csv.DictReader(f)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--diagrams", type=int, default=150, help="random diagrams of the mvd source (mvd-wide: 30)")
    parser.add_argument(
        "--sources", nargs="+", default=None, choices=SOURCES, help="measure only these sources (default: all)"
    )
    args = parser.parse_args()
    done = _done(args.out)
    new = not os.path.exists(args.out)
    with open(args.out, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        sources = {} if args.sources is None else {"sources": tuple(args.sources)}
        for draw in draws(seeds=args.seeds, diagrams=args.diagrams, **sources):
            key = (draw["source"], str(draw["seed"]), str(draw["budget"] or "all"))
            if key in done:
                continue
            start = time.perf_counter()
            with torch_threads(1), threadpool_limits(limits=1):
                gains = measure_gains(
                    draw["train"], draw["test"], draw["codes"], draw["y_test"], pairs_of(draw), draw["seed"]
                )
            for (a, b), (gain, kd, labels) in gains.items():
                writer.writerow(dict(zip(FIELDS, (*key[:1], a, b, key[1], key[2], gain, kd, labels))))
            f.flush()
            print(*key, f"{time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
