"""Does CrossModalDistiller cost more than the plain torch loop it replaces?

Question: on the paper's tiny synthetic problem (200 x 50, logistic-regression
student, 1000 full-batch SGD epochs, precomputed teacher probabilities), how
long does ``CrossModalDistiller.fit`` take against a hand-written torch loop
doing the same steps, and against a plain skorch ``NeuralNetClassifier``?
The paper's experiments train thousands of such models, so this decides
whether ``crossmodal reproduce`` takes minutes or an hour. Target: <= 1.5x
the plain loop.

Run:  python benchmarks/bench_distiller_overhead.py
      pytest benchmarks/bench_distiller_overhead.py --benchmark-only
"""

import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from skorch import NeuralNetClassifier

from crossmodal import CrossModalDistiller, make_modality_venn
from crossmodal.nets import MLP

N_EPOCHS = 1000
LR = 0.1


def problem(seed=0):
    X_a, X_b, y = make_modality_venn(
        200, n_general=10, n_specific_a=0, n_specific_b=0, n_hidden=10, n_noise_a=15, n_noise_b=40, random_state=seed
    )
    rng = np.random.RandomState(seed)
    logits = rng.randn(len(y), 2) + 2 * np.eye(2)[y]
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return X_b.astype(np.float32), y, proba


def student(callbacks="disable"):
    return NeuralNetClassifier(
        MLP,
        module__hidden_sizes=(),
        optimizer=torch.optim.SGD,
        lr=LR,
        max_epochs=N_EPOCHS,
        batch_size=-1,
        train_split=None,
        callbacks=callbacks,
        verbose=0,
    )


def fit_distiller(X, y, proba):
    return CrossModalDistiller(student=student(), rho=0.5, random_state=0).fit(X, y, teacher_proba=proba)


def fit_plain_torch(X, y, proba):
    """What a user writes by hand: nn.Linear, SGD, CE + KL on log-softmax."""
    torch.manual_seed(0)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    target = torch.log(torch.as_tensor(proba, dtype=torch.float32))
    model = torch.nn.Linear(X.shape[1], 2)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    for _ in range(N_EPOCHS):
        opt.zero_grad()
        out = model(Xt)
        loss = 0.5 * F.cross_entropy(out, yt) + 0.5 * F.kl_div(
            F.log_softmax(out, 1), target, reduction="batchmean", log_target=True
        )
        loss.backward()
        opt.step()
    return model


def fit_plain_skorch(X, y, proba):
    """A plain skorch net with its default callbacks (CE only: skorch has no KD term)."""
    net = NeuralNetClassifier(
        MLP,
        module__in_features=X.shape[1],
        module__n_classes=2,
        module__hidden_sizes=(),
        optimizer=torch.optim.SGD,
        lr=LR,
        max_epochs=N_EPOCHS,
        batch_size=-1,
        train_split=None,
        verbose=0,
        criterion=torch.nn.CrossEntropyLoss,
    )
    return net.fit(X, y)


def plain_torch_one_thread(X, y, proba):
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fit_plain_torch(X, y, proba)
    finally:
        torch.set_num_threads(previous)


CANDIDATES = {
    "CrossModalDistiller.fit": fit_distiller,
    "plain torch loop (default threads)": fit_plain_torch,
    "plain torch loop (1 thread)": plain_torch_one_thread,
    "plain skorch NeuralNetClassifier": fit_plain_skorch,
}


def main(repeats=5):
    X, y, proba = problem()
    for fn in CANDIDATES.values():  # warm-up: numba compile, torch init
        fn(X, y, proba)
    times = {name: [] for name in CANDIDATES}
    for _ in range(repeats):  # interleaved
        for name, fn in CANDIDATES.items():
            start = time.perf_counter()
            fn(X, y, proba)
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t) for name, t in times.items()}
    best_plain = min(med["plain torch loop (default threads)"], med["plain torch loop (1 thread)"])
    print(f"torch threads by default: {torch.get_num_threads()}; load: {os.getloadavg()}")
    print(f"{'candidate':40s} {'median s':>9s} {'x best plain loop':>18s}")
    for name, value in med.items():
        print(f"{name:40s} {value:9.3f} {value / best_plain:18.2f}")


def test_distiller(benchmark):
    X, y, proba = problem()
    fit_distiller(X, y, proba)
    benchmark(fit_distiller, X, y, proba)


def test_plain_torch(benchmark):
    X, y, proba = problem()
    fit_plain_torch(X, y, proba)
    benchmark(fit_plain_torch, X, y, proba)


if __name__ == "__main__":
    main()
