"""How much faster is the fused KD loss than torch's log_softmax + kl_div?

Question: for the knowledge-distillation term ``T**2 * KL(softmax(t/T) ||
softmax(s/T))`` (the paper's eq. (1) with a temperature), how long does one
forward + backward take with ``crossmodal._kd_loss.kd_kl_loss`` (fused numba
kernel) against what a user writes in torch (``log_softmax`` + ``kl_div(...,
log_target=True)`` + ``backward``), on CPU with 2 threads, float32,
n = 100000 rows, K in {10, 1000} classes, T = 4? And are both within 1e-6
relative of a float64 reference? Target: >= 8x at both K.

All get the same float32 inputs, one warm-up call (numba compile, allocator
warm-up), then interleaved repeats. ``fused`` is the call the distiller
makes: the teacher's probabilities ``teacher_probabilities(targets)`` are
made once per fit (outside the timing, like the targets themselves) and
passed as ``teacher_probs``; ``fused, no probs`` is the plain call, which
takes the exponential of the targets in every step. The table shows medians
and minima, the speed-ups against torch (ratio of medians, ratio of minima),
and the errors of the loss (relative) and of the gradient (max absolute
error over max absolute value) against a float64 NumPy reference. The
machine is shared, so ``uptime`` is printed before and after.

Run:  python benchmarks/bench_kl.py              (table; --repeats N)
      pytest benchmarks/bench_kl.py --benchmark-only

Measured (2026-11-26, the shared 2-core AMD EPYC VM, load 0.9-1.5 from
other jobs; medians of 9 interleaved repeats, two runs):

    K      torch      fused (probs)        fused, no probs
    10     10-11 ms   5.0-5.6 ms  1.8-2.3x   5.1-6.3 ms  1.6-2.2x
    1000   2.3-2.7 s  277-306 ms  8.2-8.9x   261-286 ms  8.7-9.5x

Ratios of the minima: 1.7-1.9x at K=10, 7.3-8.2x (probs) and 8.3-8.4x (no
probs) at K=1000. Errors against the float64 reference: fused 9e-9 / 5e-8
(K=10) and 5e-8 / 4e-8 (K=1000) for loss / gradient, the loss's float32
rounding and the gradient's float32 storage; torch 5e-8-2e-7. With heavier
load torch's two OpenMP threads suffer most (67-80 ms at K=10, 4-8 s at
K=1000) and the ratios rise to 3-10x and 9-12x.

Target (>= 8x at both K) met at K=1000, not at K=10. At K=10 the kernel
costs ~5 ns per element and thread, of which the exponentials are ~1.5 ns:
the rest is per-row work on rows of 10 values, which LLVM leaves scalar, and
the second core is mostly busy with other jobs (two threads gain ~1.2x).
float32 exponentials (8 lanes) would be cheaper but are too inaccurate
once the student is close to the teacher (see ``crossmodal/_kernels/_kl.py``).
Where the K=10 time goes (2026-11-26, one thread, one block of 102 x 10
in L1, minimum of repeated runs): the float64 exponential alone costs 1.65
ns per element (a degree-11 polynomial, 4 lanes of AVX2), the whole block
3.5 ns; row sums written four rows at a time cost 0.5 ns. With two threads
that bounds the kernel at about 1.7 ms, while 8x torch's 8-10 ms means
1.0-1.3 ms: not reachable with float64 exponentials on this CPU, whatever
the layout (rows-in-lanes and transposed layouts were prototyped and were
not faster). A uniform weight (one value instead of an n-vector) and
recycling the 4 MB gradient changed nothing measurable.
At K=1000 the step is memory-bound: reading float64 probabilities (8 bytes)
saves an exponential but costs as much as it saves, so both calls are close;
most of the gain over the previous version (413-487 ms) comes from reusing
the gradient's memory instead of faulting in 400 MB of fresh pages per step.
"""

import argparse
import os
import statistics
import subprocess
import time

import numba
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from crossmodal._kd_loss import kd_kl_loss, teacher_log_probs, teacher_probabilities

N_SAMPLES = 100_000
CLASS_COUNTS = (10, 1000)
TEMPERATURE = 4.0
N_THREADS = 2


def set_threads(n_threads=N_THREADS):
    torch.set_num_threads(n_threads)
    numba.set_num_threads(n_threads)


def make_problem(n_samples, n_classes, seed=0):
    """Seeded float32 student logits (leaf tensor), teacher targets and probabilities."""
    gen = torch.Generator().manual_seed(seed)
    student = (3.0 * torch.randn(n_samples, n_classes, generator=gen)).requires_grad_()
    teacher = 3.0 * torch.randn(n_samples, n_classes, generator=gen)
    targets = teacher_log_probs(teacher, TEMPERATURE)
    return student, targets, teacher_probabilities(targets)


def fused_step(student, targets, probs):
    """The distiller's call: teacher probabilities made once per fit."""
    student.grad = None
    loss = kd_kl_loss(student, targets, temperature=TEMPERATURE, teacher_probs=probs)
    loss.backward()
    return loss


def fused_no_probs_step(student, targets, probs=None):
    student.grad = None
    loss = kd_kl_loss(student, targets, temperature=TEMPERATURE)
    loss.backward()
    return loss


def torch_step(student, targets, probs=None):
    student.grad = None
    log_q = F.log_softmax(student / TEMPERATURE, dim=1)
    loss = F.kl_div(log_q, targets, reduction="batchmean", log_target=True) * TEMPERATURE**2
    loss.backward()
    return loss


def reference(student, targets):
    """Loss and gradient in float64 NumPy, from the same float32 inputs."""
    s = student.detach().numpy().astype(np.float64)
    lt = targets.numpy().astype(np.float64)
    z = s / TEMPERATURE
    z = z - z.max(axis=1, keepdims=True)
    log_q = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(lt)
    kl = np.where(p > 0, p * (lt - log_q), 0.0).sum()
    n = s.shape[0]
    loss = TEMPERATURE**2 * kl / n
    # The derivative of the sum as written: P * softmax - p with P = sum_k p_k,
    # which is 1 only up to the float32 rounding of the targets.
    grad = TEMPERATURE * (np.exp(log_q) * p.sum(axis=1, keepdims=True) - p) / n
    return loss, grad


def errors(step, student, targets, probs, ref_loss, ref_grad):
    loss = step(student, targets, probs).item()
    grad = student.grad.numpy().astype(np.float64)
    loss_err = abs(loss - ref_loss) / abs(ref_loss)
    grad_err = np.abs(grad - ref_grad).max() / np.abs(ref_grad).max()
    return loss_err, grad_err


STEPS = {"torch": torch_step, "fused": fused_step, "fused, no probs": fused_no_probs_step}


def time_interleaved(steps, args, repeats):
    """Wall times of each step, alternating the steps in every round."""
    for step in steps.values():
        step(*args)  # warm-up: compile, allocator
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step(*args)
            times[name].append(time.perf_counter() - start)
    return times


def run(repeats=7, n_samples=N_SAMPLES):
    """For each K: {step name: (wall times, (loss error, gradient error))}."""
    set_threads()
    results = {}
    for n_classes in CLASS_COUNTS:
        student, targets, probs = make_problem(n_samples, n_classes)
        ref_loss, ref_grad = reference(student, targets)
        errs = {name: errors(step, student, targets, probs, ref_loss, ref_grad) for name, step in STEPS.items()}
        del ref_grad
        times = time_interleaved(STEPS, (student, targets, probs), repeats)
        results[n_classes] = {name: (times[name], errs[name]) for name in STEPS}
        del student, targets, probs
    return results


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n-samples", type=int, default=N_SAMPLES)
    args = parser.parse_args()
    print("uptime before:", uptime())
    results = run(args.repeats, args.n_samples)
    print(f"n={args.n_samples}, T={TEMPERATURE}, float32, {N_THREADS} threads (torch and numba), "
          f"{args.repeats} interleaved repeats after one warm-up")
    print(f"{'K':>5} {'step':<16} {'median [ms]':>12} {'min [ms]':>9} {'speed-up':>9} {'(of min)':>9} "
          f"{'loss err':>9} {'grad err':>9}")
    for n_classes, by_step in results.items():
        torch_times = by_step["torch"][0]
        for name, (ts, (loss_err, grad_err)) in by_step.items():
            med, best = statistics.median(ts), min(ts)
            ratio = statistics.median(torch_times) / med
            ratio_best = min(torch_times) / best
            print(f"{n_classes:>5} {name:<16} {1e3 * med:>12.2f} {1e3 * best:>9.2f} {ratio:>8.1f}x {ratio_best:>8.1f}x "
                  f"{loss_err:>9.1e} {grad_err:>9.1e}")
    print("uptime after:", uptime())
    print(f"cpus: {os.cpu_count()}, torch {torch.__version__}, numba {numba.__version__}")


# pytest-benchmark: `pytest benchmarks/bench_kl.py --benchmark-only`


@pytest.fixture(scope="module", params=CLASS_COUNTS, ids=lambda k: f"K={k}")
def problem(request):
    set_threads()
    return make_problem(N_SAMPLES, request.param)


@pytest.mark.parametrize("step", list(STEPS.values()), ids=list(STEPS))
def test_kd_kl_forward_backward(benchmark, problem, step):
    student, targets, probs = problem
    benchmark.pedantic(step, args=(student, targets, probs), rounds=5, warmup_rounds=1)
    assert student.grad is not None


if __name__ == "__main__":
    main()
