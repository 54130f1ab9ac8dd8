"""Peak memory of salience and prediction at n=200000, d=2048 under a working-memory bound.

Question: with ``working_memory`` set to B MiB, how much does the resident
set size (RSS) grow above what the inputs themselves take, while
``permutation_salience`` ranks 2048 input channels of 200000 samples, and
while ``CrossModalDistiller.predict_proba`` predicts those samples? Target:
peak growth within 2 B.

Each case runs in a fresh Python process (so that one case's freed memory
does not hide the next one's peak): it makes the seeded inputs block by
block (so that making them does not raise the peak), imports and warms up
the code on a small problem, records the RSS, runs the case while a thread
samples ``/proc/self/statm`` every 2 ms, and reports the growth of the peak
(the larger of the sampled peak and ``ru_maxrss``) above that baseline.

Cases (float32 networks; X_b is 200000 x 64):

* ``salience linear``: module_a is a linear model 2048 -> 10 (the compiled
  rank-1 path, mse distance), one repeat per channel.
* ``salience hidden``: module_a is 256 -> 16 -> 10 (compiled one-hidden
  path) on the first 256 channels, a strided view of the 2048-wide X_a (all
  2048 would take minutes on 2 cores; memory does not depend on it), one
  repeat per channel.
* ``predict``: a fitted CrossModalDistiller whose student is 2048 -> 256 -> 10.

Each with X_a float32 (1.6 GB) and float64 (3.3 GB): a float64 input for a
float32 network is converted block by block, never as a whole.

Run:  python benchmarks/bench_memory.py            (bounds 256 and 1024 MiB)
      python benchmarks/bench_memory.py --bounds 128 --cases predict

Measured (2026-11-26, the shared 2-core VM): see benchmarks/RESULTS.md.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time

N_SAMPLES = 200_000
N_CHANNELS = 2048
D_B = 64
N_CLASSES = 10
CASES = ("salience linear", "salience hidden", "predict")
DTYPES = ("float32", "float64")


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakSampler:
    """Samples the RSS every ``interval`` seconds on a thread; ``peak`` is the largest seen."""

    def __init__(self, interval=0.002):
        self.interval = interval
        self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


def _make(shape, dtype, seed, rows=8192):
    """Seeded standard-normal data, made block by block into one array."""
    import numpy as np

    out = np.empty(shape, dtype=dtype)
    rng = np.random.default_rng(seed)
    for r0 in range(0, shape[0], rows):
        out[r0 : r0 + rows] = rng.standard_normal((min(rows, shape[0] - r0),) + shape[1:], dtype=np.float32)
    return out


def run_case(case, dtype, bound_mib):
    """Runs one case in this process; returns a dict of measurements."""
    import numpy as np
    import torch
    from sklearn import config_context
    from skorch import NeuralNetClassifier

    from crossmodal import CrossModalDistiller, permutation_salience
    from crossmodal.nets import MLP

    torch.manual_seed(0)
    np_dtype = np.dtype(dtype)
    X_a = _make((N_SAMPLES, N_CHANNELS), np_dtype, 0)
    if case.startswith("salience"):
        X_b = _make((N_SAMPLES, D_B), np.float32, 1)
        hidden = () if case == "salience linear" else (16,)
        f_a = MLP(N_CHANNELS, N_CLASSES, hidden_sizes=hidden)
        f_b = MLP(D_B, N_CLASSES, hidden_sizes=())
        channels = N_CHANNELS if case == "salience linear" else 256
        if channels < N_CHANNELS:
            # The first 256 channels: a strided view of the 2048-wide array,
            # which is read in place, not copied.
            X_a = X_a[:, :channels]
            f_a = MLP(channels, N_CLASSES, hidden_sizes=hidden)
        # Warm-up on a small problem: numba compilation and torch's allocators.
        permutation_salience(f_a, f_b, X_a[:500], X_b[:500], n_repeats=1, random_state=0)

        def work():
            return permutation_salience(f_a, f_b, X_a, X_b, n_repeats=1, random_state=0, working_memory=bound_mib)
    else:
        rng = np.random.RandomState(0)
        X_small = rng.randn(256, N_CHANNELS).astype(np.float32)
        y_small = rng.randint(0, N_CLASSES, 256)
        student = NeuralNetClassifier(MLP, module__hidden_sizes=(256,), max_epochs=1, train_split=None, verbose=0)
        proba = np.full((256, N_CLASSES), 1.0 / N_CLASSES)
        kd = CrossModalDistiller(student=student, random_state=0).fit(X_small, y_small, teacher_proba=proba)
        kd.predict_proba(X_a[:500])

        def work():
            with config_context(working_memory=bound_mib):
                return kd.predict_proba(X_a)

    base = _rss_bytes()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    with PeakSampler() as sampler:
        result = work()
    seconds = time.perf_counter() - start
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    # ru_maxrss counts from process start; it only tells about this call when it rose.
    peak = max(sampler.peak, maxrss_after if maxrss_after > maxrss_before else 0)
    shape = getattr(result, "shape", None) or result.importances.shape
    input_bytes = (X_a.base if X_a.base is not None else X_a).nbytes
    return dict(
        case=case,
        dtype=dtype,
        bound_mib=bound_mib,
        input_mib=input_bytes / 2**20,
        growth_mib=(peak - base) / 2**20,
        seconds=seconds,
        output_shape=list(shape),
    )


def _uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bounds", type=float, nargs="+", default=[256, 1024], help="working_memory values, MiB")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=DTYPES)
    parser.add_argument("--one", nargs=3, metavar=("CASE", "DTYPE", "BOUND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        case, dtype, bound = args.one
        print(json.dumps(run_case(case, dtype, float(bound))))
        return
    print("uptime before:", _uptime())
    print(f"n={N_SAMPLES}, d={N_CHANNELS}, X_b {N_SAMPLES}x{D_B}, K={N_CLASSES}; each case in a fresh process")
    print(
        f"{'case':<16} {'X_a':<8} {'input MiB':>9} {'bound MiB':>9} {'peak growth MiB':>15} {'x bound':>8} "
        f"{'seconds':>8}"
    )
    for case in args.cases:
        for dtype in args.dtypes:
            for bound in args.bounds:
                proc = subprocess.run(
                    [sys.executable, __file__, "--one", case, dtype, str(bound)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if proc.returncode != 0:
                    print(f"{case:<16} {dtype:<8} FAILED:\n{proc.stderr[-2000:]}")
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                print(
                    f"{case:<16} {dtype:<8} {r['input_mib']:>9.0f} {bound:>9.0f} {r['growth_mib']:>15.1f} "
                    f"{r['growth_mib'] / bound:>7.2f}x {r['seconds']:>8.1f}"
                )
    print("uptime after:", _uptime())


if __name__ == "__main__":
    main()
