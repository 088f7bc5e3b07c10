"""Personalized data augmentation: the paper's Table 2 in form, on feature vectors.

What is measured
----------------
For every data set, seed and row: the test *balanced error* in percent
(``100 * (1 - balanced_accuracy_score)``, scikit-learn's implementation), the
fit time, and for the searched rows the strengths the search kept
(``augmentation_params_["eps"]``), where the hyper-gradient had taken them at
the last search epoch (``search_history_``), whether the paired selection
moved, and the class counts of the training part. The report gives

1. mean ± sample std (ddof=1) over the seeds, per row and set;
2. per-seed paired comparisons (wins / ties (|diff| < 0.005 points) / losses,
   mean difference) of ``personalized`` against ``shared``, ``pers_ld``
   against ``ld``;
3. the bar, computed: ``personalized`` lower mean than ``shared`` on >= 2/3
   of the sets and ``pers_ld`` lower than ``ld`` on >= half;
4. the strengths the hyper-gradient learned per class against the class's
   training frequency (Spearman correlation per fit, and the mean strength
   per frequency tercile), and a figure of them (``--figure``, the
   ``personalized`` row; the figure in the docs was drawn from the removed
   ``personalized_error`` row and is not regenerated here).

Data sets (fixed before any result; ``bench_search.make_set``): ``digits``,
``synthetic20`` (long-tailed train parts, balanced test parts),
``gmm384`` (384 features, head 360 / tail 7: the default MLP fits its
training set exactly), ``yeast`` and ``abalone`` (naturally long-tailed).

Rows (``AutoBalanceClassifier`` with the default network, epochs, batch size,
learning rate and ``cv`` unless named; ``init="la"``; ``random_state=seed``;
the searched rows use the hyper-gradient search and its paired selection, since
the default ``search="auto"`` for a class objective is the tournament, which
tries noise strengths as arms and refuses ``augmentation``):

- ``la``: ``search=None`` (no augmentation): the reference;
- ``noise_grid``: fixed shared noise, ``search=None, augmentation="shared"``,
  the strength chosen by ``GridSearchCV`` over eps in
  (0.05, 0.1, 0.2, 0.4, 0.8, 1.6), ``StratifiedKFold(3, shuffle=True,
  random_state=seed)``, ``scoring="balanced_accuracy"``, refit (the best
  fixed strength on validation data);
- ``shared``: ``search="eps", augmentation="shared"`` (learned, one strength);
- ``personalized``: ``search="eps", augmentation="personalized"`` (one per
  class: these sets have at most 20 classes, automatic frequency clusters);
- ``ld``: ``search="l+delta"`` (the hyper-gradient search of ``l`` and Delta,
  the default before the tournament), no augmentation;
- ``pers_ld``: ``search="l+delta", augmentation="personalized"``.

The rows ``shared_error``, ``personalized_error`` and ``pers_ld_error`` (the
same with ``selection="error"``: the lowest out-of-fold error kept, however
small the gain) went with the ``selection`` parameter in issue 22; git history
has the old script, and their figures stay in ``docs/studies/augmentation.md``.

Examples
--------
Full run (about 45 minutes on 2 shared cores in one process at ``--threads 1``;
split ``--sets`` over two processes and ``--merge`` the JSON files)::

    python benchmarks/bench_augmentation.py

Smoke test (seed 0, max_epochs 6, digits, rows la, shared, personalized)::

    python benchmarks/bench_augmentation.py --quick

The cost of augmentation (epoch time with and without, ratio in one run)::

    python benchmarks/bench_augmentation.py --speed

Where a searched strength goes from a small and from a large start, on the
development sets of ``dev_search.py`` (``hd``, ``syn10``, ``flare``; seeds 0-1;
fixed noise at 0.1 / 0.4 / 1.6 scored on a 30% validation split of the
training part, then ``search="eps", augmentation="shared"`` from 0.1 and from
0.8, scored on the test part; about 5 minutes). The last searched strength is
read from ``search_history_`` whatever the selection keeps; the test error is
that of the paired selection's model (before issue 22 this check ran with the
removed ``selection="error"``, which kept the lowest out-of-fold error)::

    python benchmarks/bench_augmentation.py --start-check

``--start-eps`` sets the start of the searched rows (default: the estimator's).

The raw size of the strengths' hyper-gradient against that of ``l`` and Delta
(before the strengths' normalisation), per hyper-step, in the search of ``l``
and Delta (``search="l+delta"``, the default before the tournament) with
``augmentation="personalized"`` from 0.1 and from 0.8, on the same
development sets (seed 0; about 2 minutes)::

    python benchmarks/bench_augmentation.py --gradient-check
"""

import argparse
import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

ALL_SETS = ["digits", "synthetic20", "gmm384", "yeast", "abalone"]
ALL_ROWS = ["la", "noise_grid", "shared", "personalized", "ld", "pers_ld"]
QUICK_ROWS = ["la", "shared", "personalized"]
GRID = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
TIE = 0.005
ROW_KWARGS = {
    "la": {"search": None},
    "shared": {"search": "eps", "augmentation": "shared"},
    "personalized": {"search": "eps", "augmentation": "personalized"},
    "ld": {"search": "l+delta"},
    "pers_ld": {"search": "l+delta", "augmentation": "personalized"},
}
ROW_LABELS = {
    "la": "LA, no augmentation",
    "noise_grid": "fixed shared noise, eps by GridSearchCV",
    "shared": "learned shared eps",
    "personalized": "learned personalized eps",
    "ld": "l & Delta (search='l+delta')",
    "pers_ld": "personalized + l & Delta",
}
COMPARISONS = [("personalized", "shared"), ("pers_ld", "ld"),
               ("noise_grid", "la"), ("personalized", "la")]


def make_estimator(row, seed, args):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from sklearn_autobalance import AutoBalanceClassifier

    base = dict(hidden_layer_sizes=tuple(args.hidden), max_epochs=args.max_epochs,
                batch_size=args.batch_size, lr=args.lr, device=args.device,
                random_state=seed)
    if row == "noise_grid":
        inner = AutoBalanceClassifier(**base, search=None, augmentation="shared")
        grid = {"augmentation_params": [{"eps": e} for e in GRID]}
        est = GridSearchCV(inner, grid, cv=StratifiedKFold(3, shuffle=True, random_state=seed),
                           scoring="balanced_accuracy", refit=True, n_jobs=1)
        return est, {**base, "search": None, "augmentation": "shared", "grid": list(GRID)}
    params = dict(ROW_KWARGS[row])
    if args.start_eps is not None and "augmentation" in params:
        params["augmentation_params"] = {"eps": args.start_eps}
    return AutoBalanceClassifier(**base, **params), {**base, **params}


def run_one(Xtr, ytr, Xte, yte, row, seed, args):
    from sklearn.metrics import balanced_accuracy_score

    est, params = make_estimator(row, seed, args)
    start = time.perf_counter()
    est.fit(Xtr, ytr)
    out = {"row": row, "seed": seed, "params": params,
           "fit_time_s": time.perf_counter() - start,
           "balanced_error": 100.0 * (1.0 - balanced_accuracy_score(yte, est.predict(Xte))),
           "class_counts": np.bincount(ytr).tolist()}
    clf = est
    if row == "noise_grid":
        clf = est.best_estimator_
        out["chosen_eps"] = float(est.best_params_["augmentation_params"]["eps"])
    if clf.augmentation_params_ is not None:
        out["eps"] = np.round(clf.augmentation_params_["eps"], 4).tolist()
    records = [r for r in (clf.search_history_ or []) if r["scope"] == "validation_set"]
    if records and "eps" in records[-1]["params"]:
        out["last_eps"] = np.round(records[-1]["params"]["eps"], 4).tolist()
    report = getattr(clf, "selection_report_", None)
    if report is not None:
        b = report["best"]
        out.update(moved=bool(report["moved"]), best_gain=float(report["gain"][b]),
                   best_se=float(report["se"][b]), threshold=float(report["threshold"]))
    elif clf.best_epoch_ is not None and records:
        out["moved"] = bool(clf.best_step_ != records[0]["step"])
    return out


# ----------------------------------------------------------------------------- report
def _values(results, row, s):
    return {r["seed"]: r["balanced_error"] for r in results if r["row"] == row and r["set"] == s}


def _cell(vals):
    if not vals:
        return "—"
    v = np.array(list(vals.values()))
    return f"{v.mean():.2f} ± {v.std(ddof=1):.2f}" if len(v) > 1 else f"{v.mean():.2f}"


def paired(results, s, a, b):
    va, vb = _values(results, a, s), _values(results, b, s)
    common = sorted(set(va) & set(vb))
    if not common:
        return None
    d = np.array([va[k] - vb[k] for k in common])
    return {"n": len(common), "wins": int((d <= -TIE).sum()), "ties": int((abs(d) < TIE).sum()),
            "losses": int((d >= TIE).sum()), "mean_diff": float(d.mean()),
            "se": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None}


def _spearman(a, b):
    from scipy.stats import spearmanr

    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.allclose(a, a[0]) or np.allclose(b, b[0]):
        return None
    return float(spearmanr(a, b).statistic)


def strength_table(results, sets, rows=("personalized", "pers_ld")):
    """Per set and row: mean Spearman(eps, frequency) and mean eps per frequency tercile."""
    lines = []
    for s in sets:
        for row in rows:
            fits = [r for r in results if r["set"] == s and r["row"] == row and "last_eps" in r]
            if not fits:
                continue
            rhos, terciles = [], []
            for r in fits:
                counts, eps = np.asarray(r["class_counts"], float), np.asarray(r["last_eps"], float)
                rho = _spearman(eps, counts)
                if rho is not None:
                    rhos.append(rho)
                order = np.argsort(-counts)  # head first
                parts = np.array_split(order, 3)
                terciles.append([float(eps[p].mean()) for p in parts])
            t = np.mean(terciles, axis=0)
            lines.append([s, ROW_LABELS[row], str(len(fits)),
                          f"{np.mean(rhos):+.2f}" if rhos else "—",
                          f"{t[0]:.2f}", f"{t[1]:.2f}", f"{t[2]:.2f}"])
    return _common.markdown_table(
        ["set", "row", "fits", "Spearman(eps, frequency)", "eps head third",
         "eps middle third", "eps tail third"], lines)


def figure(results, sets, path, row="personalized"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from sklearn_autobalance._augmentation import DEFAULT_EPS

    fig, axes = plt.subplots(1, len(sets), figsize=(3.2 * len(sets), 3.4), squeeze=False)
    for ax, s in zip(axes[0], sets):
        for r in results:
            if r["set"] == s and r["row"] == row and "last_eps" in r:
                counts = np.asarray(r["class_counts"], float)
                ax.scatter(counts / counts.sum(), r["last_eps"], s=12, alpha=0.7,
                           label=f"seed {r['seed']}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        # Ticks at 1, 2 and 5 per decade, as plain numbers: the strengths often span
        # less than one decade, which would leave a log axis without labels.
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.axhline(DEFAULT_EPS, color="grey", lw=0.8, ls="--",
                   label=f"start of the search ({DEFAULT_EPS:g})")
        ax.set_title(s)
        ax.set_xlabel("class frequency (share of training rows)")
    axes[0][0].set_ylabel("learned noise strength eps\n(feature std units, last search epoch)")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(f"Learned feature-noise strength per class against class frequency "
                 f"({ROW_LABELS[row]}; one point per class and seed; a parameter, not a score)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report(payload, sets, rows):
    results = payload["results"]
    out = ["# Personalized augmentation (bench_augmentation.py)", ""]
    for run in payload["runs"]:
        out += [_common.machine_markdown(run["machine"], run["command"]), ""]
    out += ["## Test balanced error (%), mean ± std over seeds", ""]
    out.append(_common.markdown_table(
        ["row"] + sets, [[ROW_LABELS[r]] + [_cell(_values(results, r, s)) for s in sets]
                         for r in rows]))
    out += ["", "## Paired per seed (a - b, points; wins of a / ties / losses)", ""]
    lines = []
    for a, b in COMPARISONS:
        if a not in rows or b not in rows:
            continue
        cells = []
        for s in sets:
            p = paired(results, s, a, b)
            cells.append("—" if p is None else
                         f"{p['mean_diff']:+.2f} ({p['wins']}/{p['ties']}/{p['losses']})")
        lines.append([f"{a} − {b}"] + cells)
    out.append(_common.markdown_table(["comparison"] + sets, lines))
    out += ["", "## The bar", ""]
    for a, b, need in (("personalized", "shared", 2 / 3), ("pers_ld", "ld", 0.5)):
        ps = [paired(results, s, a, b) for s in sets]
        ps = [p for p in ps if p is not None]
        better = sum(p["mean_diff"] < 0 for p in ps)
        out.append(f"- {a} lower mean than {b} on {better}/{len(ps)} sets "
                   f"(needed {need:.2f} of them): {'PASS' if ps and better >= need * len(ps) else 'FAIL'}")
    out += ["", "## How often the paired selection moved; the strengths chosen", ""]
    lines = []
    for r in rows:
        cells = []
        for s in sets:
            fits = [x for x in results if x["row"] == r and x["set"] == s]
            if r == "noise_grid":
                cells.append(", ".join(f"{x['chosen_eps']:g}" for x in fits) or "—")
            elif fits and "moved" in fits[0]:
                cells.append(f"{sum(bool(x['moved']) for x in fits)}/{len(fits)}")
            else:
                cells.append("—")
        lines.append([ROW_LABELS[r]] + cells)
    out.append(_common.markdown_table(["row (moved / chosen eps)"] + sets, lines))
    out += ["", "## Learned strength per class against class frequency", "",
            strength_table(results, sets), ""]
    times = [[ROW_LABELS[r]] + [
        f"{np.median([x['fit_time_s'] for x in results if x['row'] == r and x['set'] == s]):.1f}"
        if any(x['row'] == r and x['set'] == s for x in results) else "—" for s in sets]
        for r in rows]
    out += ["## Median fit time (s)", "", _common.markdown_table(["row"] + sets, times), ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------- speed
def speed(args):
    """Epoch time with and without augmentation, interleaved repeats, ratio of medians."""
    import torch

    import bench_search
    from sklearn_autobalance import AutoBalanceClassifier

    lines = []
    for name in ("digits", "gmm384"):
        Xtr, ytr = bench_search.make_set(name, 0)[:2]
        arms = {
            "search=None": dict(search=None),
            "search=None, augmentation='shared' (eps 0.1)": dict(search=None,
                                                                 augmentation="shared"),
            "search='l+delta'": dict(search="l+delta"),
            "search='l+delta', augmentation='personalized'": dict(search="l+delta",
                                                                  augmentation="personalized"),
        }
        times = {k: [] for k in arms}
        for rep in range(args.repeats):
            for k, kw in arms.items():
                clf = AutoBalanceClassifier(random_state=rep, max_epochs=args.max_epochs, **kw)
                t = time.perf_counter()
                clf.fit(Xtr, ytr)
                times[k].append(time.perf_counter() - t)
        med = {k: float(np.median(v)) for k, v in times.items()}
        keys = list(arms)
        lines.append([name, f"{med[keys[0]]:.2f}", f"{med[keys[1]]:.2f}",
                      f"{med[keys[1]] / med[keys[0]]:.3f}", f"{med[keys[2]]:.2f}",
                      f"{med[keys[3]]:.2f}", f"{med[keys[3]] / med[keys[2]]:.3f}"])
        print(lines[-1], flush=True)
    return _common.markdown_table(
        ["set", "fit, no aug (s)", "fit, aug (s)", "ratio", "search fit, no aug (s)",
         "search fit, aug (s)", "ratio"], lines)


def start_check():
    """Fixed noise on a validation split, and the searched strength from two starts (dev sets)."""
    import torch
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import train_test_split

    import dev_search
    from sklearn_autobalance import AutoBalanceClassifier
    from sklearn_autobalance.losses import balanced_cross_entropy

    lines = []
    for name in ("hd", "syn10", "flare"):
        for seed in (0, 1):
            Xtr, ytr, Xte, yte = dev_search.make(name, seed)[:4]
            Xa, Xv, ya, yv = train_test_split(Xtr, ytr, test_size=0.3, stratify=ytr,
                                              random_state=seed)
            row = [name, str(seed)]
            for eps in (0.1, 0.4, 1.6):
                clf = AutoBalanceClassifier(search=None, augmentation="shared",
                                            augmentation_params={"eps": eps},
                                            random_state=seed).fit(Xa, ya)
                z = torch.tensor(clf.decision_function(Xv))
                ce = float(balanced_cross_entropy(z, torch.tensor(yv), len(np.unique(ytr))))
                err = 100 * (1 - balanced_accuracy_score(yv, clf.predict(Xv)))
                row.append(f"{ce:.3f} / {err:.1f}")
            for start in (0.1, 0.8):
                clf = AutoBalanceClassifier(search="eps", augmentation="shared",
                                            augmentation_params={"eps": start},
                                            random_state=seed).fit(Xtr, ytr)
                last = [r for r in clf.search_history_ if r["scope"] == "validation_set"][-1]
                err = 100 * (1 - balanced_accuracy_score(yte, clf.predict(Xte)))
                row.append(f"{last['params']['eps'].flat[0]:.3f} / {err:.1f}")
            lines.append(row)
            print(row, flush=True)
    return _common.markdown_table(
        ["set", "seed", "fixed 0.1: val bal. CE / bal. err %", "fixed 0.4", "fixed 1.6",
         "learned from 0.1: last eps / test bal. err %", "learned from 0.8"], lines)


def gradient_check():
    """Median per-step norms of the raw hyper-gradient of l, Delta and the strengths."""
    import dev_search
    from sklearn_autobalance import AutoBalanceClassifier, _search

    original = _search.implicit_hypergradient
    norms = []

    def recording(*a, **k):
        out = original(*a, **k)
        norms.append([float(g.norm()) for g in out[0]])
        return out

    _search.implicit_hypergradient = recording
    lines = []
    try:
        for name in ("hd", "syn10", "flare"):
            Xtr, ytr = dev_search.make(name, 0)[:2]
            for start in (0.1, 0.8):
                norms.clear()
                AutoBalanceClassifier(search="l+delta", augmentation="personalized",
                                      random_state=0,
                                      augmentation_params={"eps": start}).fit(Xtr, ytr)
                med = np.median(np.array(norms), axis=0)  # hparams order: l, delta, eps
                lines.append([name, f"{start:g}", str(len(norms)), f"{med[0]:.2e}",
                              f"{med[1]:.2e}", f"{med[2]:.2e}",
                              f"{med[2] / max(med[0], med[1]):.3f}"])
                print(lines[-1], flush=True)
    finally:
        _search.implicit_hypergradient = original
    return _common.markdown_table(
        ["set", "eps start", "hyper-steps", "median |g_l|", "median |g_Delta|",
         "median |g_eps|", "|g_eps| / max(|g_l|, |g_Delta|)"], lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sets", nargs="+", default=None, choices=ALL_SETS)
    p.add_argument("--rows", nargs="+", default=None, choices=ALL_ROWS)
    p.add_argument("--seeds", nargs="+", type=int, default=None)
    _common.add_network_arguments(p)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON")
    p.add_argument("--figure", default=None, help="PNG of the learned strengths per class")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--speed", action="store_true",
                   help="the cost of augmentation: fit times with and without, one run")
    p.add_argument("--repeats", type=int, default=5, help="--speed: interleaved repeats")
    p.add_argument("--start-check", action="store_true",
                   help="where a searched strength goes from 0.1 and from 0.8 (dev sets)")
    p.add_argument("--gradient-check", action="store_true",
                   help="raw size of the strengths' hyper-gradient against l and Delta")
    p.add_argument("--start-eps", type=float, default=None,
                   help="start of the searched strengths (default: the estimator's)")
    _common.add_output_arguments(p, "augmentation")
    args = p.parse_args(argv)
    if args.quick:
        args.max_epochs = min(args.max_epochs, 6)
        args.seeds = args.seeds or [0]
        args.sets = args.sets or ["digits"]
        args.rows = args.rows or list(QUICK_ROWS)
    args.sets = [s for s in ALL_SETS if s in (args.sets or ALL_SETS)]
    args.rows = [r for r in ALL_ROWS if r in (args.rows or ALL_ROWS)]
    args.seeds = args.seeds or [0, 1, 2, 3, 4]
    return args


def main(argv=None):
    args = parse_args(argv)
    import torch

    import bench_search

    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning, module="sklearn_autobalance")
    warnings.filterwarnings("ignore", message="The least populated class")
    out_md, out_json = _common.default_paths("augmentation", args.quick, args.out, args.json)
    command = _common.command_line()
    run_info = {"command": command, "machine": _common.machine_info(args.device)}
    for flag, (check, filename) in {"start_check": (start_check, "augmentation_start.md"),
                                    "gradient_check": (gradient_check,
                                                       "augmentation_gradient.md")}.items():
        if getattr(args, flag):
            text = _common.machine_markdown(run_info["machine"], command) + "\n\n" + check()
            _common.write_text(out_md if args.out else out_md.with_name(filename), text)
            print(text)
            return
    if args.speed:
        bench_search.warm_up(args.device)
        text = (_common.machine_markdown(run_info["machine"], command) + "\n\n"
                + speed(args))
        _common.write_text(out_md if args.out else out_md.with_name(out_md.stem + "_speed.md"),
                           text)
        print(text)
        return
    if args.merge:
        payload = {"runs": [], "results": []}
        for path in args.merge:
            part = json.loads(Path(path).read_text())
            payload["runs"] += part["runs"]
            payload["results"] += part["results"]
    else:
        payload = {"benchmark": "augmentation", "cwd": os.getcwd(), "args": vars(args),
                   "runs": [], "results": [], "failures": []}
        if args.resume and Path(out_json).exists():
            old = json.loads(Path(out_json).read_text())
            payload.update(runs=old["runs"], results=old["results"])
        payload["runs"].append(run_info)
        done = {(r["set"], r["seed"], r["row"]) for r in payload["results"]}
        print(_common.machine_markdown(run_info["machine"], command), flush=True)
        bench_search.warm_up(args.device)
        for name in args.sets:
            for seed in args.seeds:
                todo = [r for r in args.rows if (name, seed, r) not in done]
                if not todo:
                    continue
                Xtr, ytr, Xte, yte, desc = bench_search.make_set(name, seed)
                print(f"[{name} seed {seed}] {desc}", flush=True)
                for row in todo:
                    try:
                        res = run_one(Xtr, ytr, Xte, yte, row, seed, args)
                    except Exception as exc:  # recorded; --resume retries it
                        traceback.print_exc()
                        payload["failures"].append({"set": name, "seed": seed, "row": row,
                                                    "error": f"{type(exc).__name__}: {exc}"})
                        continue
                    res["set"] = name
                    payload["results"].append(res)
                    _common.write_json(out_json, payload)
                    print(f"  {row:20s} bal.err {res['balanced_error']:6.2f}%  "
                          f"{res['fit_time_s']:6.1f}s  moved {res.get('moved')}  "
                          f"eps {res.get('last_eps', res.get('chosen_eps'))}", flush=True)
    sets = [s for s in ALL_SETS if any(r["set"] == s for r in payload["results"])]
    rows = [r for r in ALL_ROWS if any(x["row"] == r for x in payload["results"])]
    text = report(payload, sets, rows)
    _common.write_text(out_md, text)
    if args.figure:
        figure(payload["results"], sets, args.figure)
    print(text)


if __name__ == "__main__":
    main()
