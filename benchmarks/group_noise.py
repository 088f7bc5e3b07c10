"""How much of a test DEO is sampling noise: bootstrap SE and the floor of a fair classifier.

For each set and seed of ``bench_groups.py``, fits AutoBalance ``objective="deo"``
(defaults, as the ``ab_deo`` row) and reports, on its test predictions (in %):

- the test DEO and its bootstrap standard error (test rows resampled within
  each (class, group) cell, 2000 replicates);
- the *floor*: the mean test DEO of a classifier whose true cell errors are
  equal across groups within each class (each class's pooled test error), for
  the test cells' sizes (binomial simulation, 20000 draws). A method whose
  mean DEO is near the floor has no measurable gap left on that test set.

Usage::

    python benchmarks/group_noise.py --sets hmda wage default --seeds 0 1 2 3 4
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402


def cell_errors(y, pred, g):
    """``(n_classes, n_groups)`` test errors and counts."""
    errors = np.zeros((2, 2))
    counts = np.zeros((2, 2), dtype=int)
    for k in range(2):
        for j in range(2):
            rows = (y == k) & (g == j)
            counts[k, j] = rows.sum()
            errors[k, j] = (pred[rows] != k).mean()
    return errors, counts


def deo(errors):
    return float(np.abs(errors[:, 0] - errors[:, 1]).sum(-1)) if errors.ndim == 2 else \
        np.abs(errors[..., 0] - errors[..., 1]).sum(-1)


def bootstrap_se(y, pred, g, rng, n_boot=2000):
    wrong = pred != y
    reps = np.zeros((n_boot, 2, 2))
    for k in range(2):
        for j in range(2):
            w = wrong[(y == k) & (g == j)]
            reps[:, k, j] = rng.binomial(len(w), w.mean(), n_boot) / len(w)
    return float(np.std(deo(reps), ddof=1))


def floor(errors, counts, rng, n_draws=20000):
    pooled = (errors * counts).sum(1) / counts.sum(1)
    draws = rng.binomial(counts[None], np.broadcast_to(pooled[:, None], counts.shape)[None],
                         (n_draws, 2, 2)) / counts[None]
    return float(deo(draws).mean())


def main(argv=None):
    import torch

    import bench_groups
    from sklearn_autobalance import AutoBalanceClassifier

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sets", nargs="+", default=["hmda", "wage", "default"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--waterbirds-features", type=int, default=512)
    _common.add_output_arguments(p, "group_noise")
    args = p.parse_args(argv)
    out_md, _ = _common.default_paths("group_noise", False, args.out, args.json)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    rows = []
    for name in args.sets:
        per_seed = []
        for seed in args.seeds:
            Xtr, ytr, gtr, Xte, yte, gte, _ = bench_groups.make_dataset(name, seed, args)
            clf = AutoBalanceClassifier(objective="deo", hidden_layer_sizes=bench_groups.HIDDEN[name],
                                        max_epochs=args.max_epochs, random_state=seed)
            pred = clf.fit(Xtr, ytr, sensitive_features=gtr).predict(Xte)
            errors, counts = cell_errors(yte, pred, gte)
            rng = np.random.RandomState(seed)
            per_seed.append((100 * deo(errors), 100 * bootstrap_se(yte, pred, gte, rng),
                             100 * floor(errors, counts, rng), counts.min()))
            print(name, seed, [round(float(v), 2) for v in per_seed[-1]], flush=True)
        a = np.array(per_seed)
        rows.append([name, f"{a[:, 0].mean():.2f} ± {a[:, 0].std(ddof=1):.2f}",
                     ", ".join(f"{v:.1f}" for v in a[:, 0]),
                     f"{a[:, 1].mean():.2f}", f"{a[:, 1].mean() / np.sqrt(len(a)):.2f}",
                     f"{a[:, 2].mean():.2f}", f"{int(a[:, 3].min())}"])
    text = (_common.machine_markdown(_common.machine_info(), _common.command_line()) + "\n\n"
            + _common.markdown_table(
                ["set", "AB test DEO (mean ± std)", "per seed", "bootstrap SE per seed",
                 "SE of the 5-seed mean", "floor of a fair classifier", "rarest test cell"],
                rows) + "\n")
    _common.write_text(out_md, text)
    print(text)


if __name__ == "__main__":
    main()
