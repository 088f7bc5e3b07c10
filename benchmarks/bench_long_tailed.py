"""Test balanced error of AutoBalanceClassifier variants on long-tailed data (paper Table 1 style).

What is measured
----------------
For every data set, seed and row: the test *balanced error* in percent,
``100 * (1 - balanced_accuracy_score(y_test, y_pred))`` (scikit-learn's
implementation, independent of the package's metrics), the plain test error,
and the wall time of ``fit`` (``time.perf_counter`` around ``fit`` only; a
throw-away warm-up fit at process start absorbs torch's one-time lazy imports).
Tables report mean ± sample std (ddof=1) over the seeds.

Data sets (the TRAIN part is made long-tailed with
``sklearn_autobalance.datasets.make_long_tailed``, classes ranked head to tail
by label; the TEST part stays balanced; preprocessing is fitted on train only):

- ``digits``: ``load_digits``, stratified 70/30 split (seeded), train made
  long-tailed with ratio 10 (head = smallest train class count, ~122 rows, tail
  ~12), ``StandardScaler``.
- ``synthetic20``: ``make_classification`` with 20 classes, 32 features (16
  informative, 4 redundant, 2 clusters per class, ``class_sep=1.5``
  (``--synthetic-sep``; at 1.0 even a balanced 500-per-class train set leaves
  ~36% test error, at 1.5 ~20%), seeded), a balanced pool
  of ``head + 100`` rows per class; 100 rows per class go to the test set, the
  rest is made long-tailed with ratio 100 and head 500; ``StandardScaler``.
- ``fashion_mnist``: Debian's ``dataset-fashion-mnist`` IDX files (read here
  with numpy, gzip-aware) from ``/usr/share/datasets/fashion-mnist``; train
  made long-tailed with ratio 100 like CIFAR-10-LT (head ``--fmnist-head``,
  default 5000 as in CIFAR-10-LT -> tail 50); pixels scaled to [0, 1], then
  ``--fmnist-preprocess``: ``pca64`` (StandardScaler then PCA to 64 dims,
  whitened, fitted on the long-tailed train set; default) or ``standard``
  (StandardScaler on the 784 pixels); full balanced 10k test set. Skipped with
  a message if the files are absent.

Rows (all share network, epochs, batch size and lr from the command line):

- fixed losses, ``search=None``: ``ce``, ``balanced``, ``la``, ``ldam_drw``
  (``init="ldam"``, ``init_params={"drw_epoch": int(0.6 * max_epochs)}``),
  ``cdt``, ``vs``, ``gla``, ``gca``, ``focal``;
- AutoBalance, the hyper-gradient search (paper Table 1 in form): ``ab_tau``
  (``search="tau"``, init balanced), ``ab_delta``, ``ab_l+delta`` (init
  balanced), ``ab_l+delta_la`` (``search="l+delta"``, init ``la``: the default
  before the tournament) and ``ab_w+l+delta_la``; every searched part moves
  along the log-prior dictionary (one scalar per part along ``log pi``).

The paper's per-cluster dictionary went with the ``dictionary`` parameter in
issue 22 (git history has the old script): ``ab_delta`` and ``ab_l+delta``
searched one value per frequency cluster and now search the log-prior
direction (the closest current call); ``ab_l`` (now the same search as
``ab_tau``) and ``ab_l+delta_la_clusters`` (now the same as ``ab_l+delta_la``)
were deleted.

All rows of one (set, seed) run sequentially in this process (no n_jobs).
Results are saved to JSON after every (set, seed), so an interrupted run keeps
what it finished; the Markdown table is written at the end.

Examples
--------
Full run (all sets and rows, 3 seeds; about 12 minutes on 2 shared cores, estimated from
one seed)::

    python benchmarks/bench_long_tailed.py

Smoke test (< 2 minutes)::

    python benchmarks/bench_long_tailed.py --quick
"""

import argparse
import gzip
import os
import struct
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

FIXED_ROWS = ["ce", "balanced", "la", "ldam_drw", "cdt", "vs", "gla", "gca", "focal"]
AB_ROWS = ["ab_tau", "ab_delta", "ab_l+delta", "ab_l+delta_la", "ab_w+l+delta_la"]
ALL_ROWS = FIXED_ROWS + AB_ROWS
ALL_SETS = ["digits", "synthetic20", "fashion_mnist"]
QUICK_ROWS = ["ce", "la", "ldam_drw", "ab_tau", "ab_l+delta_la"]

ROW_LABELS = {
    "ce": "CE",
    "balanced": "Balanced CE",
    "la": "LA (tau=1)",
    "ldam_drw": "LDAM-DRW",
    "cdt": "CDT",
    "vs": "VS",
    "gla": "GLA",
    "gca": "GCA",
    "focal": "Focal",
    "ab_tau": "AutoBalance: tau of LA (bal. init)",
    "ab_delta": "AutoBalance: Delta, log-prior dictionary (bal. init)",
    "ab_l+delta": "AutoBalance: l+Delta, log-prior dictionary (bal. init)",
    "ab_l+delta_la": "AutoBalance: l+Delta, log-prior dictionary, LA init",
    "ab_w+l+delta_la": "AutoBalance: w+l+Delta, log-prior dictionary, LA init",
}


# ----------------------------------------------------------------------------- data
def read_idx(path):
    """Read an IDX file (MNIST format), gzipped or not, into a numpy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise ValueError(f"{path}: not an IDX file (magic {data[:4]!r})")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    array = np.frombuffer(data, dtype=dtypes[dtype_code], offset=4 + 4 * ndim)
    return array.reshape(shape)


def _find_idx(directory, stem):
    for name in (stem, stem + ".gz"):
        if (directory / name).exists():
            return directory / name
    return None


def load_fashion_mnist(directory=FMNIST_DIR):
    """``(X_train, y_train, X_test, y_test)`` as uint8 images (n, 784) and int64 labels, or None."""
    stems = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    paths = [_find_idx(Path(directory), s) for s in stems]
    if any(p is None for p in paths):
        return None
    Xtr, ytr, Xte, yte = (read_idx(p) for p in paths)
    return (Xtr.reshape(len(Xtr), -1), ytr.astype(np.int64),
            Xte.reshape(len(Xte), -1), yte.astype(np.int64))


def make_dataset(name, seed, args):
    """``(X_train, y_train, X_test, y_test, description)`` or None when unavailable."""
    from sklearn.datasets import load_digits, make_classification
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_autobalance.datasets import make_long_tailed

    if name == "digits":
        X, y = load_digits(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
        Xtr, ytr = make_long_tailed(Xtr, ytr, imbalance_ratio=10, random_state=seed)
        prep, what = StandardScaler(), "StandardScaler"
    elif name == "synthetic20":
        n_classes, n_test, head = 20, 100, args.synthetic_head
        X, y = make_classification(
            n_samples=n_classes * (head + n_test), n_features=32, n_informative=16,
            n_redundant=4, n_classes=n_classes, n_clusters_per_class=2,
            class_sep=args.synthetic_sep, flip_y=0.0, random_state=seed)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=n_classes * n_test, stratify=y,
                                              random_state=seed)
        Xtr, ytr = make_long_tailed(Xtr, ytr, imbalance_ratio=100, n_max=head,
                                    random_state=seed)
        prep, what = StandardScaler(), "StandardScaler"
    elif name == "fashion_mnist":
        data = load_fashion_mnist(args.fmnist_dir)
        if data is None:
            return None
        Xtr, ytr, Xte, yte = data
        Xtr, ytr = make_long_tailed(Xtr, ytr, imbalance_ratio=100, n_max=args.fmnist_head,
                                    random_state=seed)
        Xtr, Xte = Xtr.astype(np.float32) / 255.0, Xte.astype(np.float32) / 255.0
        if args.fmnist_preprocess == "pca64":
            prep = make_pipeline(StandardScaler(), PCA(64, whiten=True, random_state=seed))
            what = "pixels/255, StandardScaler, PCA(64, whiten) fitted on train"
        else:
            prep, what = StandardScaler(), "pixels/255, StandardScaler on 784 pixels"
    else:
        raise ValueError(name)
    prep.fit(Xtr)
    Xtr, Xte = prep.transform(Xtr).astype(np.float32), prep.transform(Xte).astype(np.float32)
    counts = np.bincount(ytr)
    desc = (f"train {len(ytr)} rows (head {counts.max()}, tail {counts.min()}, "
            f"ratio {counts.max() / counts.min():.1f}), test {len(yte)} rows balanced, "
            f"{Xtr.shape[1]} features; {what}")
    return Xtr, ytr, Xte, yte, desc


# ----------------------------------------------------------------------------- rows
def row_params(row, args):
    """Keyword arguments of AutoBalanceClassifier for a row (beyond the shared ones)."""
    if row in FIXED_ROWS:
        if row == "ldam_drw":
            return {"search": None, "init": "ldam",
                    "init_params": {"drw_epoch": int(0.6 * args.max_epochs)}}
        return {"search": None, "init": row}
    # The hyper-gradient search spaces of the paper's Table 1, along the
    # log-prior dictionary (one scalar per part along log pi; issue 22 removed
    # the per-cluster dictionary).
    search, init = {
        "ab_tau": ("tau", "balanced"),
        "ab_delta": ("delta", "balanced"),
        "ab_l+delta": ("l+delta", "balanced"),
        "ab_l+delta_la": ("l+delta", "la"),
        "ab_w+l+delta_la": ("w+l+delta", "la"),
    }[row]
    return {"search": search, "init": init, **args.ab_params}


def run_one(Xtr, ytr, Xte, yte, row, seed, args):
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    from sklearn_autobalance import AutoBalanceClassifier

    params = dict(hidden_layer_sizes=tuple(args.hidden), max_epochs=args.max_epochs,
                  batch_size=args.batch_size, lr=args.lr, device=args.device,
                  random_state=seed, **row_params(row, args))
    clf = AutoBalanceClassifier(**params)
    start = time.perf_counter()
    clf.fit(Xtr, ytr)
    fit_time = time.perf_counter() - start
    pred = clf.predict(Xte)
    out = {
        "row": row, "seed": seed, "params": params,
        "balanced_error": 100.0 * (1.0 - balanced_accuracy_score(yte, pred)),
        "error": 100.0 * (1.0 - accuracy_score(yte, pred)),
        "per_class_error": (100.0 * (1.0 - np.array(
            [np.mean(pred[yte == k] == k) for k in np.unique(yte)]))).round(2),
        "fit_time_s": fit_time,
        "loss_params": {k: np.round(v, 4) for k, v in clf.loss_params_.items()},
    }
    if params["search"] is not None:
        out["best_step"] = clf.best_step_
        out["n_hyper_steps"] = sum(r["scope"] == "batch" for r in clf.search_history_)
        val = [r for r in clf.search_history_ if r["scope"] == "validation_set"]
        # The first epoch-end record scores the initial loss (end of the warm-up).
        out["kept_initial_loss"] = bool(val) and clf.best_step_ == val[0]["step"]
        out["val_objective_init"] = val[0]["validation_objective"] if val else None
        out["val_objective_best"] = min(r["validation_objective"] for r in val) if val else None
    return out


def warm_up(device):
    """One tiny fit: torch imports torch._dynamo lazily in the first optimiser (~3 s)."""
    from sklearn_autobalance import AutoBalanceClassifier

    rng = np.random.RandomState(0)
    X, y = rng.randn(64, 4), np.arange(64) % 2
    AutoBalanceClassifier(hidden_layer_sizes=(4,), max_epochs=2, device=device,
                          random_state=0).fit(X, y)


# ----------------------------------------------------------------------------- report
def to_markdown(payload):
    results, sets = payload["results"], payload["sets_run"]
    rows = [r for r in payload["rows"] if any(x["row"] == r for x in results)]
    n_seeds = len(payload["seeds"])
    md = [f"### Long-tailed benchmark: test balanced error (%), mean ± std over "
          f"{n_seeds} seed(s)\n",
          _common.machine_markdown(payload["machine"], payload["command"]),
          f"Shared settings: MLP hidden_layer_sizes={tuple(payload['args']['hidden'])}, "
          f"max_epochs={payload['args']['max_epochs']}, "
          f"batch_size={payload['args']['batch_size']}, "
          f"lr={payload['args']['lr']}, Adam; seeds {payload['seeds']}; AutoBalance rows "
          f"use the estimator defaults otherwise"
          + (f" plus {payload['args']['ab_params']}" if payload['args']['ab_params'] else "")
          + ". Std is the sample std (ddof=1).\n"]
    for name, desc in payload["set_descriptions"].items():
        md.append(f"- `{name}` (seed {payload['seeds'][0]}): {desc}")
    for name, why in payload.get("skipped", {}).items():
        md.append(f"- `{name}`: SKIPPED ({why})")
    md.append("")

    def cell(row, s, key, fmt):
        vals = [x[key] for x in results if x["row"] == row and x["set"] == s]
        return _common.mean_std(vals, fmt)

    header = ["Loss"] + [f"`{s}`" for s in sets]
    md.append(_common.markdown_table(
        header, [[ROW_LABELS[r]] + [cell(r, s, "balanced_error", "{:.2f}") for s in sets]
                 for r in rows]))
    md.append("Fit wall time (s), mean ± std:\n")
    md.append(_common.markdown_table(
        header, [[ROW_LABELS[r]] + [cell(r, s, "fit_time_s", "{:.1f}") for s in sets]
                 for r in rows]))
    return "\n".join(md)


# ----------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sets", nargs="+", default=ALL_SETS, choices=ALL_SETS)
    p.add_argument("--rows", nargs="+", default=None, choices=ALL_ROWS,
                   help="rows to run (default: all; --quick: %s)" % " ".join(QUICK_ROWS))
    p.add_argument("--seeds", nargs="+", type=int, default=None,
                   help="seeds (default: 0 1 2; --quick: 0)")
    _common.add_network_arguments(p, hidden=(128, 128), max_epochs=50, batch_size=128)
    p.add_argument("--ab-params", type=_json_dict, default={},
                   help='extra AutoBalanceClassifier kwargs for the AutoBalance rows, as JSON, '
                        'e.g. \'{"cv": 5}\'')
    p.add_argument("--synthetic-head", type=int, default=500)
    p.add_argument("--synthetic-sep", type=float, default=1.5,
                   help="class_sep of make_classification (1.0: 36%% balanced error even when "
                        "trained on 500 rows per class; 1.5: ~20%%)")
    p.add_argument("--fmnist-dir", default=str(FMNIST_DIR))
    p.add_argument("--fmnist-head", type=int, default=5000,
                   help="head-class train size of Fashion-MNIST-LT (tail = head / 100)")
    p.add_argument("--fmnist-preprocess", choices=["pca64", "standard"], default="pca64")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 5 epochs, seed 0, rows %s, synthetic head 200, "
                        "Fashion-MNIST head 2000" % " ".join(QUICK_ROWS))
    _common.add_output_arguments(p, "long_tailed")
    args = p.parse_args(argv)
    if args.quick:
        args.max_epochs = min(args.max_epochs, 5)
        args.seeds = args.seeds or [0]
        args.rows = args.rows or QUICK_ROWS
        args.synthetic_head = min(args.synthetic_head, 200)
        args.fmnist_head = min(args.fmnist_head, 2000)
    args.rows = args.rows or ALL_ROWS
    args.seeds = args.seeds or [0, 1, 2]
    return args


def _json_dict(text):
    import json

    value = json.loads(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def main(argv=None):
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning, module="sklearn_autobalance")
    out_md, out_json = _common.default_paths("long_tailed", args.quick, args.out, args.json)
    command = _common.command_line()
    payload = {
        "benchmark": "long_tailed", "command": command, "cwd": os.getcwd(),
        "machine": _common.machine_info(args.device), "args": vars(args),
        "seeds": args.seeds, "rows": args.rows, "sets_run": [], "set_descriptions": {},
        "skipped": {}, "results": [],
    }
    print(_common.machine_markdown(payload["machine"], command))
    warm_up(args.device)
    for name in args.sets:
        for seed in args.seeds:
            data = make_dataset(name, seed, args)
            if data is None:
                why = f"Fashion-MNIST IDX files not found under {args.fmnist_dir}"
                print(f"[{name}] SKIPPED: {why}")
                payload["skipped"][name] = why
                break
            Xtr, ytr, Xte, yte, desc = data
            if name not in payload["sets_run"]:
                payload["sets_run"].append(name)
                payload["set_descriptions"][name] = desc
            print(f"[{name} seed {seed}] {desc}")
            for row in args.rows:
                res = run_one(Xtr, ytr, Xte, yte, row, seed, args)
                res["set"] = name
                payload["results"].append(res)
                extra = (f"  best_step {res['best_step']}, {res['n_hyper_steps']} hyper-steps"
                         + (" (initial loss kept)" if res["kept_initial_loss"] else "")
                         if "best_step" in res else "")
                print(f"  {row:14s} bal.err {res['balanced_error']:6.2f}%  err "
                      f"{res['error']:6.2f}%  fit {res['fit_time_s']:6.1f}s{extra}", flush=True)
            _common.write_json(out_json, payload)
    _common.write_json(out_json, payload)
    md = to_markdown(payload)
    _common.write_text(out_md, md)
    print()
    print(md)
    print(f"wrote {out_md} and {out_json}")


if __name__ == "__main__":
    main()
