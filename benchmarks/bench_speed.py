"""Cost of AutoBalanceClassifier (the loss tournament) against a plain skorch fit and a grid search.

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
(b) ``fixed``: ``AutoBalanceClassifier(search=None, init="la")``: one LA training
    run on all data (how every fixed baseline runs; also what the default
    fits when the tournament keeps LA);
(c) ``autobalance``: ``AutoBalanceClassifier()``, the default: the tournament of
    9 arms (LA, LA tau 1.5, LA tau 2, VS, LA + shared noise 0.4 / 0.8 / 1.6,
    balanced CE, LDAM), each as 3 fold copies of one batched module (27
    copies) from step 0, halving at 50 % and 70 % of the steps (arms with paired
    t < -2 against LA stop), then the kept arm trained on all the data;
(d) ``ab_hypergradient``: ``AutoBalanceClassifier(search="l+delta")``, the
    previous default (the paper's hyper-gradient search, cross-fitted with a
    control twin per fold network, then the retrain);
(e) ``arm_grid``: what a user would run instead: ``GridSearchCV`` over
    ``AutoBalanceClassifier(search=None)`` with the same 9 arms as a list of
    dicts (``init`` / ``init_params``, or ``augmentation="shared"`` with
    ``augmentation_params={"eps": e}``), ``cv=StratifiedKFold(3, shuffle=True,
    random_state=seed)``, ``scoring="balanced_accuracy"``, ``n_jobs=1``,
    ``refit=True``: 27 fold fits on 2/3 of the rows and one refit;
(f) ``arm_halving``: the same with ``HalvingGridSearchCV`` (``factor=3``,
    resource ``n_samples``, ``random_state=seed``): 9 -> 3 -> 1 candidates on
    about 1/9, 1/3 and all of the rows, then the refit;
(r) ``torch_loop``: reference floor, a hand-written torch loop over pre-made
    shuffled tensors (no skorch, no validation).

1. Fit wall time: ``time.perf_counter`` around ``fit``, in ONE process,
   variants alternating (order rotated every round), one round per seed of
   ``--seeds`` (default 0 1 2: data and weights seeded by it) times
   ``--repeats`` (default 1); the median is reported, with ratios to (a) and
   (for (c)) to (e) and (f). One small warm-up fit of every variant first
   absorbs one-time costs (torch imports ``torch._dynamo`` lazily in its first
   optimiser, ~3 s). Every timed (c) fit records from ``selection_report_`` the
   arms alive after each checkpoint, the kept arm and whether it moved; every
   grid records its best arm.
2. Where the time goes, measured on the real code (one extra instrumented fit
   each, on the first seed's data): for (c), ``Tournament.fit`` (the
   tournament phase) and ``AutoBalanceClassifier._fit_fixed`` (the final fit on
   all data) wrapped in ``perf_counter`` timers, and the time of each
   tournament optimiser step (the interval between consecutive calls of
   ``_tournament.arm_inputs``, once per step) grouped by the number of batched
   copies alive (27 before the first checkpoint, fewer after drops), next to
   one training step of the final fit (``TabularNet.train_step``); for (d),
   ``LossSearch.hyper_step``, ``TabularNet.train_step``, ``LossSearch.on_epoch_end``
   and the two phases (search, retrain); for (a), ``NeuralNetClassifier.train_step``.
   With ``torch.cuda.synchronize`` on a GPU. ``--no-steps`` skips it.
3. Peak memory: each of ``--memory-variants`` (default: the timed variants but
   the two grids, whose peak is one AutoBalance fit's at a time) is fitted in
   its own subprocess (``python bench_speed.py --child VARIANT``) that reports
   its peak RSS as ``VmHWM`` from ``/proc/self/status``
   (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is recorded too, but on Linux
   it includes the parent's RSS at fork time, because ``execve`` folds the
   forked address space's high-water mark into it) and, on CUDA,
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
Full run (CPU, every variant, 3 seeds, no scaling; about 15 minutes on 2 shared
cores, most of it the two grid searches)::

    python benchmarks/bench_speed.py --variants skorch fixed autobalance ab_hypergradient \\
        arm_grid arm_halving torch_loop --no-scaling

The default variants (skorch, fixed, autobalance, ab_hypergradient, torch_loop)
with scaling: about 9 minutes. On a GPU::

    python benchmarks/bench_speed.py --device cuda --threads 0 --no-scaling \\
        --variants fixed autobalance ab_hypergradient arm_grid \\
        --out benchmarks/results/gpu_speed.md --json benchmarks/results/gpu_speed.json

Smoke test of every variant (about 2 minutes)::

    python benchmarks/bench_speed.py --quick --variants skorch fixed autobalance \\
        ab_hypergradient arm_grid arm_halving torch_loop
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

VARIANTS = ["skorch", "fixed", "autobalance", "ab_hypergradient", "arm_grid", "arm_halving",
            "torch_loop"]
DEFAULT_VARIANTS = ["skorch", "fixed", "autobalance", "ab_hypergradient", "torch_loop"]
GRIDS = ("arm_grid", "arm_halving")
LABELS = {
    "skorch": "(a) skorch NeuralNetClassifier, CE",
    "fixed": "(b) AutoBalanceClassifier(search=None, init='la')",
    "autobalance": "(c) AutoBalanceClassifier() default: tournament of 9 arms",
    "ab_hypergradient": "(d) AutoBalanceClassifier(search='l+delta'): previous default",
    "arm_grid": "(e) GridSearchCV(cv=3) over the 9 arms (search=None)",
    "arm_halving": "(f) HalvingGridSearchCV(cv=3) over the 9 arms (search=None)",
    "torch_loop": "(r) hand-written torch loop (reference)",
    "baseline": "baseline: imports + data, no fit",
}
# The tournament's default arms (sklearn_autobalance._tournament.default_arms) as
# AutoBalanceClassifier(search=None) parameters: (name, params).
ARM_PARAMS = [
    ("la", {"init": "la", "init_params": None}),
    ("la_tau1.5", {"init": "la", "init_params": {"tau": 1.5}}),
    ("la_tau2", {"init": "la", "init_params": {"tau": 2.0}}),
    ("vs", {"init": "vs", "init_params": None}),
    ("noise0.4", {"init": "la", "augmentation": "shared", "augmentation_params": {"eps": 0.4}}),
    ("noise0.8", {"init": "la", "augmentation": "shared", "augmentation_params": {"eps": 0.8}}),
    ("noise1.6", {"init": "la", "augmentation": "shared", "augmentation_params": {"eps": 1.6}}),
    ("balanced", {"init": "balanced", "init_params": None}),
    ("ldam", {"init": "ldam", "init_params": None}),
]


def arm_param_grid():
    """The 9 arms as a GridSearchCV ``param_grid`` (a list of one-point dicts)."""
    return [{key: [value] for key, value in params.items()} for _, params in ARM_PARAMS]


def arm_name(params):
    """The arm name of a grid's ``best_params_``."""
    for name, arm in ARM_PARAMS:
        if all(params.get(k) == v for k, v in arm.items()):
            return name
    return repr(params)


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
        return AutoBalanceClassifier(search=None, init="la", hidden_layer_sizes=hidden,
                                     random_state=seed, **common)
    if variant == "autobalance":
        return AutoBalanceClassifier(hidden_layer_sizes=hidden, random_state=seed, **common)
    if variant == "ab_hypergradient":
        return AutoBalanceClassifier(search="l+delta", hidden_layer_sizes=hidden,
                                     random_state=seed, **common)
    if variant in GRIDS:
        from sklearn.model_selection import GridSearchCV, StratifiedKFold

        base = AutoBalanceClassifier(search=None, hidden_layer_sizes=hidden, random_state=seed,
                                     **common)
        cv = StratifiedKFold(3, shuffle=True, random_state=seed)
        grid = dict(param_grid=arm_param_grid(), cv=cv, scoring="balanced_accuracy", n_jobs=1,
                    refit=True)
        if variant == "arm_grid":
            return GridSearchCV(base, **grid)
        from sklearn.experimental import enable_halving_search_cv  # noqa: F401
        from sklearn.model_selection import HalvingGridSearchCV

        return HalvingGridSearchCV(base, random_state=seed, **grid)
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


def timed_fit(variant, args, X, y, epochs, seed=0, return_estimator=False):
    """Wall time (s) of one fit of ``variant`` (and the fitted estimator if asked)."""
    if variant == "skorch":
        import torch

        torch.manual_seed(seed)
    est = make_estimator(variant, args, X.shape[1], int(y.max()) + 1, epochs, seed)
    sync(args.device)
    start = time.perf_counter()
    est.fit(X, y)
    sync(args.device)
    seconds = time.perf_counter() - start
    return (seconds, est) if return_estimator else seconds


def fit_info(variant, est):
    """What a fit chose: the tournament's checkpoints and kept arm, a grid's best arm."""
    if variant == "autobalance":
        report = est.selection_report_
        names = [arm["name"] for arm in report["arms"]]
        checkpoints = []
        for cp in report["checkpoints"]:
            after = [a for a in cp["alive"] if a not in cp["dropped"]]
            checkpoints.append({"fraction": cp["fraction"], "step": cp["step"],
                                "alive_before": len(cp["alive"]), "alive_after": len(after),
                                "dropped": [names[a] for a in cp["dropped"]]})
        return {"kind": report["kind"], "checkpoints": checkpoints,
                "kept": report["kept_name"], "moved": bool(report["moved"]),
                "best": None if report["best"] is None else names[report["best"]],
                "steps": report["steps"], "steps_per_epoch": report["steps_per_epoch"],
                "arms": [{k: arm.get(k) for k in ("name", "error", "gain", "se", "t", "step",
                                                   "dropped_at")} for arm in report["arms"]]}
    if variant == "ab_hypergradient":
        return {"moved": bool(est.selection_report_["moved"]), "best_epoch": est.best_epoch_}
    if variant in GRIDS:
        info = {"best_arm": arm_name(est.best_params_), "best_score": float(est.best_score_)}
        if variant == "arm_halving":
            info["n_candidates"] = [int(c) for c in est.n_candidates_]
            info["n_resources"] = [int(r) for r in est.n_resources_]
        return info
    return None


# ----------------------------------------------------------------------------- instrumentation
@contextlib.contextmanager
def instrument(device):
    """Wrap the real methods with timers; yields the dict of recorded durations (s)."""
    from skorch import NeuralNetClassifier

    from sklearn_autobalance import _tournament
    from sklearn_autobalance._network import TabularNet
    from sklearn_autobalance._search import LossSearch

    record = {"phase": None, "phases": [], "train_step": {}, "hyper_step": [],
              "epoch_end_eval": [], "skorch_train_step": [], "arm_steps": []}

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

    def phase(func, name_of):
        @functools.wraps(func)
        def wrapper(self, *a, **kw):
            name = name_of(self)
            record["phase"] = name
            record["train_step"].setdefault(name, [])
            sync(device)
            start = time.perf_counter()
            out = func(self, *a, **kw)
            sync(device)
            record["phases"].append((name, time.perf_counter() - start))
            return out
        return wrapper

    def arm_inputs(func):
        # Called once per tournament optimiser step, with the alive arms' strengths.
        @functools.wraps(func)
        def wrapper(X, y, eps, augmentation):
            sync(device)
            record["arm_steps"].append((time.perf_counter(), len(eps)))
            return func(X, y, eps, augmentation)
        return wrapper

    patches = [
        (LossSearch, "hyper_step", timer(LossSearch.hyper_step, record["hyper_step"].append)),
        (LossSearch, "on_epoch_end",
         timer(LossSearch.on_epoch_end, record["epoch_end_eval"].append)),
        (TabularNet, "train_step",
         timer(TabularNet.train_step,
               lambda t: record["train_step"][record["phase"]].append(t))),
        (TabularNet, "fit", phase(TabularNet.fit, lambda net: "search" if any(
            n == "loss_search" for n, _ in (net.callbacks or [])) else "final fit")),
        (_tournament.Tournament, "fit", phase(_tournament.Tournament.fit,
                                              lambda _: "tournament")),
        (_tournament, "arm_inputs", arm_inputs(_tournament.arm_inputs)),
        (NeuralNetClassifier, "train_step",
         timer(NeuralNetClassifier.train_step, record["skorch_train_step"].append)),
    ]
    saved = [(owner, name, vars(owner).get(name)) for owner, name, _ in patches]
    try:
        for owner, name, func in patches:
            setattr(owner, name, func)
        yield record
    finally:
        for owner, name, original in saved:
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def _median_ms(values):
    return 1e3 * statistics.median(values) if values else None


def _phase_total(phases, name):
    return sum(sec for n, sec in phases if n == name)


def step_costs(args, X, y):
    """Instrumented fits of (c), (d) and (a): where the time goes, from the real code."""
    n_classes = int(y.max()) + 1
    out = {}
    variants = [v for v in ("autobalance", "ab_hypergradient") if v in args.variants]
    for variant in variants:
        with instrument(args.device) as rec:
            start = time.perf_counter()
            est = make_estimator(variant, args, X.shape[1], n_classes, args.epochs)
            est.fit(X, y)
            sync(args.device)
            total = time.perf_counter() - start
        phases = list(rec["phases"])
        steps = {name: list(t) for name, t in rec["train_step"].items()}
        final = steps.get("final fit", [])
        res = {"fit_s": total, "phases": phases,
               "final_fit_s": _phase_total(phases, "final fit"),
               "n_final_steps": len(final), "final_train_step_median_ms": _median_ms(final)}
        if res["n_final_steps"]:
            res["final_step_wall_ms"] = 1e3 * res["final_fit_s"] / res["n_final_steps"]
        if variant == "autobalance":
            res["tournament_s"] = _phase_total(phases, "tournament")
            res["info"] = fit_info(variant, est)
            marks = rec["arm_steps"]
            by_arms = {}
            for (t0, m), (t1, _) in zip(marks, marks[1:]):
                by_arms.setdefault(m, []).append(t1 - t0)
            cv = est.cv
            res["tournament_steps"] = [
                {"arms": m, "copies": m * cv, "n_steps": len(v) + (1 if m == marks[-1][1] else 0),
                 "median_ms": _median_ms(v), "total_s": sum(v)}
                for m, v in sorted(by_arms.items(), reverse=True)]
            res["n_tournament_steps"] = len(marks)
        else:
            search = steps.get("search", [])
            res.update({
                "search_s": _phase_total(phases, "search"),
                "n_hyper_steps": len(rec["hyper_step"]),
                "hyper_step_median_ms": _median_ms(rec["hyper_step"]),
                "hyper_step_total_s": sum(rec["hyper_step"]),
                "epoch_end_eval_total_s": sum(rec["epoch_end_eval"]),
                "n_epoch_end_evals": len(rec["epoch_end_eval"]),
                # The hyper-step runs inside on_batch_end, i.e. after train_step
                # returns: the train_step timings do not include it.
                "n_search_steps": len(search),
                "search_train_step_median_ms": _median_ms(search),
                "search_train_step_total_s": sum(search)})
            if res["hyper_step_median_ms"] and res["search_train_step_median_ms"]:
                res["hyper_over_train_step"] = (res["hyper_step_median_ms"]
                                                / res["search_train_step_median_ms"])
        out[variant] = res
    with instrument(args.device) as rec:
        import torch

        torch.manual_seed(0)
        start = time.perf_counter()
        make_estimator("skorch", args, X.shape[1], n_classes, args.epochs).fit(X, y)
        out["skorch"] = {"fit_s": time.perf_counter() - start,
                         "n_train_steps": len(rec["skorch_train_step"]),
                         "train_step_median_ms": _median_ms(rec["skorch_train_step"]),
                         "train_step_total_s": sum(rec["skorch_train_step"])}
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
def _ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else ""


def to_markdown(p):
    a = p["args"]
    md = ["### Speed and memory: AutoBalanceClassifier vs a plain skorch fit and a grid search\n",
          _common.machine_markdown(p["machine"], p["command"]),
          f"Data: {p['data']}. Network MLP(64, 10, {tuple(a['hidden'])}), Adam lr {a['lr']}, "
          f"batch size {a['batch_size']}, {a['epochs']} epochs. AutoBalance default: the "
          "tournament of 9 arms x 3 fold copies (27 batched copies from step 0, halving at 50 % "
          "and 70 % of the steps, t < -2 against LA stops), then the kept arm on all data.\n"]
    t = p["timing"]
    med = t["median_s"]
    base = med["skorch"]
    rows = []
    for v in p["variants"]:
        runs = ", ".join(f"{x:.2f}" for x in t["runs_s"][v])
        rows.append([LABELS[v], f"{med[v]:.2f}", runs, f"{med[v] / base:.2f}"])
    n_rounds = len(a["seeds"]) * a["repeats"]
    md.append(f"**Fit wall time** (median of {n_rounds} alternating rounds in one process, "
              f"data/weight seeds {a['seeds']}, variant order rotated each round):\n")
    md.append(_common.markdown_table(["Variant", "median (s)", "runs (s)", "ratio to (a)"], rows))
    if "autobalance" in med:
        ab = med["autobalance"]
        parts = [f"(c)/(a) = {ab / base:.2f} (bar <= 4.0)"]
        if "fixed" in med:
            parts.append(f"(c)/(b) = {ab / med['fixed']:.2f}")
        if "arm_grid" in med:
            parts.append(f"(c)/(e) GridSearchCV = {ab / med['arm_grid']:.2f} (bar <= 0.3)")
        if "arm_halving" in med:
            parts.append(f"(c)/(f) HalvingGridSearchCV = {ab / med['arm_halving']:.2f} "
                         "(bar < 1)")
        if "ab_hypergradient" in med:
            parts.append(f"(c)/(d) = {ab / med['ab_hypergradient']:.2f}")
        # Per-round ratios (same round, same data) next to the ratio of medians.
        per_round = {}
        for ref in ("skorch", "arm_grid", "arm_halving"):
            if ref in t["runs_s"]:
                r = [x / y for x, y in zip(t["runs_s"]["autobalance"], t["runs_s"][ref])]
                per_round[ref] = ", ".join(f"{x:.2f}" for x in r)
        md.append("; ".join(parts) + ". Per round: " + "; ".join(
            f"(c)/{k} {v}" for k, v in per_round.items()) + ".\n")

    info = p.get("fit_info", {})
    if info.get("autobalance"):
        rows = []
        for seed, fi in zip(p["info_seeds"], info["autobalance"]):
            cps = "; ".join(f"{c['fraction']:.0%}: {c['alive_before']} -> {c['alive_after']}"
                            + (f" (stopped {', '.join(c['dropped'])})" if c["dropped"] else "")
                            for c in fi["checkpoints"])
            rows.append([seed, cps, fi["best"] or "", fi["kept"], "yes" if fi["moved"] else "no"])
        md.append("**Tournament checkpoints** of the timed (c) fits (arms alive before -> after "
                  "each checkpoint, LA included):\n")
        md.append(_common.markdown_table(["seed", "checkpoints", "best challenger", "kept",
                                          "moved"], rows))
    for v in GRIDS:
        if info.get(v):
            md.append(f"{LABELS[v]}: best arm per seed " + ", ".join(
                f"{s}: {fi['best_arm']}" for s, fi in zip(p["info_seeds"], info[v]))
                + (f"; candidates {info[v][0]['n_candidates']} on "
                   f"{info[v][0]['n_resources']} rows" if v == "arm_halving" else "") + ".\n")

    s = p.get("steps")
    if s:
        md.append("**Where the time goes** (one instrumented fit each on the first seed's data: "
                  "timers around the real `Tournament.fit`, the final `TabularNet.fit`, "
                  "`LossSearch.hyper_step`, `TabularNet.train_step`, "
                  "`NeuralNetClassifier.train_step`; a tournament step is the interval between "
                  "two calls of `_tournament.arm_inputs`, one per optimiser step):\n")
        rows = []
        sk = s.get("skorch", {})
        c = s.get("autobalance")
        if c:
            rows.append(["(c) whole fit (instrumented)", f"{c['fit_s']:.2f}", "", "", ""])
            rows.append(["(c) tournament phase (`Tournament.fit`)", f"{c['tournament_s']:.2f}",
                         str(c["n_tournament_steps"]), "", _ratio(c["tournament_s"], c["fit_s"])])
            for r in c["tournament_steps"]:
                rows.append([f"(c) tournament step, {r['arms']} arms ({r['copies']} copies)",
                             f"{r['total_s']:.2f}", str(r["n_steps"]),
                             f"{r['median_ms']:.2f}" if r["median_ms"] else "", ""])
            rows.append(["(c) final fit on all data (kept arm)", f"{c['final_fit_s']:.2f}",
                         str(c["n_final_steps"]),
                         f"{c.get('final_step_wall_ms', 0):.2f} wall / "
                         f"{c['final_train_step_median_ms'] or 0:.2f} train_step",
                         _ratio(c["final_fit_s"], c["fit_s"])])
        d = s.get("ab_hypergradient")
        if d:
            rows.append(["(d) whole fit (instrumented)", f"{d['fit_s']:.2f}", "", "", ""])
            rows.append(["(d) search phase (fold networks + control twins)",
                         f"{d['search_s']:.2f}", str(d["n_search_steps"]),
                         f"{d['search_train_step_median_ms'] or 0:.2f} train_step",
                         _ratio(d["search_s"], d["fit_s"])])
            rows.append(["(d) hyper-steps (inside the search phase)",
                         f"{d['hyper_step_total_s']:.2f}", str(d["n_hyper_steps"]),
                         f"{d['hyper_step_median_ms'] or 0:.2f}", ""])
            rows.append(["(d) epoch-end validation scoring", f"{d['epoch_end_eval_total_s']:.2f}",
                         str(d["n_epoch_end_evals"]), "", ""])
            rows.append(["(d) retrain on all data", f"{d['final_fit_s']:.2f}",
                         str(d["n_final_steps"]),
                         f"{d['final_train_step_median_ms'] or 0:.2f} train_step",
                         _ratio(d["final_fit_s"], d["fit_s"])])
        if sk:
            rows.append(["(a) skorch fit (instrumented)", f"{sk['fit_s']:.2f}",
                         str(sk["n_train_steps"]),
                         f"{sk['train_step_median_ms']:.2f} train_step (excl. DataLoader)", ""])
        md.append(_common.markdown_table(["Part", "total (s)", "steps", "per step (ms)",
                                          "share of the fit"], rows))
        if c and c["tournament_steps"] and c.get("final_step_wall_ms"):
            first = c["tournament_steps"][0]
            md.append(f"A tournament step with {first['copies']} copies costs "
                      f"{first['median_ms'] / c['final_step_wall_ms']:.1f} final-fit steps "
                      f"(wall per step); " + ", ".join(
                          f"{r['copies']} copies: {r['median_ms'] / c['final_step_wall_ms']:.1f}"
                          for r in c["tournament_steps"][1:]) + ".\n")

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
                  f"{a['memory_epochs']} epoch(s) on the same data; the grids' peak is one "
                  f"AutoBalance fit's at a time, not measured unless asked):\n")
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
    p.add_argument("--memory-variants", nargs="+", default=None, choices=VARIANTS,
                   help="variants of the memory subprocesses (default: the timed ones but "
                        "the grids)")
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
    if args.memory_variants is None:
        args.memory_variants = [v for v in args.variants if v not in GRIDS]
    elif "skorch" not in args.memory_variants:
        args.memory_variants = ["skorch", *args.memory_variants]
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
    infos = {v: [] for v in args.variants}
    payload["info_seeds"] = []
    round_ = 0
    for seed in args.seeds:
        X, y = make_data(args.n, args.ratio, seed=seed)
        counts = np.bincount(y)
        payload["data"] = (f"make_classification, n={len(y)}, 64 features, 10 classes, "
                           f"long-tailed counts {counts.tolist()} (seed {seed}; ratio "
                           f"{counts.max() / counts.min():.0f}); data seeds {args.seeds}")
        print(payload["data"])
        for rep in range(args.repeats):
            k = round_ % len(args.variants)
            round_ += 1
            payload["info_seeds"].append(seed)
            for v in args.variants[k:] + args.variants[:k]:
                seconds, est = timed_fit(v, args, X, y, args.epochs, seed, return_estimator=True)
                runs[v].append(seconds)
                infos[v].append(fit_info(v, est))
                del est
                extra = ""
                if v == "autobalance":
                    fi = infos[v][-1]
                    extra = ("  alive " + " -> ".join(
                        [str(fi["checkpoints"][0]["alive_before"])] if fi["checkpoints"] else [])
                        + "".join(f" -> {c['alive_after']}" for c in fi["checkpoints"])
                        + f", kept {fi['kept']}" + (" (moved)" if fi["moved"] else ""))
                elif v in GRIDS:
                    extra = f"  best arm {infos[v][-1]['best_arm']}"
                print(f"  seed {seed} repeat {rep}: {v:16s} {seconds:7.2f} s{extra}", flush=True)
            payload["timing"] = {"runs_s": runs,
                                 "median_s": {v: statistics.median(r) for v, r in runs.items()}}
            payload["fit_info"] = {v: i for v, i in infos.items() if any(i)}
            _common.write_json(out_json, payload)

    # 2. where the time goes.
    if not args.no_steps:
        X, y = make_data(args.n, args.ratio, seed=args.seeds[0])
        payload["steps"] = step_costs(args, X, y)
        for v, res in payload["steps"].items():
            print(f"  steps {v}:", {k: (round(x, 4) if isinstance(x, float) else x)
                                    for k, x in res.items() if k not in ("phases", "info")})
        _common.write_json(out_json, payload)

    # 3. peak memory.
    if not args.no_memory:
        payload["memory"] = memory_runs(args, args.memory_variants)
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
