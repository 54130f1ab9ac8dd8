"""Does CrossModalDistiller cost more than a plain torch loop with the same loss, for "crd" and "c2kd"?

Question: on one shared problem (make_modality_venn, 2000 rows, 10 classes,
one-hidden-layer MLPs of 64 units, Adam, batch 64, 20 epochs), how long does
``CrossModalDistiller.fit`` take with each objective against the same loss
written as a plain torch training loop on the same data? Target: <= 1.3x the
plain loop, run on torch's default threads or on one thread, whichever its
warm-up found faster.

* ``crd``: the teacher is prefit (``FrozenEstimator``), so only the student,
  the two embedding heads and the memory train; the plain loop gets the
  teacher's hidden features once, as the distiller does. The plain loop
  scores each anchor against the whole memory and picks its positive and
  negatives, as the library does when the negatives (here every other row)
  are a large share of the memory.
* ``c2kd``: the teacher is trained too, in both: first on its own
  (cross-entropy, the same epochs), then with the student and the proxies.

Run:  python benchmarks/bench_objectives_crd_c2kd.py [--repeats 5]
"""

import argparse
import math
import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.frozen import FrozenEstimator
from torch import nn

from crossmodal import CrossModalDistiller, make_modality_venn
from crossmodal._utils.skorch_helpers import mlp_template
from crossmodal.distill.objectives import C2KD, CRD
from crossmodal.nets import MLP

N_SAMPLES, N_CLASSES, HIDDEN, EPOCHS, BATCH, LR, RHO = 2000, 10, 64, 20, 64, 1e-3, 0.5


def problem(seed=0):
    X_a, X_b, y = make_modality_venn(
        N_SAMPLES, n_general=8, n_specific_a=4, n_specific_b=4, n_noise_a=10, n_noise_b=10,
        n_classes=N_CLASSES, random_state=seed,
    )  # fmt: skip
    return X_a.astype(np.float32), X_b.astype(np.float32), y.astype(np.int64)


def template(**params):
    return mlp_template((HIDDEN,), max_epochs=EPOCHS, lr=LR, batch_size=BATCH, **params)


def body_and_head(mlp):
    """The MLP up to its last hidden activation, and its output layer (MLP slices are not MLPs)."""
    layers = list(mlp.children())
    return nn.Sequential(*layers[:-1]), layers[-1]


def batches(n, generator=None):
    order = torch.randperm(n, generator=generator)
    return [order[start : start + BATCH] for start in range(0, n, BATCH)]


# ------------------------------------------------------------------ crd
def prefit_teacher(X_a, y):
    teacher = template(module__in_features=X_a.shape[1], module__n_classes=N_CLASSES)
    torch.manual_seed(0)
    return teacher.fit(X_a, y)


def fit_distiller_crd(X_a, X_b, y, teacher):
    kd = CrossModalDistiller(
        teacher=FrozenEstimator(teacher), student=template(), objective=CRD(), rho=RHO, random_state=0
    )
    return kd.fit(X_b, y, X_teacher=X_a)


def fit_plain_crd(X_a, X_b, y, teacher, dim=128, nce_t=0.07, momentum=0.5):
    """Student, two linear heads to unit vectors, a memory per side, NCE against every other row."""
    torch.manual_seed(0)
    with torch.no_grad():
        t_features = body_and_head(teacher.module_)[0](torch.as_tensor(X_a))
    X, Y = torch.as_tensor(X_b), torch.as_tensor(y)
    n = len(Y)
    student = MLP(X.shape[1], N_CLASSES, hidden_sizes=(HIDDEN,))
    body, output = body_and_head(student)
    head_s, head_t = nn.Linear(HIDDEN, dim), nn.Linear(t_features.shape[1], dim)
    memory_s = F.normalize(torch.randn(n, dim), dim=1)
    memory_t = F.normalize(torch.randn(n, dim), dim=1)
    params = [*student.parameters(), *head_s.parameters(), *head_t.parameters()]
    optimizer = torch.optim.Adam(params, lr=LR)
    k = n - 1
    log_noise = None
    for _ in range(EPOCHS):
        for idx in batches(n):
            hidden = body(X[idx])
            logits = output(hidden)
            s = F.normalize(head_s(hidden), dim=1)
            t = F.normalize(head_t(t_features[idx]), dim=1)
            drawn = torch.randint(0, n - 1, (len(idx), k))
            columns = torch.cat([idx[:, None], drawn + (drawn >= idx[:, None]).long()], dim=1)
            u_s = (s @ memory_t.clone().T).gather(1, columns) / nce_t
            u_t = (t @ memory_s.clone().T).gather(1, columns) / nce_t
            if log_noise is None:  # K times the mean of e^u on the first batch, held fixed
                log_noise = [
                    torch.logsumexp(u.detach().flatten(), 0) - math.log(u.numel()) + math.log(k) for u in (u_s, u_t)
                ]
            nce = 0
            for u, b in zip((u_s, u_t), log_noise):
                denominator = torch.logaddexp(u, b)
                nce = nce - (u[:, 0] - denominator[:, 0]) - (b - denominator[:, 1:]).sum(1)
            loss = RHO * F.cross_entropy(logits, Y[idx]) + (1 - RHO) * nce.mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                memory_s[idx] = F.normalize(momentum * memory_s[idx] + (1 - momentum) * s, dim=1)
                memory_t[idx] = F.normalize(momentum * memory_t[idx] + (1 - momentum) * t, dim=1)
    return student


# ------------------------------------------------------------------ c2kd
def fit_distiller_c2kd(X_a, X_b, y, teacher=None):
    kd = CrossModalDistiller(teacher=template(), student=template(), objective=C2KD(), rho=RHO, random_state=0)
    return kd.fit(X_b, y, X_teacher=X_a)


def _kl(source, learner):
    p = F.softmax(source.detach(), dim=1)
    return (p * (torch.log(p) - F.log_softmax(learner, dim=1))).sum(1)


def _tau(a, b):
    i, j = torch.triu_indices(a.shape[1], a.shape[1], offset=1)
    da, db = torch.sign(a[:, i] - a[:, j]), torch.sign(b[:, i] - b[:, j])
    return (da * db).sum(1) / ((da != 0).sum(1) * (db != 0).sum(1)).float().sqrt()


def fit_plain_c2kd(X_a, X_b, y, teacher=None):
    """Teacher pre-trained on cross-entropy, then teacher, student and two proxies trained together."""
    torch.manual_seed(0)
    Xa, Xb, Y = torch.as_tensor(X_a), torch.as_tensor(X_b), torch.as_tensor(y)
    n = len(Y)
    teacher = MLP(Xa.shape[1], N_CLASSES, hidden_sizes=(HIDDEN,))
    optimizer = torch.optim.Adam(teacher.parameters(), lr=LR)
    for _ in range(EPOCHS):
        for idx in batches(n):
            loss = F.cross_entropy(teacher(Xa[idx]), Y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    student = MLP(Xb.shape[1], N_CLASSES, hidden_sizes=(HIDDEN,))
    (student_body, student_output), (teacher_body, teacher_output) = body_and_head(student), body_and_head(teacher)
    proxy_s, proxy_t = (nn.Sequential(nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, N_CLASSES)) for _ in "st")
    params = [*student.parameters(), *teacher.parameters(), *proxy_s.parameters(), *proxy_t.parameters()]
    optimizer = torch.optim.Adam(params, lr=LR)
    for _ in range(EPOCHS):
        for idx in batches(n):
            yb = Y[idx]
            h_s, h_t = student_body(Xb[idx]), teacher_body(Xa[idx])
            s, t, ps, pt = student_output(h_s), teacher_output(h_t), proxy_s(h_s), proxy_t(h_t)
            keep = _tau(ps.detach(), pt.detach()) > 0.0
            others = ~F.one_hot(yb, N_CLASSES).bool()
            ps_nt, pt_nt = ps[others].view(len(idx), -1), pt[others].view(len(idx), -1)
            rows = _kl(t, pt) + _kl(pt, t) + _kl(s, ps) + _kl(ps, s)
            rows = rows + keep * (_kl(pt_nt, ps_nt) + _kl(ps_nt, pt_nt))
            term = F.cross_entropy(t, yb) + rows.mean()
            loss = RHO * F.cross_entropy(s, yb) + (1 - RHO) * term
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return student


def one_thread(fn):
    def run(*args):
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args)
        finally:
            torch.set_num_threads(previous)

    return run


CASES = {"crd": (fit_distiller_crd, fit_plain_crd), "c2kd": (fit_distiller_c2kd, fit_plain_c2kd)}


def timed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main(repeats=5):
    X_a, X_b, y = problem()
    teacher = prefit_teacher(X_a, y)
    args = (X_a, X_b, y, teacher)
    print(f"{N_SAMPLES} rows, {N_CLASSES} classes, MLP({HIDDEN}), Adam, batch {BATCH}, {EPOCHS} epochs")
    print(f"torch threads by default: {torch.get_num_threads()}; load before: {os.getloadavg()}")
    print(f"{'objective':10s} {'distiller s':>12s} {'plain s':>9s} {'ratio':>7s}   plain loop's threads (warm-up s)")
    for name, (distiller, plain) in CASES.items():
        distiller(*args)  # warm-up: numba compile, torch init
        # The plain loop runs on whichever thread setting its warm-up found faster (on a loaded 2-core
        # machine torch's default threads can be many times slower than one).
        warm = {"default": timed(plain, *args), "1": timed(one_thread(plain), *args)}
        threads = min(warm, key=warm.get)
        plain_fit = plain if threads == "default" else one_thread(plain)
        times = {"distiller": [], "plain": []}
        for _ in range(repeats):  # interleaved
            times["distiller"].append(timed(distiller, *args))
            times["plain"].append(timed(plain_fit, *args))
        med = {key: statistics.median(values) for key, values in times.items()}
        ratio = med["distiller"] / med["plain"]
        notes = ", ".join(f"{key}: {value:.2f}" for key, value in warm.items())
        print(f"{name:10s} {med['distiller']:12.2f} {med['plain']:9.2f} {ratio:7.2f}   {threads} ({notes})")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    main(parser.parse_args().repeats)
