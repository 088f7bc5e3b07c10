"""Cost of the loss tournament against the number of arms (CPU or GPU).

What is measured
----------------
On the speed bench's data (``bench_speed.make_data``: ``--n`` x 64 long-tailed
``make_classification``, 10 classes, ratio 100, seed 0) and the default MLP
(128, 128), batch 128, Adam lr 1e-3, ``--epochs`` epochs:

- ``plain``: one network trained with LA on all rows
  (``AutoBalanceClassifier(search=None, init="la")``), the reference;
- ``arms=m``: ``Tournament`` with the first ``m`` of ``default_arms()`` (LA
  first), 3 folds, so ``3 m`` copies trained side by side, with halving off
  (every arm trains to the end: the worst case) and with the default
  checkpoints (0.2 with t < -4, then 0.5 and 0.7 with t < -2);
- with ``--refine SPACE``: the 9 default arms with every parametric challenger
  refined in that search space (``Arm.refine``; LDAM and the control stay
  fixed), the hyper-gradient at its defaults (warm-up 40% of the steps, about
  five hyper-steps a fold epoch), with and without halving.

Each row is the median wall time of ``--repeats`` alternating rounds (the
first round is a warm-up and not counted), and its ratio to ``plain`` from the
same round. On a GPU the tournament should be nearly flat in the number of
arms (one batched step serves every copy); on the CPU every copy costs a
fraction of a network's step.

Examples
--------
::

    python benchmarks/bench_tournament_cost.py                      # CPU
    python benchmarks/bench_tournament_cost.py --arms 9 --refine l+delta --out benchmarks/results/refine_cost.md
    python benchmarks/bench_tournament_cost.py --device cuda --out benchmarks/results/tournament_cost_cuda.md
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
from bench_speed import make_data, sync  # noqa: E402


def _folds(y, k=3, seed=0):
    from sklearn.model_selection import StratifiedKFold

    split = StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    return [(train, valid) for train, valid in split]


def run_once(name, X, y, args):
    """Wall time (s) of one fit of row ``name``."""
    import torch

    from sklearn_autobalance import MLP, AutoBalanceClassifier
    from sklearn_autobalance._tournament import REFINABLE_LOSSES, Tournament, default_arms

    if name == "plain":
        clf = AutoBalanceClassifier(search=None, init="la", max_epochs=args.epochs,
                                    batch_size=128, lr=1e-3, device=args.device,
                                    n_threads=None, random_state=0)
        start = time.perf_counter()
        clf.fit(X, y)
        sync(args.device)
        return time.perf_counter() - start
    m, halving, refine = name
    arms = default_arms()[:m]
    if refine:
        arms = [arms[0]] + [dataclasses.replace(a, refine=refine)
                            if a.loss in REFINABLE_LOSSES else a for a in arms[1:]]
    torch.manual_seed(0)
    module = MLP(X.shape[1], int(y.max()) + 1).to(args.device)
    Xt = torch.as_tensor(X, device=args.device)
    yt = torch.as_tensor(y, device=args.device)
    halving_params = {} if halving else {"checkpoints": (), "t_drop": ()}
    tournament = Tournament(arms, max_epochs=args.epochs, batch_size=128,
                            lr=1e-3, random_state=0, **halving_params)
    start = time.perf_counter()
    tournament.fit(module, Xt, yt, _folds(y))
    sync(args.device)
    return time.perf_counter() - start


def label(name):
    if name == "plain":
        return "plain LA fit (`search=None`)"
    m, halving, refine = name
    return f"tournament, {m} arm{'s' if m > 1 else ''} ({3 * m} copies)" + (
        f", challengers refined ({refine})" if refine else "") + ", " + (
        "halving at the default checkpoints" if halving else "no halving")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--arms", type=int, nargs="+", default=[1, 3, 5, 9])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    p.add_argument("--refine", default=None, metavar="SPACE",
                   help="also time the default arms with refined challengers (e.g. l+delta)")
    p.add_argument("--quick", action="store_true", help="n=4000, 2 epochs, arms 1 3, 2 repeats")
    _common.add_output_arguments(p, "tournament_cost")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.epochs, args.arms, args.repeats = 4000, 2, [1, 3], 2
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    out, json_path = _common.default_paths("tournament_cost", args.quick, args.out, args.json)
    info = _common.machine_info(args.device)
    command = _common.command_line()
    print(_common.machine_markdown(info, command))
    X, y = make_data(args.n, 100)
    rows = (["plain"] + [(m, False, None) for m in args.arms]
            + [(m, True, None) for m in args.arms if m > 2])
    if args.refine:
        rows += [(9, False, args.refine), (9, True, args.refine)]
    times = {label(r): [] for r in rows}
    for round_ in range(args.repeats + 1):
        for r in rows:
            t = run_once(r, X, y, args)
            if round_:  # round 0 warms up (allocations, kernels)
                times[label(r)].append(t)
        print(f"round {round_}: " + ", ".join(f"{k.split(' (')[0]} {v[-1]:.1f}s"
                                              for k, v in times.items() if v) if round_ else
              "round 0 (warm-up) done", flush=True)
    plain = np.asarray(times[label("plain")])
    table = [[name, f"{np.median(v):.2f}", f"{np.median(np.asarray(v) / plain):.2f}"]
             for name, v in times.items()]
    text = "\n".join([
        f"# Tournament cost against the number of arms ({args.device})", "",
        _common.machine_markdown(info, command), "",
        f"{args.n} x 64, 10 classes, ratio 100; MLP (128, 128), {args.epochs} epochs, batch 128; "
        f"median of {args.repeats} rounds after a warm-up round; ratio to the plain fit of the "
        "same round.", "",
        _common.markdown_table(["row", "fit (s)", "ratio to plain"], table), ""])
    print(text)
    _common.write_text(out, text)
    _common.write_json(json_path, {"command": command, "machine": info, "times": times})


if __name__ == "__main__":
    main()
