"""Calibrate the verdict thresholds of ``crossmodal.diagnose`` on MVD data.

Question: which thresholds on the predicted gain make ``diagnose``'s verdict
agree best with the KD gain measured under the paper's synthetic protocol?

Data: random modality Venn diagrams (``MVDGenerator`` with random numbers of
general, specific, hidden and noise latents and random decision weights),
seeds 10_000 and up, which no report of the library uses. Per diagram:
``diagnose`` on the training rows, and the measured gain of a KD student
over a no-KD student (logistic regressions, full-batch SGD, 1,000 test rows;
``crossmodal.experiments.synthetic``'s protocol). A measured gain above
+0.5 points counts as "helps", below -0.5 as "likely to hurt", otherwise
"unlikely to help". The thresholds ``(helps, hurts)`` maximise the share of
diagrams whose verdict matches, over a grid; ties go to the smaller
magnitudes. Training sizes 200 (the paper's) and 2,000.

Run: ``python scripts/calibrate_diagnose.py [--diagrams 60]``. The result is
written into ``crossmodal/diagnosis/_intervals.py`` by hand
(``VERDICT_THRESHOLDS``).
"""

import argparse
import dataclasses
import itertools

import numpy as np
from threadpoolctl import threadpool_limits

from crossmodal import diagnose
from crossmodal.experiments._synthetic_protocol import PAPER_SETUP, _draw, paper_protocol_accuracies

GRID = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08)
MARGIN = 0.005


def _diagram(rng):
    general = int(rng.integers(0, 11))
    return dict(
        n_general=general,
        n_specific_a=int(rng.integers(0, 11)),
        n_specific_b=int(rng.integers(0, 11)),
        n_hidden=int(rng.integers(0, 6)),
        n_noise_a=int(rng.integers(5, 30)),
        n_noise_b=int(rng.integers(5, 40)),
        hyperplane="normal",
    )


def measure(seed, n_train):
    rng = np.random.default_rng(seed)
    params = _diagram(rng)
    if params["n_general"] + params["n_specific_a"] + params["n_specific_b"] + params["n_hidden"] == 0:
        params["n_general"] = 1
    seeds = {
        k: int(s)
        for k, s in zip(
            ("structure", "train", "test", "teacher", "student"), np.random.SeedSequence(seed).generate_state(5)
        )
    }
    setup = dataclasses.replace(PAPER_SETUP, n_train=n_train)
    data = _draw(params, seeds, setup)
    Xa, Xb, y = data["train"]
    nokd, kd = paper_protocol_accuracies(data, seeds, setup)
    res = diagnose(Xa, Xb, y, random_state=seed)
    return float(kd - nokd), res.predicted_gain, res.predicted_gain_ci


def verdicts(gains, cis, helps, hurts):
    out = np.full(len(gains), "unlikely to help", dtype=object)
    out[(gains >= helps) & (cis[:, 0] > 0)] = "helps"
    out[(gains <= -hurts) & (cis[:, 1] < 0)] = "likely to hurt"
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diagrams", type=int, default=60, help="diagrams per training size")
    args = parser.parse_args()
    with threadpool_limits(limits=1, user_api="blas"):
        rows = [measure(10_000 + i, n) for n in (200, 2000) for i in range(args.diagrams)]
    measured = np.array([r[0] for r in rows])
    gains = np.array([r[1] for r in rows])
    cis = np.array([r[2] for r in rows])
    truth = np.where(measured > MARGIN, "helps", np.where(measured < -MARGIN, "likely to hurt", "unlikely to help"))
    print("measured outcomes:", {k: int(np.sum(truth == k)) for k in np.unique(truth)})
    best = None
    for helps, hurts in itertools.product(GRID, GRID):
        agree = float(np.mean(verdicts(gains, cis, helps, hurts) == truth))
        key = (agree, -(helps + hurts))
        if best is None or key > best[0]:
            best = (key, helps, hurts)
        print(f"helps >= {helps:.3f}, hurts <= -{hurts:.3f}: agreement {agree:.3f}")
    (agree, _), helps, hurts = best
    print(f"best: helps >= {helps}, likely to hurt <= -{hurts} (agreement {agree:.3f} over {len(rows)} diagrams)")


if __name__ == "__main__":
    main()
