"""Development study for the AutoBalance search defaults (DEV data only; never the reported sets).

What is measured
----------------
For each development set, seed and configuration: the test balanced error
in percent (``100 * (1 - balanced_accuracy_score)``), the training balanced
error (does the default MLP interpolate?), and what the selection saw on the
out-of-fold samples: with a hyper-gradient search (``search="l+delta"`` etc.)
whether the paired selection moved, the best candidate's gain over the control
network and its paired SE, the max-t threshold; with the tournament (the
default ``search="auto"``) the kept arm and the best arm's gain, SE and t.
Defaults are chosen on the validation figures; the test column shows whether
the rule's decisions paid.

Removed in issue 22 (git history has the old script): ``cv=None`` and
``selection`` are no longer parameters, so ``--snr`` now runs
``search="l+delta"`` with the default ``cv=3`` and the paired selection (the
closest current call; it ran ``cv=None, selection="error"``), and
``--groups-check`` lost its ``"cv=3, paired"`` row (now the same call as
``"defaults"``) and its ``"cv=None, error"`` row.

Development sets (disjoint from ``bench_search.py``'s):

- ``hd``: ``make_classification(6000, 256, n_informative=40, n_classes=10,
  n_clusters_per_class=1, class_sep=2.0, random_state=2000 + seed)``, 40%
  stratified test split, train made long-tailed with ratio 50; the default
  MLP fits its training set exactly (training balanced error 0.0).
- ``syn10``: ``make_classification(6000, 20, n_informative=16, n_classes=10,
  n_clusters_per_class=2, class_sep=2.0, flip_y=0.01, random_state=1000 + seed)``,
  same split and ratio.
- ``olive``, ``flare``, ``portal_rodents``: ``_real_data.DEV_SETS``, stratified
  70/30 split.

``--snr``: the hyper-gradient's signal-to-noise ratio instead: on each set
of ``--sets`` (seed 0, ``search="l+delta"``, cross-fitted), at the first
hyper-step of epochs 20, 35 and 48, 40 hyper-gradients at the same network
weights with fresh hyper-batches (default sizes); prints their mean, std and
|mean| / std per search coordinate (``l``, ``delta``).

``--groups-check``: ``objective="deo"`` on ``make_waterbirds_like(n_features=64)``
(MLP (64,), 30 epochs, seeds of ``--seeds``) with the current defaults (the
cross-fitted output layer); prints test balanced error and DEO (%).

``--noise N``: the false-move rate instead. Labels independent of X
(600 x 8 standard normal features, 4 classes with priors 0.5/0.25/0.15/0.1),
N seeds, the configurations given; prints how often each moved away from the
initial loss.

Examples
--------
::

    python benchmarks/dev_search.py --sets hd flare syn10 olive --seeds 0 1 2 \\
        --configs '{"la": {"search": null}, "default": {}, "ld": {"search": "l+delta"}}'
    python benchmarks/dev_search.py --noise 40 --configs '{"default": {}, "cv5": {"cv": 5}}'
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _real_data  # noqa: E402


def make(name, seed):
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from sklearn_autobalance.datasets import make_long_tailed

    if name in ("hd", "syn10"):
        if name == "syn10":
            X, y = make_classification(6000, 20, n_informative=16, n_classes=10,
                                       n_clusters_per_class=2, class_sep=2.0, flip_y=0.01,
                                       random_state=1000 + seed)
        else:
            X, y = make_classification(6000, 256, n_informative=40, n_classes=10,
                                       n_clusters_per_class=1, class_sep=2.0, flip_y=0.0,
                                       random_state=2000 + seed)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, stratify=y,
                                              random_state=seed)
        Xtr, ytr = make_long_tailed(Xtr, ytr, imbalance_ratio=50, random_state=seed)[:2]
    else:
        if name not in _real_data.DEV_SETS:
            raise SystemExit(f"{name!r} is not a development set ({_real_data.DEV_SETS})")
        X, y, _ = _real_data.load(name)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y,
                                              random_state=seed)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), ytr, scaler.transform(Xte), yte


def moved_away(clf):
    """Whether the kept loss is a searched one (tournament or paired selection)."""
    if clf.selection_report_ is not None:
        return bool(clf.selection_report_["moved"])
    return False  # search=None


def describe(clf):
    r = getattr(clf, "selection_report_", None)
    if r is None:
        return ""
    if r["kind"] == "tournament":
        text = f"moved={int(r['moved'])} kept={r['kept_name']}"
        if r["best"] is not None:
            a = r["arms"][r["best"]]
            text += f" best={a['name']} gain={a['gain']:+.4f} se={a['se']:.4f} t={a['t']:+.2f}"
        return text
    b, i = r["best"], r["index"]
    return (f"moved={int(r['moved'])} kept_epoch={clf.best_epoch_} "
            f"best_gain={r['gain'][b]:+.4f} se={r['se'][b]:.4f} threshold={r['threshold']:.2f}"
            f" kept_gain={r['gain'][i]:+.4f}")


def hypergradient_snr(names):
    import torch

    from sklearn_autobalance import AutoBalanceClassifier, _search
    from sklearn_autobalance._hypergradient import implicit_hypergradient

    stats = {}
    original = _search.LossSearch.hyper_step

    def probe(self, net):
        epoch = len(net.history) - 1
        if epoch in (20, 35, 48) and epoch not in stats:
            draws = []
            for _ in range(40):
                train, val, params = self.design.hyper_losses(
                    net.module_, self.space, self.objective, net.batch_size,
                    self.hyper_batch_size, self.device_generator_)
                grads, _ = implicit_hypergradient(
                    train, val, params, list(self.space.hparams.values()),
                    neumann_steps=self.neumann_steps, damping=self.damping,
                    return_step_size=True, n_blocks=self.design.n_blocks)
                draws.append(torch.cat([g.detach().reshape(-1) for g in grads]).numpy())
            draws = np.array(draws)
            stats[epoch] = (draws.mean(0), draws.std(0))
        return original(self, net)

    _search.LossSearch.hyper_step = probe
    try:
        for name in names:
            stats.clear()
            Xtr, ytr, _, _ = make(name, 0)
            AutoBalanceClassifier(random_state=0, search="l+delta").fit(Xtr, ytr)
            for epoch, (mean, std) in sorted(stats.items()):
                print(f"{name} epoch {epoch}: mean {np.round(mean, 4)} std {np.round(std, 4)} "
                      f"snr {np.round(np.abs(mean) / std, 2)}", flush=True)
    finally:
        _search.LossSearch.hyper_step = original


def groups_check(seeds):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_autobalance import AutoBalanceClassifier
    from sklearn_autobalance.datasets import make_waterbirds_like
    from sklearn_autobalance.metrics import balanced_error, difference_of_equal_opportunity

    configs = {"defaults": dict(objective="deo")}
    for seed in seeds:
        data = make_waterbirds_like(n_features=64, random_state=seed)
        train, test = data.split == "train", data.split == "test"
        for label, kw in configs.items():
            model = make_pipeline(StandardScaler(), AutoBalanceClassifier(
                hidden_layer_sizes=(64,), max_epochs=30, random_state=seed, **kw))
            model.fit(data.X[train], data.y[train],
                      autobalanceclassifier__sensitive_features=data.sensitive_features[train])
            pred = model.predict(data.X[test])
            be = 100 * balanced_error(data.y[test], pred)
            deo = 100 * difference_of_equal_opportunity(
                data.y[test], pred, sensitive_features=data.sensitive_features[test])
            print(f"waterbirds_like s{seed} {label:15s} test_BE {be:5.1f} test_DEO {deo:5.1f}",
                  flush=True)


def main(argv=None):
    from sklearn.metrics import balanced_accuracy_score

    from sklearn_autobalance import AutoBalanceClassifier

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="+", default=["hd", "flare", "syn10", "olive"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--configs", default='{"la": {"search": null}, "default": {}}',
                   help="JSON: label -> AutoBalanceClassifier keyword arguments")
    p.add_argument("--noise", type=int, default=0, help="false-move study with N seeds")
    p.add_argument("--snr", action="store_true", help="hyper-gradient signal-to-noise ratio")
    p.add_argument("--groups-check", action="store_true",
                   help="objective='deo' on make_waterbirds_like, current defaults")
    args = p.parse_args(argv)
    configs = json.loads(args.configs)
    print(f"# {' '.join(sys.argv)}  ({time.strftime('%Y-%m-%d %H:%M')})", flush=True)
    if args.snr:
        return hypergradient_snr(args.sets)
    if args.groups_check:
        return groups_check(args.seeds)
    if args.noise:
        for label, kw in configs.items():
            moved = 0
            for seed in range(args.noise):
                rng = np.random.RandomState(seed)
                X = rng.randn(600, 8)
                y = rng.choice(4, size=600, p=[0.5, 0.25, 0.15, 0.1])
                clf = AutoBalanceClassifier(random_state=seed, **kw).fit(X, y)
                moved += moved_away(clf)
            print(f"noise {label}: moved in {moved} of {args.noise} seeds", flush=True)
        return
    for name in args.sets:
        for seed in args.seeds:
            Xtr, ytr, Xte, yte = make(name, seed)
            for label, kw in configs.items():
                t = time.perf_counter()
                clf = AutoBalanceClassifier(random_state=seed, **kw).fit(Xtr, ytr)
                fit_s = time.perf_counter() - t
                test = 100 * (1 - balanced_accuracy_score(yte, clf.predict(Xte)))
                train = 100 * (1 - balanced_accuracy_score(ytr, clf.predict(Xtr)))
                print(f"{name} s{seed} {label:10s} test_BE {test:6.2f} train_BE {train:5.1f} "
                      f"fit {fit_s:5.1f}s {describe(clf)}", flush=True)


if __name__ == "__main__":
    main()
