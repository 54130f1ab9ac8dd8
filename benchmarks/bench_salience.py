"""How much faster is ``permutation_salience`` than what a user would write instead?

Anchors, each fed the same permutations as ``permutation_salience`` and checked
to give the same distances:

* ``skorch``: :func:`sklearn.inspection.permutation_importance` on a skorch
  ``NeuralNetClassifier`` holding the same module, with a scorer computing the
  same MSE to module *b*'s logits (``net.forward``, skorch's default settings);
* ``thin``: the same on a minimal estimator whose ``forward`` is one torch
  forward pass under ``inference_mode`` (the fastest such anchor);
* ``loop``: for the paper's Table 2 setting (``nn.Linear(50, 2)`` pair,
  n=200, M=100), a plain loop in the style of the authors' code: clone,
  permute one column with ``torch.randperm``, one full forward, ``MSELoss``.

sklearn draws the same ``n_repeats`` shuffles for every column, composed
round after round; the script computes those permutations and hands them to
``permutation_salience``'s engine for the comparison (``ours (same perms)``),
and also times the public function with its own permutations (``ours``). The
anchors run on a subset of channels (their cost per (channel, repeat) is
constant), ours on all of them; ratios compare time per (channel, repeat)
pair, the anchors' unpermuted baseline pass counted as one more pair.

Run::

    python benchmarks/bench_salience.py            # the table, then `uptime`
    python benchmarks/bench_salience.py --quick    # smaller sizes
    python -m pytest benchmarks/bench_salience.py --benchmark-only

Timings on shared machines are noisy: alternatives are interleaved, medians
reported, and the load printed.
"""

import argparse
import contextlib
import copy
import subprocess
import time

import joblib
import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.inspection import permutation_importance
from sklearn.utils import check_random_state
from torch import nn

import crossmodal.focus._schedule as schedule_module
from crossmodal import permutation_salience
from crossmodal.focus._permutations import draw_permutations
from crossmodal.focus._plans import fast_block_rows
from crossmodal.nets import MLP

SEED = 0


# --------------------------------------------------------------------------- #
# Problems and anchors
# --------------------------------------------------------------------------- #


def make_problem(n, d, hidden=(256, 256), n_classes=10, d_b=64, seed=SEED):
    rng = np.random.RandomState(seed)
    X_a = rng.randn(n, d).astype(np.float32)
    X_b = rng.randn(n, d_b).astype(np.float32)
    torch.manual_seed(seed)
    module_a = MLP(d, n_classes, hidden_sizes=hidden).eval()
    module_b = MLP(d_b, n_classes, hidden_sizes=(64,)).eval()
    with torch.inference_mode():
        logits_b = module_b(torch.from_numpy(X_b)).numpy()
    return X_a, X_b, module_a, module_b, logits_b


class ThinTorchEstimator(BaseEstimator):
    """The fastest anchor: ``forward`` is one torch forward pass."""

    def __init__(self, module):
        self.module = module

    def fit(self, X, y=None):
        return self

    def forward(self, X):
        with torch.inference_mode():
            return self.module(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)))


class FirstColumns(BaseEstimator):
    """Exposes only the first ``n_columns`` of ``X_full`` to permutation_importance."""

    def __init__(self, estimator, X_full, n_columns):
        self.estimator = estimator
        self.X_full = X_full
        self.n_columns = n_columns

    def fit(self, X, y=None):
        return self

    def forward(self, X_sub):
        X = self.X_full.copy()
        X[:, : self.n_columns] = X_sub
        return self.estimator.forward(X)


def mse_scorer(logits_b):
    def score(estimator, X, y):
        logits = estimator.forward(X)
        logits = logits.detach().cpu().numpy() if isinstance(logits, torch.Tensor) else np.asarray(logits)
        return -float(np.mean((logits.astype(np.float64) - logits_b) ** 2))

    return score


def skorch_net(module):
    from skorch import NeuralNetClassifier

    return NeuralNetClassifier(module, criterion=nn.CrossEntropyLoss, max_epochs=0, train_split=None).initialize()


def anchor_importances(estimator, X_a, logits_b, n_columns, n_repeats, random_state):
    """sklearn's permutation_importance on the first ``n_columns`` channels; returns distances."""
    wrapped = FirstColumns(estimator, X_a, n_columns)
    result = permutation_importance(
        wrapped,
        X_a[:, :n_columns].copy(),
        np.zeros(len(X_a)),
        scoring=mse_scorer(logits_b),
        n_repeats=n_repeats,
        random_state=random_state,
    )
    baseline = -mse_scorer(logits_b)(wrapped, X_a[:, :n_columns], None)
    return result.importances + baseline  # importance = score drop = distance_perm - distance_base


def sklearn_permutations(random_state, n_samples, n_repeats):
    """The effective row permutations sklearn applies to every column, round by round."""
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max + 1)
    rng = check_random_state(seed)
    shuffling = np.arange(n_samples)
    effective = np.arange(n_samples)
    out = []
    for _ in range(n_repeats):
        rng.shuffle(shuffling)
        effective = effective[shuffling]
        out.append(effective.copy())
    return np.array(out, dtype=np.intp)


@contextlib.contextmanager
def fed_permutations(perms):
    """Make permutation_salience use ``perms`` (n_repeats, n) for every channel."""
    original = schedule_module.draw_permutations

    def draw(seed, n_samples, n_repeats, start, stop, parallel=False):
        return np.ascontiguousarray(np.broadcast_to(perms, (stop - start, n_repeats, n_samples)))

    schedule_module.draw_permutations = draw
    try:
        yield
    finally:
        schedule_module.draw_permutations = original


def authors_style_loop(module_a, module_b, X_a, X_b, n_repeats, perms=None, faithful=False):
    """One copy, one randperm (or the given permutation), one forward, one MSELoss per pair.

    ``faithful=True`` keeps two habits of the authors' code: the copy is a
    ``copy.deepcopy`` and autograd stays on (no ``torch.no_grad``). The
    default is the stronger anchor: ``clone`` under ``torch.no_grad``.
    """
    mse = nn.MSELoss()
    d = X_a.shape[1]
    out = np.zeros((d, n_repeats))
    with contextlib.nullcontext() if faithful else torch.no_grad():
        h_b = module_b(X_b)
        for m in range(n_repeats):
            for i in range(d):
                X_perm = copy.deepcopy(X_a) if faithful else X_a.clone()
                index = torch.randperm(X_a.shape[0]) if perms is None else perms[i, m]
                X_perm[:, i] = X_a[index, i]
                out[i, m] = mse(module_a(X_perm), h_b).item()
    return out


# --------------------------------------------------------------------------- #
# Timing helpers
# --------------------------------------------------------------------------- #


def timed(func):
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def matmul_rate(m, k, n, repeats=20):
    """Measured torch.mm GFLOP/s for (m x k) @ (k x n) in float32."""
    A, B, C = torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)
    torch.mm(A, B, out=C)
    rates = []
    for _ in range(3):
        seconds, _ = timed(lambda: [torch.mm(A, B, out=C) for _ in range(repeats)])
        rates.append(2 * m * k * n * repeats / seconds / 1e9)
    return float(np.median(rates))


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "uptime unavailable"


# --------------------------------------------------------------------------- #
# Cases
# --------------------------------------------------------------------------- #


def have_skorch():
    try:
        import skorch  # noqa: F401
    except ImportError:
        return False
    return True


def mlp_case(n, d, n_repeats=5, sub_thin=16, sub_skorch=4, rounds=3, check=True):
    """Ours vs the thin and skorch anchors on MLP d -> 256 -> 256 -> 10."""
    X_a, X_b, module_a, module_b, logits_b = make_problem(n, d)
    perms = sklearn_permutations(SEED, n, n_repeats)
    thin = ThinTorchEstimator(module_a)
    net = skorch_net(module_a) if have_skorch() and sub_skorch else None
    permutation_salience(module_a, module_b, X_a[:64], X_b[:64], n_repeats=1)  # compile / warm up
    times = {"ours": [], "ours (same perms)": [], "thin": [], "skorch": []}
    for _ in range(rounds):
        seconds, ours = timed(
            lambda: permutation_salience(module_a, module_b, X_a, X_b, n_repeats=n_repeats, random_state=SEED)
        )
        times["ours"].append(seconds / (d * n_repeats))
        with fed_permutations(perms):
            seconds, same = timed(
                lambda: permutation_salience(module_a, module_b, X_a, X_b, n_repeats=n_repeats, random_state=SEED)
            )
        times["ours (same perms)"].append(seconds / (d * n_repeats))
        seconds, thin_d = timed(lambda: anchor_importances(thin, X_a, logits_b, sub_thin, n_repeats, SEED))
        times["thin"].append(seconds / (sub_thin * n_repeats + 1))
        if net is not None:
            seconds, skorch_d = timed(lambda: anchor_importances(net, X_a, logits_b, sub_skorch, n_repeats, SEED))
            times["skorch"].append(seconds / (sub_skorch * n_repeats + 1))
    if check:
        np.testing.assert_allclose(same.importances[:sub_thin], thin_d, rtol=1e-3)
        if net is not None:
            np.testing.assert_allclose(same.importances[:sub_skorch], skorch_d, rtol=1e-3)
    per_pair = {k: float(np.median(v)) if v else float("nan") for k, v in times.items()}
    h = 256
    flops_ours = 2 * n * (h * h + h * 10 + 2 * h)
    flops_full = 2 * n * (d * h + h * h + h * 10)
    rates = {
        "ours": flops_ours / per_pair["ours (same perms)"] / 1e9,
        "thin": flops_full / per_pair["thin"] / 1e9,
        "mm_block": matmul_rate(fast_block_rows(list(module_a), 4), h, h),
        "mm_full": (matmul_rate(n, d, h) + matmul_rate(n, h, h)) / 2,
    }
    return per_pair, rates


def linear_case(n=200, d=50, n_repeats=100, rounds=5):
    """The paper's Table 2 setting: nn.Linear(50, 2) pair, M = 100."""
    rng = np.random.RandomState(SEED)
    X_a = rng.randn(n, d).astype(np.float32)
    X_b = rng.randn(n, d).astype(np.float32)
    torch.manual_seed(SEED)
    module_a, module_b = nn.Linear(d, 2).eval(), nn.Linear(d, 2).eval()
    Xa_t, Xb_t = torch.from_numpy(X_a), torch.from_numpy(X_b)
    permutation_salience(module_a, module_b, X_a, X_b, n_repeats=2)  # compile / warm up
    times = {"ours": [], "loop": [], "loop (same perms)": [], "loop (authors' habits)": []}
    seed = int(check_random_state(SEED).randint(np.iinfo(np.int32).max))
    perms = torch.from_numpy(draw_permutations(seed, n, n_repeats, 0, d))
    for _ in range(rounds):
        seconds, ours = timed(
            lambda: permutation_salience(module_a, module_b, X_a, X_b, n_repeats=n_repeats, random_state=SEED)
        )
        times["ours"].append(seconds)
        seconds, _ = timed(lambda: authors_style_loop(module_a, module_b, Xa_t, Xb_t, n_repeats))
        times["loop"].append(seconds)
        seconds, same = timed(lambda: authors_style_loop(module_a, module_b, Xa_t, Xb_t, n_repeats, perms))
        times["loop (same perms)"].append(seconds)
        seconds, _ = timed(lambda: authors_style_loop(module_a, module_b, Xa_t, Xb_t, n_repeats, faithful=True))
        times["loop (authors' habits)"].append(seconds)
    np.testing.assert_allclose(ours.importances, same, rtol=1e-4)
    return {k: float(np.median(v)) for k, v in times.items()}


@contextlib.contextmanager
def threading_mode(mode):
    """``threads`` (what one job does): channel ranges on torch.get_num_threads()
    threads, serial kernels, single-threaded products; ``jobs``:
    n_jobs=cpu_count with joblib's threading backend."""
    if mode == "jobs":
        with joblib.parallel_config(backend="threading", n_jobs=joblib.cpu_count()):
            yield
    else:
        yield


def modes_case(n, d, n_repeats=5, rounds=3, batch_sizes=(None,)):
    """Per-pair time of the threading modes and block sizes, interleaved."""
    X_a, X_b, module_a, module_b, _ = make_problem(n, d)
    permutation_salience(module_a, module_b, X_a[:64], X_b[:64], n_repeats=1)
    keys = [(mode, bs) for mode in ("threads", "jobs") for bs in batch_sizes]
    times = {key: [] for key in keys}
    for _ in range(rounds):
        for mode, bs in keys:
            with threading_mode(mode):
                seconds, _ = timed(
                    lambda bs=bs: permutation_salience(
                        module_a, module_b, X_a, X_b, n_repeats=n_repeats, random_state=SEED, batch_size=bs
                    )
                )
            times[(mode, bs)].append(seconds / (d * n_repeats))
    return {key: float(np.median(v)) for key, v in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a few seconds per case)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the smaller cases")
    parser.add_argument("--big-rounds", type=int, default=1, help="rounds of n=20000, d=512 (~1 min each)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--modes", action="store_true", help="also compare threading modes and block sizes")
    parser.add_argument("--skip-main", action="store_true", help="only the --modes comparison")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, {joblib.cpu_count()} CPUs; {uptime()}")
    cases = [(2000, 32)] if args.quick else [(5000, 128), (20000, 512)]
    if args.modes:
        n, d = (2000, 16) if args.quick else (5000, 32)
        sizes = (None, 512, 2048)
        print(f"\nThreading modes, MLP {d} -> 256 -> 256 -> 10, n={n}, M=5: ms per pair (medians of {args.rounds})")
        result = modes_case(n, d, rounds=args.rounds, batch_sizes=sizes)
        for (mode, bs), seconds in result.items():
            print(f"  {mode:>7} batch_size={str(bs):>5}: {seconds * 1e3:7.2f}")
        if args.skip_main:
            print(f"\n{uptime()}")
            return
    print(
        f"\nMLP d -> 256 -> 256 -> 10, M = 5; ms per (channel, repeat) pair, medians of {args.rounds} "
        f"({args.big_rounds} for n=20000)"
    )
    print(
        f"{'n':>6} {'d':>4} | {'ours':>7} {'same':>7} {'thin':>7} {'skorch':>8} | {'thin/ours':>9} {'skorch/ours':>11}"
        f" | GFLOP/s ours  thin  mm(block)  mm(full)"
    )
    for n, d in cases:
        sub_skorch = 2 if n >= 20000 else 4
        rounds = args.big_rounds if n >= 20000 else args.rounds
        per_pair, rates = mlp_case(n, d, sub_thin=16, sub_skorch=sub_skorch, rounds=rounds)
        ms = {k: v * 1e3 for k, v in per_pair.items()}
        print(
            f"{n:>6} {d:>4} | {ms['ours']:7.2f} {ms['ours (same perms)']:7.2f} {ms['thin']:7.2f} {ms['skorch']:8.2f} | "
            f"{per_pair['thin'] / per_pair['ours']:9.2f} {per_pair['skorch'] / per_pair['ours']:11.1f} | "
            f"{rates['ours']:12.0f} {rates['thin']:5.0f} {rates['mm_block']:10.0f} {rates['mm_full']:9.0f}",
            flush=True,
        )
    print("\nLinear pair (paper Table 2: n=200, d=50, M=100, nn.Linear(50, 2)); seconds per call")
    lin = linear_case(rounds=max(3, args.rounds))
    habits = lin["loop (authors' habits)"]
    print(
        f"ours {lin['ours'] * 1e3:.2f} ms | loop (clone, no_grad) {lin['loop'] * 1e3:.1f} ms, "
        f"fed our permutations {lin['loop (same perms)'] * 1e3:.1f} ms | loop with the authors' deepcopy and "
        f"autograd {habits * 1e3:.1f} ms"
    )
    print(f"loop/ours {lin['loop'] / lin['ours']:.0f}x (authors' habits: {habits / lin['ours']:.0f}x)")
    print(f"\n{uptime()}")


# --------------------------------------------------------------------------- #
# pytest-benchmark entry points (small sizes)
# --------------------------------------------------------------------------- #


def _small_problem():
    return make_problem(2000, 32)


def _bench_ours(benchmark, module_a, module_b, X_a, X_b, n_repeats, rounds):
    """Time permutation_salience once its kernels are compiled."""
    permutation_salience(module_a, module_b, X_a[:64], X_b[:64], n_repeats=1)
    benchmark.pedantic(
        permutation_salience,
        args=(module_a, module_b, X_a, X_b),
        kwargs=dict(n_repeats=n_repeats, random_state=SEED),
        rounds=rounds,
        warmup_rounds=1,
    )


def test_bench_salience_mlp(benchmark):
    X_a, X_b, module_a, module_b, _ = _small_problem()
    _bench_ours(benchmark, module_a, module_b, X_a, X_b, n_repeats=5, rounds=3)


def test_bench_thin_anchor_mlp(benchmark):
    X_a, _, module_a, _, logits_b = _small_problem()
    thin = ThinTorchEstimator(module_a)
    benchmark.pedantic(anchor_importances, args=(thin, X_a, logits_b, 8, 5, SEED), rounds=3, warmup_rounds=1)


def test_bench_skorch_anchor_mlp(benchmark):
    X_a, _, module_a, _, logits_b = _small_problem()
    net = skorch_net(module_a)
    benchmark.pedantic(anchor_importances, args=(net, X_a, logits_b, 2, 5, SEED), rounds=3, warmup_rounds=1)


def test_bench_salience_linear_table2(benchmark):
    rng = np.random.RandomState(SEED)
    X_a, X_b = rng.randn(200, 50).astype(np.float32), rng.randn(200, 50).astype(np.float32)
    module_a, module_b = nn.Linear(50, 2), nn.Linear(50, 2)
    _bench_ours(benchmark, module_a, module_b, X_a, X_b, n_repeats=100, rounds=5)


def test_bench_authors_style_loop_table2(benchmark):
    rng = np.random.RandomState(SEED)
    X_a = torch.from_numpy(rng.randn(200, 50).astype(np.float32))
    X_b = torch.from_numpy(rng.randn(200, 50).astype(np.float32))
    module_a, module_b = nn.Linear(50, 2).eval(), nn.Linear(50, 2).eval()
    benchmark.pedantic(authors_style_loop, args=(module_a, module_b, X_a, X_b, 100), rounds=3, warmup_rounds=1)


if __name__ == "__main__":
    main()
