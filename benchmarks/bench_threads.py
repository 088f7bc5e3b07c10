"""Fit time on an idle and on a busy machine: the estimators' own threading (``n_threads``).

What is measured
----------------
Data: ``make_classification`` with 3,750 rows x 20 features (10 informative),
5 classes with weights 0.5 / 0.25 / 0.13 / 0.08 / 0.04, seeded by the seed.

1. Default fit: ``AutoBalanceClassifier(random_state=seed)`` (all defaults,
   ``n_threads="auto"``, 50 epochs of search then 50 of retraining), alone
   ("idle") and beside ``--busy`` CPU-bound processes (each a Python
   ``while True`` loop; default 2, as many as this machine's cores), seeds
   ``--seeds``. Reported: median wall time per condition and the busy / idle
   ratio (the issue's bar: about 2-3x at most on 2 cores).
2. Threading choice: the same fit with ``max_epochs=--short-epochs`` (default
   5) for ``n_threads="auto"``, ``n_threads=None`` (torch's own setting, the
   behaviour before ``n_threads`` existed) and ``n_threads=2``, idle and busy.
3. The README's main job, ``python examples/long_tailed.py`` (9 default-size
   fits: CE, LA, AutoBalance x 3 seeds), in a subprocess, idle and busy.
4. Where threads start to pay: the median time of one training step of a
   plain torch MLP (Adam, batch 128) for growing widths, with 1 thread and
   with ``torch.get_num_threads()`` at start-up, idle. ``"auto"`` uses one
   thread below ``batch_size * n_parameters = 2**30``.

Everything runs in one process, conditions alternating by seed, so ratios
are measured side by side. The busy processes are started before and killed
after each busy block.

Run::

    python benchmarks/bench_threads.py              # about 5 minutes on 2 cores
    python benchmarks/bench_threads.py --quick      # one seed, fewer steps
"""

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402

import _common  # noqa: E402
from sklearn_autobalance import MLP, AutoBalanceClassifier  # noqa: E402
from sklearn_autobalance._threading import SINGLE_THREAD_WORK  # noqa: E402

START_THREADS = torch.get_num_threads()


def _spin():
    while True:
        pass


class Busy:
    """``n`` CPU-bound processes for the duration of a ``with`` block."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        ctx = mp.get_context("spawn")
        self.procs = [ctx.Process(target=_spin, daemon=True) for _ in range(self.n)]
        for p in self.procs:
            p.start()
        time.sleep(1.0)  # let them reach full speed
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.join()


def make_data(seed):
    return make_classification(n_samples=3750, n_features=20, n_informative=10,
                               n_classes=5, weights=[0.5, 0.25, 0.13, 0.08, 0.04],
                               random_state=seed)


def timed_fit(X, y, seed, **params):
    clf = AutoBalanceClassifier(random_state=seed, **params)
    start = time.perf_counter()
    clf.fit(X, y)
    return time.perf_counter() - start


def timed_example():
    script = Path(__file__).resolve().parent.parent / "examples" / "long_tailed.py"
    out = Path(__file__).resolve().parent / "results"
    start = time.perf_counter()
    subprocess.run([sys.executable, str(script), "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "MPLBACKEND": "Agg"})
    return time.perf_counter() - start


def step_time(n_features, hidden, threads, steps):
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        net = MLP(n_features, 10, hidden)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        X, y = torch.randn(128, n_features), torch.randint(10, (128,))
        times = []
        for i in range(steps + 5):
            start = time.perf_counter()
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(X), y).backward()
            opt.step()
            if i >= 5:
                times.append(time.perf_counter() - start)
        n_params = sum(p.numel() for p in net.parameters())
        return float(np.median(times)), n_params
    finally:
        torch.set_num_threads(START_THREADS)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    p.add_argument("--busy", type=int, default=os.cpu_count() or 2)
    p.add_argument("--short-epochs", type=int, default=5)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--quick", action="store_true")
    _common.add_output_arguments(p, "threads")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.steps = args.seeds[:1], 20
    out, json_path = _common.default_paths("threads", args.quick, args.out, args.json)
    info, command = _common.machine_info(), _common.command_line()

    # Warm-up: torch's first optimiser imports lazily (~3 s once per process).
    timed_fit(*make_data(0), 0, max_epochs=1, hidden_layer_sizes=(8,))

    default = {"idle": [], "busy": []}
    for seed in args.seeds:
        X, y = make_data(seed)
        default["idle"].append(timed_fit(X, y, seed))
        with Busy(args.busy):
            default["busy"].append(timed_fit(X, y, seed))
        print(f"default fit, seed {seed}: idle {default['idle'][-1]:.1f} s, "
              f"busy {default['busy'][-1]:.1f} s", flush=True)

    choices = {"auto": "auto", "None (torch's setting)": None, "2": 2}
    short = {name: {"idle": [], "busy": []} for name in choices}
    X, y = make_data(args.seeds[0])
    for condition in ("idle", "busy"):
        ctx = Busy(args.busy) if condition == "busy" else None
        if ctx:
            ctx.__enter__()
        try:
            for name, n_threads in choices.items():
                short[name][condition].append(timed_fit(
                    X, y, args.seeds[0], max_epochs=args.short_epochs, n_threads=n_threads))
                print(f"{args.short_epochs}-epoch fit, n_threads={name}, {condition}: "
                      f"{short[name][condition][-1]:.1f} s", flush=True)
        finally:
            if ctx:
                ctx.__exit__(None, None, None)

    example = {"idle": timed_example()}
    with Busy(args.busy):
        example["busy"] = timed_example()
    print(f"examples/long_tailed.py: idle {example['idle']:.1f} s, busy {example['busy']:.1f} s",
          flush=True)

    sizes = [(20, (128, 128)), (256, (512, 512)), (1024, (1024, 1024)),
             (2048, (2048, 2048)), (4096, (4096, 4096))]
    steps = []
    for n_features, hidden in sizes:
        one, n_params = step_time(n_features, hidden, 1, args.steps)
        many, _ = step_time(n_features, hidden, START_THREADS, args.steps)
        steps.append({"n_features": n_features, "hidden": hidden, "n_params": n_params,
                      "work": 128 * n_params, "one_ms": 1e3 * one, "many_ms": 1e3 * many})
        print(f"step {n_features}->{hidden}: 1 thread {1e3 * one:.2f} ms, "
              f"{START_THREADS} threads {1e3 * many:.2f} ms", flush=True)

    med = {k: float(np.median(v)) for k, v in default.items()}
    lines = ["# Threads: fit time on an idle and a busy machine", "",
             _common.machine_markdown(info, command), "",
             f"Busy: {args.busy} CPU-bound processes beside the fit. Seeds {args.seeds}.", "",
             "## Default fit (`AutoBalanceClassifier()`, 3,750 x 20, 5 classes)", "",
             _common.markdown_table(
                 ["seed", "idle (s)", "busy (s)", "busy / idle"],
                 [[s, f"{i:.1f}", f"{b:.1f}", f"{b / i:.2f}"]
                  for s, i, b in zip(args.seeds, default["idle"], default["busy"])]
                 + [["median", f"{med['idle']:.1f}", f"{med['busy']:.1f}",
                     f"{med['busy'] / med['idle']:.2f}"]]),
             f"## `n_threads` choices ({args.short_epochs}-epoch fit, seed {args.seeds[0]})", "",
             _common.markdown_table(
                 ["n_threads", "idle (s)", "busy (s)", "busy / idle", "busy / busy auto"],
                 [[name, f"{v['idle'][0]:.2f}", f"{v['busy'][0]:.2f}",
                   f"{v['busy'][0] / v['idle'][0]:.2f}",
                   f"{v['busy'][0] / short['auto']['busy'][0]:.2f}"]
                  for name, v in short.items()]),
             "## README main job (`python examples/long_tailed.py`)", "",
             _common.markdown_table(
                 ["idle (s)", "busy (s)", "busy / idle"],
                 [[f"{example['idle']:.1f}", f"{example['busy']:.1f}",
                   f"{example['busy'] / example['idle']:.2f}"]]),
             f"## One training step (batch 128), 1 thread against {START_THREADS}, idle", "",
             _common.markdown_table(
                 ["features -> hidden", "parameters", "batch x parameters", "1 thread (ms)",
                  f"{START_THREADS} threads (ms)", "speed-up", "auto uses"],
                 [[f"{r['n_features']} -> {r['hidden']}", f"{r['n_params']:,}",
                   f"{r['work']:.2e}", f"{r['one_ms']:.2f}", f"{r['many_ms']:.2f}",
                   f"{r['one_ms'] / r['many_ms']:.2f}",
                   "1" if r["work"] < SINGLE_THREAD_WORK else "torch's setting"]
                  for r in steps])]
    text = "\n".join(lines)
    _common.write_text(out, text)
    _common.write_json(json_path, {"machine": info, "command": command, "default": default,
                                   "short": short, "example": example, "steps": steps})
    print(text)


if __name__ == "__main__":
    main()
