"""How much faster is the batched synthetic reproduction than the authors' per-model loop?

Question: ``crossmodal reproduce synthetic`` trains every linear teacher and
student of a run as one batch with closed-form gradients
(:mod:`crossmodal.experiments._batched_linear`). The authors' scripts train
each ``nn.Linear(d, 2)`` on its own with autograd and ``torch.optim.SGD`` and
evaluate on the test set after every epoch. How do the two compare on the
same subset (Fig. 2 at two overlaps, full protocol: 200/1000 samples, 1000
epochs), and do they give the same accuracies? And does a batched step want
one torch thread or two?

Three per-model loops are timed beside the batched runner, interleaved,
``--repeats`` times each (medians reported):

* ``authors``: the authors' style -- autograd, SGD, test accuracy after every
  epoch, torch's default thread count;
* ``authors-1thread``: the same with one torch thread;
* ``lean-loop``: one thread, accuracy only after the last epoch (what a careful
  user would write).

Run::

    python benchmarks/bench_reproduce.py [--runs 1] [--repeats 3]

The script prints the machine load, the timings, the speed-up ratios, the
largest accuracy difference between the loop and the batched runner (both use
the same data and initial weights), and the thread-count comparison for one
batched step.
"""

import argparse
import os
import statistics
import time

import numpy as np
import torch
from torch import nn

from crossmodal._utils.torch_helpers import torch_threads
from crossmodal.experiments import _batched_linear, synthetic
from crossmodal.experiments._batched_linear import default_linear_init

OVERLAPS = (0, 10)


def _linear(init):
    m = nn.Linear(init[0].shape[1], init[0].shape[0])
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(init[0]))
        m.bias.copy_(torch.from_numpy(init[1]))
    return m


def _train(X, y, Xt, yt, init, setup, teacher_proba=None, eval_every_epoch=True):
    model = _linear(init)
    opt = torch.optim.SGD(model.parameters(), lr=setup.lr)
    ce, kl = nn.CrossEntropyLoss(), nn.KLDivLoss(reduction=setup.kl_reduction)
    acc = None
    for epoch in range(setup.n_epochs):
        model.train()
        out = model(X)
        loss = ce(out, y)
        if teacher_proba is not None:
            loss = setup.ce_weight * loss + setup.kl_weight * kl(torch.log_softmax(out, 1), teacher_proba)
        loss.backward()
        opt.step()
        opt.zero_grad()
        if eval_every_epoch or epoch == setup.n_epochs - 1:
            model.eval()
            with torch.no_grad():
                acc = (model(Xt).argmax(1) == yt).double().mean().item()
    return model, acc


def per_model_fig2(runs, seed, setup, eval_every_epoch):
    """Fig. 2 at OVERLAPS with one autograd loop per model, same data and inits as the runner."""
    rows = []
    for run in range(runs):
        seeds = synthetic._run_seeds(seed + run, "fig2")
        for o in OVERLAPS:
            draw = synthetic._draw(synthetic.fig2_params(o), seeds, setup)
            (Xa, Xb, y), (Xat, Xbt, yt) = draw["train"], draw["test"]
            Xa, Xb, Xat, Xbt = (torch.tensor(a, dtype=torch.float32) for a in (Xa, Xb, Xat, Xbt))
            y, yt = torch.as_tensor(y), torch.as_tensor(yt)
            gen = draw["gen"]
            t_init = default_linear_init(gen.n_features_a_, 2, seeds["teacher"])
            s_init = default_linear_init(gen.n_features_b_, 2, seeds["student"])
            teacher, t_acc = _train(Xa, y, Xat, yt, t_init, setup, eval_every_epoch=eval_every_epoch)
            with torch.no_grad():
                proba = torch.softmax(teacher(Xa), 1)
            _, kd = _train(Xb, y, Xbt, yt, s_init, setup, proba, eval_every_epoch)
            _, nokd = _train(Xb, y, Xbt, yt, s_init, setup, None, eval_every_epoch)
            rows.append((run, o, t_acc, nokd, kd))
    return rows


def _batched_rows(frame):
    return [
        tuple(r)
        for r in frame[["run", "overlap", "teacher_acc", "student_nokd_acc", "student_kd_acc"]].itertuples(index=False)
    ]


def thread_comparison(n_models=42, repeats=3):
    """Seconds for 1000 batched steps of ``n_models`` 200 x 50 models with 1 vs 2 torch threads."""
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((200, 50)).astype(np.float32) for _ in range(n_models)]
    y = np.stack([(x[:, :5].sum(1) > 0).astype(np.int64) for x in X])
    W = _batched_linear.stack_linear([default_linear_init(50, 2, s) for s in range(n_models)])
    X1 = _batched_linear.stack_inputs(X)
    original = _batched_linear.torch_threads
    times = {1: [], 2: []}
    try:
        for _ in range(repeats):
            for n_threads in (1, 2):
                _batched_linear.torch_threads = lambda _n, k=n_threads: torch_threads(k)
                start = time.perf_counter()
                _batched_linear.train_softmax_batch(W, X1, y, lr=0.1, n_epochs=1000)
                times[n_threads].append(time.perf_counter() - start)
    finally:
        _batched_linear.torch_threads = original
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    setup = synthetic.PAPER_SETUP
    print(
        f"load average before: {os.getloadavg()}; torch {torch.__version__}, default threads {torch.get_num_threads()}"
    )
    n_models = args.runs * len(OVERLAPS) * 3
    synthetic.run_fig2(overlaps=OVERLAPS, runs=1, setup=setup)  # warm-up
    variants = {
        "batched": lambda: _batched_rows(synthetic.run_fig2(overlaps=OVERLAPS, runs=args.runs, setup=setup)),
        "authors": lambda: per_model_fig2(args.runs, 0, setup, eval_every_epoch=True),
        "authors-1thread": lambda: _one_thread(per_model_fig2, args.runs, 0, setup, True),
        "lean-loop": lambda: _one_thread(per_model_fig2, args.runs, 0, setup, False),
    }
    times = {k: [] for k in variants}
    results = {}
    for _ in range(args.repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"subset: Fig. 2 at overlaps {OVERLAPS}, {args.runs} runs, {n_models} models x {setup.n_epochs} epochs; "
        f"median of {args.repeats}"
    )
    for name, seconds in med.items():
        ratio = "" if name == "batched" else f"  -> batched is {seconds / med['batched']:.1f}x faster"
        print(f"  {name:16s} {seconds:8.3f} s  ({1e3 * seconds / n_models:7.2f} ms per model){ratio}")
    ref = np.array([r[2:] for r in sorted(results["batched"])])
    for name in ("authors", "lean-loop"):
        other = np.array([r[2:] for r in sorted(results[name])])
        print(f"  max |accuracy difference| batched vs {name}: {np.abs(ref - other).max():.4f}")
    # The authors' scripts train 1,520 linear models for the full suite: Fig. 2: 180, Fig. 3: 150, Table 2:
    # 7 settings x 10 runs x (3 modes x 5 models + one Algorithm 1 pair).
    per_model = med["authors"] / n_models
    print(f"  the authors' style at this rate: ~{1520 * per_model / 60:.1f} min for the 1,520 models of their scripts")
    threads = thread_comparison()
    print(
        f"one batched fit of 42 models (200 x 50, 1000 steps): 1 thread {threads[1]:.3f} s, 2 threads "
        f"{threads[2]:.3f} s (ratio 2/1 = {threads[2] / threads[1]:.2f})"
    )
    print(f"load average after: {os.getloadavg()}")


def _one_thread(fn, *args):
    with torch_threads(1):
        return fn(*args)


if __name__ == "__main__":
    main()
