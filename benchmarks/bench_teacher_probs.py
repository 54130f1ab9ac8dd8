"""Would precomputed teacher probabilities make CrossModalDistiller.fit faster?

Question: the fused KD kernel can take the teacher's probabilities
``exp(teacher_log_probs)`` made once per fit (``teacher_probs``) instead of
taking that exponential in every step. Wired into ``CrossModalDistiller.fit``
(probabilities made once per fit and batched beside the targets), is a fit
faster than the plain call it makes today, on a K=10 and a K=1000 problem?

Both variants fit the same default student (MLP with one hidden layer of
128, Adam, batch 64, shuffled) from the same precomputed teacher
probabilities with the same seed; ``with probs`` patches the student net so
that its fit makes ``teacher_probabilities(targets)`` once and every batch
passes them to ``kd_kl_loss``. The losses are checked equal (the kernel gives
the same bits either way). One warm-up fit each, then interleaved repeats;
medians and the ratio of medians. The machine is shared: ``uptime`` is printed
before and after.

Run:  python benchmarks/bench_teacher_probs.py [--repeats N]
      at commit ac105a2: the answer was no (benchmarks/RESULTS.md), and the
      fast path (``teacher_probabilities``, ``kd_kl_loss(teacher_probs=)``)
      was removed after it, so this script no longer runs on later trees.
"""

import argparse
import statistics
import subprocess
import time
from contextlib import contextmanager

import numpy as np

from crossmodal import CrossModalDistiller
from crossmodal import _kd_loss, _kd_net
from crossmodal._distiller import default_student

CASES = {  # K: (n_samples, n_features, max_epochs)
    10: (4000, 32, 10),
    1000: (4000, 32, 4),
}


def problem(n_classes, seed=0):
    n_samples, n_features, _ = CASES[n_classes]
    rng = np.random.RandomState(seed)
    y = np.arange(n_samples) % n_classes
    X = (rng.randn(n_samples, n_features) + 0.5 * rng.randn(n_classes, n_features)[y]).astype(np.float32)
    logits = rng.randn(n_samples, n_classes) + 3.0 * np.eye(n_classes)[y]
    proba = np.exp(logits - logits.max(1, keepdims=True))
    return X, y, proba / proba.sum(1, keepdims=True)


@contextmanager
def teacher_probs_wired():
    """Patch DistillationNet: probabilities made once per fit, batched beside the targets."""
    net_cls = _kd_net.DistillationNet
    fit_loop, batch_loss = net_cls.fit_loop, net_cls.batch_loss

    def patched_fit_loop(self, X, y=None, epochs=None, **kwargs):
        if isinstance(X, dict) and X.get("teacher_log_probs") is not None:
            X = dict(X, teacher_probs=_kd_loss.teacher_probabilities(X["teacher_log_probs"]))
        return fit_loop(self, X, y, epochs, **kwargs)

    def patched_batch_loss(self, batch, y):
        logits = self.module_(batch["X"])
        ce = _kd_net.F.cross_entropy(logits, y)
        kd = _kd_loss.kd_kl_loss(logits, batch["teacher_log_probs"], temperature=self.temperature,
                                 reduction=self.kl_reduction, teacher_probs=batch["teacher_probs"])
        return self.rho * ce + (1.0 - self.rho) * kd

    net_cls.fit_loop, net_cls.batch_loss = patched_fit_loop, patched_batch_loss
    try:
        yield
    finally:
        net_cls.fit_loop, net_cls.batch_loss = fit_loop, batch_loss


def fit(X, y, proba, n_classes):
    student = default_student().set_params(max_epochs=CASES[n_classes][2])
    return CrossModalDistiller(student=student, rho=0.5, temperature=4.0, random_state=0).fit(
        X, y, teacher_proba=proba)


def timed(X, y, proba, n_classes, wired):
    start = time.perf_counter()
    if wired:
        with teacher_probs_wired():
            model = fit(X, y, proba, n_classes)
    else:
        model = fit(X, y, proba, n_classes)
    return time.perf_counter() - start, model.history_[:, "train_loss"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print("uptime before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print("| K | n x d, epochs | plain call, median s | with probs, median s | plain / with probs |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for n_classes in CASES:
        X, y, proba = problem(n_classes)
        _, loss_plain = timed(X, y, proba, n_classes, False)  # warm-up (numba compile, allocator)
        _, loss_wired = timed(X, y, proba, n_classes, True)
        assert loss_plain == loss_wired, (loss_plain, loss_wired)
        times = {False: [], True: []}
        for _ in range(args.repeats):
            for wired in (False, True):
                times[wired].append(timed(X, y, proba, n_classes, wired)[0])
        plain, wired = statistics.median(times[False]), statistics.median(times[True])
        n, d, epochs = CASES[n_classes]
        print(f"| {n_classes} | {n} x {d}, {epochs} | {plain:.3f} | {wired:.3f} | {plain / wired:.3f} |", flush=True)
    print("uptime after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
