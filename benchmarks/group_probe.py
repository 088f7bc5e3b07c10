"""How well the sensitive attribute can be read off the features (a linear probe).

Where the group is recoverable from ``x``, a per-cell additive ``l`` on the
cross-fitted head acts like a per-group threshold and can equalise the groups'
rates; where it is not, a model that sees only ``x`` can lower the DEO only by
global trades that cost error. For each set (the splits of ``bench_groups.py``,
training part of each seed), the cross-validated ROC AUC and balanced accuracy of
a logistic regression predicting the group from the features.

Usage::

    python benchmarks/group_probe.py hmda default wage waterbirds_like --seeds 0 1 2 3 4
"""

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("sets", nargs="+")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    args = p.parse_args(argv)
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_validate

    import bench_groups

    data_args = SimpleNamespace(waterbirds_features=512, max_epochs=30)
    rows = []
    for name in args.sets:
        auc, bacc = [], []
        for seed in args.seeds:
            Xtr, _, gtr, *_ = bench_groups.make_dataset(name, seed, data_args)
            cv = StratifiedKFold(5, shuffle=True, random_state=seed)
            res = cross_validate(LogisticRegression(max_iter=2000, class_weight="balanced"),
                                 Xtr, gtr, cv=cv, scoring=("roc_auc", "balanced_accuracy"))
            auc.append(res["test_roc_auc"].mean())
            bacc.append(res["test_balanced_accuracy"].mean())
        rows.append([name, f"{np.mean(auc):.3f} ± {np.std(auc, ddof=1):.3f}",
                     f"{np.mean(bacc):.3f} ± {np.std(bacc, ddof=1):.3f}"])
        print(" | ".join(rows[-1]), flush=True)
    print(_common.command_line() + "\n")
    print(_common.markdown_table(["set", "probe ROC AUC", "probe balanced accuracy"], rows))


if __name__ == "__main__":
    main()
