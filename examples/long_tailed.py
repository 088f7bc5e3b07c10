"""
.. _example_long_tailed:

AutoBalance on long-tailed digits: CE, LA and the learned loss
==============================================================

scikit-learn's digits (8x8 images, 10 classes) are split 70/30; the training
part is made long-tailed with ratio ``--ratio`` (head class ~122 images, tail
~12 at ratio 10), the test part stays balanced. Three networks with the same
MLP, epochs and seed are compared on the **test balanced error** (the mean over
classes of the per-class error, in percent; lower is better):

- CE: plain cross-entropy (``search=None, init="ce"``),
- LA: the logit-adjusted loss (``search=None, init="la"``),
- AutoBalance: l and Delta searched from LA init by the paper's
  hyper-gradient search (``search="l+delta"``: three cross-fitted fold
  networks; a searched loss is kept only if it beats LA, trained as long on
  the same batches, beyond the paired sampling noise, otherwise the fit is
  exactly LA's). The estimator's default, ``search="auto"``, runs a
  tournament of fixed candidate losses against LA instead (see the user
  guide); this example shows the learned loss and its search.

The script prints the table, the loss AutoBalance learned for each class and
draws that loss against the class frequency, with the search's trajectory and
why it kept the loss it kept.

Run from the command line (three seeds by default, about 15 s on two CPU
cores)::

    python examples/long_tailed.py [--ratio 10] [--seeds 0 1 2] [--out PATH]

The figure is saved as ``long_tailed.png`` in the folder of this script
(``examples/``), or to ``--out`` (a file name, or a folder to write
``long_tailed.png`` into). The documentation build runs the same three
seeds (with the environment variable ``SPHINX_GALLERY`` set, which changes
nothing here but where the figure goes: it is shown on the page, not saved).
The figures of the same comparison with more losses, and on two more data
sets, are on :ref:`bench-table1`; the default (the tournament) against LA on
seven sets, five seeds, on :ref:`bench-long-tailed`.
"""

# %%
# Settings
# --------
# The command-line options; the documentation build runs the script without
# a command line (and without ``__file__``), so it reads the defaults.

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autobalance import AutoBalanceClassifier
from sklearn_autobalance.datasets import make_long_tailed
from sklearn_autobalance.metrics import balanced_error

RUN_BY_GALLERY = "__file__" not in globals()  # sphinx-gallery (or a notebook)

parser = argparse.ArgumentParser(
    description="AutoBalance on long-tailed digits: CE, LA and the learned loss")
parser.add_argument("--ratio", type=float, default=10.0,
                    help="imbalance ratio of the training part (head / tail count)")
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
parser.add_argument("--out", "--plot", dest="out", default=None,
                    help="PNG file, or folder for long_tailed.png (default: this "
                         "script's folder)")
args = parser.parse_args([] if RUN_BY_GALLERY else None)

MODELS = {
    "CE": dict(search=None, init="ce"),
    "LA": dict(search=None, init="la"),
    "AutoBalance (l+delta, LA init)": dict(search="l+delta"),
}
AUTOBALANCE = "AutoBalance (l+delta, LA init)"

# %%
# Fit the three networks on each seed
# -----------------------------------
# The seed fixes the split, the long-tailed subsample, the initial weights and
# the batch order; every model sees the same data.


def run(ratio, seed):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed)
    X_train, y_train = make_long_tailed(X_train, y_train, ratio, random_state=seed)
    errors, fitted = {}, {}
    for name, params in MODELS.items():
        model = make_pipeline(
            StandardScaler(), AutoBalanceClassifier(random_state=seed, **params))
        model.fit(X_train, y_train)
        # Whether the search kept its initial loss (LA) is in its selection report.
        report = model[-1].selection_report_
        kept_initial[name] += report is not None and not report["moved"]
        errors[name] = 100 * balanced_error(y_test, model.predict(X_test))
        fitted[name] = model
    return errors, fitted, np.bincount(y_train)


start = time.perf_counter()
table = {name: [] for name in MODELS}
kept_initial = {name: 0 for name in MODELS}
for seed in args.seeds:
    errors, fitted, counts = run(args.ratio, seed)
    for name, value in errors.items():
        table[name].append(value)

print(f"long-tailed digits, ratio {args.ratio:g}, training class counts {counts.tolist()}")
print(f"test balanced error (%), balanced test set of 540 images, seeds {args.seeds}")
several = len(args.seeds) > 1
print(f"{'model':<34}{'mean':>8}" + (f"{'std':>8}" if several else ""))
for name, values in table.items():
    print(f"{name:<34}{np.mean(values):>8.2f}"
          + (f"{np.std(values, ddof=1):>8.2f}" if several else ""))
if several:
    print("(std: sample standard deviation over the seeds)")
for name, n in kept_initial.items():
    if n:
        print(f"{name}: the search kept its initial loss on {n} of {len(args.seeds)} "
              "seed(s) (selection_report_['moved'] is False)")
print(f"fitted in {time.perf_counter() - start:.0f} s")

# %%
# The loss AutoBalance learned
# ----------------------------
# ``loss_params_`` of the fitted estimator holds, per class, the weight ``w``,
# the centred additive adjustment ``l`` and, under the key ``delta``, the
# *multiplier* ``2*sigmoid(Delta)`` (not Delta itself) of the loss
# ``CE(2*sigmoid(Delta_y) f(x) + l, y)`` it was retrained with. LA's additive
# adjustment is ``log pi`` (centred) with multiplier 1, the search's starting
# point. Shown for the last seed.

clf = fitted[AUTOBALANCE][-1]
params = clf.loss_params_
freq = counts / counts.sum()
la = np.log(freq) - np.log(freq).mean()
print(f"loss learned by AutoBalance, seed {args.seeds[-1]} (training class counts as above)")
print(f"{'class':>5}{'count':>7}{'freq pi':>9}{'LA init l':>11}{'learned l':>11}"
      f"{'multiplier 2*sigmoid(Delta)':>29}{'weight w':>10}")
for k in range(len(counts)):
    print(f"{k:>5}{counts[k]:>7}{freq[k]:>9.3f}{la[k]:>11.3f}{params['l'][k]:>11.3f}"
          f"{params['delta'][k]:>29.3f}{params['w'][k]:>10.3f}")
report = clf.selection_report_
best = report["best"]
print(f"kept a searched loss: {report['moved']} (best searched candidate: gain "
      f"{100 * report['gain'][best]:+.2f} points of out-of-fold balanced error over LA, "
      f"paired SE {100 * report['se'][best]:.2f}, needed {report['threshold']:.2f} SE)")

# %%
# Figure: the learned loss and the search
# ---------------------------------------
# :class:`~sklearn_autobalance.LearnedLossDisplay` draws, for the fitted
# pipeline of the last seed, the learned ``l`` and the multiplier
# ``2*sigmoid(Delta)`` of each class against its frequency (log axis); the
# black crosses, drawn on top, are LA's ``log pi`` (centred) and multiplier 1,
# where the search started (where the search kept LA they sit on the learned
# points).
# The right panel is the search's trajectory: the validation objective and
# the validation balanced error (used to select the kept loss) per epoch, and
# the balanced error of the control twin that trains with LA on the same
# batches. The records start at the end of the warm-up (shaded: 40% of the
# epochs train with LA before the first hyper-step), which scores the initial
# loss; the kept loss is marked, and the panel's title says why it was kept.
# Both curves keep improving after the warm-up because the networks keep
# training, the control twin's as much: the selection compares each searched
# loss with that twin, so an improvement that LA gets as well does not count.


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
    from sklearn_autobalance import LearnedLossDisplay

    fig, axes = plt.subplots(1, 3, figsize=(13, 5))
    # The display draws the initial loss (LA) as crosses above the learned points.
    display = LearnedLossDisplay.from_estimator(fitted[AUTOBALANCE], ax=axes, kind="both",
                                                name="AutoBalance (learned)")
    fig.suptitle(f"Loss learned by AutoBalance on long-tailed digits (ratio {args.ratio:g}, "
                 f"seed {args.seeds[-1]}) and its search")
    fig.tight_layout()
    if not RUN_BY_GALLERY:  # the documentation build shows the figure instead
        path = figure_path(args.out, "long_tailed.png")
        fig.savefig(path, dpi=100)
        print(f"saved {path}")
    plt.show()
