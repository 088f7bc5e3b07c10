"""Does the AutoBalance search pay for itself? Against the fixed losses and a tau grid.

What is measured
----------------
For every data set, seed and row: the test *balanced error* in percent,
``100 * (1 - balanced_accuracy_score(y_test, y_pred))`` (scikit-learn's
implementation, independent of the package's metrics), the plain test error,
the train balanced error, and the wall time of ``fit`` (``time.perf_counter``
around ``fit`` only, the whole ``GridSearchCV.fit`` for the grid row; throw-away
warm-up fits at process start absorb torch's one-time lazy imports). The
report gives

1. mean ± sample std (ddof=1) over the seeds, per row and set, and the best
   fixed loss per set chosen on the test means (an oracle: a reference, not a
   method);
2. per-seed paired comparisons of ``ab_default`` against ``la``,
   ``la_tau_grid`` and ``ab_today`` (and of ``ab_cv3`` / ``ab_cv5`` against
   ``la``): wins / ties (|difference| < 0.005 points) / losses and the mean
   difference;
3. the bar, computed: ``ab_default`` lower mean than ``la`` on >= 2/3 of the
   sets; lower mean than ``la_tau_grid`` on >= half; never above ``la`` by more
   than one std (of ``la``) on any set; lower mean than ``ab_today`` averaged
   over the sets (mean over sets of the per-set mean);
4. how often the paired selection moved away from the initial loss, the kept
   epoch, the median fit time per row, the taus the grid chose, and the train
   balanced accuracy of ``la`` on ``gmm384`` (the default MLP interpolates it).

Data sets (fixed before any result; ``--sets`` filters; preprocessing is
fitted on the train part only):

- ``digits``, ``synthetic20``: ``bench_long_tailed.make_dataset`` with that
  script's defaults (``bench_long_tailed.parse_args([])``): long-tailed train
  part (ratio 10 and 100), balanced test part, ``StandardScaler``.
- ``gmm384``: the interpolating set: ``make_classification(n_samples=6000,
  n_features=384, n_informative=48, n_redundant=0, n_classes=10,
  n_clusters_per_class=1, class_sep=2.0, flip_y=0.0, random_state=5000 +
  seed)``, stratified 40% test split (seeded, balanced), the train part made
  long-tailed with ``make_long_tailed(imbalance_ratio=50, random_state=seed)``
  (head 360, tail 7), ``StandardScaler``.
- ``abalone``, ``yeast``, ``page_blocks``, ``kr_vs_k``: the naturally
  long-tailed sets ``_real_data.REPORT_SETS`` (offline, see
  ``_real_data.py``), stratified 70/30 split seeded by the seed,
  ``StandardScaler``; the test part keeps the natural class distribution (the
  balanced error weighs every class alike anyway).

Rows (all ``AutoBalanceClassifier`` with the estimator's default network,
epochs, batch size and learning rate unless ``--hidden`` / ``--max-epochs`` /
``--batch-size`` / ``--lr`` change them; ``random_state=seed``):

- fixed losses, ``search=None``: ``ce``, ``balanced``, ``la``, ``cdt``, ``vs``,
  ``ldam_drw`` (``init="ldam"``, ``init_params={"drw_epoch": int(0.6 *
  max_epochs)}``);
- ``la_tau_grid``: ``GridSearchCV`` of the ``la`` row over ``init_params`` tau
  in (0.5, 1.0, 1.5, 2.0), ``StratifiedKFold(3, shuffle=True,
  random_state=seed)``, ``scoring="balanced_accuracy"``, refit, ``n_jobs=1``;
- ``ab_today``: ``AutoBalanceClassifier(cv=None, selection="error")`` (the
  previous default);
- ``ab_default``: ``AutoBalanceClassifier()`` (the current default);
- ``ab_cv3``, ``ab_cv5``: ``AutoBalanceClassifier(cv=3)`` / ``(cv=5)``.
- ``ab_soft``: ``AutoBalanceClassifier(selection="paired_soft")``: the paired test on each
  sample's expected 0-1 error ``1 - p(y | x)`` instead of its 0-1 error.

All fits run sequentially in this process. Every (set, seed, row) is appended
to the JSON file as soon as it finishes, so an interrupted run keeps its work;
``--resume`` skips the (set, seed, row) already in that file. ``--merge A.json
B.json ...`` writes the Markdown report of several result files (e.g. two
processes on disjoint ``--sets``) and runs nothing.

Examples
--------
Full run (all sets and rows, seeds 0-4). Estimated from seed-0 fit times on 2
shared cores at ``--threads 1``: about 50 minutes in one process, per set
(5 seeds) digits ~1 min, yeast ~2, gmm384 ~3, synthetic20 ~4, abalone ~4.5,
page_blocks ~5.5, kr_vs_k ~31 (per seed there: each fixed row ~13 s, the tau
grid ~2 min, ab_today ~27 s, ab_default = ab_cv3 ~37 s, ab_cv5 ~67 s)::

    python benchmarks/bench_search.py

The same split over two processes (~31 minutes wall, kr_vs_k alone on one
core), then one report::

    python benchmarks/bench_search.py --sets digits synthetic20 gmm384 abalone yeast \\
        page_blocks --json benchmarks/results/search_a.json \\
        --out benchmarks/results/search_a.md
    python benchmarks/bench_search.py --sets kr_vs_k \\
        --json benchmarks/results/search_b.json --out benchmarks/results/search_b.md
    python benchmarks/bench_search.py --merge benchmarks/results/search_a.json \\
        benchmarks/results/search_b.json

Smoke test (1 seed, max_epochs 6, sets digits and yeast, rows la,
la_tau_grid, ab_default; about 10 seconds)::

    python benchmarks/bench_search.py --quick
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

FIXED_ROWS = ["ce", "balanced", "la", "cdt", "vs", "ldam_drw"]
AB_ROWS = ["ab_today", "ab_default", "ab_cv3", "ab_cv5", "ab_soft"]
ALL_ROWS = FIXED_ROWS + ["la_tau_grid"] + AB_ROWS
ALL_SETS = ["digits", "synthetic20", "gmm384", "abalone", "yeast", "page_blocks", "kr_vs_k"]
QUICK_SETS = ["digits", "yeast"]
QUICK_ROWS = ["la", "la_tau_grid", "ab_default"]
TAUS = (0.5, 1.0, 1.5, 2.0)
TIE = 0.005  # points of balanced error

ROW_LABELS = {
    "ce": "CE",
    "balanced": "Balanced CE",
    "la": "LA (tau=1)",
    "cdt": "CDT",
    "vs": "VS",
    "ldam_drw": "LDAM-DRW",
    "la_tau_grid": "LA, tau by GridSearchCV (3-fold)",
    "ab_today": "AutoBalance cv=None, selection='error' (previous default)",
    "ab_default": "AutoBalance, defaults",
    "ab_cv3": "AutoBalance cv=3",
    "ab_cv5": "AutoBalance cv=5",
    "ab_soft": "AutoBalance selection='paired_soft' (expected error)",
}
AB_KWARGS = {
    "ab_today": {"cv": None, "selection": "error"},
    "ab_default": {},
    "ab_cv3": {"cv": 3},
    "ab_cv5": {"cv": 5},
    "ab_soft": {"selection": "paired_soft"},
}
NETWORK_KEYS = ["hidden", "max_epochs", "batch_size", "lr", "device"]


# ----------------------------------------------------------------------------- data
_REAL_CACHE = {}


def make_set(name, seed):
    """``(X_train, y_train, X_test, y_test, description)`` as float32 / int64 arrays."""
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from sklearn_autobalance.datasets import make_long_tailed

    if name in ("digits", "synthetic20"):
        import bench_long_tailed

        Xtr, ytr, Xte, yte, desc = bench_long_tailed.make_dataset(
            name, seed, bench_long_tailed.parse_args([]))
        return Xtr, ytr.astype(np.int64), Xte, yte.astype(np.int64), \
            desc + " (bench_long_tailed.make_dataset)"
    if name == "gmm384":
        X, y = make_classification(
            n_samples=6000, n_features=384, n_informative=48, n_redundant=0, n_classes=10,
            n_clusters_per_class=1, class_sep=2.0, flip_y=0.0, random_state=5000 + seed)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, stratify=y,
                                              random_state=seed)
        Xtr, ytr = make_long_tailed(Xtr, ytr, imbalance_ratio=50, random_state=seed)[:2]
        test_kind = "balanced"
        what = "make_classification(6000, 384 features, 48 informative, 10 classes, sep 2.0)"
    else:
        import _real_data

        if name not in _REAL_CACHE:
            _REAL_CACHE[name] = _real_data.load(name)
        X, y, info = _REAL_CACHE[name]
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y,
                                              random_state=seed)
        test_kind = "natural class distribution"
        what = (f"{info['n']} rows, {info['classes']} classes, natural ratio "
                f"{info['imbalance_ratio']:.1f}")
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr).astype(np.float32), scaler.transform(Xte).astype(np.float32)
    counts = np.bincount(ytr)
    desc = (f"{what}; train {len(ytr)} rows (head {counts.max()}, tail {counts.min()}, "
            f"ratio {counts.max() / counts.min():.1f}), test {len(yte)} rows "
            f"({test_kind}), {Xtr.shape[1]} features; StandardScaler")
    return Xtr, np.asarray(ytr, dtype=np.int64), Xte, np.asarray(yte, dtype=np.int64), desc


# ----------------------------------------------------------------------------- rows
def network_params(args, seed):
    return dict(hidden_layer_sizes=tuple(args.hidden), max_epochs=args.max_epochs,
                batch_size=args.batch_size, lr=args.lr, device=args.device,
                random_state=seed)


def make_estimator(row, seed, args):
    """The estimator of a row (unfitted) and its description as a dict."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from sklearn_autobalance import AutoBalanceClassifier

    base = network_params(args, seed)
    if row in FIXED_ROWS:
        params = {"search": None, "init": row}
        if row == "ldam_drw":
            params = {"search": None, "init": "ldam",
                      "init_params": {"drw_epoch": int(0.6 * args.max_epochs)}}
        return AutoBalanceClassifier(**base, **params), {**base, **params}
    if row == "la_tau_grid":
        inner = AutoBalanceClassifier(**base, search=None, init="la")
        grid = {"init_params": [{"tau": t} for t in TAUS]}
        est = GridSearchCV(inner, grid, cv=StratifiedKFold(3, shuffle=True, random_state=seed),
                           scoring="balanced_accuracy", refit=True, n_jobs=1)
        return est, {**base, "search": None, "init": "la", "grid_taus": list(TAUS),
                     "grid_cv": "StratifiedKFold(3, shuffle=True, random_state=seed)"}
    params = AB_KWARGS[row]
    return AutoBalanceClassifier(**base, **params), {**base, **params}


def _moved_by_history(clf):
    """Whether the kept step is past the first epoch-end record (the initial loss)."""
    history = getattr(clf, "search_history_", None) or []
    val = [r for r in history if r.get("scope") == "validation_set"]
    if not val or clf.best_step_ is None:
        return None
    return bool(clf.best_step_ != val[0]["step"])


def run_one(Xtr, ytr, Xte, yte, row, seed, args):
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    est, params = make_estimator(row, seed, args)
    start = time.perf_counter()
    est.fit(Xtr, ytr)
    fit_time = time.perf_counter() - start
    pred = est.predict(Xte)
    out = {
        "row": row, "seed": seed, "params": params,
        "balanced_error": 100.0 * (1.0 - balanced_accuracy_score(yte, pred)),
        "error": 100.0 * (1.0 - accuracy_score(yte, pred)),
        "train_balanced_error": 100.0 * (1.0 - balanced_accuracy_score(ytr, est.predict(Xtr))),
        "fit_time_s": fit_time,
    }
    clf = est
    if row == "la_tau_grid":
        clf = est.best_estimator_
        out["chosen_tau"] = float(est.best_params_["init_params"]["tau"])
        out["grid_cv_balanced_accuracy"] = {
            str(p["init_params"]["tau"]): float(s)
            for p, s in zip(est.cv_results_["params"], est.cv_results_["mean_test_score"])}
    out["loss_params"] = {k: np.round(np.asarray(v, dtype=float), 4).tolist()
                          for k, v in clf.loss_params_.items()}
    if row in AB_ROWS:
        # What the row meant when it ran (the defaults move between versions).
        got = clf.get_params()
        out["resolved"] = {k: got[k] for k in ("search", "init", "dictionary", "cv",
                                                "selection", "significance", "refit")}
        report = clf.selection_report_
        out["best_epoch"] = None if clf.best_epoch_ is None else int(clf.best_epoch_)
        out["best_step"] = None if clf.best_step_ is None else int(clf.best_step_)
        out["moved_by_history"] = _moved_by_history(clf)
        if report is not None:
            out["moved"] = bool(report["moved"])
            out["selection_index"] = int(report["index"])
            out["selection_threshold"] = float(report["threshold"])
            out["selection_gain"] = np.round(np.asarray(report["gain"], float), 5).tolist()
            out["selection_se"] = np.round(np.asarray(report["se"], float), 5).tolist()
        else:  # selection="error": no paired report; from the history instead
            out["moved"] = out["moved_by_history"]
    return out


def warm_up(device):
    """Tiny fits: torch imports torch._dynamo / torch.func lazily on first use (~3 s)."""
    from sklearn_autobalance import AutoBalanceClassifier

    rng = np.random.RandomState(0)
    X, y = rng.randn(96, 4).astype(np.float32), np.arange(96) % 2
    for kwargs in ({"search": None}, {}, {"cv": 2}):
        AutoBalanceClassifier(hidden_layer_sizes=(4,), max_epochs=3, device=device,
                              random_state=0, **kwargs).fit(X, y)


# ----------------------------------------------------------------------------- report
def _values(results, row, s, key="balanced_error", seeds=None):
    """``{seed: value}`` of one row on one set."""
    return {r["seed"]: r[key] for r in results
            if r["row"] == row and r["set"] == s and r.get(key) is not None
            and (seeds is None or r["seed"] in seeds)}


def _mean(vals):
    return float(np.mean(list(vals.values()))) if vals else None


def _std(vals):
    return float(np.std(list(vals.values()), ddof=1)) if len(vals) > 1 else None


def _cell(vals, fmt="{:.2f}"):
    if not vals:
        return "—"
    std = _std(vals)
    return (fmt.format(_mean(vals)) + (f" ± {fmt.format(std)}" if std is not None else "")
            + f" (n={len(vals)})")


def paired(results, s, a, b):
    """Per-seed ``a - b`` on set ``s`` (common seeds): dict with wins/ties/losses of a."""
    va, vb = _values(results, a, s), _values(results, b, s)
    common = sorted(set(va) & set(vb))
    if not common:
        return None
    diff = np.array([va[k] - vb[k] for k in common])
    return {"n": len(common), "wins": int((diff <= -TIE).sum()),
            "ties": int((np.abs(diff) < TIE).sum()), "losses": int((diff >= TIE).sum()),
            "mean_diff": float(diff.mean()),
            "mean_a": float(np.mean([va[k] for k in common])),
            "mean_b": float(np.mean([vb[k] for k in common])),
            "std_b": float(np.std([vb[k] for k in common], ddof=1)) if len(common) > 1 else None}


def bar_check(results, sets):
    """The four bar lines: list of (text, verdict)."""
    lines = []

    def sets_with(a, b):
        return {s: p for s in sets if (p := paired(results, s, a, b)) is not None}

    def verdict(ok):
        return "PASS" if ok else "FAIL"

    pla = sets_with("ab_default", "la")
    if pla:
        better = [s for s, p in pla.items() if p["mean_a"] < p["mean_b"]]
        ok = 3 * len(better) >= 2 * len(pla)
        lines.append((f"ab_default strictly better than la (mean over common seeds) on >= 2/3 "
                      f"of the sets: {len(better)}/{len(pla)} "
                      f"({', '.join(better) or 'none'})", verdict(ok)))
    else:
        lines.append(("ab_default vs la: no set with both rows", "n/a"))
    pgrid = sets_with("ab_default", "la_tau_grid")
    if pgrid:
        better = [s for s, p in pgrid.items() if p["mean_a"] < p["mean_b"]]
        ok = 2 * len(better) >= len(pgrid)
        lines.append((f"ab_default strictly better than la_tau_grid on >= half of the sets: "
                      f"{len(better)}/{len(pgrid)} ({', '.join(better) or 'none'})",
                      verdict(ok)))
    else:
        lines.append(("ab_default vs la_tau_grid: no set with both rows", "n/a"))
    if pla:
        with_std = {s: p for s, p in pla.items() if p["std_b"] is not None}
        worse = [f"{s} (+{p['mean_diff']:.2f} > std {p['std_b']:.2f})"
                 for s, p in with_std.items() if p["mean_a"] - p["mean_b"] > p["std_b"]]
        missing = sorted(set(pla) - set(with_std))
        if with_std:
            text = (f"ab_default never worse than la by more than one std of la on any set: "
                    f"{len(worse)}/{len(with_std)} sets worse"
                    + (f": {'; '.join(worse)}" if worse else "")
                    + (f" (not checked, 1 seed: {', '.join(missing)})" if missing else ""))
            lines.append((text, verdict(not worse)))
        else:
            lines.append(("ab_default within one std of la: needs >= 2 seeds per set", "n/a"))
    ptoday = sets_with("ab_default", "ab_today")
    if ptoday:
        a = float(np.mean([p["mean_a"] for p in ptoday.values()]))
        b = float(np.mean([p["mean_b"] for p in ptoday.values()]))
        lines.append((f"ab_default better than ab_today on average (mean over {len(ptoday)} "
                      f"sets of the mean BE): {a:.2f} vs {b:.2f}", verdict(a < b)))
    else:
        lines.append(("ab_default vs ab_today: no set with both rows", "n/a"))
    return lines


def to_markdown(payload):
    results = payload["results"]
    sets = [s for s in ALL_SETS if any(r["set"] == s for r in results)]
    rows = [r for r in ALL_ROWS if any(x["row"] == r for x in results)]
    seeds = sorted({r["seed"] for r in results})
    a = payload["args"]
    md = ["### AutoBalance search vs fixed losses and a tau grid: test balanced error (%)\n"]
    for run in payload["runs"]:
        md.append(_common.machine_markdown(run["machine"], run["command"]))
    md.append(f"Network: MLP hidden_layer_sizes={tuple(a['hidden'])}, max_epochs={a['max_epochs']}"
              f", batch_size={a['batch_size']}, lr={a['lr']}, Adam (the estimator's defaults "
              f"unless the command line changed them); seeds {seeds}. Cells: mean ± sample std "
              f"(ddof=1) over the seeds, n = number of seeds.\n")
    for r in [x for x in AB_ROWS if x in rows]:
        resolved = {json.dumps(x.get("resolved"), sort_keys=True) for x in results
                    if x["row"] == r and x.get("resolved") is not None}
        if resolved:
            md.append(f"`{r}` ran as: " + " | ".join(
                ", ".join(f"{k}={v!r}" for k, v in json.loads(j).items())
                for j in sorted(resolved))
                + (" (MIXED: results of different settings)" if len(resolved) > 1 else ""))
    md.append("")
    for name in sets:
        desc = payload["set_descriptions"].get(name)
        if desc:
            md.append(f"- `{name}` (seed {desc['seed']}): {desc['text']}")
    if payload.get("failures"):
        md.append("")
        for f in payload["failures"]:
            md.append(f"- FAILED: `{f['set']}` seed {f['seed']} `{f['row']}`: {f['error']}")
    md.append("")

    # 1. table
    header = ["Row"] + [f"`{s}`" for s in sets]
    md.append("#### 1. Test balanced error (%)\n")
    md.append(_common.markdown_table(
        header, [[f"`{r}`: {ROW_LABELS[r]}"] + [_cell(_values(results, r, s)) for s in sets]
                 for r in rows]))
    oracle = []
    for s in sets:
        means = {r: _mean(_values(results, r, s)) for r in FIXED_ROWS}
        means = {r: m for r, m in means.items() if m is not None}
        if means:
            best = min(means, key=means.get)
            oracle.append(f"`{s}`: `{best}` {means[best]:.2f}")
    if oracle:
        md.append("Best fixed (oracle: lowest test mean among "
                  + "/".join(r for r in FIXED_ROWS if r in rows)
                  + ", chosen on test, a reference not a method): " + "; ".join(oracle) + "\n")

    # 2. paired comparisons
    pairs = [("ab_default", "la"), ("ab_default", "la_tau_grid"), ("ab_default", "ab_today"),
             ("ab_cv3", "la"), ("ab_cv5", "la"), ("ab_soft", "la"),
             ("ab_soft", "la_tau_grid"), ("ab_soft", "ab_today")]
    pair_rows = []
    for a_, b_ in pairs:
        cells = []
        for s in sets:
            p = paired(results, s, a_, b_)
            cells.append("—" if p is None else
                         f"{p['wins']}/{p['ties']}/{p['losses']}, "
                         f"{p['mean_diff'] if abs(p['mean_diff']) >= TIE else 0.0:+.2f}")
        if any(c != "—" for c in cells):
            pair_rows.append([f"`{a_}` − `{b_}`"] + cells)
    if pair_rows:
        md.append(f"#### 2. Per-seed paired comparison\n\nwins/ties/losses of the first row "
                  f"(tie: |difference| < {TIE} points), then the mean difference in points "
                  f"(negative: the first row has the lower balanced error); common seeds "
                  f"only.\n")
        md.append(_common.markdown_table(["Comparison"] + [f"`{s}`" for s in sets], pair_rows))

    # 3. bar
    md.append("#### 3. Bar check\n")
    for text, verdict in bar_check(results, sets):
        md.append(f"- **{verdict}**: {text}")
    md.append("")

    # 4. per set details
    md.append("#### 4. Per set\n")
    detail_rows = []
    for r in [x for x in AB_ROWS if x in rows]:
        cells = []
        for s in sets:
            recs = [x for x in results if x["row"] == r and x["set"] == s]
            if not recs:
                cells.append("—")
                continue
            moved = [x for x in recs if x.get("moved")]
            epochs = [x["best_epoch"] for x in moved if x.get("best_epoch") is not None]
            cells.append(f"{len(moved)}/{len(recs)}"
                         + (f", epoch {np.median(epochs):g}" if epochs else ""))
        detail_rows.append([f"`{r}` moved / seeds, median kept epoch when moved"] + cells)
    if "la_tau_grid" in rows:
        cells = []
        for s in sets:
            taus = [x["chosen_tau"] for x in sorted(results, key=lambda x: x["seed"])
                    if x["row"] == "la_tau_grid" and x["set"] == s]
            cells.append(", ".join(f"{t:g}" for t in taus) or "—")
        detail_rows.append(["`la_tau_grid` chosen tau per seed"] + cells)
    if "la" in rows:
        cells = []
        for s in sets:
            vals = _values(results, "la", s, "train_balanced_error")
            cells.append("—" if not vals else
                         f"{100 - _mean(vals):.2f}" + (f" (min {100 - max(vals.values()):.2f})"
                                                       if len(vals) > 1 else ""))
        detail_rows.append(["`la` train balanced accuracy (%)"] + cells)
    md.append(_common.markdown_table(["", *[f"`{s}`" for s in sets]], detail_rows))
    md.append("Median fit wall time (s):\n")
    md.append(_common.markdown_table(
        header, [[f"`{r}`"] + [
            (f"{np.median(list(v.values())):.1f}" if (v := _values(results, r, s, "fit_time_s"))
             else "—") for s in sets] for r in rows]))
    gmm = _values(results, "la", "gmm384", "train_balanced_error")
    if gmm:
        md.append(f"`gmm384`: train balanced accuracy of `la` {100 - _mean(gmm):.2f}% "
                  f"(mean over {len(gmm)} seed(s)): the default MLP "
                  + ("interpolates the train set." if _mean(gmm) < 1.0
                     else "does NOT interpolate the train set.") + "\n")
    return "\n".join(md)


# ----------------------------------------------------------------------------- main
def _estimator_defaults():
    import inspect

    from sklearn_autobalance import AutoBalanceClassifier

    sig = inspect.signature(AutoBalanceClassifier.__init__).parameters
    return {k: sig[k].default for k in ("hidden_layer_sizes", "max_epochs", "batch_size")}


def parse_args(argv=None):
    d = _estimator_defaults()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sets", nargs="+", default=None, choices=ALL_SETS,
                   help="default: all; --quick: %s" % " ".join(QUICK_SETS))
    p.add_argument("--rows", nargs="+", default=None, choices=ALL_ROWS,
                   help="default: all; --quick: %s" % " ".join(QUICK_ROWS))
    p.add_argument("--seeds", nargs="+", type=int, default=None,
                   help="default: 0 1 2 3 4; --quick: 0")
    _common.add_network_arguments(p, hidden=d["hidden_layer_sizes"],
                                  max_epochs=d["max_epochs"], batch_size=d["batch_size"])
    p.add_argument("--resume", action="store_true",
                   help="keep the results already in --json and skip their (set, seed, row)")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="write the Markdown report (--out, default results/search.md) of these "
                        "result files, and exit")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: seed 0, max_epochs 6, sets %s, rows %s"
                        % (" ".join(QUICK_SETS), " ".join(QUICK_ROWS)))
    _common.add_output_arguments(p, "search")
    args = p.parse_args(argv)
    if args.quick:
        args.max_epochs = min(args.max_epochs, 6)
        args.seeds = args.seeds or [0]
        args.sets = args.sets or list(QUICK_SETS)
        args.rows = args.rows or list(QUICK_ROWS)
    args.sets = [s for s in ALL_SETS if s in (args.sets or ALL_SETS)]
    args.rows = [r for r in ALL_ROWS if r in (args.rows or ALL_ROWS)]
    args.seeds = args.seeds or [0, 1, 2, 3, 4]
    return args


def _network(args_dict):
    return {k: (list(v) if isinstance(v, (list, tuple)) else v)
            for k, v in args_dict.items() if k in NETWORK_KEYS}


def merge_runs(args):
    """The Markdown report of several result files (same network settings)."""
    payloads = [json.loads(Path(p).read_text()) for p in args.merge]
    net = _network(payloads[0]["args"])
    for path, p in zip(args.merge, payloads):
        if _network(p["args"]) != net:
            raise SystemExit(f"--merge: {path} has different network settings "
                             f"({_network(p['args'])} vs {net})")
    results, seen, dupes = [], {}, 0
    for p in payloads:
        for r in p["results"]:
            key = (r["set"], r["seed"], r["row"])
            if key in seen:
                dupes += 1
                results[seen[key]] = r  # the later file wins
            else:
                seen[key] = len(results)
                results.append(r)
    if dupes:
        print(f"--merge: {dupes} (set, seed, row) present in more than one file; "
              "the later file's result is used", file=sys.stderr)
    descriptions = {}
    for p in payloads:
        for k, v in p["set_descriptions"].items():
            descriptions.setdefault(k, v)
    merged = {**payloads[0], "results": results, "set_descriptions": descriptions,
              "runs": [run for p in payloads for run in p["runs"]],
              "failures": [f for p in payloads for f in p.get("failures", [])
                           if (f["set"], f["seed"], f["row"]) not in seen]}
    out_md = Path(args.out) if args.out else _common.RESULTS_DIR / "search.md"
    md = to_markdown(merged)
    _common.write_text(out_md, md)
    print(md)
    print(f"wrote {out_md}")


def main(argv=None):
    args = parse_args(argv)
    if args.merge:
        merge_runs(args)
        return
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning, module="sklearn_autobalance")
    warnings.filterwarnings("ignore", message="The least populated class")
    out_md, out_json = _common.default_paths("search", args.quick, args.out, args.json)
    command = _common.command_line()
    run_info = {"command": command, "machine": _common.machine_info(args.device)}
    payload = {"benchmark": "search", "cwd": os.getcwd(), "args": vars(args), "runs": [],
               "set_descriptions": {}, "results": [], "failures": []}
    if args.resume and Path(out_json).exists():
        old = json.loads(Path(out_json).read_text())
        if _network(old["args"]) != _network(vars(args)):
            raise SystemExit(f"--resume: {out_json} was run with other network settings "
                             f"({_network(old['args'])}); use another --json")
        payload.update(runs=old["runs"], set_descriptions=old["set_descriptions"],
                       results=old["results"])  # earlier failures are retried
        print(f"resuming {out_json}: {len(old['results'])} results kept")
    elif Path(out_json).exists():
        print(f"note: overwriting {out_json} (use --resume to keep its results)")
    payload["runs"].append(run_info)
    done = {(r["set"], r["seed"], r["row"]) for r in payload["results"]}
    print(_common.machine_markdown(run_info["machine"], command))
    warm_up(args.device)
    t_total = time.perf_counter()
    for name in args.sets:
        for seed in args.seeds:
            todo = [r for r in args.rows if (name, seed, r) not in done]
            if not todo:
                continue
            Xtr, ytr, Xte, yte, desc = make_set(name, seed)
            payload["set_descriptions"].setdefault(name, {"seed": seed, "text": desc})
            print(f"[{name} seed {seed}] {desc}", flush=True)
            for row in todo:
                try:
                    res = run_one(Xtr, ytr, Xte, yte, row, seed, args)
                except Exception as exc:  # keep going; recorded, retried by --resume
                    traceback.print_exc()
                    payload["failures"].append({"set": name, "seed": seed, "row": row,
                                                "error": f"{type(exc).__name__}: {exc}"})
                    _common.write_json(out_json, payload)
                    continue
                res["set"] = name
                payload["results"].append(res)
                _common.write_json(out_json, payload)
                extra = ""
                if "chosen_tau" in res:
                    extra = f"  tau {res['chosen_tau']:g}"
                if "moved" in res:
                    extra = (f"  moved {res['moved']}, best_epoch {res['best_epoch']}")
                print(f"  {row:12s} bal.err {res['balanced_error']:6.2f}%  train bal.err "
                      f"{res['train_balanced_error']:6.2f}%  fit {res['fit_time_s']:7.1f}s"
                      f"{extra}", flush=True)
    print(f"total {time.perf_counter() - t_total:.1f}s (after the warm-up)")
    _common.write_json(out_json, payload)
    md = to_markdown(payload)
    _common.write_text(out_md, md)
    print()
    print(md)
    print(f"wrote {out_md} and {out_json}")


if __name__ == "__main__":
    main()
