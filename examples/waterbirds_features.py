"""
.. _example_waterbirds_features:

Waterbirds features: CE, group-balanced CE and AutoBalance with the DEO objective
=================================================================================

The paper's group setting (Li et al. 2021, section 4.2, Table 3): the target is the
bird type, the sensitive attribute the background, and the training cells are very
unequal (waterbird on land is 1.2% of Waterbirds' training split); the test split is
balanced over the four (bird, background) cells. Four networks with the same MLP,
epochs and seed are compared on the test split:

- CE: plain cross-entropy (``search=None, init="ce"``);
- group-balanced CE: CE weighted by inverse cell frequency
  (``search=None, init="group_balanced"``);
- Group-LA: logit adjustment by the class prior within each group, groups
  weighted by inverse frequency (``search=None, init="group_la"``);
- AutoBalance, ``objective="deo"`` with the estimator's defaults otherwise: three
  fold networks train with the initial loss, and on each fold a linear output
  layer is fit on the penultimate features of the network that did not train
  on it, with a per-cell logit adjustment learned for ``0.1 CE + 0.9 CE_deo``
  on out-of-fold predictions (the cross-fitted output layer, chosen
  automatically for a network with hidden layers); the model averages the
  three networks.
  The network fits its 512-d training set exactly, so a loss searched on the
  network itself would change none of its decisions; on the heads it acts.

Printed: balanced (class) error, group-balanced (mean cell) error, worst-cell error
and DEO, all in percent (lower is better), and the loss AutoBalance learned per
cell. The sensitive attribute is used in training only; the networks predict from
the features alone.

Data: with ``--root DIR`` the real Waterbirds features are read with
:func:`sklearn_autobalance.datasets.load_waterbirds_features` (``DIR/metadata.csv``
and ``DIR/features.npy`` by default; ``--features`` names another file); the
"train" split trains, "test" scores. These files are not shipped with the package:
you extract the features yourself (e.g. with a ResNet-18). Without ``--root``,
:func:`~sklearn_autobalance.datasets.make_waterbirds_like` generates a stand-in with
Waterbirds' training cell fractions, and this is what the documentation build runs.
The script says which it uses.

Run from the command line (one seed by default, about 40 s a seed on two CPU
cores; 512 features, as ResNet-18 features, and the estimator's default MLP
(128, 128); ``--hidden`` with no value for a linear model)::

    python examples/waterbirds_features.py [--seeds 0 1 2] [--root DIR]

It writes no file. Five-seed figures of the same comparison (with more rows:
Group DRO, other objectives) are on :ref:`bench-groups`.
"""

# %%
# Settings
# --------

import argparse
import time

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autobalance import AutoBalanceClassifier
from sklearn_autobalance.datasets import load_waterbirds_features, make_waterbirds_like
from sklearn_autobalance.metrics import (
    balanced_error,
    difference_of_equal_opportunity,
    group_balanced_error,
    worst_group_error,
)

RUN_BY_GALLERY = "__file__" not in globals()  # sphinx-gallery (or a notebook)

parser = argparse.ArgumentParser(
    description="Waterbirds features: CE, group-balanced CE and AutoBalance with the DEO "
                "objective")
parser.add_argument("--root", default=None,
                    help="directory with Waterbirds metadata.csv and a features file")
parser.add_argument("--features", default="features.npy",
                    help="features file, relative to --root (default features.npy)")
parser.add_argument("--n-features", type=int, default=512,
                    help="width of the synthetic stand-in (default 512, as ResNet-18 "
                         "features)")
parser.add_argument("--hidden", type=int, nargs="*", default=[128, 128],
                    help="hidden layer widths of the network (default: 128 128, the "
                         "estimator's default; none: a linear model on the features)")
parser.add_argument("--epochs", type=int, default=30)
parser.add_argument("--seeds", type=int, nargs="+", default=[0])
args = parser.parse_args([] if RUN_BY_GALLERY else None)

MODELS = {
    "CE": dict(search=None, init="ce"),
    "group-balanced CE": dict(search=None, init="group_balanced"),
    "Group-LA": dict(search=None, init="group_la"),
    "AutoBalance (deo)": dict(objective="deo"),
}

# %%
# Data and models
# ---------------


def load(args, seed):
    if args.root is not None:
        data = load_waterbirds_features(args.root, args.features)
        print(f"data: real Waterbirds features from {args.root} "
              f"({data.X.shape[1]} features)")
    else:
        data = make_waterbirds_like(n_features=args.n_features, random_state=seed)
        print(f"data: make_waterbirds_like (synthetic stand-in, {args.n_features} features, "
              f"random_state={seed}); pass --root DIR for real Waterbirds features")
    train, test = data.split == "train", data.split == "test"
    return ((data.X[train], data.y[train], data.sensitive_features[train]),
            (data.X[test], data.y[test], data.sensitive_features[test]))


def scores(y, pred, g):
    return [100 * balanced_error(y, pred),
            100 * group_balanced_error(y, pred, sensitive_features=g),
            100 * worst_group_error(y, pred, sensitive_features=g),
            100 * difference_of_equal_opportunity(y, pred, sensitive_features=g)]


def run(args, seed):
    (X, y, g), (X_test, y_test, g_test) = load(args, seed)
    cells = np.bincount(2 * y + g, minlength=4)
    print(f"train cells (y, place) 00/01/10/11: {cells.tolist()}; test: "
          f"{np.bincount(2 * y_test + g_test, minlength=4).tolist()}")
    common = dict(hidden_layer_sizes=tuple(args.hidden), max_epochs=args.epochs,
                  batch_size=128, lr=1e-3, random_state=seed)
    results, fitted = {}, {}
    for name, params in MODELS.items():
        start = time.perf_counter()
        model = make_pipeline(StandardScaler(), AutoBalanceClassifier(**common, **params))
        model.fit(X, y, autobalanceclassifier__sensitive_features=g)
        pred = model.predict(X_test)  # features only
        results[name] = scores(y_test, pred, g_test) + [time.perf_counter() - start]
        fitted[name] = model
    return results, fitted, (y, g)


# %%
# Fit the four networks on each seed
# ----------------------------------

table = {name: [] for name in MODELS}
for seed in args.seeds:
    results, fitted, (y_train, g_train) = run(args, seed)
    for name, row in results.items():
        table[name].append(row)

# %%
# Test scores
# -----------
# Percent, lower is better: balanced error (mean of the two class errors),
# group-balanced error (mean of the four cell errors), worst-cell error and
# DEO (per class, the gap between the two backgrounds' error rates, summed
# over the classes); and the fit time in seconds.

header = ["bal. err", "grp-bal err", "worst cell", "DEO", "time s"]
print(f"test split, percent (mean over seeds {args.seeds}"
      + (", +- standard error" if len(args.seeds) > 1 else "") + "):")
print(f"{'model':<20}" + "".join(f"{h:>16}" for h in header))
for name, rows in table.items():
    rows = np.asarray(rows)
    mean = rows.mean(axis=0)
    se = rows.std(axis=0, ddof=1) / np.sqrt(len(rows)) if len(rows) > 1 else None
    cells_text = [f"{m:.2f}" + (f" +-{s:.2f}" if se is not None else "")
                  for m, s in zip(mean, se if se is not None else mean)]
    print(f"{name:<20}" + "".join(f"{c:>16}" for c in cells_text))

# %%
# The loss AutoBalance learned, per (class, group) cell
# -----------------------------------------------------
# With ``sensitive_features`` the entries of ``loss_params_`` have shape
# ``(n_classes, n_groups)``: weight ``w``, centred additive adjustment ``l``
# and, under the key ``delta``, the multiplier ``2*sigmoid(Delta)`` (not
# Delta itself). Column ``j`` belongs to ``groups_[j]``. Shown for the last
# seed.

clf = fitted["AutoBalance (deo)"][-1]
params = clf.loss_params_
print(f"loss learned by AutoBalance (deo), seed {args.seeds[-1]}")
print(f"{'cell (y, place)':>16}{'train count':>13}{'weight w':>10}{'learned l':>11}"
      f"{'multiplier 2*sigmoid(Delta)':>29}")
for k in range(params["l"].shape[0]):
    for j, group in enumerate(clf.groups_):
        count = np.sum((y_train == clf.classes_[k]) & (g_train == group))
        print(f"{f'({clf.classes_[k]}, {group})':>16}{count:>13}"
              f"{params['w'][k, j]:>10.3f}{params['l'][k, j]:>11.3f}"
              f"{params['delta'][k, j]:>29.3f}")
