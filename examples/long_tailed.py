"""AutoBalance on long-tailed digits: CE, LA and the learned loss.

scikit-learn's digits (8x8 images, 10 classes) are split 70/30; the training
part is made long-tailed with ratio ``--ratio`` (head class ~125 images, tail
~12 at ratio 10), the test part stays balanced. Three networks with the same
MLP, epochs and seed are compared on test balanced error:

- CE: plain cross-entropy (``search=None, init="ce"``),
- LA: the logit-adjusted loss (``search=None, init="la"``),
- AutoBalance: l and Delta searched from LA init (the defaults).

It prints a table and saves ``long_tailed.png`` (the learned additive and
multiplicative logit adjustments against class frequency) when matplotlib is
installed. Runs in well under two minutes on two CPU cores.

Run: ``python examples/long_tailed.py [--ratio 10] [--seeds 0 1 2]`` (three seeds by default)
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autobalance import AutoBalanceClassifier
from sklearn_autobalance.datasets import make_long_tailed
from sklearn_autobalance.metrics import balanced_error

MODELS = {
    "CE": dict(search=None, init="ce"),
    "LA": dict(search=None, init="la"),
    "AutoBalance (l+delta, LA init)": dict(),
}


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
        errors[name] = 100 * balanced_error(y_test, model.predict(X_test))
        fitted[name] = model
    return errors, fitted, np.bincount(y_train)


def plot(model, counts, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("matplotlib is not installed: no plot (pip install 'sklearn-autobalance[plot]')")
        return
    clf = model[-1]
    freq = counts / counts.sum()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    axes[0].scatter(freq, clf.loss_params_["l"], label="learned l (centred)")
    la = np.log(freq) - np.log(freq).mean()
    axes[0].scatter(freq, la, marker="x", label="LA init: log pi (centred)")
    axes[0].set(xscale="log", xlabel="class frequency pi", ylabel="additive adjustment l")
    axes[0].legend()
    axes[1].scatter(freq, clf.loss_params_["delta"])
    axes[1].axhline(1.0, color="grey", lw=0.5)
    axes[1].set(xscale="log", xlabel="class frequency pi",
                ylabel="multiplier 2 sigmoid(Delta)")
    for ax in axes:  # no labels on the minor ticks of the log axis (they overlap)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    fig.suptitle("Loss learned by AutoBalance on long-tailed digits")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratio", type=float, default=10.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--plot", default="long_tailed.png")
    args = parser.parse_args()

    start = time.perf_counter()
    table = {name: [] for name in MODELS}
    for seed in args.seeds:
        errors, fitted, counts = run(args.ratio, seed)
        for name, value in errors.items():
            table[name].append(value)
    print(f"\nlong-tailed digits, ratio {args.ratio:g}, training class counts {counts.tolist()}")
    print(f"test balanced error (%), balanced test set, seeds {args.seeds}")
    print(f"{'model':<34}{'mean':>8}{'std':>8}")
    for name, values in table.items():
        print(f"{name:<34}{np.mean(values):>8.2f}{np.std(values):>8.2f}")
    plot(fitted["AutoBalance (l+delta, LA init)"], counts, args.plot)
    print(f"done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
