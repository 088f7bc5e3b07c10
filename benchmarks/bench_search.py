"""Does the default search pay for itself? Against every tournament arm alone and grids over them.

Issue 22 replaces the default search of ``AutoBalanceClassifier`` (one
trajectory from LA, its l+Delta snapshots compared by a paired test) by a
*tournament* of fixed losses ("arms",
``sklearn_autobalance._tournament.default_arms``). This benchmark gives the
evidence: every arm alone as a fixed loss, what a user would run instead
(``GridSearchCV`` / ``HalvingGridSearchCV`` over the arms), the previous
default and (run later, with the new code) the new default.

What is measured
----------------
For every data set, seed and row: the test *balanced error* in percent,
``100 * (1 - balanced_accuracy_score(y_test, y_pred))`` (scikit-learn's
implementation, independent of the package's metrics), the plain test error,
the train balanced error, and the wall time of ``fit`` (``time.perf_counter``
around ``fit`` only, the whole ``GridSearchCV.fit`` / ``HalvingGridSearchCV.fit``
for the grid rows; throw-away warm-up fits at process start absorb torch's
one-time lazy imports). The report gives

1. mean ± sample std (ddof=1) over the seeds, per row and set, and the fixed
   arms whose test mean beats ``la`` by more than 2 points per set (an
   oracle view on test: a reference, not a method);
2. per-seed paired comparisons of ``ab_default`` and ``ab_previous`` (and of
   the grids) against ``la`` and against ``arm_grid``: wins / ties
   (|difference| < 0.005 points) / losses and the mean difference;
3. the median fit time per row and set and its ratio to ``la``'s;
4. the arm (tau) each grid chose per seed, and how often ``ab_previous``'s
   paired selection moved away from the initial loss;
5. the bar of issue 22, computed for ``ab_default`` when present (and, as a
   reference, for the other search rows): (i) test mean within +0.3 points of
   ``la``'s on every set; (ii) below ``la``'s mean by more than one std of
   ``la`` on every set where some fixed arm's mean beats ``la`` by more than 2
   points, and on >= 3 sets in all; (iii) mean over the sets of the per-set
   mean at most ``arm_grid``'s.

Data sets (fixed before any result; ``--sets`` filters; preprocessing is
fitted on the train part only):

- ``digits``, ``synthetic20``: ``bench_long_tailed.make_dataset`` with that
  script's defaults (``bench_long_tailed.parse_args([])``): long-tailed train
  part (ratio 10 and 100), balanced test part, ``StandardScaler``.
- ``gmm384``: the interpolating set: ``make_classification(n_samples=6000,
  n_features=384, n_informative=48, n_redundant=0, n_classes=10,
  n_clusters_per_class=1, class_sep=2.0, flip_y=0.0, random_state=5000 +
  seed)``, stratified 40% test split (seeded, balanced), the train part made
  long-tailed with ``make_long_tailed(imbalance_ratio=50, random_state=seed)``
  (head 360, tail 7), ``StandardScaler``.
- ``abalone``, ``yeast``, ``page_blocks``, ``kr_vs_k``: the naturally
  long-tailed sets ``_real_data.REPORT_SETS`` (offline, see
  ``_real_data.py``), stratified 70/30 split seeded by the seed,
  ``StandardScaler``; the test part keeps the natural class distribution (the
  balanced error weighs every class alike anyway). ``page_blocks`` is the
  table with very rare classes.
- ``fashion_mnist``: the Fashion-MNIST IDX files in
  ``/usr/share/datasets/fashion-mnist`` (``bench_long_tailed.load_fashion_mnist``);
  the 60k train images made long-tailed with ``make_long_tailed(
  imbalance_ratio=100, n_max=1000, random_state=seed)`` (head 1000, tail 10,
  classes ranked by label, ~2.5k rows); the test part is a seeded balanced
  subsample of the 10k test images, 200 per class (2000 rows;
  ``np.random.RandomState(seed).choice`` without replacement within each
  class, kept in test-file order), to keep ``predict`` cheap; raw 784 pixels
  scaled to [0, 1], then ``StandardScaler`` fitted on the train part (no PCA:
  the default MLP interpolates this train set).

Rows (all ``AutoBalanceClassifier`` with the estimator's default network,
epochs, batch size and learning rate unless ``--hidden`` / ``--max-epochs`` /
``--batch-size`` / ``--lr`` change them; ``random_state=seed``):

- fixed losses, ``search=None``: ``ce`` (``init="ce"``) and the nine arms of
  ``default_arms()`` alone: ``la`` (``init="la"``), ``la_tau1.5`` /
  ``la_tau2`` (``init="la", init_params={"tau": 1.5 / 2.0}``), ``vs``,
  ``balanced``, ``ldam`` (``init=`` that name, default parameters: no DRW),
  ``noise0.4`` / ``noise0.8`` / ``noise1.6`` (``init="la",
  augmentation="shared", augmentation_params={"eps": 0.4 / 0.8 / 1.6}``);
- ``la_tau_grid``: ``GridSearchCV`` of the ``la`` row over ``init_params`` tau
  in (0.5, 1.0, 1.5, 2.0);
- ``arm_grid``: ``GridSearchCV`` of ``AutoBalanceClassifier(search=None)``
  over the nine arms (a list-of-dicts ``param_grid``, every dict setting
  ``init``, ``init_params``, ``augmentation`` and ``augmentation_params``):
  what a user would run instead of the tournament; the chosen arm is recorded;
- ``arm_halving``: the same with ``HalvingGridSearchCV`` (its defaults
  otherwise: ``factor=3``, ``resource="n_samples"``, ``min_resources="exhaust"``;
  ``random_state=seed``); the chosen arm is recorded;
- the three grids use ``cv=StratifiedKFold(3, shuffle=True, random_state=seed)``,
  ``scoring="balanced_accuracy"``, ``refit=True``, ``n_jobs=1``;
- ``ab_previous``: ``AutoBalanceClassifier()`` with the defaults as of commit
  cfc5dc2 (the single-trajectory l+Delta search with paired selection),
  spelled ``search="auto", cv="auto", selection="auto"`` so that it fails
  loudly on code without those parameters; it refuses to run unless the
  imported package is that commit (run it with ``PYTHONPATH`` on a worktree
  of cfc5dc2); ``selection_report_["moved"]`` is recorded;
- ``ab_default``: ``AutoBalanceClassifier()`` with no argument beyond the
  network ones (the new tournament default); it refuses to run on the code of
  cfc5dc2 (that would be ``ab_previous`` again).

Every result records which package file and git commit it ran with
(``code``).

All fits run sequentially in this process. Every (set, seed, row) is appended
to the JSON file as soon as it finishes, so an interrupted run keeps its work;
``--resume`` skips the (set, seed, row) already in that file. ``--merge A.json
B.json ...`` writes the Markdown report of several result files and runs
nothing.

Examples
--------
The rows ``ce`` ... ``arm_halving``, ``la_tau_grid`` and ``ab_previous`` run on
the frozen code of cfc5dc2 (a git worktree on ``PYTHONPATH``; the editable
install must not be used), from this folder, one process at a time, in
priority order (each command resumes the same JSON)::

    git worktree add /tmp/bench_base cfc5dc2
    cd benchmarks
    export PYTHONPATH=/tmp/bench_base   # check: sklearn_autobalance.__file__ is under it
    J="--threads 1 --resume --json results/report_main.json"
    python bench_search.py $J --rows ce la la_tau1.5 la_tau2 vs noise0.4 noise0.8 \
        noise1.6 balanced ldam
    python bench_search.py $J --rows ab_previous
    python bench_search.py $J --rows arm_grid     # likewise arm_halving, la_tau_grid

then ``ab_default`` with the new code (``PYTHONPATH`` unset) and the report::

    python bench_search.py --threads 1 --resume --json results/report_main.json \
        --rows ab_default
    python bench_search.py --merge results/report_main.json --out results/report.md

Cost measured on 2 shared cores at ``--threads 1`` (the other core busy with
other work, so +-20%): one fixed fit takes about 0.4 s (digits), 1-2.5 s
(synthetic20, gmm384, abalone, yeast), 3.5 s (page_blocks), 4 s
(fashion_mnist) and 20 s (kr_vs_k), ~34 s summed over the sets, so the ten
fixed rows take ~32 minutes for the 5 seeds. ``ab_previous`` costs 4-10 fixed
fits (~15 minutes), ``arm_grid`` 30-45 (28 fits; ~85 minutes, 45 of them on
kr_vs_k); ``arm_halving`` and ``la_tau_grid`` (13 fits) are cheaper than
``arm_grid``.

Smoke test (1 seed, max_epochs 6, sets digits and yeast, rows la, noise0.8,
ldam, arm_grid, arm_halving, ab_previous)::

    PYTHONPATH=/tmp/bench_base python benchmarks/bench_search.py --quick
"""

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

# The arms of sklearn_autobalance._tournament.default_arms(), in its order, as
# AutoBalanceClassifier(search=None) parameters.
ARM_SPECS = {
    "la": {"init": "la", "init_params": None, "augmentation": None, "augmentation_params": None},
    "la_tau1.5": {"init": "la", "init_params": {"tau": 1.5}, "augmentation": None,
                  "augmentation_params": None},
    "la_tau2": {"init": "la", "init_params": {"tau": 2.0}, "augmentation": None,
                "augmentation_params": None},
    "vs": {"init": "vs", "init_params": None, "augmentation": None, "augmentation_params": None},
    "noise0.4": {"init": "la", "init_params": None, "augmentation": "shared",
                 "augmentation_params": {"eps": 0.4}},
    "noise0.8": {"init": "la", "init_params": None, "augmentation": "shared",
                 "augmentation_params": {"eps": 0.8}},
    "noise1.6": {"init": "la", "init_params": None, "augmentation": "shared",
                 "augmentation_params": {"eps": 1.6}},
    "balanced": {"init": "balanced", "init_params": None, "augmentation": None,
                 "augmentation_params": None},
    "ldam": {"init": "ldam", "init_params": None, "augmentation": None,
             "augmentation_params": None},
}
ARMS = list(ARM_SPECS)
FIXED_ROWS = ["ce"] + ARMS
GRID_ROWS = ["la_tau_grid", "arm_grid", "arm_halving"]
AB_ROWS = ["ab_previous", "ab_default"]
ALL_ROWS = FIXED_ROWS + GRID_ROWS + AB_ROWS
ALL_SETS = ["digits", "synthetic20", "gmm384", "abalone", "yeast", "page_blocks", "kr_vs_k",
            "fashion_mnist"]
QUICK_SETS = ["digits", "yeast"]
QUICK_ROWS = ["la", "noise0.8", "ldam", "arm_grid", "arm_halving", "ab_previous"]
TAUS = (0.5, 1.0, 1.5, 2.0)
TIE = 0.005  # points of balanced error
PREVIOUS_COMMIT = "cfc5dc2"
FMNIST_HEAD, FMNIST_RATIO, FMNIST_TEST_PER_CLASS = 1000, 100, 200

ROW_LABELS = {
    "ce": "CE",
    "la": "LA (tau=1)",
    "la_tau1.5": "LA tau=1.5",
    "la_tau2": "LA tau=2",
    "vs": "VS",
    "noise0.4": "LA + shared noise eps=0.4",
    "noise0.8": "LA + shared noise eps=0.8",
    "noise1.6": "LA + shared noise eps=1.6",
    "balanced": "Balanced CE",
    "ldam": "LDAM (no DRW)",
    "la_tau_grid": "LA, tau by GridSearchCV (3-fold)",
    "arm_grid": "the 9 arms by GridSearchCV (3-fold)",
    "arm_halving": "the 9 arms by HalvingGridSearchCV (3-fold)",
    "ab_previous": "AutoBalance defaults as of cfc5dc2 (l+Delta, paired selection)",
    "ab_default": "AutoBalance, defaults (tournament)",
}
AB_KWARGS = {
    "ab_previous": {"search": "auto", "cv": "auto", "selection": "auto"},
    "ab_default": {},
}
NETWORK_KEYS = ["hidden", "max_epochs", "batch_size", "lr", "device"]


# ----------------------------------------------------------------------------- code provenance
_CODE = None


def code_info():
    """Which ``sklearn_autobalance`` is imported: file, git commit and whether its tree is dirty."""
    global _CODE
    if _CODE is None:
        import sklearn_autobalance

        pkg = Path(sklearn_autobalance.__file__).resolve().parent
        info = {"file": str(pkg), "commit": None, "dirty": None}
        try:
            info["commit"] = subprocess.run(
                ["git", "-C", str(pkg), "rev-parse", "HEAD"], capture_output=True, text=True,
                check=True).stdout.strip()
            status = subprocess.run(
                ["git", "-C", str(pkg), "status", "--porcelain", "--", "."],
                capture_output=True, text=True, check=True).stdout
            info["dirty"] = bool(status.strip())
        except (OSError, subprocess.CalledProcessError):
            pass
        _CODE = info
    return _CODE


def _is_previous_code():
    c = code_info()
    return bool(c["commit"] and c["commit"].startswith(PREVIOUS_COMMIT) and c["dirty"] is False)


# ----------------------------------------------------------------------------- data
_RAW_CACHE = {}


def _fashion_mnist(seed):
    """Fashion-MNIST-LT as defined in the module docstring."""
    from sklearn.preprocessing import StandardScaler

    from sklearn_autobalance.datasets import make_long_tailed

    import bench_long_tailed

    if "fashion_mnist" not in _RAW_CACHE:
        data = bench_long_tailed.load_fashion_mnist(bench_long_tailed.FMNIST_DIR)
        if data is None:
            raise FileNotFoundError(f"Fashion-MNIST IDX files not found in "
                                    f"{bench_long_tailed.FMNIST_DIR}")
        _RAW_CACHE["fashion_mnist"] = data
    Xtr, ytr, Xte, yte = _RAW_CACHE["fashion_mnist"]
    Xtr, ytr = make_long_tailed(Xtr, ytr, imbalance_ratio=FMNIST_RATIO, n_max=FMNIST_HEAD,
                                random_state=seed)[:2]
    rng = np.random.RandomState(seed)
    keep = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(yte == c), FMNIST_TEST_PER_CLASS, replace=False)
        for c in np.unique(yte)]))
    Xte, yte = Xte[keep], yte[keep]
    Xtr, Xte = Xtr.astype(np.float32) / 255.0, Xte.astype(np.float32) / 255.0
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr).astype(np.float32), scaler.transform(Xte).astype(np.float32)
    counts = np.bincount(ytr)
    desc = (f"Fashion-MNIST-LT: train {len(ytr)} rows (head {counts.max()}, tail {counts.min()}, "
            f"ratio {counts.max() / counts.min():.1f}), test {len(yte)} rows (balanced seeded "
            f"subsample, {FMNIST_TEST_PER_CLASS} per class, of the 10k test set), "
            f"{Xtr.shape[1]} features; pixels/255, StandardScaler")
    return Xtr, np.asarray(ytr, np.int64), Xte, np.asarray(yte, np.int64), desc


def make_set(name, seed):
    """``(X_train, y_train, X_test, y_test, description)`` as float32 / int64 arrays."""
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from sklearn_autobalance.datasets import make_long_tailed

    if name == "fashion_mnist":
        return _fashion_mnist(seed)
    if name in ("digits", "synthetic20"):
        import bench_long_tailed

        Xtr, ytr, Xte, yte, desc = bench_long_tailed.make_dataset(
            name, seed, bench_long_tailed.parse_args([]))
        return Xtr, ytr.astype(np.int64), Xte, yte.astype(np.int64), \
            desc + " (bench_long_tailed.make_dataset)"
    if name == "gmm384":
        X, y = make_classification(
            n_samples=6000, n_features=384, n_informative=48, n_redundant=0, n_classes=10,
            n_clusters_per_class=1, class_sep=2.0, flip_y=0.0, random_state=5000 + seed)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, stratify=y,
                                              random_state=seed)
        Xtr, ytr = make_long_tailed(Xtr, ytr, imbalance_ratio=50, random_state=seed)[:2]
        test_kind = "balanced"
        what = "make_classification(6000, 384 features, 48 informative, 10 classes, sep 2.0)"
    else:
        import _real_data

        if name not in _RAW_CACHE:
            _RAW_CACHE[name] = _real_data.load(name)
        X, y, info = _RAW_CACHE[name]
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y,
                                              random_state=seed)
        test_kind = "natural class distribution"
        what = (f"{info['n']} rows, {info['classes']} classes, natural ratio "
                f"{info['imbalance_ratio']:.1f}")
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr).astype(np.float32), scaler.transform(Xte).astype(np.float32)
    counts = np.bincount(ytr)
    desc = (f"{what}; train {len(ytr)} rows (head {counts.max()}, tail {counts.min()}, "
            f"ratio {counts.max() / counts.min():.1f}), test {len(yte)} rows "
            f"({test_kind}), {Xtr.shape[1]} features; StandardScaler")
    return Xtr, np.asarray(ytr, dtype=np.int64), Xte, np.asarray(yte, dtype=np.int64), desc


# ----------------------------------------------------------------------------- rows
def network_params(args, seed):
    return dict(hidden_layer_sizes=tuple(args.hidden), max_epochs=args.max_epochs,
                batch_size=args.batch_size, lr=args.lr, device=args.device,
                random_state=seed)


def _grid_cv(seed):
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(3, shuffle=True, random_state=seed)


GRID_CV_TEXT = "StratifiedKFold(3, shuffle=True, random_state=seed)"


def arm_param_grid():
    """The nine arms as a list-of-dicts ``param_grid`` (every dict sets the four keys)."""
    return [{k: [v] for k, v in ARM_SPECS[a].items()} for a in ARMS]


def arm_of(params):
    """The arm name of a grid point (``best_params_`` or ``cv_results_["params"]`` entry)."""
    for a, spec in ARM_SPECS.items():
        if all(params.get(k) == v for k, v in spec.items()):
            return a
    return repr(params)


def _fixed_params(row):
    if row == "ce":
        return {"search": None, "init": "ce"}
    return {"search": None, **{k: v for k, v in ARM_SPECS[row].items() if v is not None}}


def make_estimator(row, seed, args):
    """The estimator of a row (unfitted) and its description as a dict."""
    from sklearn.model_selection import GridSearchCV

    from sklearn_autobalance import AutoBalanceClassifier

    base = network_params(args, seed)
    if row in FIXED_ROWS:
        params = _fixed_params(row)
        return AutoBalanceClassifier(**base, **params), {**base, **params}
    common = dict(cv=_grid_cv(seed), scoring="balanced_accuracy", refit=True, n_jobs=1)
    if row == "la_tau_grid":
        inner = AutoBalanceClassifier(**base, search=None, init="la")
        grid = {"init_params": [{"tau": t} for t in TAUS]}
        est = GridSearchCV(inner, grid, **common)
        return est, {**base, "search": None, "init": "la", "grid_taus": list(TAUS),
                     "grid_cv": GRID_CV_TEXT}
    if row in ("arm_grid", "arm_halving"):
        inner = AutoBalanceClassifier(**base, search=None)
        if row == "arm_grid":
            est = GridSearchCV(inner, arm_param_grid(), **common)
        else:
            from sklearn.experimental import enable_halving_search_cv  # noqa: F401
            from sklearn.model_selection import HalvingGridSearchCV

            est = HalvingGridSearchCV(inner, arm_param_grid(), random_state=seed, **common)
        return est, {**base, "search": None, "grid_arms": ARMS, "grid_cv": GRID_CV_TEXT,
                     "grid": type(est).__name__}
    # the AutoBalance search rows: check the code they run on
    if row == "ab_previous" and not _is_previous_code():
        raise RuntimeError(f"ab_previous is the default as of {PREVIOUS_COMMIT}: run it with "
                           f"PYTHONPATH on a clean worktree of that commit (imported: "
                           f"{code_info()})")
    if row == "ab_default" and _is_previous_code():
        raise RuntimeError(f"ab_default is the new default: the imported package is the clean "
                           f"{PREVIOUS_COMMIT} ({code_info()['file']}), where it would be "
                           "ab_previous again")
    params = AB_KWARGS[row]
    return AutoBalanceClassifier(**base, **params), {**base, **params}


def _jsonable_small(value):
    """A JSON-friendly copy of a small fitted attribute (arrays rounded), or its repr."""
    if isinstance(value, dict):
        return {str(k): _jsonable_small(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable_small(v) for v in value]
    if isinstance(value, (bool, int, str, type(None))):
        return value
    if isinstance(value, float):
        return round(value, 6)
    try:
        arr = np.asarray(value, dtype=float)
        if arr.size <= 1000:
            return np.round(arr, 5).tolist()
    except (TypeError, ValueError):
        pass
    return repr(value)[:300]


def _grid_details(est, row, out):
    names = ([str(p["init_params"]["tau"]) for p in est.cv_results_["params"]]
             if row == "la_tau_grid" else [arm_of(p) for p in est.cv_results_["params"]])
    scores = est.cv_results_["mean_test_score"]
    if row == "la_tau_grid":
        out["chosen_tau"] = float(est.best_params_["init_params"]["tau"])
        out["grid_cv_balanced_accuracy"] = {n: float(s) for n, s in zip(names, scores)}
        return
    out["chosen_arm"] = arm_of(est.best_params_)
    if row == "arm_grid":
        out["grid_cv_balanced_accuracy"] = {n: float(s) for n, s in zip(names, scores)}
    else:
        iters = np.asarray(est.cv_results_["iter"])
        res = np.asarray(est.cv_results_["n_resources"])
        out["halving"] = {
            "n_iterations": int(est.n_iterations_),
            "n_resources": [int(r) for r in est.n_resources_],
            "n_candidates": [int(c) for c in est.n_candidates_],
            "per_iteration": [
                {"iter": int(i), "n_resources": int(res[iters == i][0]),
                 "scores": {names[j]: (None if not np.isfinite(scores[j]) else float(scores[j]))
                            for j in np.flatnonzero(iters == i)}}
                for i in np.unique(iters)],
        }


def run_one(Xtr, ytr, Xte, yte, row, seed, args):
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    est, params = make_estimator(row, seed, args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message="The least populated class")
        start = time.perf_counter()
        est.fit(Xtr, ytr)
        fit_time = time.perf_counter() - start
        pred = est.predict(Xte)
        train_pred = est.predict(Xtr)
    out = {
        "row": row, "seed": seed, "params": params, "code": code_info(),
        "balanced_error": 100.0 * (1.0 - balanced_accuracy_score(yte, pred)),
        "error": 100.0 * (1.0 - accuracy_score(yte, pred)),
        "train_balanced_error": 100.0 * (1.0 - balanced_accuracy_score(ytr, train_pred)),
        "fit_time_s": fit_time,
    }
    if caught:
        counts = {}
        for w in caught:
            key = f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}"
            counts[key] = counts.get(key, 0) + 1
        out["warnings"] = counts
    clf = est
    if row in GRID_ROWS:
        clf = est.best_estimator_
        _grid_details(est, row, out)
    loss_params = getattr(clf, "loss_params_", None) or {}
    out["loss_params"] = {k: np.round(np.asarray(v, dtype=float), 4).tolist()
                          for k, v in loss_params.items()}
    if row in AB_ROWS:
        # What the row meant when it ran (the defaults move between versions).
        got = clf.get_params()
        out["resolved"] = {k: got[k] for k in ("search", "init", "dictionary", "cv", "selection",
                                                "significance", "refit", "augmentation")
                           if k in got}
        for attr in ("best_epoch_", "best_step_"):
            value = getattr(clf, attr, None)
            out[attr.rstrip("_")] = None if value is None else int(value)
        report = getattr(clf, "selection_report_", None)
        if isinstance(report, dict) and "moved" in report:
            out["moved"] = bool(report["moved"])
            for k, name in (("index", "selection_index"), ("threshold", "selection_threshold")):
                if k in report:
                    out[name] = _jsonable_small(report[k])
            for k in ("gain", "se"):
                if k in report:
                    out[f"selection_{k}"] = _jsonable_small(report[k])
        # Whatever the new code says about its arms (names unknown here): kept verbatim.
        for attr in sorted(vars(clf)):
            if attr.endswith("_") and not attr.startswith("_") and "arm" in attr:
                out.setdefault("arm_attributes", {})[attr] = _jsonable_small(getattr(clf, attr))
        for attr in ("tournament_report_", "arm_", "chosen_arm_"):
            value = getattr(clf, attr, None)
            if isinstance(value, str):
                out["chosen_arm"] = value
            elif isinstance(value, dict):
                for key in ("arm", "chosen", "kept", "name"):
                    if isinstance(value.get(key), str):
                        out["chosen_arm"] = value[key]
                        break
    return out


def warm_up(device):
    """Tiny fits: torch imports torch._dynamo / torch.func lazily on first use (~3 s)."""
    from sklearn_autobalance import AutoBalanceClassifier

    rng = np.random.RandomState(0)
    X, y = rng.randn(96, 4).astype(np.float32), np.arange(96) % 2
    for kwargs in ({"search": None}, {"search": None, "augmentation": "shared"}, {}):
        try:
            AutoBalanceClassifier(hidden_layer_sizes=(4,), max_epochs=3, device=device,
                                  random_state=0, **kwargs).fit(X, y)
        except Exception as exc:  # a warm-up only: the rows report their own failures
            print(f"warm-up fit {kwargs} failed: {type(exc).__name__}: {exc}")


# ----------------------------------------------------------------------------- report
def _values(results, row, s, key="balanced_error", seeds=None):
    """``{seed: value}`` of one row on one set."""
    return {r["seed"]: r[key] for r in results
            if r["row"] == row and r["set"] == s and r.get(key) is not None
            and (seeds is None or r["seed"] in seeds)}


def _mean(vals):
    return float(np.mean(list(vals.values()))) if vals else None


def _std(vals):
    return float(np.std(list(vals.values()), ddof=1)) if len(vals) > 1 else None


def _cell(vals, fmt="{:.2f}"):
    if not vals:
        return "—"
    std = _std(vals)
    return (fmt.format(_mean(vals)) + (f" ± {fmt.format(std)}" if std is not None else "")
            + f" (n={len(vals)})")


def paired(results, s, a, b):
    """Per-seed ``a - b`` on set ``s`` (common seeds): dict with wins/ties/losses of a."""
    va, vb = _values(results, a, s), _values(results, b, s)
    common = sorted(set(va) & set(vb))
    if not common:
        return None
    diff = np.array([va[k] - vb[k] for k in common])
    return {"n": len(common), "wins": int((diff <= -TIE).sum()),
            "ties": int((np.abs(diff) < TIE).sum()), "losses": int((diff >= TIE).sum()),
            "mean_diff": float(diff.mean()),
            "mean_a": float(np.mean([va[k] for k in common])),
            "mean_b": float(np.mean([vb[k] for k in common])),
            "std_b": float(np.std([vb[k] for k in common], ddof=1)) if len(common) > 1 else None}


def arms_beating_la(results, sets, margin=2.0, rows=None):
    """``{set: [(arm, mean arm - mean la), ...]}``: fixed arms below la's test mean by > margin."""
    out = {}
    for s in sets:
        hits = []
        for r in rows or [a for a in ARMS if a != "la"]:
            p = paired(results, s, r, "la")
            if p is not None and p["mean_a"] - p["mean_b"] < -margin:
                hits.append((r, p["mean_a"] - p["mean_b"]))
        out[s] = sorted(hits, key=lambda h: h[1])
    return out


def bar_check(results, sets, row="ab_default"):
    """The three criteria of issue 22 for ``row``: list of (text, verdict)."""
    def verdict(ok):
        return "PASS" if ok else "FAIL"

    pla = {s: p for s in sets if (p := paired(results, s, row, "la")) is not None}
    if not pla:
        return [(f"{row}: no set with both {row} and la", "n/a")]
    partial = (f" [only {len(pla)}/{len(ALL_SETS)} sets: {', '.join(pla)}]"
               if len(pla) < len(ALL_SETS) else "")
    lines = []
    over = [f"{s} ({p['mean_a'] - p['mean_b']:+.2f})" for s, p in pla.items()
            if p["mean_a"] - p["mean_b"] > 0.3]
    lines.append((f"(i) {row} within +0.3 points of la on every set: "
                  + (f"above on {'; '.join(over)}" if over else "on all")
                  + partial, verdict(not over)))
    gain_sets = [s for s, hits in arms_beating_la(results, list(pla)).items() if hits]
    with_std = {s: p for s, p in pla.items() if p["std_b"] is not None}
    beats = [s for s, p in with_std.items() if p["mean_b"] - p["mean_a"] > p["std_b"]]
    missed = [s for s in gain_sets if s in with_std and s not in beats]
    detail = "; ".join(f"{s}: {p['mean_a'] - p['mean_b']:+.2f} vs std(la) {p['std_b']:.2f}"
                       for s, p in with_std.items())
    ok = not missed and len(beats) >= 3 and len(with_std) == len(pla)
    lines.append((f"(ii) {row} below la by more than one std of la on every set where some "
                  f"fixed arm beats la by > 2 points ({', '.join(gain_sets) or 'none'}): "
                  + (f"missed on {', '.join(missed)}" if missed else "all met")
                  + f"; and on >= 3 sets in all: {len(beats)} ({', '.join(beats) or 'none'})"
                  + f". Per set ({row} − la, std of la): {detail}"
                  + (" (sets with 1 seed not checked)" if len(with_std) < len(pla) else "")
                  + partial, verdict(ok)))
    if row != "arm_grid":
        pgrid = {s: p for s in sets if (p := paired(results, s, row, "arm_grid")) is not None}
        if pgrid:
            a = float(np.mean([p["mean_a"] for p in pgrid.values()]))
            b = float(np.mean([p["mean_b"] for p in pgrid.values()]))
            lines.append((f"(iii) {row} at least as good as arm_grid on average (mean over "
                          f"{len(pgrid)} sets of the mean balanced error, common seeds): "
                          f"{a:.2f} vs {b:.2f}", verdict(a <= b)))
        else:
            lines.append((f"(iii) {row} vs arm_grid: no set with both rows", "n/a"))
    return lines


def to_markdown(payload):
    results = payload["results"]
    sets = [s for s in ALL_SETS if any(r["set"] == s for r in results)]
    rows = [r for r in ALL_ROWS if any(x["row"] == r for x in results)]
    seeds = sorted({r["seed"] for r in results})
    a = payload["args"]
    md = ["### Tournament arms alone, grids over them, and the AutoBalance defaults: "
          "test balanced error (%)\n"]
    for run in payload["runs"]:
        md.append(_common.machine_markdown(run["machine"], run["command"]))
        if run.get("code"):
            c = run["code"]
            md.append(f"Package imported: `{c['file']}` at commit `{c['commit']}`"
                      + (" (with uncommitted changes)" if c.get("dirty") else "") + ".\n")
    md.append(f"Network: MLP hidden_layer_sizes={tuple(a['hidden'])}, max_epochs={a['max_epochs']}"
              f", batch_size={a['batch_size']}, lr={a['lr']}, Adam (the estimator's defaults "
              f"unless the command line changed them); seeds {seeds}. Cells: mean ± sample std "
              f"(ddof=1) over the seeds, n = number of seeds.\n")
    for r in rows:
        codes = {(x.get("code") or {}).get("commit") for x in results if x["row"] == r}
        resolved = {json.dumps(x.get("resolved"), sort_keys=True) for x in results
                    if x["row"] == r and x.get("resolved") is not None}
        if r in AB_ROWS or len(codes) > 1:
            md.append(f"- `{r}` ran on commit(s) "
                      + ", ".join(f"`{(c or '?')[:10]}`" for c in sorted(codes, key=str))
                      + ("" if not resolved else "; as: " + " | ".join(
                          ", ".join(f"{k}={v!r}" for k, v in json.loads(j).items())
                          for j in sorted(resolved)))
                      + (" (MIXED)" if len(resolved) > 1 or len(codes) > 1 else ""))
    md.append("")
    for name in sets:
        desc = payload["set_descriptions"].get(name)
        if desc:
            md.append(f"- `{name}` (seed {desc['seed']}): {desc['text']}")
    if payload.get("failures"):
        md.append("")
        for f in payload["failures"]:
            md.append(f"- FAILED: `{f['set']}` seed {f['seed']} `{f['row']}`: {f['error']}")
    md.append("")

    # 1. table
    header = ["Row"] + [f"`{s}`" for s in sets]
    md.append("#### 1. Test balanced error (%)\n")
    md.append(_common.markdown_table(
        header, [[f"`{r}`: {ROW_LABELS[r]}"] + [_cell(_values(results, r, s)) for s in sets]
                 for r in rows]))
    beating = arms_beating_la(results, sets)
    md.append("Fixed arms whose test mean is below `la`'s by more than 2 points (common seeds; "
              "on test, a reference, not a method): "
              + "; ".join(f"`{s}`: " + (", ".join(f"`{r}` {d:+.2f}" for r, d in hits) or "none")
                          for s, hits in beating.items()) + "\n")
    ce_hits = arms_beating_la(results, sets, rows=["ce"])
    if any(ce_hits.values()):
        md.append("(`ce`, not an arm, also beats `la` by > 2 points on: "
                  + ", ".join(f"`{s}` {h[0][1]:+.2f}" for s, h in ce_hits.items() if h) + ")\n")

    # 2. paired comparisons
    pairs = [("ab_default", "la"), ("ab_default", "arm_grid"), ("ab_previous", "la"),
             ("ab_previous", "arm_grid"), ("arm_grid", "la"), ("arm_halving", "la"),
             ("arm_halving", "arm_grid"), ("la_tau_grid", "la")]
    pair_rows = []
    for a_, b_ in pairs:
        cells = []
        for s in sets:
            p = paired(results, s, a_, b_)
            cells.append("—" if p is None else
                         f"{p['wins']}/{p['ties']}/{p['losses']}, "
                         f"{p['mean_diff'] if abs(p['mean_diff']) >= TIE else 0.0:+.2f}")
        if any(c != "—" for c in cells):
            pair_rows.append([f"`{a_}` − `{b_}`"] + cells)
    if pair_rows:
        md.append(f"#### 2. Per-seed paired comparison\n\nwins/ties/losses of the first row "
                  f"(tie: |difference| < {TIE} points), then the mean difference in points "
                  f"(negative: the first row has the lower balanced error); common seeds "
                  f"only.\n")
        md.append(_common.markdown_table(["Comparison"] + [f"`{s}`" for s in sets], pair_rows))

    # 3. fit time
    md.append("#### 3. Median fit wall time (s), and its ratio to `la`'s median\n")
    la_time = {s: np.median(list(v.values())) for s in sets
               if (v := _values(results, "la", s, "fit_time_s"))}
    time_rows = []
    for r in rows:
        cells = []
        for s in sets:
            v = _values(results, r, s, "fit_time_s")
            if not v:
                cells.append("—")
                continue
            med = float(np.median(list(v.values())))
            cells.append(f"{med:.1f}" + (f" (×{med / la_time[s]:.1f})" if s in la_time else ""))
        time_rows.append([f"`{r}`"] + cells)
    md.append(_common.markdown_table(header, time_rows))

    # 4. choices
    md.append("#### 4. What the searches chose (per seed, in seed order)\n")
    detail_rows = []

    def per_seed(row, s, key, fmt=str):
        recs = sorted((x for x in results if x["row"] == row and x["set"] == s),
                      key=lambda x: x["seed"])
        return ", ".join(f"{x['seed']}: {fmt(x.get(key))}" for x in recs) or "—"

    for r in ("arm_grid", "arm_halving", "ab_default"):
        if r in rows and any(x.get("chosen_arm") for x in results if x["row"] == r):
            detail_rows.append([f"`{r}` chosen arm"] + [per_seed(r, s, "chosen_arm")
                                                        for s in sets])
    if "la_tau_grid" in rows:
        detail_rows.append(["`la_tau_grid` chosen tau"] + [
            per_seed("la_tau_grid", s, "chosen_tau", lambda t: f"{t:g}") for s in sets])
    for r in AB_ROWS:
        if r not in rows:
            continue
        cells = []
        for s in sets:
            recs = [x for x in results if x["row"] == r and x["set"] == s]
            known = [x for x in recs if x.get("moved") is not None]
            if not known:
                cells.append("—")
                continue
            moved = [x for x in known if x["moved"]]
            epochs = [x["best_epoch"] for x in moved if x.get("best_epoch") is not None]
            cells.append(f"{len(moved)}/{len(known)}"
                         + (f", epoch {np.median(epochs):g}" if epochs else ""))
        if any(c != "—" for c in cells):
            detail_rows.append([f"`{r}` moved / seeds, median kept epoch when moved"] + cells)
    if "la" in rows:
        cells = []
        for s in sets:
            vals = _values(results, "la", s, "train_balanced_error")
            cells.append("—" if not vals else
                         f"{100 - _mean(vals):.2f}" + (f" (min {100 - max(vals.values()):.2f})"
                                                       if len(vals) > 1 else ""))
        detail_rows.append(["`la` train balanced accuracy (%)"] + cells)
    md.append(_common.markdown_table(["", *[f"`{s}`" for s in sets]], detail_rows))
    counts = {}
    for r in ("arm_grid", "arm_halving"):
        for x in results:
            if x["row"] == r and x.get("chosen_arm"):
                counts.setdefault(r, {}).setdefault(x["chosen_arm"], 0)
                counts[r][x["chosen_arm"]] += 1
    for r, c in counts.items():
        md.append(f"`{r}` choices over all (set, seed): "
                  + ", ".join(f"`{k}` {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1]))
                  + "\n")

    # 5. bar
    md.append("#### 5. Bar of issue 22\n")
    if "ab_default" in rows:
        for text, verdict in bar_check(results, sets, "ab_default"):
            md.append(f"- **{verdict}**: {text}")
    else:
        md.append("- `ab_default` not run yet: the bar is not computed for it.")
    md.append("")
    refs = [r for r in ("ab_previous", "arm_grid", "arm_halving") if r in rows]
    if refs:
        md.append("The same criteria for the other search rows (reference):\n")
        for r in refs:
            for text, verdict in bar_check(results, sets, r):
                md.append(f"- {verdict}: {text}")
        md.append("")

    # warnings
    warn_rows = []
    for x in results:
        for k, n in (x.get("warnings") or {}).items():
            warn_rows.append((x["set"], x["row"], x["seed"], k, n))
    if warn_rows:
        agg = {}
        for s, r, seed, k, n in warn_rows:
            agg.setdefault((s, r, k), []).append(seed)
        md.append("#### 6. Warnings raised during fit / predict\n")
        md.append(_common.markdown_table(
            ["Set", "Row", "Warning", "Seeds"],
            [[f"`{s}`", f"`{r}`", k.replace("|", "/"), ", ".join(map(str, sorted(v)))]
             for (s, r, k), v in sorted(agg.items())]))
    return "\n".join(md)


# ----------------------------------------------------------------------------- main
def _estimator_defaults():
    import inspect

    from sklearn_autobalance import AutoBalanceClassifier

    sig = inspect.signature(AutoBalanceClassifier.__init__).parameters
    return {k: sig[k].default for k in ("hidden_layer_sizes", "max_epochs", "batch_size")}


def parse_args(argv=None):
    d = _estimator_defaults()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sets", nargs="+", default=None, choices=ALL_SETS,
                   help="default: all; --quick: %s" % " ".join(QUICK_SETS))
    p.add_argument("--rows", nargs="+", default=None, choices=ALL_ROWS,
                   help="default: all; --quick: %s" % " ".join(QUICK_ROWS))
    p.add_argument("--seeds", nargs="+", type=int, default=None,
                   help="default: 0 1 2 3 4; --quick: 0")
    _common.add_network_arguments(p, hidden=d["hidden_layer_sizes"],
                                  max_epochs=d["max_epochs"], batch_size=d["batch_size"])
    p.add_argument("--resume", action="store_true",
                   help="keep the results already in --json and skip their (set, seed, row)")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="write the Markdown report (--out, default results/search.md) of these "
                        "result files, and exit")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: seed 0, max_epochs 6, sets %s, rows %s"
                        % (" ".join(QUICK_SETS), " ".join(QUICK_ROWS)))
    _common.add_output_arguments(p, "search")
    args = p.parse_args(argv)
    if args.quick:
        args.max_epochs = min(args.max_epochs, 6)
        args.seeds = args.seeds or [0]
        args.sets = args.sets or list(QUICK_SETS)
        args.rows = args.rows or list(QUICK_ROWS)
    args.sets = [s for s in ALL_SETS if s in (args.sets or ALL_SETS)]
    args.rows = [r for r in ALL_ROWS if r in (args.rows or ALL_ROWS)]
    args.seeds = args.seeds or [0, 1, 2, 3, 4]
    return args


def _network(args_dict):
    return {k: (list(v) if isinstance(v, (list, tuple)) else v)
            for k, v in args_dict.items() if k in NETWORK_KEYS}


def merge_runs(args):
    """The Markdown report of several result files (same network settings)."""
    payloads = [json.loads(Path(p).read_text()) for p in args.merge]
    net = _network(payloads[0]["args"])
    for path, p in zip(args.merge, payloads):
        if _network(p["args"]) != net:
            raise SystemExit(f"--merge: {path} has different network settings "
                             f"({_network(p['args'])} vs {net})")
    results, seen, dupes = [], {}, 0
    for p in payloads:
        for r in p["results"]:
            key = (r["set"], r["seed"], r["row"])
            if key in seen:
                dupes += 1
                results[seen[key]] = r  # the later file wins
            else:
                seen[key] = len(results)
                results.append(r)
    if dupes:
        print(f"--merge: {dupes} (set, seed, row) present in more than one file; "
              "the later file's result is used", file=sys.stderr)
    descriptions = {}
    for p in payloads:
        for k, v in p["set_descriptions"].items():
            descriptions.setdefault(k, v)
    merged = {**payloads[0], "results": results, "set_descriptions": descriptions,
              "runs": [run for p in payloads for run in p["runs"]],
              "failures": [f for p in payloads for f in p.get("failures", [])
                           if (f["set"], f["seed"], f["row"]) not in seen]}
    out_md = Path(args.out) if args.out else _common.RESULTS_DIR / "search.md"
    md = to_markdown(merged)
    _common.write_text(out_md, md)
    print(md)
    print(f"wrote {out_md}")


def main(argv=None):
    args = parse_args(argv)
    if args.merge:
        merge_runs(args)
        return
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning, module="sklearn_autobalance")
    warnings.filterwarnings("ignore", message="The least populated class")
    out_md, out_json = _common.default_paths("search", args.quick, args.out, args.json)
    command = _common.command_line()
    run_info = {"command": command, "machine": _common.machine_info(args.device),
                "code": code_info()}
    payload = {"benchmark": "search", "cwd": os.getcwd(), "args": vars(args), "runs": [],
               "set_descriptions": {}, "results": [], "failures": []}
    if args.resume and Path(out_json).exists():
        old = json.loads(Path(out_json).read_text())
        if _network(old["args"]) != _network(vars(args)):
            raise SystemExit(f"--resume: {out_json} was run with other network settings "
                             f"({_network(old['args'])}); use another --json")
        payload.update(runs=old["runs"], set_descriptions=old["set_descriptions"],
                       results=old["results"])  # earlier failures are retried
        print(f"resuming {out_json}: {len(old['results'])} results kept")
    elif Path(out_json).exists():
        print(f"note: overwriting {out_json} (use --resume to keep its results)")
    payload["runs"].append(run_info)
    done = {(r["set"], r["seed"], r["row"]) for r in payload["results"]}
    print(_common.machine_markdown(run_info["machine"], command))
    warm_up(args.device)
    t_total = time.perf_counter()
    for name in args.sets:
        for seed in args.seeds:
            todo = [r for r in args.rows if (name, seed, r) not in done]
            if not todo:
                continue
            Xtr, ytr, Xte, yte, desc = make_set(name, seed)
            payload["set_descriptions"].setdefault(name, {"seed": seed, "text": desc})
            print(f"[{name} seed {seed}] {desc}", flush=True)
            for row in todo:
                try:
                    res = run_one(Xtr, ytr, Xte, yte, row, seed, args)
                except Exception as exc:  # keep going; recorded, retried by --resume
                    traceback.print_exc()
                    payload["failures"].append({"set": name, "seed": seed, "row": row,
                                                "error": f"{type(exc).__name__}: {exc}"})
                    _common.write_json(out_json, payload)
                    continue
                res["set"] = name
                payload["results"].append(res)
                _common.write_json(out_json, payload)
                extra = ""
                if "chosen_tau" in res:
                    extra = f"  tau {res['chosen_tau']:g}"
                if "chosen_arm" in res:
                    extra += f"  arm {res['chosen_arm']}"
                if "moved" in res:
                    extra += f"  moved {res['moved']}, best_epoch {res.get('best_epoch')}"
                if res.get("warnings"):
                    extra += f"  warnings {sum(res['warnings'].values())}"
                print(f"  {row:12s} bal.err {res['balanced_error']:6.2f}%  train bal.err "
                      f"{res['train_balanced_error']:6.2f}%  fit {res['fit_time_s']:7.1f}s"
                      f"{extra}", flush=True)
    print(f"total {time.perf_counter() - t_total:.1f}s (after the warm-up)")
    _common.write_json(out_json, payload)
    md = to_markdown(payload)
    _common.write_text(out_md, md)
    print()
    print(md)
    print(f"wrote {out_md} and {out_json}")


if __name__ == "__main__":
    main()
