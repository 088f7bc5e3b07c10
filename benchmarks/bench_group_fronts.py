"""Trade-off fronts of the group methods: error against DEO, and hypervolumes.

What is measured
----------------
Each method is swept over its trade-off parameter; every point is fitted per
seed and scored on the test part (``bench_groups.run_one``: standard error,
group-balanced error, DEO, in %), then averaged over the seeds. For each set
and each pair of axes, (standard error, DEO) and (group-balanced error, DEO),
the report gives every method's Pareto front (of its mean points), its
*hypervolume* (the area the front dominates inside the reference box; larger is
better) against the reference point (50, 100) on both pairs (a classifier worse
than a coin on error, or with a DEO above 100 points, counts for nothing), and
whether the AutoBalance front is *undominated*: at least one of its points is
dominated by no point of any other method.

Sweeps (the networks and settings of ``bench_groups.py``: a linear head on
``waterbirds_like``, an MLP (64,) on the tables; ``waterbirds_like_mlp`` is
``waterbirds_like`` with the estimator's default MLP (128, 128)):

- AutoBalance ``objective="deo"``, ``objective_params["fairness_weight"]`` in
  (0, 0.25, 0.5, 0.75, 0.9, 1);
- AutoBalance ``objective="deo"`` (``fairness_weight`` 0.9),
  ``objective_params["error_tolerance"]`` (its error budget) in (0, 0.01, 0.02,
  0.05, 0.1, 0.2), and the same from ``init="ce"`` (the budget then relative to
  plain CE's heads) in (0.01, 0.05, 0.1), and from ``init="ce"``
  ``fairness_weight`` in (0.25, 0.5, 0.75) (the objective's own trade-off
  between standard CE and the DEO, from the loss that minimises standard error); the
  AutoBalance front is that of all its sweeps' points together;
- the training-loss blend ``(1 - lam) CE + lam CE_deo``, ``lam`` in (0, 0.25, 0.5, 0.75, 0.9);
- online group DRO, ``eta_q`` in (0.001, 0.01, 0.1);
- fairlearn ``ExponentiatedGradient`` over the CE network with ``EqualizedOdds``,
  ``difference_bound`` in (0.02, 0.1), ``max_iter=10``.

Examples
--------
::

    python benchmarks/bench_group_fronts.py --sets hmda default --seeds 0 1 2
    python benchmarks/bench_group_fronts.py --merge A.json B.json  # B's points replace A's
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

SETS = ["waterbirds_like", "waterbirds_like_mlp", "hmda", "default", "wage"]
REFERENCE = (50.0, 100.0)
SWEEPS = {
    "autobalance_deo": ("fairness_weight", (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)),
    "autobalance_budget": ("error_tolerance", (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)),
    "autobalance_ce_init": ("error_tolerance", (0.01, 0.05, 0.1)),
    "autobalance_ce_fw": ("fairness_weight", (0.25, 0.5, 0.75)),
    "blend_deo": ("lam", (0.0, 0.25, 0.5, 0.75, 0.9)),
    "group_dro": ("eta_q", (0.001, 0.01, 0.1)),
    "eg": ("difference_bound", (0.02, 0.1)),
}
AXES = [("error", "standard error"), ("group_balanced_error", "group-balanced error")]


def pareto(points):
    """The non-dominated points of ``points`` (minimisation on both axes), sorted by x."""
    pts = sorted(set(points))
    front, best_y = [], np.inf
    for x, y in pts:
        if y < best_y:
            front.append((x, y))
            best_y = y
    return front


def hypervolume(points, reference=REFERENCE):
    """Area dominated by ``points`` inside the box below ``reference`` (minimisation)."""
    front = [(x, y) for x, y in pareto(points) if x < reference[0] and y < reference[1]]
    area = 0.0
    for i, (x, y) in enumerate(front):
        x_next = front[i + 1][0] if i + 1 < len(front) else reference[0]
        area += (x_next - x) * (reference[1] - y)
    return area


def dominated(point, others):
    """Whether some point of ``others`` is at least as good on both axes and better on one."""
    return any(o[0] <= point[0] and o[1] <= point[1] and o != point for o in others)


def make_model(method, value, seed, hidden, args):
    from sklearn_autobalance import AutoBalanceClassifier

    common = dict(hidden_layer_sizes=hidden, max_epochs=args.max_epochs, random_state=seed)
    if method in ("autobalance_deo", "autobalance_budget", "autobalance_ce_init",
                  "autobalance_ce_fw"):
        key = SWEEPS[method][0]  # a key of objective_params
        init = "ce" if method in ("autobalance_ce_init", "autobalance_ce_fw") else "la"
        return AutoBalanceClassifier(objective="deo", init=init,
                                     objective_params={key: value}, **common)
    if method == "blend_deo":
        return AutoBalanceClassifier(search=None, init="blend", **common,
                                     init_params={"regularizer": "deo", "lam": value})
    if method == "group_dro":
        return AutoBalanceClassifier(search=None, init="group_dro", **common,
                                     init_params={"eta_q": value})
    from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient

    ce = AutoBalanceClassifier(search=None, init="ce", **common)
    return ExponentiatedGradient(ce, EqualizedOdds(difference_bound=value), max_iter=10)


def score(model, Xte, yte, gte, seed):
    from sklearn_autobalance.metrics import (difference_of_equal_opportunity,
                                             group_balanced_error)

    try:
        pred = model.predict(Xte, random_state=seed)
    except TypeError:
        pred = model.predict(Xte)
    pred = np.asarray(pred).astype(yte.dtype)
    return {"error": 100.0 * np.mean(pred != yte),
            "group_balanced_error": 100.0 * group_balanced_error(yte, pred, sensitive_features=gte),
            "deo": 100.0 * difference_of_equal_opportunity(yte, pred, sensitive_features=gte)}


def report(results, sets):
    out = []
    for s in sets:
        out += [f"### `{s}`", ""]
        means = {}
        for method, (param, values) in SWEEPS.items():
            for v in values:
                found = [r for r in results if r["set"] == s and r["method"] == method
                         and r["value"] == v]
                if found:
                    means[(method, v)] = {k: float(np.mean([r[k] for r in found]))
                                          for k in ("error", "group_balanced_error", "deo")}
                    means[(method, v)]["n"] = len(found)
        rows = [[m, f"{SWEEPS[m][0]}={v:g}", str(p["n"]), f"{p['error']:.2f}",
                 f"{p['group_balanced_error']:.2f}", f"{p['deo']:.2f}"]
                for (m, v), p in means.items()]
        out += [_common.markdown_table(["method", "setting", "seeds", "error", "GBE", "DEO"],
                                       rows), ""]
        for key, label in AXES:
            lines, ab_points, others = [], [], []
            for method in SWEEPS:
                pts = [(p[key], p["deo"]) for (m, _), p in means.items() if m == method]
                if not pts:
                    continue
                if method.startswith("autobalance"):
                    ab_points += pts
                else:
                    others += pts
                front = pareto(pts)
                lines.append([method, f"{hypervolume(pts):.1f}",
                              ", ".join(f"({x:.1f}, {y:.1f})" for x, y in front)])
            if ab_points:
                lines.append(["autobalance (all sweeps)", f"{hypervolume(ab_points):.1f}",
                              ", ".join(f"({x:.1f}, {y:.1f})" for x, y in pareto(ab_points))])
            out += [f"{label} vs DEO (reference point {REFERENCE}):", "",
                    _common.markdown_table(["method", "hypervolume", "Pareto front"], lines), ""]
            if ab_points and others:
                free = [p for p in pareto(ab_points) if not dominated(p, others)]
                out += [f"AutoBalance front undominated: {'yes' if free else 'no'}"
                        + (f" ({len(free)} point(s) no other method dominates)" if free else ""),
                        ""]
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sets", nargs="+", default=SETS, choices=SETS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=list(SWEEPS), choices=list(SWEEPS))
    p.add_argument("--max-epochs", type=int, default=50)
    p.add_argument("--waterbirds-features", type=int, default=512)
    p.add_argument("--merge", nargs="+", default=None)
    _common.add_output_arguments(p, "group_fronts")
    args = p.parse_args(argv)
    out_md, out_json = _common.default_paths("group_fronts", False, args.out, args.json)
    if args.merge:
        # A later file's result replaces an earlier one's for the same point and seed.
        merged = {}
        for f in args.merge:
            for r in json.loads(Path(f).read_text())["results"]:
                merged[(r["set"], r["seed"], r["method"], r["value"])] = r
        results = list(merged.values())
        sets = [s for s in SETS if any(r["set"] == s for r in results)]
        text = report(results, sets)
        _common.write_text(out_md, text)
        print(text)
        return
    import torch

    import bench_groups

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    command = _common.command_line()
    payload = {"command": command, "machine": _common.machine_info(), "results": []}
    for name in args.sets:
        base = "waterbirds_like" if name.startswith("waterbirds") else name
        hidden = (128, 128) if name == "waterbirds_like_mlp" else bench_groups.HIDDEN[base]
        for seed in args.seeds:
            Xtr, ytr, gtr, Xte, yte, gte, desc = bench_groups.make_dataset(base, seed, args)
            print(f"[{name} seed {seed}] {desc}", flush=True)
            for method in args.methods:
                for value in SWEEPS[method][1]:
                    model = make_model(method, value, seed, hidden, args)
                    start = time.perf_counter()
                    model.fit(Xtr, ytr, sensitive_features=gtr)
                    res = {"set": name, "seed": seed, "method": method, "value": value,
                           "fit_time_s": time.perf_counter() - start,
                           **score(model, Xte, yte, gte, seed)}
                    payload["results"].append(res)
                    _common.write_json(out_json, payload)
                    print(f"  {method} {value:g}: err {res['error']:.1f} GBE "
                          f"{res['group_balanced_error']:.1f} DEO {res['deo']:.1f}", flush=True)
    sets = [s for s in SETS if s in args.sets]
    text = _common.machine_markdown(payload["machine"], command) + "\n\n" + report(
        payload["results"], sets)
    _common.write_text(out_md, text)
    print(text)


if __name__ == "__main__":
    main()
