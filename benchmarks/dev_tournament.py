"""Development study of the loss tournament (``_tournament.py``; DEV data only).

What is measured
----------------
For each development set and seed, the tournament of ``default_arms()`` (LA
control, LA tau 1.5 / 2, VS, LA + noise 0.4 / 0.8 / 1.6, balanced CE, LDAM),
each arm trained as 3 fold networks from one start on the same batches: per
arm, its pooled out-of-fold balanced error (%), its gain over LA and t =
gain / SE (paired bootstrap), the step it was scored at (a dropped arm: at
its checkpoint), and the test balanced error (%) of its fold-average model
(mean logits of its 3 fold networks as they were when scored): validation and
test side by side, and which arm the rule kept.

Development sets (disjoint from the reported ones):

- ``hd384``: ``make_classification(n, 384, n_informative=40, n_classes=10,
  n_clusters_per_class=1, class_sep=2.0, random_state=3000 + seed)``, 40%
  stratified test split, training part made long-tailed with ratio 50,
  standardised; the default MLP interpolates its training set.
- ``syn20``: ``make_classification(n, 20, n_informative=16, n_classes=10,
  n_clusters_per_class=2, class_sep=2.0, flip_y=0.01, random_state=4000 + seed)``,
  same split and ratio.

First figures (2 seeds, 6000 samples, 50 epochs, MLP (128, 128); test gain over
LA in points, kept arm): ``hd384``: noise1.6 kept on both seeds (+12.6, +10.2);
``syn20``: noise0.4 (+2.3) and noise0.8 (+1.5) kept. With ``--no-halving``
the surviving arms' figures are identical (dropping arms does not touch the
others), and no dropped arm beat the kept one at the end.

Examples
--------
::

    python benchmarks/dev_tournament.py --quick --seeds 0 1
    python benchmarks/dev_tournament.py --sets hd384 --no-halving
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_network_arguments, command_line, machine_info, write_json  # noqa: E402


def make(name, seed, n_samples):
    """``(X_train, y_train, X_test, y_test)`` of development set ``name``, standardised."""
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from sklearn_autobalance.datasets import make_long_tailed

    if name == "hd384":
        X, y = make_classification(n_samples, 384, n_informative=40, n_classes=10,
                                   n_clusters_per_class=1, class_sep=2.0,
                                   random_state=3000 + seed)
    elif name == "syn20":
        X, y = make_classification(n_samples, 20, n_informative=16, n_classes=10,
                                   n_clusters_per_class=2, class_sep=2.0, flip_y=0.01,
                                   random_state=4000 + seed)
    else:
        raise ValueError(f"unknown set {name!r}")
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, stratify=y, random_state=seed)
    Xtr, ytr = make_long_tailed(Xtr, ytr, imbalance_ratio=50, random_state=seed)[:2]
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), ytr, scaler.transform(Xte), yte


def run(name, seed, args):
    import torch
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold

    from sklearn_autobalance._network import MLP
    from sklearn_autobalance._tournament import Tournament, default_arms

    Xtr, ytr, Xte, yte = make(name, seed, args.n_samples)
    X = torch.as_tensor(Xtr, dtype=torch.float32)
    y = torch.as_tensor(ytr, dtype=torch.long)
    folds = list(StratifiedKFold(3, shuffle=True, random_state=seed).split(Xtr, ytr))
    torch.manual_seed(seed)
    module = MLP(X.shape[1], 10, tuple(args.hidden))
    start = time.perf_counter()
    tour = Tournament(default_arms(), max_epochs=args.max_epochs, batch_size=args.batch_size,
                      lr=args.lr, checkpoints=() if args.no_halving else (0.4, 0.7),
                      c=args.c, random_state=seed).fit(module, X, y, folds)
    seconds = time.perf_counter() - start
    report = tour.report_
    X_test = torch.as_tensor(Xte, dtype=torch.float32)
    with torch.no_grad():
        train_err = 100 * (1 - balanced_accuracy_score(
            ytr, tour.arm_model(0)(X).argmax(1).numpy()))
        for a, record in enumerate(report["arms"]):
            pred = tour.arm_model(a)(X_test).argmax(1).numpy()
            record["test_error"] = 100 * (1 - balanced_accuracy_score(yte, pred))
    base = report["arms"][0]["test_error"]
    print(f"\n== {name}, seed {seed}: {len(ytr)} training rows (class counts "
          f"{np.bincount(ytr).tolist()}), {report['steps']} steps, {seconds:.0f} s; "
          f"LA fold-average training balanced error {train_err:.1f} %")
    print(f"{'arm':<11}{'oof err':>8}{'gain':>7}{'t':>7}{'step':>6}{'test err':>9}"
          f"{'test gain':>10}  dropped at")
    for record in report["arms"]:
        print(f"{record['name']:<11}{100 * record['error']:8.2f}{100 * record['gain']:7.2f}"
              f"{record['t']:7.2f}{record['step']:6d}{record['test_error']:9.2f}"
              f"{base - record['test_error']:10.2f}  "
              + ("" if record["dropped_at"] is None else f"{record['dropped_at']:.2f}"))
    best = None if report["best"] is None else report["arms"][report["best"]]["name"]
    print(f"kept: {report['kept_name']} (best survivor: {best}; c = {report['c']})")
    return {"set": name, "seed": seed, "seconds": seconds, "train_error_la": train_err,
            "report": report}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="*", default=["hd384", "syn20"])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true",
                        help="4000 samples and 30 epochs (unless given)")
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--c", type=float, default=1.0)
    parser.add_argument("--no-halving", action="store_true",
                        help="no checkpoints: every arm trains and is scored to the end")
    parser.add_argument("--json", default=None, help="write the reports there")
    add_network_arguments(parser, max_epochs=None)
    args = parser.parse_args()
    args.n_samples = args.n_samples or (4000 if args.quick else 6000)
    args.max_epochs = args.max_epochs or (30 if args.quick else 50)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    results = [run(name, seed, args) for name in args.sets for seed in args.seeds]
    if args.json:
        write_json(args.json, {"command": command_line(), "machine": machine_info(),
                               "results": results})


if __name__ == "__main__":
    main()
