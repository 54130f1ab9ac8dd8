"""Does training through CrossModalDistiller cost more than the same objective in a hand-written torch loop?

Question: for each distillation objective, how long does
``CrossModalDistiller(objective=...).fit`` take (a prefit torch teacher in a
``FrozenEstimator``, so only the student trains) against the same loss,
``rho * CE + (1 - rho) * objective``, written as the plain torch loop a user
would write (same data, student MLP, optimizer, epochs, batches; the
teacher's outputs computed once, inside the timed call for both)? Target:
at most 1.3x the plain loop.

Both run under the same torch thread setting: one thread (``--threads 1``,
the default: what the distiller picks for a student this small, and the
faster setting for the plain loop on a shared machine) or torch's default
(``--threads default``, where the distiller still trains the student on one
thread but queries the teacher on torch's threads).

Each objective is one entry of ``ENTRIES``: the objective the distiller
trains with, what the plain loop precomputes from the teacher, and the
plain loop's loss of one batch. Before timing, each entry's plain loss is
checked against the library's on one batch (same values), so both loops
train on the same loss.

``--losses`` times the losses alone instead: the student's forward pass and
one batch's loss, forward and backward, library against plain, which
separates the objective's own cost from the distiller's around it.

Run:  python benchmarks/bench_objectives.py [--repeats 5] [--only dkd,rkd] [--threads 1|default] [--losses]
      pytest benchmarks/bench_objectives.py --benchmark-only
"""

import argparse
import os
import platform
import statistics
import time
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNetClassifier

from crossmodal import CrossModalDistiller
from crossmodal._utils.skorch_helpers import mlp_template
from crossmodal._utils.torch_helpers import torch_threads
from crossmodal.distill.objectives import DKD, KD, MLLD, RKD, Hint, ObjectiveBatch, TeacherOutputs
from crossmodal.nets import MLP

N_ROWS, N_STUDENT, N_TEACHER, N_CLASSES = 1024, 20, 30, 10
STUDENT_HIDDEN, TEACHER_HIDDEN = 64, 96
EPOCHS, BATCH, LR, RHO = 20, 64, 0.01, 0.5


# --------------------------------------------------------------- plain losses
# What a user writes by hand for each objective, from the papers' equations,
# with the usual torch idioms (masks, per-temperature loops). ``t`` holds the
# batch's rows of what ``targets`` precomputed from the teacher.


def kd_targets(logits, features, temperature=4.0):
    return {"log_p": F.log_softmax(logits / temperature, dim=1)}


def kd_loss(s, h, y, t, module, temperature=4.0):
    log_q = F.log_softmax(s / temperature, dim=1)
    return temperature**2 * F.kl_div(log_q, t["log_p"], reduction="batchmean", log_target=True)


def dkd_loss(s, h, y, t, module, alpha=1.0, beta=8.0, temperature=4.0):
    gt = F.one_hot(y, s.shape[1]).to(s.dtype)
    p_s, p_t = F.softmax(s / temperature, dim=1), t["log_p"].exp()
    b_s = torch.stack([(p_s * gt).sum(1), (p_s * (1 - gt)).sum(1)], dim=1)
    b_t = torch.stack([(p_t * gt).sum(1), (p_t * (1 - gt)).sum(1)], dim=1)
    tckd = (b_t * (b_t.log() - b_s.log())).sum(1).mean()
    log_q_hat = F.log_softmax(s / temperature - 1000.0 * gt, dim=1)
    log_p_hat = F.log_softmax(t["log_p"] - 1000.0 * gt, dim=1)
    nckd = F.kl_div(log_q_hat, log_p_hat, reduction="batchmean", log_target=True)
    return temperature**2 * (alpha * tckd + beta * nckd)


def mlld_targets(logits, features, temperatures=(2.0, 3.0, 4.0, 5.0, 6.0)):
    return {f"log_p{j}": F.log_softmax(logits / T, dim=1) for j, T in enumerate(temperatures)}


def mlld_loss(s, h, y, t, module, temperatures=(2.0, 3.0, 4.0, 5.0, 6.0)):
    m, c = s.shape
    loss = 0.0
    for j, T in enumerate(temperatures):
        log_q, log_p = F.log_softmax(s / T, dim=1), t[f"log_p{j}"]
        q, p = log_q.exp(), log_p.exp()
        loss = loss + F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)
        loss = loss + ((p @ p.T - q @ q.T) ** 2).sum() / (m * m)
        loss = loss + ((p.T @ p / m - q.T @ q / m) ** 2).sum() / c
    return loss


def feature_targets(logits, features):
    return {"f": features}


def hint_loss(s, h, y, t, module):
    return 0.5 * ((module(h) - t["f"]) ** 2).sum(1).mean()


def _rkd_relations(e):
    diff = e.unsqueeze(0) - e.unsqueeze(1)
    d = diff.norm(dim=2)
    return d, F.normalize(diff, p=2, dim=2)


def rkd_loss(s, h, y, t, module, distance_weight=25.0, angle_weight=50.0):
    m = h.shape[0]
    d_s, u_s = _rkd_relations(h)
    with torch.no_grad():
        d_t, u_t = _rkd_relations(t["f"])
    pairs = m * (m - 1)
    d_s, d_t = d_s / (d_s.sum() / pairs), d_t / (d_t.sum() / pairs)
    distance = F.smooth_l1_loss(d_s, d_t, reduction="sum") / pairs
    a_s, a_t = torch.bmm(u_s, u_s.transpose(1, 2)), torch.bmm(u_t, u_t.transpose(1, 2))
    # i == k gives cos 1 on both sides and i == j or k == j a zero vector on both: only distinct triplets count
    angle = F.smooth_l1_loss(a_s, a_t, reduction="sum") / (m * (m - 1) * (m - 2))
    return distance_weight * distance + angle_weight * angle


@dataclass
class Entry:
    """One objective: the library's object, and the plain loop's targets, loss and extra module."""

    objective: object
    targets: object
    loss: object
    module: object = None  # (student width, teacher width) -> nn.Module trained with the student
    features: bool = field(init=False)

    def __post_init__(self):
        self.features = self.objective.requires == "features"


ENTRIES = {
    "kd": Entry(KD(temperature=4.0), kd_targets, kd_loss),
    "dkd": Entry(DKD(), kd_targets, dkd_loss),
    "mlld": Entry(MLLD(), mlld_targets, mlld_loss),
    "hint": Entry(Hint(), feature_targets, hint_loss, lambda ws, wt: torch.nn.Linear(ws, wt)),
    "rkd": Entry(RKD(), feature_targets, rkd_loss),
}


# --------------------------------------------------------------------- problem
def problem(seed=0):
    """Paired views of a shared latent, labels from it; a teacher MLP prefit on the teacher's view."""
    rng = np.random.RandomState(seed)
    z = rng.randn(N_ROWS, 8)
    y = np.argmax(z @ rng.randn(8, N_CLASSES), axis=1).astype(np.int64)
    X_t = np.hstack([z, rng.randn(N_ROWS, N_TEACHER - 8)]).astype(np.float32)
    X_s = np.hstack([z + rng.randn(N_ROWS, 8), rng.randn(N_ROWS, N_STUDENT - 8)]).astype(np.float32)
    torch.manual_seed(seed)
    teacher = NeuralNetClassifier(
        MLP,
        module__in_features=N_TEACHER,
        module__n_classes=N_CLASSES,
        module__hidden_sizes=(TEACHER_HIDDEN,),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=LR,
        max_epochs=30,
        batch_size=BATCH,
        train_split=None,
        callbacks="disable",
        verbose=0,
    ).fit(X_t, y)
    return X_s, X_t, y, teacher


def student_template():
    return mlp_template((STUDENT_HIDDEN,), max_epochs=EPOCHS, lr=LR, batch_size=BATCH)


def fit_distiller(name, X_s, X_t, y, teacher):
    kd = CrossModalDistiller(
        teacher=FrozenEstimator(teacher), student=student_template(), objective=ENTRIES[name].objective, rho=RHO
    )
    return kd.set_params(random_state=0).fit(X_s, y, X_teacher=X_t)


def split(module):
    """A Sequential's layers up to its last hidden activation, and its head."""
    layers = list(module)
    return torch.nn.Sequential(*layers[:-1]), layers[-1]


def teacher_outputs(teacher, X_t):
    """The teacher's logits and last hidden activation (a user's forward pass through its layers)."""
    body, head = split(teacher.module_)
    with torch.no_grad():
        features = body(torch.as_tensor(X_t))
        return head(features), features


def fit_plain(name, X_s, X_t, y, teacher):
    """The hand-written loop: MLP split at its hidden layer, Adam, shuffled mini-batches, CE + objective."""
    entry = ENTRIES[name]
    torch.manual_seed(0)
    logits, features = teacher_outputs(teacher, X_t)
    targets = entry.targets(logits, features)
    X, yt = torch.as_tensor(X_s), torch.as_tensor(y)
    model = MLP(N_STUDENT, N_CLASSES, hidden_sizes=(STUDENT_HIDDEN,))
    body, head = split(model)
    extra = entry.module(STUDENT_HIDDEN, TEACHER_HIDDEN) if entry.module else None
    params = list(model.parameters()) + (list(extra.parameters()) if extra is not None else [])
    optimizer = torch.optim.Adam(params, lr=LR)
    for _ in range(EPOCHS):
        order = torch.randperm(N_ROWS)
        for start in range(0, N_ROWS, BATCH):
            idx = order[start : start + BATCH]
            optimizer.zero_grad()
            h = body(X[idx])
            s = head(h)
            yb = yt[idx]
            t = {k: v[idx] for k, v in targets.items()}
            loss = RHO * F.cross_entropy(s, yb) + (1 - RHO) * entry.loss(s, h, yb, t, extra)
            loss.backward()
            optimizer.step()
    return model


def one_batch_losses(name, X_s, X_t, y, teacher, rows=BATCH):
    """The plain loss and the library's objective on the student's first batch: two functions of no argument.

    Each runs the student's forward pass and its loss, and returns the loss.
    """
    entry = ENTRIES[name]
    torch.manual_seed(1)
    body, head = split(MLP(N_STUDENT, N_CLASSES, hidden_sizes=(STUDENT_HIDDEN,)))
    extra = entry.module(STUDENT_HIDDEN, TEACHER_HIDDEN) if entry.module else None
    x, yb = torch.as_tensor(X_s[:rows]), torch.as_tensor(y[:rows])
    logits, features = teacher_outputs(teacher, X_t[:rows])
    plain_targets = entry.targets(logits, features)
    outputs = TeacherOutputs(teacher.predict_proba(X_t[:rows]), features=features.numpy())
    targets = {k: torch.as_tensor(v) for k, v in entry.objective.targets(outputs).items()}

    def plain():
        h = body(x)
        return entry.loss(head(h), h, yb, plain_targets, extra)

    def library():
        h = body(x)
        batch = ObjectiveBatch(head(h), targets, y=yb, labelled=yb >= 0, student_features=h, module=extra)
        return entry.objective.loss(batch)

    return plain, library


def check_same_loss(name, *data):
    """The plain loss and the library's objective agree on one batch (float32 tolerance)."""
    plain, ours = (f().item() for f in one_batch_losses(name, *data))
    if not np.isclose(plain, ours, rtol=1e-4, atol=1e-5):
        raise AssertionError(f"{name}: the plain loss {plain} is not the library's {ours}")


def time_losses(names, data, repeats):
    """Forward and backward of one batch's loss alone, without the training loop around it (microseconds)."""
    print(f"{'objective':10s} {'library us':>11s} {'plain us':>9s} {'ratio':>6s}")
    for name in names:
        steps = one_batch_losses(name, *data)[::-1]
        runs = [[], []]
        for step in steps:  # warm-up
            for _ in range(20):
                step().backward()
        for _ in range(repeats):  # interleaved
            for step, times in zip(steps, runs):
                start = time.perf_counter()
                for _ in range(100):
                    step().backward()
                times.append((time.perf_counter() - start) / 100 * 1e6)
        ours, plain = (statistics.median(t) for t in runs)
        print(f"{name:10s} {ours:11.0f} {plain:9.0f} {ours / plain:6.2f}")


CANDIDATES = {"CrossModalDistiller.fit": fit_distiller, "plain torch loop": fit_plain}


def main(repeats=5, only=None, threads="1", losses=False):
    data = problem()
    names = [n for n in ENTRIES if only is None or n in only]
    for name in names:
        check_same_loss(name, *data)
    default_threads = torch.get_num_threads()
    with torch_threads(1 if threads == "1" else None):
        print(
            f"CPU: {platform.processor() or platform.machine()}; torch threads: {torch.get_num_threads()} "
            f"(default {default_threads}); load before: {os.getloadavg()}"
        )
        if losses:
            time_losses(names, data, repeats)
            print(f"load after: {os.getloadavg()}")
            return
        print(f"{'objective':10s} {'distiller s':>12s} {'plain s':>9s} {'ratio':>6s}")
        for name in names:
            for fn in CANDIDATES.values():  # warm-up: numba compile, torch init
                fn(name, *data)
            times = {c: [] for c in CANDIDATES}
            for _ in range(repeats):  # interleaved
                for c, fn in CANDIDATES.items():
                    start = time.perf_counter()
                    fn(name, *data)
                    times[c].append(time.perf_counter() - start)
            ours, plain = (statistics.median(t) for t in times.values())
            print(f"{name:10s} {ours:12.3f} {plain:9.3f} {ours / plain:6.2f}")
    print(f"load after: {os.getloadavg()}")


@pytest.fixture(scope="module")
def data():
    return problem()


@pytest.mark.parametrize("name", list(ENTRIES))
def test_distiller(benchmark, data, name):
    fit_distiller(name, *data)
    benchmark(fit_distiller, name, *data)


@pytest.mark.parametrize("name", list(ENTRIES))
def test_plain_loop(benchmark, data, name):
    fit_plain(name, *data)
    benchmark(fit_plain, name, *data)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", type=lambda s: s.split(","), default=None, help="comma-separated objective names")
    parser.add_argument("--threads", choices=["1", "default"], default="1")
    parser.add_argument("--losses", action="store_true", help="time one batch's loss (forward and backward) only")
    args = parser.parse_args()
    main(args.repeats, args.only, args.threads, args.losses)
