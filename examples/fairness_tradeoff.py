"""
.. _example_fairness_tradeoff:

Accuracy-fairness trade-off (the paper's Figure 5) with one GridSearchCV
========================================================================

On ``make_waterbirds_like`` (Waterbirds' training cell fractions) one
``GridSearchCV`` sweeps

- AutoBalance with ``objective="deo"`` (otherwise the estimator's defaults)
  over ``objective_params={"fairness_weight": fw}`` (the weight of CE_deo in
  the validation objective ``(1 - fw) CE + fw CE_deo``), and
- the training-loss blends ``(1 - lam) CE + lam L_reg`` for L_reg in
  {CE_deo, group-balanced CE, Group-LA} over ``lam``
  (``search=None, init="blend"``),

with multi-metric scoring (misclassification rate, i.e. the 0-1 error;
group-balanced error; DEO; each cross-validation fold is scored with its own
slice of the sensitive attribute through scikit-learn's metadata routing). It
prints every candidate's mean cross-validated scores and draws, as the paper's
Figure 5, group-balanced error (left) and DEO (right) against the
misclassification rate (log axis), one curve per family, each point labelled
with its weight; an arrow points to the lower left, the better corner.

Run from the command line (``--n-jobs 2`` by default; about a minute on two
otherwise idle CPU cores)::

    python examples/fairness_tradeoff.py [--seed 0] [--n-features 32] [--out PATH]

The figure is saved as ``fairness_tradeoff.png`` in the folder of this script,
or to ``--out`` (a file name, or a folder). When the environment variable
``SPHINX_GALLERY`` is set, as in the documentation build, the same grid runs
on one process (``--n-jobs 1``). The measured table and its reading are on
:ref:`bench-fairness-tradeoff`.
"""

# %%
# Settings
# --------

import argparse
import os
import time
from pathlib import Path

import numpy as np
import sklearn
from sklearn.metrics import make_scorer, zero_one_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autobalance import AutoBalanceClassifier
from sklearn_autobalance.datasets import make_waterbirds_like
from sklearn_autobalance.metrics import make_fairness_scorer

RUN_BY_GALLERY = "__file__" not in globals()  # sphinx-gallery (or a notebook)
SMALL = bool(os.environ.get("SPHINX_GALLERY"))  # the documentation build's settings

parser = argparse.ArgumentParser(
    description="Accuracy-fairness trade-off (the paper's Figure 5) with one GridSearchCV")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--n-samples", type=int, default=4795,
                    help="rows (default 4795: Waterbirds' training cell counts)")
parser.add_argument("--n-features", type=int, default=32)
parser.add_argument("--epochs", type=int, default=15)
parser.add_argument("--n-jobs", type=int, default=1 if SMALL else 2)
parser.add_argument("--out", "--output", dest="out", default=None,
                    help="PNG file, or folder for fairness_tradeoff.png (default: this "
                         "script's folder)")
args = parser.parse_args([] if RUN_BY_GALLERY else None)

FAIRNESS_WEIGHTS = [0.0, 0.5, 0.9, 0.99]
LAMBDAS = [0.25, 0.5, 0.75, 1.0]
REGULARIZERS = {"deo": "CE + CE_deo", "group_balanced": "CE + group-bal. CE",
                "group_la": "CE + Group-LA"}

# %%
# Data
# ----
# ``y`` is the bird type, the sensitive attribute ``g`` the background
# (place); the cells (y, place) are as unequal as in Waterbirds' training
# split.

data = make_waterbirds_like(n_samples=args.n_samples, n_features=args.n_features,
                            n_test=0, random_state=args.seed)
X, y, g = data.X, data.y, data.sensitive_features
print(f"make_waterbirds_like: {len(y)} rows, {X.shape[1]} features, cells (y, place) "
      f"00/01/10/11 = {np.bincount(2 * y + g, minlength=4).tolist()}")

# %%
# One GridSearchCV over both families
# -----------------------------------
# The sensitive attribute reaches the estimator and the scorers through
# metadata routing.

grid = [
    {"clf__objective_params": [{"fairness_weight": fw} for fw in FAIRNESS_WEIGHTS]},
    {"clf__search": [None], "clf__init": ["blend"],
     "clf__init_params": [{"regularizer": r, "lam": lam}
                          for r in REGULARIZERS for lam in LAMBDAS]},
]
start = time.perf_counter()
with sklearn.config_context(enable_metadata_routing=True):
    clf = AutoBalanceClassifier(
        hidden_layer_sizes=(32,), max_epochs=args.epochs, batch_size=128,
        objective="deo", random_state=args.seed,
    ).set_fit_request(sensitive_features=True)
    scoring = {
        "error": make_scorer(zero_one_loss, greater_is_better=False,
                             response_method="predict"),
        "group_balanced_error": make_fairness_scorer("group_balanced_error"),
        "deo": make_fairness_scorer("deo"),
    }
    search = GridSearchCV(
        Pipeline([("scale", StandardScaler()), ("clf", clf)]), grid, scoring=scoring,
        cv=StratifiedKFold(3, shuffle=True, random_state=args.seed), refit=False,
        n_jobs=args.n_jobs,
    ).fit(X, y, sensitive_features=g)
print(f"{len(search.cv_results_['params'])} candidates x 3 folds in "
      f"{time.perf_counter() - start:.0f} s, n_jobs={args.n_jobs}")

# %%
# Cross-validated scores
# ----------------------
# Mean over the 3 folds, in percent, all lower is better: the
# misclassification rate (0-1 error), the group-balanced error (mean of the four cell errors) and
# the DEO (sum over classes of the gap between the groups' error rates).
# ``weight`` is ``objective_params["fairness_weight"]`` for AutoBalance and
# ``lam`` for the blends.


def family(params):
    if "clf__objective_params" in params:
        return "AutoBalance (deo)", params["clf__objective_params"]["fairness_weight"]
    init_params = params["clf__init_params"]
    return REGULARIZERS[init_params["regularizer"]], init_params["lam"]


res = search.cv_results_
fronts = {}
print("mean 3-fold cross-validated scores (%), lower is better")
print(f"{'family':<20}{'weight':>8}{'misclass %':>10}{'grp-bal %':>11}{'DEO %':>9}")
for i, params in enumerate(res["params"]):
    name, weight = family(params)
    row = [-100 * res[f"mean_test_{m}"][i] for m in scoring]
    fronts.setdefault(name, []).append((weight, *row))
    print(f"{name:<20}{weight:>8}" + "".join(f"{v:>10.2f}" for v in row))

# %%
# Figure: each fairness metric against the misclassification rate
# ----------------------------------------------------------------
# One curve per family, its points labelled with their weight
# (``fairness_weight`` or ``lam``); points of a family that land on top of
# each other share one label ("0.5, 0.9, 0.99"), and each label is placed
# where it overlaps no other label. Lower is better on both axes: the
# lower-left corner is the better trade-off.


def figure_path(out, name):
    """``--out`` (a file, or a folder for ``name``), else this script's folder."""
    path = Path(out) if out else Path(__file__).resolve().parent
    return path / name if path.is_dir() else path


def label_points(ax, points, color, placed):
    """Label ``(x, y, text)`` points of one family without overlapping ``placed``.

    Points closer than 12 pixels share one label; each label takes the first
    of a few offsets around its point whose box overlaps no box in ``placed``
    (the labels already drawn, and the points).
    """
    renderer = ax.figure.canvas.get_renderer()
    to_pixels = ax.transData.transform
    clusters = []
    for x, y, text in points:
        px = to_pixels((x, y))
        for cluster in clusters:
            if np.hypot(*(px - cluster["px"])) < 12:
                cluster["texts"].append(text)
                break
        else:
            clusters.append({"px": px, "xy": (x, y), "texts": [text]})
    offsets = [(5, 4), (5, -11), (-8, 6), (-8, -12), (7, 12), (7, -18), (-14, 14),
               (-14, -20), (12, 0), (-20, 0), (0, 16), (0, -22)]
    for cluster in clusters:
        for dx, dy in offsets:
            text = ax.annotate(", ".join(cluster["texts"]), cluster["xy"], xytext=(dx, dy),
                               textcoords="offset points", fontsize=7, color=color,
                               ha="left" if dx >= 0 else "right")
            box = text.get_window_extent(renderer).expanded(1.05, 1.1)
            inside = ax.bbox.containsx(box.x0) and ax.bbox.containsx(box.x1) and (
                ax.bbox.containsy(box.y0) and ax.bbox.containsy(box.y1))
            if inside and not any(box.overlaps(other) for other in placed):
                break
            text.remove()
        else:  # every offset overlaps: keep the first
            text = ax.annotate(", ".join(cluster["texts"]), cluster["xy"], xytext=offsets[0],
                               textcoords="offset points", fontsize=7, color=color)
            box = text.get_window_extent(renderer)
        placed.append(box)


def better_arrow(ax, placed):
    """An arrow pointing to the lower left, labelled "better", where nothing is drawn."""
    to_axes = ax.transAxes.inverted().transform
    taken = [to_axes(np.array([[b.x0, b.y0], [b.x1, b.y1]])) for b in placed]

    def crowding(tail):
        x0, y0, x1, y1 = tail[0] - 0.2, tail[1] - 0.2, tail[0] + 0.08, tail[1] + 0.05
        return sum(not (b[1, 0] < x0 or b[0, 0] > x1 or b[1, 1] < y0 or b[0, 1] > y1)
                   for b in taken)

    tails = [(0.92, 0.9), (0.92, 0.55), (0.92, 0.32), (0.6, 0.9), (0.6, 0.6), (0.4, 0.9)]
    tail = min(tails, key=crowding)  # the first of the least crowded
    ax.annotate("better", xy=(tail[0] - 0.14, tail[1] - 0.14), xytext=tail,
                xycoords="axes fraction", textcoords="axes fraction", fontsize=8,
                color="0.3", ha="center", va="bottom",
                arrowprops=dict(arrowstyle="->", color="0.3", lw=1.2))


try:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter
    from matplotlib.transforms import Bbox
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure (pip install 'sklearn-autobalance[plot]')")
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    panels = [("group-balanced error (%, lower is better)",
               "group-balanced error against misclassification rate"),
              ("DEO (%, lower is better)", "DEO against misclassification rate")]
    for col, (ax, (label, title)) in enumerate(zip(axes, panels)):
        for k, (name, points) in enumerate(fronts.items()):
            points = sorted(points, key=lambda p: p[1])
            xs = [p[1] for p in points]
            ys = [p[2 + col] for p in points]
            ax.plot(xs, ys, "o-", color=f"C{k}", label=name, markersize=5)
        # Log x: the low-error candidates, most of them, are not squeezed together.
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(
            lambda v, _: f"{v:g}" if f"{v:g}"[0] in "235" else ""))
        ax.margins(x=0.08, y=0.1)  # room for the labels of the outer points
        fig.canvas.draw()  # the data limits are set: place the labels in pixels
        # The points themselves: labels must not cover them either.
        placed = []
        for name, points in fronts.items():
            for p in points:
                px = ax.transData.transform((p[1], p[2 + col]))
                placed.append(Bbox([px - 4, px + 4]))
        for k, (name, points) in enumerate(fronts.items()):
            label_points(ax, [(p[1], p[2 + col], f"{p[0]:g}") for p in points], f"C{k}",
                         placed)
        better_arrow(ax, placed)
        ax.set_xlabel("misclassification rate (%, log scale, lower is better)")
        ax.set_ylabel(label)
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=8, title="family (point labels: fairness_weight or lam)",
                   title_fontsize=8, loc="upper left")
    fig.suptitle("Accuracy-fairness trade-off on make_waterbirds_like: mean over 3 "
                 "cross-validation folds per candidate; lower-left is better", fontsize=10)
    fig.tight_layout()
    if not RUN_BY_GALLERY:  # the documentation build shows the figure instead
        path = figure_path(args.out, "fairness_tradeoff.png")
        fig.savefig(path, dpi=120)
        print(f"saved {path}")
    plt.show()
