"""Why does ``objective="deo"`` not lower the DEO? Validation against test, per seed.

For each set and seed: CE and the search's initial loss (``search=None``), and
AutoBalance configurations, each scored on the test part (DEO and
group-balanced error, %), and for the searched ones also on the validation
samples *the search itself scored* (S_V, or the pooled out-of-fold
predictions): the DEO of the initial candidate (the warm-up's end) and of the
kept one, and how far the kept search coordinates are from the start (their
Euclidean norm; 0 = the initial loss). If validation DEO falls and test DEO
does not, the selection fits noise; if validation DEO does not fall, the
search cannot express or find the fix.

Sets: ``bench_groups.make_dataset`` (``waterbirds_like`` with 512 features,
``hmda``, ``default``); the network is a linear head (``--hidden`` with no
value, the default). The study was of the whole-network search on the default
MLP (``output_layer="network"``); since issue 22 the output layer is chosen
automatically, and a group objective on a network with hidden layers searches
the cross-fitted output layer (``dev_head_diagnosis.py`` diagnoses that), so
the whole-network search is reached only on a linear module: hidden sizes are
refused here. Configurations (issue 22 ported or removed them; git history has
the old script):

- ``ab_deo``: ``objective="deo"`` (was the same with ``output_layer="network"``
  on the MLP);
- ``ab_deo_l_ce``: ``objective="deo", search="l", init="ce"`` (the closest
  current call of the removed ``ab_deo_cell_ce``, which searched one ``l`` per
  (class, group) cell with ``dictionary="clusters", cluster_size=1``; a
  searched loss now moves along the log-prior dictionary);
- ``ab_deo_cell_ce_error`` (the same with ``selection="error"``) is deleted:
  ``dictionary``, ``cluster_size`` and ``selection`` went in issue 22.

Usage::

    python benchmarks/dev_group_diagnosis.py --sets waterbirds_like hmda default --seeds 0 1 2

``--dev-check``: on the development copy ``make_waterbirds_like(n_features=128,
random_state=10 + seed)`` (seeds 0-1, StandardScaler, the default MLP), the
test DEO / group-balanced error of CE and CE with fixed feature noise (eps 0.8
and 2). Its per-cell searches from CE on the whole MLP (``l``, ``l`` & Delta,
Delta, with ``selection="error"`` or ``"paired"``, ``hyper_lr=0.1``, a
group-balanced start, searched augmentation) were deleted: they needed
``output_layer="network"``, ``dictionary="clusters"``, ``cluster_size``,
``selection`` and ``hyper_lr`` as constructor parameters, all removed in issue
22 (git history has them)::

    python benchmarks/dev_group_diagnosis.py --dev-check

``--oof-heads-check``: the cross-fitted version of that idea, a prototype outside
the estimator. Three stratified folds on (class, group); body ``j`` is the
default MLP trained with CE (or group-balanced CE) on the other folds; head
``j`` a logistic regression with group-balanced weights on body ``j``'s
penultimate features of fold ``j`` (rows it never trained on); the prediction
averages the three heads' decision functions. Same data as
``--last-layer-check``::

    python benchmarks/dev_group_diagnosis.py --oof-heads-check

``--last-layer-check``: does a loss act once the output layer is fit on data the
body has not interpolated? On ``make_waterbirds_like`` (128 features,
``random_state`` 10 and 11, the development copies of ``dev_groups.py``; and
512 features, seeds 0 and 1), the test DEO and group-balanced error of: a
logistic regression on all training features; DFR (Kirichenko et al. 2022: a
logistic regression on a group-balanced subsample of a held-out half); the
default MLP trained with CE on one half; and a logistic regression on that
MLP's penultimate features of the other half, fit on its group-balanced
subsample or on all of it with group-balanced weights::

    python benchmarks/dev_group_diagnosis.py --last-layer-check
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

# The diagnosis is of the search on the whole network, which a group objective
# runs on a linear module (on a network with hidden layers it searches the
# cross-fitted output layer; issue 22 removed output_layer="network").
CONFIGS = {
    "ab_deo": {"objective": "deo"},
    "ab_deo_l_ce": {"objective": "deo", "search": "l", "init": "ce"},
}


def _watch():
    """Record the validation DEO of every epoch-end candidate of every LossSearch."""
    import torch

    from sklearn_autobalance import _search
    from sklearn_autobalance.metrics import difference_of_equal_opportunity

    searches = []
    original_init, original_evaluate = _search.LossSearch.__init__, _search.LossSearch.evaluate

    def init(self, *a, **k):
        original_init(self, *a, **k)
        self.diag_deo_ = []
        searches.append(self)

    @torch.no_grad()
    def evaluate(self, net):
        out = original_evaluate(self, net)
        logits, y, groups, _ = self.design.validation_logits(net.module_)
        pred = logits.argmax(1).cpu().numpy()
        self.diag_deo_.append(100.0 * difference_of_equal_opportunity(
            y.cpu().numpy(), pred, sensitive_features=groups.cpu().numpy()))
        return out

    _search.LossSearch.__init__, _search.LossSearch.evaluate = init, evaluate
    return searches


def _waterbirds(n_features, state):
    """``make_waterbirds_like``'s train / test parts, standardised on the train part."""
    from sklearn.preprocessing import StandardScaler

    from sklearn_autobalance.datasets import make_waterbirds_like

    d = make_waterbirds_like(n_features=n_features, random_state=state)
    tr, te = d.split == "train", d.split == "test"
    scaler = StandardScaler().fit(d.X[tr])
    return (scaler.transform(d.X[tr]), d.y[tr], d.sensitive_features[tr],
            scaler.transform(d.X[te]), d.y[te], d.sensitive_features[te])


def _score(y, pred, g):
    """``"DEO / group-balanced error"`` in %."""
    from sklearn_autobalance.metrics import difference_of_equal_opportunity, group_balanced_error

    return (f"{100 * difference_of_equal_opportunity(y, pred, sensitive_features=g):.1f} / "
            f"{100 * group_balanced_error(y, pred, sensitive_features=g):.1f}")


def _penultimate(clf, *arrays):
    """The default MLP's last hidden features of each array (NumPy)."""
    import torch

    body = clf.net_.module_.layers[:-1]
    with torch.no_grad():
        return [body(torch.tensor(X, dtype=torch.float32)).numpy() for X in arrays]


def _group_weights(cells):
    """Group-balanced sample weights with mean 1."""
    w = (1.0 / np.bincount(cells))[cells]
    return w * len(w) / w.sum()


# (n_features, random_state) of the last-layer checks: the development copies
# of dev_groups.py (128 features, 10 and 11) and the benchmark's 512-d set.
WATERBIRDS_CHECKS = ((128, 10), (128, 11), (512, 0), (512, 1))
DEV_CONFIGS = {
    "ce": {"search": None, "init": "ce"},
    "ce, noise 0.8": {"search": None, "init": "ce", "augmentation": "shared"},
    "ce, noise 2": {"search": None, "init": "ce", "augmentation": "shared",
                    "augmentation_params": {"eps": 2.0}},
}


def dev_check():
    from sklearn_autobalance import AutoBalanceClassifier

    lines = []
    for seed in (0, 1):
        Xtr, ytr, gtr, Xte, yte, gte = _waterbirds(128, 10 + seed)
        for name, kw in DEV_CONFIGS.items():
            clf = AutoBalanceClassifier(random_state=seed, **kw).fit(Xtr, ytr,
                                                                     sensitive_features=gtr)
            l = clf.loss_params_.get("l")
            eps = clf.augmentation_params_
            lines.append([str(seed), name, *_score(yte, clf.predict(Xte), gte).split(" / "),
                          _score(ytr, clf.predict(Xtr), gtr).split(" / ")[1],
                          "—" if l is None else np.array2string(l[1] - l[0], precision=2),
                          "—" if eps is None else f"{eps['eps'].flat[0]:.2f}"])
            print(lines[-1], flush=True)
    return _common.markdown_table(
        ["seed", "configuration", "test DEO", "test GBE", "train GBE",
         "kept l_1g - l_0g per group", "eps"], lines)


def oof_heads_check():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    from sklearn_autobalance import AutoBalanceClassifier

    lines = []
    for n_features, state in WATERBIRDS_CHECKS:
        Xtr, ytr, gtr, Xte, yte, gte = _waterbirds(n_features, state)
        cells = 2 * ytr + gtr
        ce = AutoBalanceClassifier(search=None, init="ce", random_state=state).fit(Xtr, ytr)
        row = [f"{n_features}", f"{state}", _score(yte, ce.predict(Xte), gte)]
        for init in ("ce", "group_balanced"):
            folds = StratifiedKFold(3, shuffle=True, random_state=state).split(Xtr, cells)
            scores = np.zeros(len(yte))
            for j, (fit_rows, head_rows) in enumerate(folds):
                body = AutoBalanceClassifier(search=None, init=init, random_state=state + j)
                body.fit(Xtr[fit_rows], ytr[fit_rows], sensitive_features=gtr[fit_rows])
                F_head, F_test = _penultimate(body, Xtr[head_rows], Xte)
                s2 = StandardScaler().fit(F_head)
                head = LogisticRegression(max_iter=5000).fit(
                    s2.transform(F_head), ytr[head_rows],
                    sample_weight=_group_weights(cells[head_rows]))
                scores += head.decision_function(s2.transform(F_test))
            row.append(_score(yte, (scores > 0).astype(int), gte))
        lines.append(row)
        print(row, flush=True)
    return _common.markdown_table(
        ["features", "random_state", "CE, all rows: DEO / GBE",
         "out-of-fold heads, CE bodies", "out-of-fold heads, group-balanced bodies"], lines)


def last_layer_check():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from sklearn_autobalance import AutoBalanceClassifier

    def balanced_subsample(cells, seed):
        rng = np.random.RandomState(seed)
        m = np.bincount(cells).min()
        return np.concatenate([rng.choice(np.flatnonzero(cells == c), m, replace=False)
                               for c in np.unique(cells)])

    lines = []
    for n_features, state in WATERBIRDS_CHECKS:
        Xtr, ytr, gtr, Xte, yte, gte = _waterbirds(n_features, state)
        Xa, Xv, ya, yv, ga, gv = train_test_split(Xtr, ytr, gtr, test_size=0.5,
                                                  stratify=2 * ytr + gtr, random_state=state)
        cells = 2 * yv + gv
        idx = balanced_subsample(cells, state)
        lr_all = LogisticRegression(max_iter=3000).fit(Xtr, ytr)
        dfr = LogisticRegression(max_iter=3000).fit(Xv[idx], yv[idx])
        mlp = AutoBalanceClassifier(search=None, init="ce", random_state=state).fit(Xa, ya)
        Fv, Fte = _penultimate(mlp, Xv, Xte)
        s2 = StandardScaler().fit(Fv[idx])
        sub = LogisticRegression(max_iter=3000).fit(s2.transform(Fv[idx]), yv[idx])
        weighted = LogisticRegression(max_iter=3000).fit(s2.transform(Fv), yv,
                                                         sample_weight=_group_weights(cells))
        lines.append([f"{n_features}", f"{state}", _score(yte, lr_all.predict(Xte), gte),
                      _score(yte, dfr.predict(Xte), gte), _score(yte, mlp.predict(Xte), gte),
                      _score(yte, sub.predict(s2.transform(Fte)), gte),
                      _score(yte, weighted.predict(s2.transform(Fte)), gte)])
        print(lines[-1], flush=True)
    return _common.markdown_table(
        ["features", "random_state", "LR, all training rows: DEO / GBE", "DFR", "MLP (CE, half A)",
         "LR on its features of half B, balanced subsample", "... all of half B, weighted"],
        lines)


# The extra checks: command-line flag -> (function, result file name).
CHECKS = {"dev_check": (dev_check, "group_dev_check.md"),
          "oof_heads_check": (oof_heads_check, "group_oof_heads.md"),
          "last_layer_check": (last_layer_check, "group_last_layer.md")}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sets", nargs="+", default=["waterbirds_like", "hmda", "default"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--hidden", nargs="*", type=int, default=[],
                   help="no value (the default): a linear head; hidden sizes are refused")
    p.add_argument("--waterbirds-features", type=int, default=512)
    p.add_argument("--max-epochs", type=int, default=50)
    p.add_argument("--out", default=str(_common.RESULTS_DIR / "group_diagnosis.md"))
    p.add_argument("--last-layer-check", action="store_true")
    p.add_argument("--dev-check", action="store_true")
    p.add_argument("--oof-heads-check", action="store_true")
    args = p.parse_args(argv)
    import torch

    for flag, (check, filename) in CHECKS.items():
        if getattr(args, flag):
            torch.set_num_threads(1)
            warnings.filterwarnings("ignore")
            text = (_common.machine_markdown(_common.machine_info(), _common.command_line())
                    + "\n\n" + check())
            _common.write_text(Path(args.out).with_name(filename), text)
            print(text)
            return

    if args.hidden:
        raise SystemExit("with hidden layers a group objective searches the cross-fitted output "
                         "layer (output_layer='network' went in issue 22): see "
                         "dev_head_diagnosis.py")
    import bench_groups
    from sklearn_autobalance import AutoBalanceClassifier
    from sklearn_autobalance.metrics import (difference_of_equal_opportunity,
                                             group_balanced_error)

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    searches = _watch()
    command = _common.command_line()
    lines, records = [], []
    for name in args.sets:
        for seed in args.seeds:
            Xtr, ytr, gtr, Xte, yte, gte, desc = bench_groups.make_dataset(name, seed, args)
            print(f"[{name} seed {seed}] {desc}", flush=True)
            common = dict(max_epochs=args.max_epochs, random_state=seed)
            if args.hidden is not None:
                common["hidden_layer_sizes"] = tuple(args.hidden)

            def test(clf):
                pred = clf.predict(Xte)
                return (100 * difference_of_equal_opportunity(yte, pred, sensitive_features=gte),
                        100 * group_balanced_error(yte, pred, sensitive_features=gte))

            base = {}
            for row, kw in (("ce", {"init": "ce"}), ("la", {"init": "la"})):
                clf = AutoBalanceClassifier(search=None, **kw, **common).fit(
                    Xtr, ytr, sensitive_features=gtr)
                base[row] = test(clf)
            for config in args.configs:
                start = time.perf_counter()
                clf = AutoBalanceClassifier(**CONFIGS[config], **common).fit(
                    Xtr, ytr, sensitive_features=gtr)
                search = searches[-1]
                deo, gbe = test(clf)
                report = clf.selection_report_
                candidates = [r for r in clf.search_history_ if r["scope"] == "validation_set"]
                if report is not None:
                    kept = int(report["index"])
                else:
                    kept = next(i for i, r in enumerate(candidates)
                                if r["epoch"] + 1 == clf.best_epoch_)
                first = len(search.diag_deo_) - len(candidates)
                val = search.diag_deo_[first:]
                l = clf.loss_params_.get("l")
                rec = {"set": name, "seed": seed, "config": config,
                       "test_deo": deo, "test_gbe": gbe, "ce_test_deo": base["ce"][0],
                       "ce_test_gbe": base["ce"][1], "init_test_deo": base["la"][0],
                       "val_deo_init": val[0], "val_deo_kept": val[kept],
                       "val_deo_min": min(val), "kept_index": kept,
                       "moved": kept != 0, "l": None if l is None else np.round(l, 3).tolist(),
                       "fit_s": time.perf_counter() - start}
                records.append(rec)
                lines.append([name, str(seed), config,
                              f"{base['ce'][0]:.1f} / {base['ce'][1]:.1f}",
                              f"{base['la'][0]:.1f} / {base['la'][1]:.1f}",
                              f"{deo:.1f} / {gbe:.1f}",
                              f"{val[0]:.1f} → {val[kept]:.1f} (min {min(val):.1f})",
                              f"{kept}", json.dumps(rec["l"])])
                print("  ", lines[-1], flush=True)
    table = _common.markdown_table(
        ["set", "seed", "config", "CE test DEO / GBE", "init (LA) test DEO / GBE",
         "AB test DEO / GBE", "validation DEO init → kept", "kept candidate",
         "kept l"], lines)
    machine = _common.machine_markdown(_common.machine_info(), command)
    _common.write_text(args.out, machine + "\n\n" + table + "\n")
    _common.write_json(Path(args.out).with_suffix(".json"), {"records": records})
    print(table)


if __name__ == "__main__":
    main()
