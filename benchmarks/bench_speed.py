"""Cost of AutoBalanceClassifier against a plain skorch fit: time, hyper-step cost, memory, scaling.

What is measured
----------------
Data: ``make_classification`` with ``--n`` rows (default 20,000), 64 features
(32 informative, seeded), 10 classes drawn directly with an exponential
long-tailed class profile ``pi_k ~ ratio ** (-k / 9)`` (``--ratio`` 100: head
~8,000 rows, tail ~80), ``flip_y=0``; float32 X, int64 y. Every variant uses
the same network, ``sklearn_autobalance.MLP(64, 10, (128, 128))``, Adam with
lr 1e-3, ``--epochs`` (default 10) and batch size 128:

(a) ``skorch``: ``skorch.NeuralNetClassifier(module=MLP, criterion=CrossEntropyLoss,
    train_split=None, optimizer=Adam, iterator_train__shuffle=True)`` (shuffled,
    like the estimator; skorch's default DataLoader with per-sample collation);
(b) ``fixed``: ``AutoBalanceClassifier(search=None, init="ce")``: one training
    run on all data (how every fixed baseline runs);
(c) ``autobalance``: ``AutoBalanceClassifier()`` with its default search
    (search run on the 80 % S_T split with hyper-steps, then retraining on all
    data: two training runs);
(r) ``torch_loop``: reference floor, a hand-written torch loop over pre-made
    shuffled tensors (no skorch, no validation).

1. Fit wall time: ``time.perf_counter`` around ``fit``, in ONE process,
   variants alternating (order rotated every round), one round per seed of
   ``--seeds`` (default 0 1 2: data and weights seeded by it) times
   ``--repeats`` (default 1); the median is reported, and ratios to (a). One small warm-up
   fit of every variant first absorbs one-time costs (torch imports
   ``torch._dynamo`` lazily in its first optimiser, ~3 s).
2. Per-step cost, measured on the real code: one extra instrumented fit of (c)
   and of (a) with ``LossSearch.hyper_step``, ``TabularNet.train_step``
   (AutoBalance's net), ``NeuralNetClassifier.train_step`` (skorch's),
   ``LossSearch.on_epoch_end`` (full-validation-set scoring) and
   ``TabularNet.fit`` (the two phases) wrapped in ``perf_counter`` timers (with
   ``torch.cuda.synchronize`` on a GPU). Reported: median time of one
   hyper-step and of one training step, their ratio, counts and totals.
3. Peak memory: each variant is fitted in its own subprocess
   (``python bench_speed.py --child VARIANT``) that reports its peak RSS as
   ``VmHWM`` from ``/proc/self/status`` (``resource.getrusage(RUSAGE_SELF).ru_maxrss``
   is recorded too, but on Linux it includes the parent's RSS at fork time,
   because ``execve`` folds the forked address space's high-water mark into
   it: every child read the parent's ~430 MiB) and, on CUDA,
   ``torch.cuda.max_memory_allocated``. A ``baseline`` child does everything
   but the fit (imports, data, first optimiser); the table gives peak RSS, the
   increment above the baseline, and ratios to (a).
4. Scaling: fit time of (c) (and (b) for reference) at ``--scaling-n`` rows
   (default 10k, 40k, 160k) with ``--scaling-epochs`` epochs (default 3), one
   fit each; time per sample-epoch shows whether the cost is linear in n.

``--threads`` (default 1) sets ``torch.set_num_threads`` in every process: on a
shared 2-core machine two threads made these small fits ~7x slower.

Examples
--------
Full run (CPU; about 5 minutes on 2 shared cores, estimated from one round)::

    python benchmarks/bench_speed.py

On a GPU::

    python benchmarks/bench_speed.py --device cuda --out benchmarks/results/speed_cuda.md

Smoke test (< 2 minutes)::

    python benchmarks/bench_speed.py --quick
"""

import argparse
import contextlib
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

VARIANTS = ["skorch", "fixed", "autobalance", "ab_split", "ab_cv3", "ab_cv5", "ab_previous",
            "torch_loop"]
DEFAULT_VARIANTS = ["skorch", "fixed", "autobalance", "torch_loop"]
LABELS = {
    "skorch": "(a) skorch NeuralNetClassifier, CE",
    "fixed": "(b) AutoBalanceClassifier(search=None, init='ce')",
    "autobalance": "(c) AutoBalanceClassifier() default search",
    "ab_split": "(c1) AutoBalanceClassifier(cv=None): one split + control twin",
    "ab_cv3": "(c3) AutoBalanceClassifier(cv=3): 3 fold networks + 3 control twins",
    "ab_cv5": "(c5) AutoBalanceClassifier(cv=5): 5 fold networks + 5 control twins",
    "ab_previous": "(c0) AutoBalanceClassifier(cv=None, selection='error'): the previous default",
    "torch_loop": "(r) hand-written torch loop (reference)",
    "baseline": "baseline: imports + data, no fit",
}


# ----------------------------------------------------------------------------- data, models
def make_data(n, ratio, n_features=64, n_classes=10, seed=0):
    """Long-tailed ``make_classification`` data, drawn directly with the class profile."""
    from sklearn.datasets import make_classification

    profile = ratio ** (-np.arange(n_classes) / (n_classes - 1))
    X, y = make_classification(
        n_samples=n, n_features=n_features, n_informative=n_features // 2,
        n_redundant=n_features // 8, n_classes=n_classes, n_clusters_per_class=2,
        weights=list(profile / profile.sum()), flip_y=0.0, class_sep=1.5, random_state=seed)
    return X.astype(np.float32), y.astype(np.int64)


def sync(device):
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def make_estimator(variant, args, n_features, n_classes, epochs, seed=0):
    """The unfitted estimator of a variant (an object with ``fit(X, y)``)."""
    import torch
    from skorch import NeuralNetClassifier

    from sklearn_autobalance import MLP, AutoBalanceClassifier

    hidden = tuple(args.hidden)
    common = dict(max_epochs=epochs, batch_size=args.batch_size, lr=args.lr, device=args.device)
    if variant == "skorch":
        return NeuralNetClassifier(
            module=MLP, module__n_features=n_features, module__n_classes=n_classes,
            module__hidden_layer_sizes=hidden, criterion=torch.nn.CrossEntropyLoss,
            train_split=None, optimizer=torch.optim.Adam, iterator_train__shuffle=True,
            verbose=0, **common)
    if variant == "fixed":
        return AutoBalanceClassifier(search=None, init="ce", hidden_layer_sizes=hidden,
                                     random_state=seed, **common)
    if variant == "autobalance":
        return AutoBalanceClassifier(hidden_layer_sizes=hidden, random_state=seed, **common)
    searched = {"ab_split": dict(cv=None), "ab_cv3": dict(cv=3), "ab_cv5": dict(cv=5),
                "ab_previous": dict(cv=None, selection="error")}
    if variant in searched:
        return AutoBalanceClassifier(hidden_layer_sizes=hidden, random_state=seed,
                                     **searched[variant], **common)
    if variant == "torch_loop":
        return TorchLoop(n_features, n_classes, hidden, seed=seed, **common)
    raise ValueError(variant)


class TorchLoop:
    """Minimal reference: Adam + CE over pre-made shuffled tensor batches, nothing else."""

    def __init__(self, n_features, n_classes, hidden, max_epochs, batch_size, lr, device,
                 seed=0):
        self.args, self.seed = (n_features, n_classes, hidden), seed
        self.max_epochs, self.batch_size, self.lr, self.device = max_epochs, batch_size, lr, device

    def fit(self, X, y):
        import torch

        from sklearn_autobalance import MLP

        torch.manual_seed(self.seed)
        module = MLP(*self.args).to(self.device)
        optimizer = torch.optim.Adam(module.parameters(), lr=self.lr)
        Xt = torch.as_tensor(X, dtype=torch.float32, device=self.device)
        yt = torch.as_tensor(y, dtype=torch.long, device=self.device)
        loss_fn = torch.nn.CrossEntropyLoss()
        for _ in range(self.max_epochs):
            order = torch.randperm(len(yt), device=self.device)
            for start in range(0, len(yt), self.batch_size):
                idx = order[start:start + self.batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(module(Xt[idx]), yt[idx])
                loss.backward()
                optimizer.step()
        sync(self.device)
        self.module_ = module
        return self


def timed_fit(variant, args, X, y, epochs, seed=0):
    if variant == "skorch":
        import torch

        torch.manual_seed(seed)
    est = make_estimator(variant, args, X.shape[1], int(y.max()) + 1, epochs, seed)
    sync(args.device)
    start = time.perf_counter()
    est.fit(X, y)
    sync(args.device)
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- instrumentation
@contextlib.contextmanager
def instrument(device):
    """Wrap the real methods with timers; yields the dict of recorded durations (s)."""
    from skorch import NeuralNetClassifier

    from sklearn_autobalance._network import TabularNet
    from sklearn_autobalance._search import LossSearch

    record = {"phase": None, "phases": [], "train_step": {}, "hyper_step": [],
              "epoch_end_eval": [], "skorch_train_step": []}

    def timer(func, sink):
        @functools.wraps(func)
        def wrapper(*a, **kw):
            sync(device)
            start = time.perf_counter()
            out = func(*a, **kw)
            sync(device)
            sink(time.perf_counter() - start)
            return out
        return wrapper

    def phase_fit(func):
        @functools.wraps(func)
        def wrapper(self, *a, **kw):
            name = "search" if any(n == "loss_search" for n, _ in (self.callbacks or [])) \
                else "retrain/fixed"
            record["phase"] = name
            record["train_step"].setdefault(name, [])
            start = time.perf_counter()
            out = func(self, *a, **kw)
            sync(device)
            record["phases"].append((name, time.perf_counter() - start))
            return out
        return wrapper

    patches = [
        (LossSearch, "hyper_step", timer(LossSearch.hyper_step, record["hyper_step"].append)),
        (LossSearch, "on_epoch_end",
         timer(LossSearch.on_epoch_end, record["epoch_end_eval"].append)),
        (TabularNet, "train_step",
         timer(TabularNet.train_step,
               lambda t: record["train_step"][record["phase"]].append(t))),
        (TabularNet, "fit", phase_fit(TabularNet.fit)),
        (NeuralNetClassifier, "train_step",
         timer(NeuralNetClassifier.train_step, record["skorch_train_step"].append)),
    ]
    saved = [(cls, name, cls.__dict__.get(name)) for cls, name, _ in patches]
    try:
        for cls, name, func in patches:
            setattr(cls, name, func)
        yield record
    finally:
        for cls, name, original in saved:
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)


def _median_ms(values):
    return 1e3 * statistics.median(values) if values else None


def step_costs(args, X, y):
    """Instrumented fits of (c) and (a): per-step timings from the real code."""
    out = {}
    with instrument(args.device) as rec:
        start = time.perf_counter()
        make_estimator("autobalance", args, X.shape[1], int(y.max()) + 1, args.epochs).fit(X, y)
        out["autobalance_fit_s"] = time.perf_counter() - start
        ab = {k: (list(v) if isinstance(v, list) else {p: list(t) for p, t in v.items()})
              for k, v in rec.items() if k in ("hyper_step", "epoch_end_eval", "train_step")}
        out["phases"] = list(rec["phases"])
        start = time.perf_counter()
        make_estimator("skorch", args, X.shape[1], int(y.max()) + 1, args.epochs).fit(X, y)
        out["skorch_fit_s"] = time.perf_counter() - start
        sk = list(rec["skorch_train_step"])
    search_steps = ab["train_step"].get("search", [])
    retrain_steps = ab["train_step"].get("retrain/fixed", [])
    all_steps = search_steps + retrain_steps
    out.update({
        "n_hyper_steps": len(ab["hyper_step"]),
        "n_train_steps_search": len(search_steps),
        "n_train_steps_retrain": len(retrain_steps),
        "hyper_step_median_ms": _median_ms(ab["hyper_step"]),
        "hyper_step_total_s": sum(ab["hyper_step"]),
        "epoch_end_eval_total_s": sum(ab["epoch_end_eval"]),
        "n_epoch_end_evals": len(ab["epoch_end_eval"]),
        # The hyper-step runs inside on_batch_end, i.e. after train_step returns:
        # the train_step timings do not include it.
        "train_step_median_ms": 1e3 * statistics.median(all_steps),
        "train_step_search_median_ms": _median_ms(search_steps),
        "train_step_total_s": sum(all_steps),
        "skorch_train_step_median_ms": 1e3 * statistics.median(sk),
        "skorch_train_step_total_s": sum(sk),
        "n_skorch_train_steps": len(sk),
    })
    if out["hyper_step_median_ms"] is not None:
        out["hyper_over_train_step"] = out["hyper_step_median_ms"] / out["train_step_median_ms"]
    return out


# ----------------------------------------------------------------------------- memory (children)


def child_main(args):
    """Subprocess body: data, optionally one fit, then print peak memory as JSON."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    X, y = make_data(args.n, args.ratio, seed=0)
    # The first optimiser imports torch._dynamo (tens of MB): do it in every child.
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    if args.device.startswith("cuda"):
        torch.zeros(1, device=args.device)
        torch.cuda.reset_peak_memory_stats()
    fit_s = None
    if args.child != "baseline":
        fit_s = timed_fit(args.child, args, X, y, args.memory_epochs)
    result = {"variant": args.child, "peak_rss_mib": _common.vm_hwm_mib(),
              "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
              "fit_s": fit_s}
    if result["peak_rss_mib"] is None:
        result["peak_rss_mib"] = result["ru_maxrss_mib"]
    if args.device.startswith("cuda"):
        result["cuda_max_allocated_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
    print("CHILD_RESULT " + json.dumps(result), flush=True)


def memory_runs(args, variants):
    results = {}
    for variant in ["baseline", *variants]:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", variant,
               "--n", str(args.n), "--ratio", str(args.ratio), "--memory-epochs",
               str(args.memory_epochs), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
               "--device", args.device, "--threads", str(args.threads),
               "--hidden", *map(str, args.hidden)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("CHILD_RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"  memory child {variant} failed (rc {proc.returncode}):\n{proc.stderr[-2000:]}")
            continue
        results[variant] = json.loads(lines[-1][len("CHILD_RESULT "):])
        print(f"  memory {variant:12s} peak RSS {results[variant]['peak_rss_mib']:8.1f} MiB "
              f"(ru_maxrss {results[variant]['ru_maxrss_mib']:.1f} MiB)", flush=True)
    return results


# ----------------------------------------------------------------------------- report
def to_markdown(p):
    a = p["args"]
    md = ["### Speed and memory: AutoBalanceClassifier vs a plain skorch fit\n",
          _common.machine_markdown(p["machine"], p["command"]),
          f"Data: {p['data']}. Network MLP(64, 10, {tuple(a['hidden'])}), Adam lr {a['lr']}, "
          f"batch size {a['batch_size']}, {a['epochs']} epochs; AutoBalance default search "
          f"(`search='l+delta'`, `init='la'`, S_T/S_V 80/20, search run then retraining).\n"]
    t = p["timing"]
    base = t["median_s"]["skorch"]
    rows = []
    for v in p["variants"]:
        runs = ", ".join(f"{x:.2f}" for x in t["runs_s"][v])
        rows.append([LABELS[v], f"{t['median_s'][v]:.2f}", runs, f"{t['median_s'][v] / base:.2f}"])
    n_rounds = len(a["seeds"]) * a["repeats"]
    md.append(f"**Fit wall time** (median of {n_rounds} alternating rounds in one process, "
              f"data/weight seeds {a['seeds']}, variant order rotated each round):\n")
    md.append(_common.markdown_table(["Variant", "median (s)", "runs (s)", "ratio to (a)"], rows))
    if "fixed" in t["median_s"] and "autobalance" in t["median_s"]:
        md.append(f"(b)/(a) = {t['median_s']['fixed'] / base:.2f}, "
                  f"(c)/(a) = {t['median_s']['autobalance'] / base:.2f}, "
                  f"(c)/(b) = {t['median_s']['autobalance'] / t['median_s']['fixed']:.2f}.\n")

    s = p.get("steps")
    if s:
        phases = ", ".join(f"{name} {sec:.2f} s" for name, sec in s["phases"])
        md.append("**Per-step cost** (instrumented fits: timers around the real "
                  "`LossSearch.hyper_step`, `TabularNet.train_step`, "
                  "`NeuralNetClassifier.train_step`):\n")
        hyper = (f"{s['hyper_step_median_ms']:.2f}" if s["hyper_step_median_ms"] is not None
                 else "n/a")
        rows = [
            ["AutoBalance training step (forward, backward, Adam)",
             f"{s['train_step_median_ms']:.3f}",
             f"{s['n_train_steps_search']} + {s['n_train_steps_retrain']}",
             f"{s['train_step_total_s']:.2f}"],
            ["AutoBalance hyper-step (implicit hyper-gradient)", hyper,
             str(s["n_hyper_steps"]), f"{s['hyper_step_total_s']:.2f}"],
            ["AutoBalance epoch-end validation scoring", "",
             str(s["n_epoch_end_evals"]), f"{s['epoch_end_eval_total_s']:.2f}"],
            ["skorch training step (excl. DataLoader)", f"{s['skorch_train_step_median_ms']:.3f}",
             str(s["n_skorch_train_steps"]), f"{s['skorch_train_step_total_s']:.2f}"],
        ]
        md.append(_common.markdown_table(["Operation", "median (ms)", "count", "total (s)"], rows))
        ratio = s.get("hyper_over_train_step")
        md.append((f"One hyper-step costs {ratio:.1f} training steps. " if ratio else "")
                  + f"Instrumented AutoBalance fit {s['autobalance_fit_s']:.2f} s ({phases}); "
                  f"instrumented skorch fit {s['skorch_fit_s']:.2f} s, of which "
                  f"{s['skorch_train_step_total_s']:.2f} s in training steps (the rest: "
                  f"DataLoader collation, callbacks).\n")

    m = p.get("memory")
    if m and "skorch" in m:
        base_rss = m.get("baseline", {}).get("peak_rss_mib")
        sk = m["skorch"]["peak_rss_mib"]
        sk_inc = sk - base_rss if base_rss is not None else None
        cuda = "cuda_max_allocated_mib" in m["skorch"]
        rows = []
        for v in ["baseline", *p["variants"]]:
            if v not in m:
                continue
            rss = m[v]["peak_rss_mib"]
            inc = rss - base_rss if base_rss is not None else None
            row = [LABELS[v], f"{rss:.0f}", f"{rss / sk:.2f}",
                   "" if inc is None or v == "baseline" else f"{inc:.0f}",
                   "" if inc is None or v == "baseline" or not sk_inc
                   else f"{inc / sk_inc:.2f}"]
            if cuda:
                row.append(f"{m[v]['cuda_max_allocated_mib']:.1f}")
            rows.append(row)
        header = ["Variant", "peak RSS (MiB)", "ratio to (a)", "above baseline (MiB)",
                  "ratio to (a), above baseline"]
        if cuda:
            header.append("CUDA max allocated (MiB)")
        md.append(f"**Peak memory** (one subprocess per variant, peak RSS = `VmHWM` of "
                  f"/proc/self/status; `ru_maxrss` inherits the parent's RSS across "
                  f"fork+exec on Linux, so it is only kept in the JSON; "
                  f"{a['memory_epochs']} epoch(s) on the same data):\n")
        md.append(_common.markdown_table(header, rows))

    sc = p.get("scaling")
    if sc:
        md.append(f"**Scaling** (one fit each, {a['scaling_epochs']} epoch(s); time per "
                  f"sample-epoch in microseconds):\n")
        rows = []
        first = {}
        for r in sc:
            per = 1e6 * r["fit_s"] / (r["n"] * a["scaling_epochs"])
            first.setdefault(r["variant"], per)
            rows.append([LABELS[r["variant"]], r["n"], f"{r['fit_s']:.2f}", f"{per:.2f}",
                         f"{per / first[r['variant']]:.2f}"])
        md.append(_common.markdown_table(
            ["Variant", "n", "fit (s)", "us / sample-epoch", "relative to smallest n"], rows))
        ab = {r["n"]: r["fit_s"] for r in sc if r["variant"] == "autobalance"}
        fx = {r["n"]: r["fit_s"] for r in sc if r["variant"] == "fixed"}
        if ab and fx:
            md.append("AutoBalance / fixed-loss fit time: " + ", ".join(
                f"n={n}: {ab[n] / fx[n]:.2f}" for n in ab if n in fx) + ".\n")
    return "\n".join(md)


# ----------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--n", type=int, default=20000, help="rows of the main problem")
    p.add_argument("--ratio", type=float, default=100.0, help="head/tail class-frequency ratio")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", nargs="*", type=int, default=[128, 128])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                   help="one timing round per seed (data and weights seeded by it); the "
                        "median is over all rounds")
    p.add_argument("--repeats", type=int, default=1, help="timing rounds per seed")
    p.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, choices=VARIANTS,
                   help="timed variants ('skorch' is always included: it is the reference)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1,
                   help="torch.set_num_threads in every process (0: torch's default)")
    p.add_argument("--no-steps", action="store_true", help="skip the instrumented fits")
    p.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    p.add_argument("--memory-epochs", type=int, default=None,
                   help="epochs of the memory fits (default: --epochs)")
    p.add_argument("--no-scaling", action="store_true")
    p.add_argument("--scaling-n", nargs="+", type=int, default=[10000, 40000, 160000])
    p.add_argument("--scaling-epochs", type=int, default=3)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: n=4000, 2 epochs, first seed only, scaling 2k/4k/8k x 1 epoch")
    _common.add_output_arguments(p, "speed")
    p.add_argument("--child", default=None, choices=["baseline", *VARIANTS],
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.epochs, args.repeats = min(args.n, 4000), min(args.epochs, 2), 1
        args.seeds = args.seeds[:1]
        args.scaling_n = [2000, 4000, 8000]
        args.scaling_epochs = 1
        args.memory_epochs = 1
    if args.memory_epochs is None:
        args.memory_epochs = args.epochs
    if "skorch" not in args.variants:
        args.variants = ["skorch", *args.variants]
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    out_md, out_json = _common.default_paths("speed", args.quick, args.out, args.json)
    command = _common.command_line()
    payload = {"benchmark": "speed", "command": command, "cwd": os.getcwd(),
               "machine": _common.machine_info(args.device), "args": vars(args),
               "variants": args.variants}
    print(_common.machine_markdown(payload["machine"], command))

    # 0. warm-up: one small fit of every variant.
    Xw, yw = make_data(2000, args.ratio, seed=123)
    for v in args.variants:
        timed_fit(v, args, Xw, yw, 1)

    # 1. alternating timing.
    runs = {v: [] for v in args.variants}
    round_ = 0
    for seed in args.seeds:
        X, y = make_data(args.n, args.ratio, seed=seed)
        counts = np.bincount(y)
        payload["data"] = (f"make_classification, n={len(y)}, 64 features, 10 classes, "
                           f"long-tailed counts {counts.tolist()} (seed {args.seeds[0]}; ratio "
                           f"{counts.max() / counts.min():.0f}); data seeds {args.seeds}")
        print(payload["data"])
        for rep in range(args.repeats):
            k = round_ % len(args.variants)
            round_ += 1
            for v in args.variants[k:] + args.variants[:k]:
                runs[v].append(timed_fit(v, args, X, y, args.epochs, seed))
                print(f"  seed {seed} repeat {rep}: {v:12s} {runs[v][-1]:7.2f} s", flush=True)
    payload["timing"] = {"runs_s": runs,
                         "median_s": {v: statistics.median(r) for v, r in runs.items()}}
    _common.write_json(out_json, payload)

    # 2. per-step cost.
    if not args.no_steps:
        X, y = make_data(args.n, args.ratio, seed=args.seeds[0])
        payload["steps"] = step_costs(args, X, y)
        print("  steps:", {k: (round(v, 4) if isinstance(v, float) else v)
                           for k, v in payload["steps"].items() if k != "phases"})
        _common.write_json(out_json, payload)

    # 3. peak memory.
    if not args.no_memory:
        payload["memory"] = memory_runs(args, args.variants)
        _common.write_json(out_json, payload)

    # 4. scaling.
    if not args.no_scaling:
        payload["scaling"] = []
        for n in args.scaling_n:
            X, y = make_data(n, args.ratio, seed=0)
            for v in ("fixed", "autobalance"):
                t = timed_fit(v, args, X, y, args.scaling_epochs)
                payload["scaling"].append({"variant": v, "n": n, "fit_s": t})
                print(f"  scaling n={n:7d} {v:12s} {t:7.2f} s", flush=True)
            _common.write_json(out_json, payload)

    _common.write_json(out_json, payload)
    md = to_markdown(payload)
    _common.write_text(out_md, md)
    print()
    print(md)
    print(f"wrote {out_md} and {out_json}")


if __name__ == "__main__":
    main()
