"""Memory and time of a fit on a large sparse matrix: the rows are densified a batch at a time.

What is measured
----------------
Data (generated in each process, seeded, no download): a CSR matrix of
``--n`` rows (default 200,000) and ``--features`` columns (default 50,000)
at ``--density`` (default 0.1 %), float32: every row has a Poisson(density *
features) number of uniform random columns with values in (0, 1), plus 5
entries in a block of 100 columns of its own class (the signal). Labels: 5
classes drawn with a long-tailed profile ``pi_k ~ 20 ** (-k / 4)`` (about
56 / 26 / 12 / 5.6 / 2.6 %) for ``AutoBalanceClassifier``; the binary task
"rarest two classes against the rest" (about 8 % positive) for
``AnyLossClassifier(metric="f1")``. A dense float32 copy of the matrix would
take ``n * features * 4`` bytes (40 GB by default).

Each estimator is fitted for ``--epochs`` (default 1) in its own subprocess
(``python bench_sparse.py --child NAME``), with ``hidden_layer_sizes=(64,)``
(``--hidden``), the estimators' default batch sizes (``--batch-size`` to
change), ``random_state=0``, then ``predict_proba`` on all rows
(``--no-predict`` skips it):

- ``autobalance``: ``AutoBalanceClassifier(search=None)`` (the LA loss, one
  training run on all rows);
- ``anyloss``: ``AnyLossClassifier(metric="f1")``;
- ``baseline``: everything but the fit (imports, the data, the first optimiser),
  so that the fit's own memory is the difference.

Reported per child: peak RSS (``VmHWM`` of ``/proc/self/status``; on Linux
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is recorded too, but it includes
the parent's RSS at fork time, see ``bench_speed.py``), its increment above
the baseline, the wall time of ``fit`` and of ``predict_proba``, and the
number of densified rows per block (largest ``toarray`` call, counted by a
wrapper of ``scipy.sparse.csr_matrix.toarray``), next to the size of the sparse
matrix (data, indices and indptr) and of a dense float32 copy.

``--threads`` (default 1) sets ``torch.set_num_threads`` in every process.

Examples
--------
Full run (one epoch of each estimator; several minutes on 2 CPU cores)::

    python benchmarks/bench_sparse.py

Smoke test (20,000 x 20,000, under a minute)::

    python benchmarks/bench_sparse.py --quick
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

CHILDREN = ("baseline", "autobalance", "anyloss")
N_CLASSES, RATIO, SIGNAL_PER_ROW, BLOCK = 5, 20.0, 5, 100


def make_data(n, n_features, density, seed=0):
    """The long-tailed sparse problem: ``(X, y)``, X a float32 CSR matrix."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    prior = RATIO ** (-np.arange(N_CLASSES) / (N_CLASSES - 1))
    y = rng.choice(N_CLASSES, size=n, p=prior / prior.sum())
    noise = rng.poisson(density * n_features, size=n)
    per_row = noise + SIGNAL_PER_ROW
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(per_row, out=indptr[1:])
    indices = rng.integers(0, n_features, size=int(indptr[-1]), dtype=np.int32)
    # The last SIGNAL_PER_ROW entries of each row: columns of the row's class block.
    signal = (indptr[1:, None] - np.arange(SIGNAL_PER_ROW, 0, -1)[None, :]).ravel()
    block = rng.integers(0, BLOCK, size=signal.size, dtype=np.int32)
    indices[signal] = (np.repeat(y, SIGNAL_PER_ROW) * BLOCK + block).astype(np.int32)
    data = rng.random(int(indptr[-1]), dtype=np.float32)
    X = sp.csr_matrix((data, indices, indptr.astype(np.int32) if indptr[-1] < 2 ** 31
                       else indptr), shape=(n, n_features))
    X.sum_duplicates()
    return X, y


def sparse_bytes(X):
    return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes




def child_main(args):
    """Subprocess body: data, optionally one fit and a prediction; peak memory as JSON."""
    import scipy.sparse as sp
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    X, y = make_data(args.n, args.features, args.density)
    data_s = time.perf_counter() - t0
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])  # imports torch._dynamo
    import sklearn_autobalance  # noqa: F401  (the baseline holds every import too)
    result = {"child": args.child, "nnz": int(X.nnz), "sparse_bytes": sparse_bytes(X),
              "data_s": data_s, "class_counts": np.bincount(y, minlength=N_CLASSES).tolist()}
    blocks = []
    original = sp.csr_matrix.toarray

    def counting_toarray(self, *a, **kw):
        blocks.append(self.shape[0])
        return original(self, *a, **kw)

    sp.csr_matrix.toarray = counting_toarray
    if args.child != "baseline":
        from sklearn_autobalance import AnyLossClassifier, AutoBalanceClassifier

        params = dict(hidden_layer_sizes=tuple(args.hidden), max_epochs=args.epochs,
                      random_state=0, verbose=0)
        if args.batch_size:
            params["batch_size"] = args.batch_size
        if args.child == "autobalance":
            clf, target = AutoBalanceClassifier(search=None, **params), y
        else:
            clf, target = AnyLossClassifier(metric="f1", **params), (y >= N_CLASSES - 2)
        result["positives"] = int(np.sum(target)) if args.child == "anyloss" else None
        result["batch_size"] = clf.batch_size
        t0 = time.perf_counter()
        clf.fit(X, target)
        result["fit_s"] = time.perf_counter() - t0
        result["fit_blocks"] = len(blocks)
        result["fit_max_block_rows"] = max(blocks) if blocks else None
        result["fit_peak_rss_mib"] = _common.vm_hwm_mib()
        if not args.no_predict:
            del blocks[:]
            t0 = time.perf_counter()
            proba = clf.predict_proba(X)
            result["predict_s"] = time.perf_counter() - t0
            result["predict_blocks"] = len(blocks)
            result["predict_max_block_rows"] = max(blocks) if blocks else None
            pred = np.argmax(proba, axis=1)
            truth = target.astype(int) if args.child == "anyloss" else target
            result["train_accuracy"] = float(np.mean(pred == truth))
    result["peak_rss_mib"] = _common.vm_hwm_mib()
    result["ru_maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if result["peak_rss_mib"] is None:
        result["peak_rss_mib"] = result["ru_maxrss_mib"]
    print("CHILD_RESULT " + json.dumps(result), flush=True)


def run_child(args, child):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", child, "--n", str(args.n),
           "--features", str(args.features), "--density", str(args.density),
           "--epochs", str(args.epochs), "--threads", str(args.threads),
           "--batch-size", str(args.batch_size or 0), "--hidden", *map(str, args.hidden)]
    if args.no_predict:
        cmd.append("--no-predict")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("CHILD_RESULT ")]
    if proc.returncode != 0 or not lines:
        print(f"  child {child} failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}",
              flush=True)
        return {"child": child, "failed": True, "returncode": proc.returncode,
                "stderr": proc.stderr[-3000:], "wall_s": wall}
    result = json.loads(lines[-1][len("CHILD_RESULT "):])
    result["wall_s"] = wall
    return result


def _mib(x):
    return "n/a" if x is None else f"{x:,.0f}"


def _s(x):
    return "n/a" if x is None else f"{x:,.1f}"


def to_markdown(payload):
    a, res = payload["args"], payload["results"]
    dense_gb = a["n"] * a["features"] * 4 / 1e9
    base = res.get("baseline", {})
    sparse_mib = base.get("sparse_bytes", 0) / 2 ** 20
    md = ["### Sparse input: memory and time of one epoch on a large CSR matrix\n",
          _common.machine_markdown(payload["machine"], payload["command"]),
          f"Data: {a['n']:,} x {a['features']:,} CSR float32, density {a['density']:g} "
          f"({base.get('nnz', 0):,} stored values), 5 long-tailed classes "
          f"(counts {base.get('class_counts')}); AnyLoss: the rarest two classes against the "
          f"rest. Sparse matrix: **{sparse_mib:,.0f} MiB** (data, indices, indptr); a dense "
          f"float32 copy would take **{dense_gb:,.1f} GB**. MLP hidden {tuple(a['hidden'])}, "
          f"{a['epochs']} epoch(s), random_state=0, torch threads {a['threads']}.\n"]
    rows = []
    for child in CHILDREN:
        r = res.get(child)
        if r is None:
            continue
        if r.get("failed"):
            rows.append([child, "failed", "", "", "", "", "", ""])
            continue
        extra = (None if child == "baseline" or "peak_rss_mib" not in base
                 else r["peak_rss_mib"] - base["peak_rss_mib"])
        name = {"baseline": "baseline (data + imports, no fit)",
                "autobalance": "`AutoBalanceClassifier(search=None)`",
                "anyloss": "`AnyLossClassifier(metric=\"f1\")`"}[child]
        rows.append([name, r.get("batch_size", ""), _mib(r["peak_rss_mib"]), _mib(extra),
                     _s(r.get("fit_s")), _s(r.get("predict_s")),
                     "" if child == "baseline" else
                     f"{r.get('fit_max_block_rows')} / {r.get('predict_max_block_rows', 'n/a')}",
                     _s(r["wall_s"])])
    md.append(_common.markdown_table(
        ["child", "batch size", "peak RSS (MiB)", "above baseline (MiB)", "fit (s)",
         "predict_proba, all rows (s)", "largest densified block, fit / predict (rows)",
         "process wall (s)"], rows))
    md.append("\nPeak RSS: `VmHWM` of each child process. The densified blocks are the rows "
              "passed to `csr_matrix.toarray` at once: training batches, and prediction "
              "blocks of at most 2**24 floats (64 MiB).\n")
    return "\n".join(md)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--features", type=int, default=50_000)
    p.add_argument("--density", type=float, default=0.001)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--hidden", nargs="*", type=int, default=[64])
    p.add_argument("--batch-size", type=int, default=0,
                   help="0: each estimator's default (AutoBalance 128, AnyLoss 256)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--children", nargs="*", default=list(CHILDREN), choices=CHILDREN)
    p.add_argument("--no-predict", action="store_true")
    p.add_argument("--quick", action="store_true",
                   help="20,000 x 20,000 at the same density (smoke test)")
    p.add_argument("--child", default=None, choices=CHILDREN, help=argparse.SUPPRESS)
    _common.add_output_arguments(p, "sparse")
    args = p.parse_args(argv)
    if args.quick and args.child is None:
        args.n, args.features = 20_000, 20_000
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child is not None:
        return child_main(args)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    out_md, out_json = _common.default_paths("sparse", args.quick, args.out, args.json)
    command = _common.command_line()
    payload = {"command": command, "machine": _common.machine_info("cpu"), "args": vars(args),
               "dense_float32_bytes": args.n * args.features * 4, "results": {}}
    print(f"Command: {command}\nMachine: {json.dumps(payload['machine'])}", flush=True)
    print(f"Data: {args.n:,} x {args.features:,} CSR, density {args.density:g}; a dense "
          f"float32 copy would take {payload['dense_float32_bytes'] / 1e9:,.1f} GB", flush=True)
    children = ["baseline"] + [c for c in args.children if c != "baseline"]
    for child in children:
        r = run_child(args, child)
        payload["results"][child] = r
        _common.write_json(out_json, payload)
        if not r.get("failed"):
            print(f"  {child:12s} peak RSS {r['peak_rss_mib']:9,.1f} MiB, fit "
                  f"{_s(r.get('fit_s'))} s, predict {_s(r.get('predict_s'))} s, process "
                  f"{r['wall_s']:.1f} s; sparse matrix {r['sparse_bytes'] / 2 ** 20:,.1f} MiB",
                  flush=True)
    text = to_markdown(payload)
    _common.write_text(out_md, text)
    print("\n" + text)
    print(f"Wrote {out_md} and {out_json}")


if __name__ == "__main__":
    main()
