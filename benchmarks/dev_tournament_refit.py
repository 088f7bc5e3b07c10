"""The tournament's final model: the kept arm's fold average or a retrain on all rows (DEV only).

What is measured
----------------
For each development set and seed (``dev_tournament.py``'s sets, built by
``dev_search.make``, with their development hold-out split), one tournament
with the module's defaults (``default_arms()``; checkpoints 0.5 / 0.7,
``t_drop = 2``, no cap, ``c = 1.5``, hard scoring; MLP (128, 128), 50 epochs of
the longest fold's rows, batch 128, Adam lr 1e-3, 3 stratified folds), and for
EVERY arm that survived to the end (not only the kept one):

(a) the held-out balanced error (%) of its fold average (``arm_model``: mean
    logits of its 3 fold networks, each trained on 2/3 of the rows);
(b) the held-out balanced error (%) of a retrain of its loss (and noise
    strength) on all training rows: ``AutoBalanceClassifier(search=None,
    init=<arm loss>, init_params=<arm params>, augmentation="shared" with
    ``augmentation_params={"eps": eps}`` for a noise arm, else None, batch 128,
    lr 1e-3, random_state=seed)``, with ``module=`` the tournament's initial
    network (an instance is deep-copied: the retrain starts from the same
    initial weights as every fold copy), for the whole number of full-data
    epochs whose steps are nearest to the arm's ``steps`` (ties: the larger;
    the estimator cannot stop inside an epoch). The matched steps are
    recorded. With ``--full-epochs`` also (c) the same retrain for ``--max-epochs``
    full-data epochs (``refit_full``): as long as ``search=None`` trains the
    control, which is what the estimator keeps when no arm passes.

The batch order and the noise stream of the retrain are the estimator's own
(seeded by ``random_state``), not the tournament's. Also timed: the tournament
and each retrain (CPU, one torch thread).

``--check`` first verifies, on one small case, that the estimator's fixed
loss of each arm is the loss the tournament builds (same class, same output
on random logits) and that the estimator starts from the tournament's initial
weights.

Examples
--------
::

    python benchmarks/dev_tournament_refit.py --check
    python benchmarks/dev_tournament_refit.py --sets hd syn10 flare olive --seeds 0 1 2 3 4 \\
        --json benchmarks/results/tournament_refit.json
    python benchmarks/dev_tournament_refit.py --analyse benchmarks/results/tournament_refit.json
"""

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, machine_info, markdown_table, write_json  # noqa: E402


def balanced_error(y, pred):
    from sklearn.metrics import balanced_accuracy_score

    return 100 * (1 - balanced_accuracy_score(y, pred))


def retrain(arm, module, Xtr, ytr, seed, epochs, args):
    from sklearn_autobalance import AutoBalanceClassifier

    noise = arm["eps"] is not None
    clf = AutoBalanceClassifier(
        module=module, search=None, init=arm["loss"], init_params=arm["loss_params"],
        augmentation="shared" if noise else None,
        augmentation_params={"eps": arm["eps"]} if noise else None,
        hidden_layer_sizes=(128, 128), max_epochs=epochs, batch_size=args.batch_size,
        lr=args.lr, n_threads=1, random_state=seed)
    return clf.fit(Xtr, ytr)


def full_steps_per_epoch(n, batch_size):
    return math.ceil(n / batch_size)


def matched_epochs(steps, per_epoch):
    """Whole epochs whose steps are nearest to ``steps`` (ties: the larger)."""
    return max(1, int(math.floor(steps / per_epoch + 0.5)))


def check(args):
    """The estimator's fixed loss of each arm is the tournament's; same initial weights."""
    import torch

    from dev_tournament import make_dev
    from sklearn_autobalance._augmentation import feature_scale
    from sklearn_autobalance._network import MLP
    from sklearn_autobalance._tournament import default_arms
    from sklearn_autobalance.losses._registry import make_loss

    Xtr, ytr, _, _ = make_dev("flare", 0)
    X = torch.as_tensor(Xtr, dtype=torch.float32)
    counts = np.bincount(ytr)
    torch.manual_seed(0)
    module = MLP(Xtr.shape[1], len(counts), (128, 128))
    logits = torch.randn(64, len(counts), generator=torch.Generator().manual_seed(1))
    target = torch.as_tensor(np.resize(np.arange(len(counts)), 64))
    for arm in default_arms():
        a = {"loss": arm.loss, "loss_params": arm.loss_params, "eps": arm.eps}
        clf = retrain(a, module, Xtr, ytr, 0, 1, args)
        ours = make_loss(arm.loss, counts, arm.loss_params)
        theirs = clf.net_.criterion_
        same_class = type(ours) is type(theirs)
        with torch.no_grad():
            diff = float((ours(logits, target) - theirs(logits, target)).abs().max())
        extra = {k: getattr(theirs, k) for k in ("drw_epoch",) if hasattr(theirs, k)}
        # The estimator's stored initial module (a deep copy of ``module``).
        start = getattr(clf, "_module_init", None)
        same_init = None if start is None else all(
            torch.equal(p, q) for p, q in zip(start.state_dict().values(),
                                              module.state_dict().values()))
        aug = getattr(clf.net_, "augmentation", None)
        aug_desc = None if aug is None else (
            f"eps table {aug.eps.tolist()}, noise {aug.noise}, scale s equal to the "
            f"tournament's {torch.allclose(aug.scale, feature_scale(X))}")
        print(f"{arm.name:<11} estimator criterion {type(theirs).__name__} "
              f"(tournament {type(ours).__name__}; same class {same_class}) {extra} "
              f"max |loss diff| on random logits {diff:.2e}; same initial weights {same_init}; "
              f"augmentation: {aug_desc}", flush=True)


def run(name, seed, args):
    import torch

    from dev_tournament import tournament_inputs
    from sklearn_autobalance._tournament import Tournament, default_arms

    Xtr, ytr, Xte, yte, X, y, folds, module = tournament_inputs(name, seed)
    initial = copy.deepcopy(module)
    start = time.perf_counter()
    tour = Tournament(default_arms(), max_epochs=args.max_epochs, batch_size=args.batch_size,
                      lr=args.lr, random_state=seed).fit(module, X, y, folds)
    t_seconds = time.perf_counter() - start
    report = tour.report_
    X_test = torch.as_tensor(Xte, dtype=torch.float32)
    per_epoch = full_steps_per_epoch(len(ytr), args.batch_size)
    print(f"\n== {name}, seed {seed}: {len(ytr)} training rows, {len(yte)} held-out; "
          f"tournament {t_seconds:.1f} s, {report['steps']} steps ({report['steps_per_epoch']} "
          f"per fold epoch; {per_epoch} per full-data epoch); kept {report['kept_name']}",
          flush=True)
    arms = []
    for a, arm in enumerate(report["arms"]):
        if arm["dropped_at"] is not None:
            continue
        with torch.no_grad():
            fold_avg = balanced_error(yte, tour.arm_model(a)(X_test).argmax(1).numpy())
        epochs = matched_epochs(arm["step"], per_epoch)
        start = time.perf_counter()
        clf = retrain(arm, initial, Xtr, ytr, seed, epochs, args)
        r_seconds = time.perf_counter() - start
        steps_done = sum(len(h.get("batches", ())) for h in clf.net_.history)
        refit = balanced_error(yte, clf.predict(Xte))
        record = {"arm": a, "name": arm["name"], "kept": a == report["kept"],
                  "arm_steps": arm["step"], "epochs": epochs, "refit_steps": steps_done,
                  "fold_average": fold_avg, "refit": refit, "refit_seconds": r_seconds}
        if args.full_epochs:  # the retrain as long as search=None trains: max_epochs
            full = retrain(arm, initial, Xtr, ytr, seed, args.max_epochs, args)
            record["refit_full"] = balanced_error(yte, full.predict(Xte))
        arms.append(record)
        print(f"  {arm['name']:<11}{'*' if a == report['kept'] else ' '} fold average "
              f"{fold_avg:6.2f}  retrain {refit:6.2f}  (retrain - fold avg {refit - fold_avg:+6.2f}"
              f"; {epochs} epochs = {steps_done} steps vs {arm['step']}; {r_seconds:.1f} s)",
              flush=True)
    return {"set": name, "seed": seed, "n_train": len(ytr), "steps": report["steps"],
            "kept": report["kept"], "kept_name": report["kept_name"],
            "tournament_seconds": t_seconds, "arms": arms}


def analyse(paths):
    results = [r for p in paths for r in json.loads(Path(p).read_text())["results"]]
    order = list(dict.fromkeys(r["set"] for r in results))
    results.sort(key=lambda r: (order.index(r["set"]), r["seed"]))
    rows = []
    for r in results:
        for a in r["arms"]:
            d = a["refit"] - a["fold_average"]
            rows.append([f"`{r['set']}`", str(r["seed"]), a["name"] + (" (kept)" if a["kept"] else ""),
                         f"{a['fold_average']:.2f}", f"{a['refit']:.2f}", f"{d:+.2f}",
                         f"{a['refit_steps']} / {a['arm_steps']}"])
    print(markdown_table(["set", "seed", "arm", "fold average", "retrain", "retrain - fold avg",
                          "steps (retrain / arm)"], rows))

    print("\nper (set, seed): the kept arm and LA (fold average / retrain / difference), "
          "and every other surviving arm's difference (retrain - fold average, points):")
    compact = []
    for r in results:
        arms = {a["arm"]: a for a in r["arms"]}
        k, la = arms[r["kept"]], arms[0]
        others = ", ".join(f"{a['name']} {a['refit'] - a['fold_average']:+.2f}"
                           for a in r["arms"] if a["arm"] not in (0, r["kept"]))
        compact.append([f"`{r['set']}`", str(r["seed"]), k["name"],
                        f"{k['fold_average']:.2f} / {k['refit']:.2f} / "
                        f"{k['refit'] - k['fold_average']:+.2f}",
                        "(kept)" if r["kept"] == 0 else
                        f"{la['fold_average']:.2f} / {la['refit']:.2f} / "
                        f"{la['refit'] - la['fold_average']:+.2f}", others or "none"])
    print(markdown_table(["set", "seed", "kept arm", "kept: fold avg / retrain / diff",
                          "LA: fold avg / retrain / diff", "other survivors: diff"], compact))

    def summary(select):
        out = []
        for s in list(dict.fromkeys(r["set"] for r in results)) + ["all"]:
            runs = [[a["refit"] - a["fold_average"] for a in r["arms"] if select(a)]
                    for r in results if s in ("all", r["set"])]
            runs = [np.array(v) for v in runs if v]
            if not runs:
                continue
            d = np.concatenate(runs)
            # The arms of one (set, seed) share data, split and start: the SE is
            # taken over the runs' mean differences, not over the pairs.
            m = np.array([v.mean() for v in runs])
            se = m.std(ddof=1) / np.sqrt(len(m)) if len(m) > 1 else 0.0
            out.append([f"`{s}`" if s != "all" else "all", f"{len(d)} ({len(runs)})",
                        f"{d.mean():+.2f}", f"{se:.2f}",
                        f"{(d > 0).sum()}/{(d == 0).sum()}/{(d < 0).sum()}"])
        return out

    header = ["set", "pairs (runs)", "mean retrain - fold avg (points)", "SE over runs",
              "fold avg better / tie / retrain better"]
    print("\nevery surviving arm:")
    print(markdown_table(header, summary(lambda a: True)))
    print("\nkept arm only:")
    print(markdown_table(header, summary(lambda a: a["kept"])))
    print("\nkept arm LA (the tournament did not move):")
    print(markdown_table(header, summary(lambda a: a["kept"] and a["arm"] == 0)))
    print("\nkept arm other than LA:")
    print(markdown_table(header, summary(lambda a: a["kept"] and a["arm"] != 0)))
    print("\nper arm, every set (retrain - fold average, points): pairs, mean, "
          "fold avg better / tie / retrain better")
    names = list(dict.fromkeys(a["name"] for r in results for a in r["arms"]))
    for n in names:
        d = np.array([a["refit"] - a["fold_average"] for r in results for a in r["arms"]
                      if a["name"] == n])
        print(f"  {n}: {len(d)}, {d.mean():+.2f}, {(d > 0).sum()}/{(d == 0).sum()}/"
              f"{(d < 0).sum()}")
    print("\nmean held-out error per set: LA fold avg, LA retrain, kept fold avg (a), "
          "kept retrain (b); gain over LA under (a) and (b), W/T/L vs LA")
    for s in dict.fromkeys(r["set"] for r in results):
        rs = [r for r in results if r["set"] == s]
        la = [next(a for a in r["arms"] if a["arm"] == 0) for r in rs]
        kept = [next(a for a in r["arms"] if a["kept"]) for r in rs]
        ga = np.array([l["fold_average"] - k["fold_average"] for l, k in zip(la, kept)])
        gb = np.array([l["refit"] - k["refit"] for l, k in zip(la, kept)])
        print(f"  {s}: LA {np.mean([a['fold_average'] for a in la]):.2f} / "
              f"{np.mean([a['refit'] for a in la]):.2f}; kept "
              f"{np.mean([a['fold_average'] for a in kept]):.2f} / "
              f"{np.mean([a['refit'] for a in kept]):.2f}; gain (a) {ga.mean():+.2f} "
              f"{(ga > 0).sum()}/{(ga == 0).sum()}/{(ga < 0).sum()}, (b) {gb.mean():+.2f} "
              f"{(gb > 0).sum()}/{(gb == 0).sum()}/{(gb < 0).sum()} (n={len(rs)})")
    print("\ntime per set (mean over seeds): tournament, one retrain (mean over arms), ratio")
    for s in dict.fromkeys(r["set"] for r in results):
        rs = [r for r in results if r["set"] == s]
        t = np.mean([r["tournament_seconds"] for r in rs])
        rt = np.mean([a["refit_seconds"] for r in rs for a in r["arms"]])
        kt = np.mean([a["refit_seconds"] for r in rs for a in r["arms"] if a["kept"]])
        print(f"  {s}: tournament {t:.1f} s, retrain {rt:.2f} s (kept arm {kt:.2f} s), "
              f"retrain / tournament {rt / t:.2f} (n={len(rs)})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="*", default=["hd", "syn10", "flare", "olive"])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--full-epochs", action="store_true",
                        help="also retrain every surviving arm for --max-epochs full-data "
                             "epochs (refit_full), as search=None trains the control")
    parser.add_argument("--analyse", nargs="*", default=None, metavar="JSON")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    if args.analyse:
        return analyse(args.analyse)
    if args.check:
        return check(args)
    results = []
    for name in args.sets:
        for seed in args.seeds:
            results.append(run(name, seed, args))
            if args.json:
                write_json(args.json, {"command": command_line(), "machine": machine_info(),
                                       "results": results})


if __name__ == "__main__":
    main()
