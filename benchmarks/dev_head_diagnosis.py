"""Validation against test figures of every head-search candidate (cross-fitted output layer).

For each set and seed, fits ``AutoBalanceClassifier(objective="deo")`` with the
given parameters, and for every candidate of the head search (the initial
loss's head and each searched step) computes the pooled inner out-of-fold
(validation) group-balanced error and DEO, and the test ones of the fold
ensemble with that candidate's heads. Prints per seed: initial, kept, and the
rank correlation of validation and test DEO over the admissible candidates,
then a markdown table (validation and test of the initial and the kept heads, how
far the kept per-cell ``l`` moved, the admissible candidates).

The network has hidden layers (default ``(64,)``), so ``objective="deo"`` runs
the cross-fitted output layer: since issue 22 the estimator chooses it itself
(the removed ``output_layer="crossfit"``), and ``fairness_weight`` /
``error_tolerance`` are keys of ``objective_params``. The candidates are
captured by wrapping ``_output_layer._select_head`` (a module function now, no
longer an estimator method).

Usage::

    python benchmarks/dev_head_diagnosis.py hmda,wage '{"objective_params": {"fairness_weight": 0.9}}'
    python benchmarks/dev_head_diagnosis.py hmda '{"_head_lr": 0.05}' 0,1,2,3,4
    python benchmarks/dev_head_diagnosis.py hmda '{"_guarded_search": false}' 0,1,2
"""
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sklearn_autobalance import AutoBalanceClassifier  # noqa: E402
from sklearn_autobalance import _heads, _output_layer  # noqa: E402
from sklearn_autobalance.metrics import (  # noqa: E402
    difference_of_equal_opportunity, group_balanced_error)

CAPTURE = {}
ROWS = []


_original_select_head = _output_layer._select_head


def _capturing_select_head(est, candidates, search, n_groups, rng):
    index, errors = _original_select_head(est, candidates, search, n_groups, rng)
    CAPTURE.update(candidates=candidates, search=search, index=index)
    return index, errors


_output_layer._select_head = _capturing_select_head


def load(name, seed):
    import bench_groups

    if name in bench_groups.ALL_SETS:

        class A:  # noqa: D401
            waterbirds_features = 512
        return bench_groups.make_dataset(name, seed, A)[:6]
    import dev_groups
    return dev_groups.load(name, seed)


def figures(y, pred, g):
    return (100 * group_balanced_error(y, pred, sensitive_features=g),
            100 * difference_of_equal_opportunity(y, pred, sensitive_features=g))


def main():
    sets, params = sys.argv[1].split(","), json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    seeds = [int(s) for s in sys.argv[3].split(",")] if len(sys.argv) > 3 else [0, 1, 2]
    hidden = params.pop("hidden_layer_sizes", (64,))
    max_epochs = params.pop("max_epochs", 30)
    if "_head_lr" in params:  # diagnosis only: the Adam step of the head's trajectories
        lr = params.pop("_head_lr")
        _heads.HeadLossSearch.trajectory = lambda self, alpha, lr=lr: _heads.Trajectory(
            self, alpha, lr)
    switches = {k: v for k, v in params.items() if k.startswith("_")}
    public = {k: v for k, v in params.items() if k not in switches}
    for name in sets:
        for seed in seeds:
            Xtr, ytr, gtr, Xte, yte, gte = load(name, seed)
            CAPTURE.clear()
            clf = AutoBalanceClassifier(objective="deo", hidden_layer_sizes=tuple(hidden),
                                        max_epochs=max_epochs, random_state=seed, **public)
            for k, v in switches.items():  # class switches, e.g. _guarded_search
                setattr(clf, k, v)
            clf.fit(Xtr, ytr, sensitive_features=gtr)
            cands, search, index = CAPTURE["candidates"], CAPTURE["search"], CAPTURE["index"]
            ens = clf.net_.module_
            yv, gv = search.y.numpy(), search.groups.numpy()
            Xt = torch.as_tensor(Xte, dtype=torch.float32)
            rows = []
            for c in cands:
                heads = search.final_heads(c["theta"], c["alpha"])
                mods = [_heads.with_head(m, d, W) for m, d, W in zip(ens.folds, search.folds, heads)]
                with torch.no_grad():
                    pt = torch.stack([m(Xt) for m in mods]).mean(0).argmax(1).numpy()
                pv = c["logits"].argmax(1).numpy()
                rows.append(figures(yv, pv, gv) + figures(yte, pt, gte))
            rows = np.array(rows)
            adm = [int(i) for i in search.admissible(cands)]
            rho = spearmanr(rows[adm, 1], rows[adm, 3]).correlation if len(adm) > 2 else np.nan
            best_val = adm[int(np.argmin(rows[adm, 1]))]
            print(f"{name} seed {seed}: init val {rows[0,0]:.1f}/{rows[0,1]:.1f} test "
                  f"{rows[0,2]:.1f}/{rows[0,3]:.1f} | kept step {index} alpha {cands[index]['alpha']:g} "
                  f"val {rows[index,0]:.1f}/{rows[index,1]:.1f} test {rows[index,2]:.1f}/{rows[index,3]:.1f}"
                  f" | lowest-val-DEO adm. step {best_val} val {rows[best_val,0]:.1f}/{rows[best_val,1]:.1f}"
                  f" test {rows[best_val,2]:.1f}/{rows[best_val,3]:.1f} | n_adm {len(adm)} rho {rho:.2f}"
                  f" | theta l {cands[index]['theta'].get('l', torch.zeros(1)).numpy().round(2).tolist()}",
                  flush=True)
            moved = float(cands[index]["theta"].get("l", torch.zeros(1)).abs().max())
            ROWS.append([name, str(seed), f"{rows[0, 0]:.1f} / {rows[0, 1]:.1f}",
                         f"{rows[0, 2]:.1f} / {rows[0, 3]:.1f}", str(index),
                         f"{rows[index, 0]:.1f} / {rows[index, 1]:.1f}",
                         f"{rows[index, 2]:.1f} / {rows[index, 3]:.1f}", f"{moved:.2f}",
                         f"{len(adm)} of {len(cands)}"])
    import _common
    print(_common.markdown_table(
        ["set", "seed", "initial: validation GBE / DEO", "initial: test", "kept step",
         "kept: validation", "kept: test", "max abs(l - l_init)", "admissible"], ROWS))


if __name__ == "__main__":
    main()
