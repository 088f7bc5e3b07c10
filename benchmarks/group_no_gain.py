"""How often the default DEO search keeps its initial loss, and says so (``NoGainWarning``).

For each set and seed (the splits and networks of ``bench_groups.py``; the name
``waterbirds_like_mlp`` is ``waterbirds_like`` with the default MLP (128, 128)), fits
``AutoBalanceClassifier(objective="deo")`` with the defaults, records whether ``fit``
warned, the kept head step, the validation DEO of the initial and the kept heads
(``validation_scores_``; none on the network path of a linear model), the test
DEO (%) and ``group_probe_auc_`` (how well the heads' features tell the groups
apart), then prints a markdown table.

Usage::

    python benchmarks/group_no_gain.py hmda wage default --seeds 0 1 2 3 4
"""

import argparse
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("sets", nargs="+")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--max-epochs", type=int, default=30)
    args = p.parse_args(argv)
    import torch

    import bench_groups
    from sklearn_autobalance import AutoBalanceClassifier, NoGainWarning
    from sklearn_autobalance.metrics import difference_of_equal_opportunity

    torch.set_num_threads(1)
    data_args = SimpleNamespace(waterbirds_features=512, max_epochs=args.max_epochs)
    rows, counts = [], []
    for name in args.sets:
        base = "waterbirds_like" if name.startswith("waterbirds") else name
        hidden = (128, 128) if name == "waterbirds_like_mlp" else bench_groups.HIDDEN[base]
        warned = 0
        for seed in args.seeds:
            Xtr, ytr, gtr, Xte, yte, gte, _ = bench_groups.make_dataset(base, seed, data_args)
            clf = AutoBalanceClassifier(objective="deo", hidden_layer_sizes=hidden,
                                        max_epochs=args.max_epochs, random_state=seed)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("ignore")
                warnings.simplefilter("always", NoGainWarning)
                clf.fit(Xtr, ytr, sensitive_features=gtr)
            said = any(issubclass(w.category, NoGainWarning) for w in caught)
            warned += said
            scores = clf.validation_scores_
            test = 100 * difference_of_equal_opportunity(yte, clf.predict(Xte),
                                                         sensitive_features=gte)
            # The network path (a linear model) has no head scores.
            val = (["—", "—"] if scores is None else
                   [f"{100 * scores[k]['deo']:.1f}" for k in ("initial", "kept")])
            probe = "—" if clf.group_probe_auc_ is None else f"{clf.group_probe_auc_:.3f}"
            rows.append([name, str(seed), "yes" if said else "no", str(clf.best_step_),
                         *val, f"{test:.1f}", probe])
            print(" | ".join(rows[-1]), flush=True)
        counts.append(f"{name}: {warned} of {len(args.seeds)}")
    print(_common.command_line() + "\n")
    print(_common.markdown_table(["set", "seed", "NoGainWarning", "kept step",
                                  "validation DEO, initial", "validation DEO, kept",
                                  "test DEO", "group_probe_auc_"], rows))
    print("\nwarned: " + "; ".join(counts))


if __name__ == "__main__":
    main()
