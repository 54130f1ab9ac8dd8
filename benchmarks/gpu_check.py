"""One-shot CUDA check of crossmodal: same fits on CUDA and CPU, pickling, timings.

For each of :class:`crossmodal.CrossModalDistiller`,
:class:`crossmodal.ModalityGeneralRanker` and
:func:`crossmodal.permutation_salience`, the script fits (or computes) on the
accelerator and on the CPU with the same ``random_state`` and reports how far
apart the results are (exact equality is not expected across devices: CUDA
draws its own shuffling stream and sums in another order). It also checks
that a model fitted on CUDA can be unpickled and used where CUDA is absent
(a child process with ``CUDA_VISIBLE_DEVICES=""``), and times
``permutation_salience`` (n=100000, d=1024, MLP 1024-256-256-10, M=3) and the
KD loss (``crossmodal.distill.objectives._kl.kd_kl_loss``, forward + backward, n=100000,
K in {10, 1000}).

Every section runs inside ``try``: a failure is recorded (exception and the
head of its traceback) and the next section runs. Results are printed and
written as JSON and markdown to ``$OUT`` (default ``./gpu_check_out``) after
each section, so a run stopped at its time limit still leaves what it did.

Run::

    python benchmarks/gpu_check.py                    # on a CUDA machine
    python benchmarks/gpu_check.py --small --device cpu  # dry run of every path on CPU

Without CUDA (and without ``--device cpu``) it prints "no CUDA" and exits 0.
"""

import argparse
import copy
import datetime
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np
import torch
from scipy.stats import spearmanr

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import crossmodal  # noqa: E402
from crossmodal import CrossModalDistiller, ModalityGeneralRanker, make_modality_venn, permutation_salience  # noqa: E402
from crossmodal.distill.objectives._kl import kd_kl_loss  # noqa: E402
from crossmodal.nets import MLP  # noqa: E402

SEED = 0
T0 = time.perf_counter()
RESULTS = {"sections": {}}

FULL = dict(
    n_train=1500,
    n_test=1500,
    ranker_repeats=5,
    sal_n=100_000,
    sal_d=1024,
    sal_m=3,
    sal_small_n=2000,
    sal_small_m=1,
    kd_n=100_000,
    kd_ks=(10, 1000),
    kd_reps=20,
    kd_cpu_reps=3,
)
SMALL = dict(
    n_train=300,
    n_test=300,
    ranker_repeats=3,
    sal_n=4000,
    sal_d=128,
    sal_m=2,
    sal_small_n=500,
    sal_small_m=1,
    kd_n=20_000,
    kd_ks=(10, 1000),
    kd_reps=5,
    kd_cpu_reps=2,
)


# --------------------------------------------------------------------------- #
# Bookkeeping
# --------------------------------------------------------------------------- #


def elapsed():
    return time.perf_counter() - T0


def log(msg):
    print(f"[{elapsed():7.1f}s] {msg}", flush=True)


def traceback_head(exc, n_lines=25):
    lines = "".join(traceback.format_exception(exc)).splitlines()
    if len(lines) > n_lines:
        lines = lines[:8] + ["..."] + lines[-(n_lines - 9) :]
    return "\n".join(lines)


def run_section(name, fn, args, out_dir, deadline):
    if elapsed() > deadline:
        RESULTS["sections"][name] = {"status": "skipped", "reason": f"time budget ({deadline:.0f} s) spent"}
        log(f"{name}: skipped (budget)")
        write_outputs(out_dir)
        return
    log(f"{name}: start")
    start = time.perf_counter()
    try:
        result = fn(args)
        result = {"status": "ok", **result}
    except Exception as exc:  # noqa: BLE001 - every failure is a finding to record
        result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000], "traceback": traceback_head(exc)}
        log(f"{name}: FAILED\n{result['traceback']}")
    result["section_seconds"] = round(time.perf_counter() - start, 2)
    RESULTS["sections"][name] = result
    log(f"{name}: {result['status']} in {result['section_seconds']} s")
    write_outputs(out_dir)


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device):
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - start


def spearman(a, b):
    rho = spearmanr(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)).statistic
    return float(rho)


def module_device(module):
    return str(next(module.parameters()).device)


# --------------------------------------------------------------------------- #
# Sections
# --------------------------------------------------------------------------- #


def mvd_data(args):
    n = args.sizes["n_train"] + args.sizes["n_test"]
    X_a, X_b, y, info = make_modality_venn(n, n_classes=2, random_state=SEED, return_info=True)
    cut = args.sizes["n_train"]
    return (X_a[:cut], X_b[:cut], y[:cut]), (X_a[cut:], X_b[cut:], y[cut:]), info


def linear_student():
    from skorch import NeuralNetClassifier

    return NeuralNetClassifier(MLP, module__hidden_sizes=(), verbose=0)


def section_distiller(args):
    (Xa, Xb, y), (Xa_te, Xb_te, y_te), _ = mvd_data(args)
    out = {
        "data": f"make_modality_venn, {len(y)} train / {len(y_te)} test rows, "
        f"X_a {Xa.shape[1]} cols, X_b {Xb.shape[1]} cols"
    }
    fitted = {}
    for student_name in ("mlp", "linear"):
        row = {}
        proba = {}
        for dev in (args.device, "cpu"):
            student = None if student_name == "mlp" else linear_student()
            est = CrossModalDistiller(student=student, device=dev, random_state=SEED)
            est, seconds = timed(lambda est=est: est.fit(Xb, y, X_teacher=Xa), dev)
            proba[dev] = est.predict_proba(Xb_te)
            row[f"fit_seconds_{dev}"] = round(seconds, 2)
            row[f"test_accuracy_{dev}"] = float(np.mean(est.predict(Xb_te) == y_te))
            row[f"student_param_device_{dev}"] = module_device(est.student_.module_)
            row[f"final_train_loss_{dev}"] = float(est.history_[-1, "train_loss"])
            fitted[(student_name, dev)] = est
        acc, cpu = fitted[(student_name, args.device)], fitted[(student_name, "cpu")]
        row["max_abs_diff_predict_proba"] = float(np.max(np.abs(proba[args.device] - proba["cpu"])))
        row["prediction_agreement"] = float(np.mean(proba[args.device].argmax(1) == proba["cpu"].argmax(1)))
        row["max_abs_diff_teacher_proba"] = float(np.max(np.abs(acc.teacher_proba_ - cpu.teacher_proba_)))
        out[f"student_{student_name}"] = row
        log(f"  distiller/{student_name}: {row}")
    args.fitted_distiller = fitted[("mlp", args.device)]
    args.test_data = (Xa_te, Xb_te, y_te)
    return out


def section_ranker(args):
    (Xa, Xb, y), _, info = mvd_data(args)
    general = np.asarray(info["general_mask_a"], dtype=bool)
    out = {"n_general_channels_a": int(general.sum()), "n_channels_a": int(Xa.shape[1])}
    fitted = {}
    for dev in (args.device, "cpu"):
        est = ModalityGeneralRanker(n_repeats=args.sizes["ranker_repeats"], device=dev, random_state=SEED)
        est, seconds = timed(lambda est=est: est.fit(Xa, y, X_b=Xb), dev)
        top = np.argsort(-est.salience_, kind="stable")[: general.sum()]
        out[f"fit_seconds_{dev}"] = round(seconds, 2)
        out[f"net_device_{dev}"] = module_device(est.nets_[0])
        out[f"top_k_that_are_general_{dev}"] = float(general[top].mean())
        fitted[dev] = est
    acc, cpu = fitted[args.device], fitted["cpu"]
    out["spearman_salience"] = spearman(acc.salience_, cpu.salience_)
    out["max_abs_diff_salience"] = float(np.max(np.abs(acc.salience_ - cpu.salience_)))
    out["support_agreement"] = float(np.mean(acc.support_ == cpu.support_))
    # Same trained pair, salience on both devices (same permutations): isolates step 2.
    mod_a, mod_b = acc.nets_
    res_acc = permutation_salience(
        mod_a,
        mod_b,
        Xa.astype(np.float32),
        Xb.astype(np.float32),
        n_repeats=args.sizes["ranker_repeats"],
        random_state=SEED,
    )
    cpu_a, cpu_b = copy.deepcopy(mod_a).cpu(), copy.deepcopy(mod_b).cpu()
    res_cpu = permutation_salience(
        cpu_a,
        cpu_b,
        Xa.astype(np.float32),
        Xb.astype(np.float32),
        n_repeats=args.sizes["ranker_repeats"],
        random_state=SEED,
    )
    imp_a, imp_c = res_acc.importances, res_cpu.importances
    out["same_pair_salience"] = {
        "spearman_importances_mean": spearman(res_acc.importances_mean, res_cpu.importances_mean),
        "max_rel_diff_importances": float(np.max(np.abs(imp_a - imp_c) / np.maximum(np.abs(imp_c), 1e-12))),
        "max_abs_diff_importances": float(np.max(np.abs(imp_a - imp_c))),
    }
    args.fitted_ranker = acc
    log(f"  ranker: {out}")
    return out


CHILD = r"""
import json, pickle, sys, traceback
import numpy as np, torch
d = sys.argv[1]
X_b = np.load(d + "/Xb_test.npy"); X_a = np.load(d + "/Xa_test.npy")
res = {"child_cuda_available": torch.cuda.is_available()}
def attempt(name, fn):
    try:
        res[name] = {"ok": True, **fn()}
    except Exception as exc:
        lines = "".join(traceback.format_exception(exc)).splitlines()
        error = f"{type(exc).__name__}: {exc}"[:800]
        res[name] = {"ok": False, "error": error, "traceback_tail": "\n".join(lines[-6:])}
def load_pickle(name):
    with open(d + "/" + name, "rb") as f:
        return pickle.load(f)
def load_torch(name):
    return torch.load(d + "/" + name, map_location="cpu", weights_only=False)
def distiller(loader, name):
    def fn():
        est = loader(name)
        np.save(d + "/proba_" + name + ".npy", est.predict_proba(X_b))
        return {"student_param_device": str(next(est.student_.module_.parameters()).device),
                "student_device_attr": str(est.student_.device)}
    return fn
def ranker(loader, name):
    def fn():
        est = loader(name)
        np.save(d + "/transform_" + name + ".npy", est.transform(X_a))
        return {"nets_device": str(next(est.nets_[0].parameters()).device)}
    return fn
attempt("distiller_pickle", distiller(load_pickle, "distiller.pkl"))
attempt("distiller_torch_load_map_location_cpu", distiller(load_torch, "distiller.pt"))
attempt("ranker_pickle", ranker(load_pickle, "ranker.pkl"))
attempt("ranker_torch_load_map_location_cpu", ranker(load_torch, "ranker.pt"))
attempt("ranker_pickle_after_nets_moved_to_cpu", ranker(load_pickle, "ranker_cpu_nets.pkl"))
print(json.dumps(res))
"""


def section_pickle(args):
    est = getattr(args, "fitted_distiller", None)
    ranker = getattr(args, "fitted_ranker", None)
    if est is None or ranker is None:
        raise RuntimeError("the distiller and ranker sections must succeed first")
    Xa_te, Xb_te, _ = args.test_data
    Xa_te, Xb_te = Xa_te.astype(np.float32), Xb_te.astype(np.float32)
    ref_proba = est.predict_proba(Xb_te)
    ref_transform = ranker.transform(Xa_te)
    out = {}

    # In-process (CUDA still visible): round trip, then moving the student to the CPU.
    clone = pickle.loads(pickle.dumps(est))
    out["in_process_pickle_roundtrip"] = {
        "student_param_device": module_device(clone.student_.module_),
        "max_abs_diff_predict_proba": float(np.max(np.abs(clone.predict_proba(Xb_te) - ref_proba))),
    }
    attempts = {}
    for how in ("set_params_device_only", "module_to_cpu_and_set_params"):
        moved = copy.deepcopy(est)
        try:
            if how == "module_to_cpu_and_set_params":
                moved.student_.module_.to("cpu")
            moved.student_.set_params(device="cpu")
            proba = moved.predict_proba(Xb_te)
            attempts[how] = {"ok": True, "max_abs_diff_predict_proba": float(np.max(np.abs(proba - ref_proba)))}
        except Exception as exc:  # noqa: BLE001
            attempts[how] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:800]}
    out["in_process_student_to_cpu"] = attempts

    # A child process without CUDA.
    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "Xb_test.npy"), Xb_te)
        np.save(os.path.join(d, "Xa_test.npy"), Xa_te)
        with open(os.path.join(d, "distiller.pkl"), "wb") as f:
            pickle.dump(est, f)
        torch.save(est, os.path.join(d, "distiller.pt"))
        with open(os.path.join(d, "ranker.pkl"), "wb") as f:
            pickle.dump(ranker, f)
        torch.save(ranker, os.path.join(d, "ranker.pt"))
        cpu_nets = copy.deepcopy(ranker)
        cpu_nets.nets_ = tuple(m.cpu() for m in cpu_nets.nets_)
        with open(os.path.join(d, "ranker_cpu_nets.pkl"), "wb") as f:
            pickle.dump(cpu_nets, f)
        env = dict(
            os.environ, CUDA_VISIBLE_DEVICES="", PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")])
        )
        proc = subprocess.run([sys.executable, "-c", CHILD, d], capture_output=True, text=True, env=env, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"child process failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
        child = json.loads(proc.stdout.strip().splitlines()[-1])
        for name, value in child.items():
            if not isinstance(value, dict) or not value.get("ok"):
                continue
            for prefix, ref in (("proba_", ref_proba), ("transform_", ref_transform)):
                file_stem = {
                    "distiller_pickle": "distiller.pkl",
                    "distiller_torch_load_map_location_cpu": "distiller.pt",
                    "ranker_pickle": "ranker.pkl",
                    "ranker_torch_load_map_location_cpu": "ranker.pt",
                    "ranker_pickle_after_nets_moved_to_cpu": "ranker_cpu_nets.pkl",
                }[name]
                path = os.path.join(d, prefix + file_stem + ".npy")
                if os.path.exists(path):
                    value["max_abs_diff_vs_cuda"] = float(np.max(np.abs(np.load(path) - ref)))
        warnings = [line for line in proc.stderr.splitlines() if "Warning" in line]
        out["child_without_cuda"] = child
        out["child_warnings"] = warnings[:5]
    log(f"  pickle: {json.dumps(out)[:1500]}")
    return out


def salience_problem(n, d, seed=SEED):
    rng = np.random.RandomState(seed)
    X_a = rng.randn(n, d).astype(np.float32)
    X_b = rng.randn(n, 64).astype(np.float32)
    torch.manual_seed(seed)
    module_a = MLP(d, 10, hidden_sizes=(256, 256)).eval()
    module_b = MLP(64, 10, hidden_sizes=(64,)).eval()
    return X_a, X_b, module_a, module_b


def dense_macs_per_row(d):
    return d * 256 + 256 * 256 + 256 * 10


def salience_run(X_a, X_b, module_a, module_b, device, n_repeats):
    a, b = copy.deepcopy(module_a).to(device), copy.deepcopy(module_b).to(device)
    return timed(lambda: permutation_salience(a, b, X_a, X_b, n_repeats=n_repeats, random_state=SEED), device)


def throughput(n, d, n_repeats, seconds):
    pairs = d * n_repeats
    flops = 2.0 * dense_macs_per_row(d) * n * pairs
    return {
        "seconds": round(seconds, 3),
        "pairs": pairs,
        "ns_per_pair_row": round(1e9 * seconds / (pairs * n), 3),
        "dense_equivalent_gflops": round(flops / seconds / 1e9, 1),
    }


def section_salience_timing(args):
    s = args.sizes
    d = s["sal_d"]
    out = {
        "network": f"MLP {d}->256->256->10 (module_b MLP 64->64->10), float32, distance mse",
        "flop_convention": "2 x dense multiply-adds of a full forward of module_a per (channel, repeat, row); "
        "the CPU compiled path skips the first layer (rank-1 update), so its figure is "
        "'dense-equivalent', not executed FLOPs",
        "tf32_matmul_allowed": bool(torch.backends.cuda.matmul.allow_tf32),
    }
    # Warm-up: numba kernels, cuBLAS handles.
    Xw_a, Xw_b, mw_a, mw_b = salience_problem(64, 16)
    for dev in (args.device, "cpu"):
        salience_run(Xw_a, Xw_b, mw_a, mw_b, dev, 1)
    # Same small size on both devices.
    n_small, m_small = s["sal_small_n"], s["sal_small_m"]
    X_a, X_b, mod_a, mod_b = salience_problem(n_small, d)
    res = {}
    for dev in ("cpu", args.device):
        res[dev], seconds = salience_run(X_a, X_b, mod_a, mod_b, dev, m_small)
        out[f"small_n{n_small}_m{m_small}_{dev}"] = throughput(n_small, d, m_small, seconds)
        log(f"  salience small {dev}: {out[f'small_n{n_small}_m{m_small}_{dev}']}")
    out["small_spearman_cpu_vs_device"] = spearman(res["cpu"].importances_mean, res[args.device].importances_mean)
    out["small_max_rel_diff_cpu_vs_device"] = float(
        np.max(
            np.abs(res["cpu"].importances - res[args.device].importances)
            / np.maximum(np.abs(res["cpu"].importances), 1e-12)
        )
    )
    out["small_speedup_device_over_cpu"] = round(
        out[f"small_n{n_small}_m{m_small}_cpu"]["seconds"]
        / out[f"small_n{n_small}_m{m_small}_{args.device}"]["seconds"],
        2,
    )
    del X_a, X_b
    # Large size on the accelerator, unless the small run projects past the budget.
    n, m = s["sal_n"], s["sal_m"]
    per_pair_row = out[f"small_n{n_small}_m{m_small}_{args.device}"]["ns_per_pair_row"] * 1e-9
    projected = per_pair_row * n * d * m
    left = args.deadline - elapsed()
    out["large_projected_seconds"] = round(projected, 1)
    if projected > 0.6 * left and m > 1:
        m = 1
        out["large_note"] = f"M reduced to 1: projected {projected:.0f} s at M={s['sal_m']}, {left:.0f} s left"
    if per_pair_row * n * d * m > 0.8 * left:
        out["large_note"] = f"skipped: projected {per_pair_row * n * d * m:.0f} s, {left:.0f} s left"
        return out
    X_a, X_b, mod_a, mod_b = salience_problem(n, d)
    result, seconds = salience_run(X_a, X_b, mod_a, mod_b, args.device, m)
    out[f"large_n{n}_d{d}_m{m}_{args.device}"] = throughput(n, d, m, seconds)
    out["large_importances_finite"] = bool(np.isfinite(result.importances).all())
    if torch.device(args.device).type == "cuda":
        out["cuda_max_memory_allocated_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    out["large_speedup_per_pair_row_vs_small_cpu"] = round(
        out[f"small_n{n_small}_m{m_small}_cpu"]["ns_per_pair_row"]
        / out[f"large_n{n}_d{d}_m{m}_{args.device}"]["ns_per_pair_row"],
        1,
    )
    log(f"  salience large {args.device}: {out[f'large_n{n}_d{d}_m{m}_{args.device}']}")
    return out


def kd_time(n, k, device, reps):
    gen = torch.Generator().manual_seed(SEED)
    s0 = torch.randn(n, k, generator=gen).to(device)
    lt = torch.log_softmax(torch.randn(n, k, generator=gen), dim=1).to(device)
    times = []
    for rep in range(reps + 2):
        s = s0.clone().requires_grad_(True)
        sync(device)
        start = time.perf_counter()
        loss = kd_kl_loss(s, lt)
        loss.backward()
        sync(device)
        if rep >= 2:
            times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    return {
        "median_ms": round(1e3 * seconds, 3),
        "reps": reps,
        "gelements_per_s": round(n * k / seconds / 1e9, 2),
        "loss": float(loss.detach()),
    }


def section_kd_loss(args):
    s = args.sizes
    out = {
        "what": "kd_kl_loss(s, log_softmax(t)) forward + backward, float32, batchmean, T=1; "
        "median wall time incl. synchronize"
    }
    for k in s["kd_ks"]:
        for dev, reps in ((args.device, s["kd_reps"]), ("cpu", s["kd_cpu_reps"])):
            out[f"n{s['kd_n']}_K{k}_{dev}"] = kd_time(s["kd_n"], k, dev, reps)
        dev_row, cpu_row = out[f"n{s['kd_n']}_K{k}_{args.device}"], out[f"n{s['kd_n']}_K{k}_cpu"]
        out[f"K{k}_speedup_device_over_cpu"] = round(cpu_row["median_ms"] / dev_row["median_ms"], 1)
        out[f"K{k}_loss_abs_diff"] = abs(cpu_row["loss"] - dev_row["loss"])
        log(f"  kd K={k}: {args.device} {dev_row}, cpu {cpu_row}")
    return out


# --------------------------------------------------------------------------- #
# Output
# --------------------------------------------------------------------------- #


def write_outputs(out_dir):
    RESULTS["elapsed_seconds"] = round(elapsed(), 1)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "gpu_check.json"), "w") as f:
        json.dump(RESULTS, f, indent=2, default=str)
    lines = ["# crossmodal GPU check", ""]
    for key, value in RESULTS.items():
        if key != "sections":
            lines.append(f"- **{key}**: {value}")
    for name, section in RESULTS["sections"].items():
        lines += ["", f"## {name}: {section.get('status')}", ""]
        for key, value in section.items():
            if key == "traceback":
                lines += ["", "```", str(value), "```"]
            elif key != "status":
                lines.append(f"- {key}: `{json.dumps(value, default=str)}`")
    with open(os.path.join(out_dir, "gpu_check.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def environment(device):
    import numba
    import sklearn
    import skorch

    env = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "numba": numba.__version__,
        "sklearn": sklearn.__version__,
        "skorch": skorch.__version__,
        "crossmodal": crossmodal.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "device_under_test": device,
    }
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
        env["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    return env


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="small sizes (local dry run)")
    parser.add_argument("--device", default="cuda", help="device under test (default cuda; 'cpu' for a dry run)")
    parser.add_argument("--out", default=os.environ.get("OUT") or "gpu_check_out", help="output folder")
    parser.add_argument("--budget", type=float, default=220.0, help="seconds after which sections are skipped")
    args = parser.parse_args(argv)
    args.sizes = SMALL if args.small else FULL
    args.deadline = args.budget
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        print("no CUDA: torch.cuda.is_available() is False; nothing to check (use --device cpu for a dry run).")
        RESULTS["environment"] = environment(args.device)
        RESULTS["note"] = "no CUDA"
        write_outputs(args.out)
        return 0
    RESULTS["environment"] = environment(args.device)
    RESULTS["sizes"] = args.sizes
    log(json.dumps(RESULTS["environment"]))
    # Cheapest and most independent first; the pickle check needs the two fits before it.
    for name, fn in (
        ("kd_loss", section_kd_loss),
        ("distiller", section_distiller),
        ("ranker", section_ranker),
        ("pickle", section_pickle),
        ("salience_timing", section_salience_timing),
    ):
        run_section(name, fn, args, args.out, args.deadline)
    write_outputs(args.out)
    print("\n==== SUMMARY ====")
    print(json.dumps(RESULTS, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
