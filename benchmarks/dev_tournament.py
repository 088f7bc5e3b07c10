"""Development study of the loss tournament (``_tournament.py``; DEV data only).

What is measured
----------------
For each development set and seed, the tournament of ``default_arms()`` (LA
control, LA tau 1.5 / 2, VS, LA + noise 0.4 / 0.8 / 1.6, balanced CE, LDAM),
each arm trained as 3 fold networks from one start on the same batches: per
arm, its pooled out-of-fold balanced error (%), its gain over LA and t =
gain / SE (paired bootstrap), the step it was scored at (a dropped arm: at
its checkpoint), and the test balanced error (%) of its fold-average model
(mean logits of its 3 fold networks as they were when scored): validation and
test side by side, and which arm the rule kept.

Development sets (disjoint from the reported ones):

- ``hd384``: ``make_classification(n, 384, n_informative=40, n_classes=10,
  n_clusters_per_class=1, class_sep=2.0, random_state=3000 + seed)``, 40%
  stratified test split, training part made long-tailed with ratio 50,
  standardised; the default MLP interpolates its training set.
- ``syn20``: ``make_classification(n, 20, n_informative=16, n_classes=10,
  n_clusters_per_class=2, class_sep=2.0, flip_y=0.01, random_state=4000 + seed)``,
  same split and ratio.

First figures (2 seeds, 6000 samples, 50 epochs, MLP (128, 128); test gain over
LA in points, kept arm): ``hd384``: noise1.6 kept on both seeds (+12.6, +10.2);
``syn20``: noise0.4 (+2.3) and noise0.8 (+1.5) kept. With ``--no-halving``
the surviving arms' figures are identical (dropping arms does not touch the
others), and no dropped arm beat the kept one at the end.

``--record JSON`` (the rule study, ``docs/studies/tournament.md``): one
tournament per (set, seed) with halving disabled (checkpoints 0.4, 0.5 and
0.7 scored, nothing dropped), on ``dev_search.py``'s sets (``hd``, ``syn10``,
``olive``, ``flare``, ``portal_rodents``; ``noise``: its pure-noise labels,
600 x 8, 4 classes, plus 400 held-out rows from the same generator). The OOF
logits the tournament scores are captured by wrapping the module's
``score_arms`` from this script (the package is unchanged); from them every
arm's hard and soft scores (error, gain, SE, t, and the paired bootstrap
gain replicates at the end) are computed with the tournament's own bootstrap
seeds, and each arm's held-out balanced error (its fold average on the set's
held-out split, the *development hold-out*). Also timed: one plain LA fit
(``AutoBalanceClassifier(search=None)``, same network, epochs, batch, lr).
Because an arm's scores do not depend on which other arms are alive (paired
gains over the control; the bootstrap weights depend only on the seed and
step) and dropping copies does not touch the others, every halving rule
can be replayed on the record exactly. The first mode (without ``--record``)
runs the real tournament with a given rule (``--checkpoints``, ``--t-drop``, ``--c``;
hard scoring, the package's) on these sets too, which checks the replay of the uncapped
rules (the cap on the survivors that the study rejected is replayed here only,
:func:`halve_capped`; the package no longer has it).

``--analyse JSON [JSON ...]``: replays each candidate rule (move threshold
``c`` in 0, 0.5, 1, 1.5, 2 or the family-wise max-t at 5 %; halving
variants; hard or soft scoring) on the records and prints the comparison
table: mean held-out balanced error of the kept arm per set, mean over
sets, wins / ties / losses against LA per (set, seed), worst loss, move
rate, noise-label move rate, arm-steps trained.

Examples
--------
::

    python benchmarks/dev_tournament.py --quick --seeds 0 1
    python benchmarks/dev_tournament.py --sets hd384 --no-halving
    python benchmarks/dev_tournament.py --record benchmarks/results/tournament_dev.json \\
        --sets hd syn10 olive flare --seeds 0 1 2 3 4
    python benchmarks/dev_tournament.py --analyse benchmarks/results/tournament_dev.json
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_network_arguments, command_line, machine_info, write_json  # noqa: E402


def make(name, seed, n_samples):
    """``(X_train, y_train, X_test, y_test)`` of development set ``name``, standardised."""
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from sklearn_autobalance.datasets import make_long_tailed

    if name == "hd384":
        X, y = make_classification(n_samples, 384, n_informative=40, n_classes=10,
                                   n_clusters_per_class=1, class_sep=2.0,
                                   random_state=3000 + seed)
    elif name == "syn20":
        X, y = make_classification(n_samples, 20, n_informative=16, n_classes=10,
                                   n_clusters_per_class=2, class_sep=2.0, flip_y=0.01,
                                   random_state=4000 + seed)
    else:
        raise ValueError(f"unknown set {name!r}")
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, stratify=y, random_state=seed)
    Xtr, ytr = make_long_tailed(Xtr, ytr, imbalance_ratio=50, random_state=seed)[:2]
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), ytr, scaler.transform(Xte), yte


CHECKPOINTS = (0.4, 0.5, 0.7)
HALVING = {  # label -> (checkpoints, t_drop, keep_fraction); None: no halving
    "none": None,
    "0.4/0.7, t2, half": ((0.4, 0.7), 2.0, 0.5),
    "0.4/0.7, t3, half": ((0.4, 0.7), 3.0, 0.5),
    "0.4/0.7, t2, no cap": ((0.4, 0.7), 2.0, 1.0),
    "0.4/0.7, t3, no cap": ((0.4, 0.7), 3.0, 1.0),
    "0.5/0.7, t2, half": ((0.5, 0.7), 2.0, 0.5),
    "0.5/0.7, t3, half": ((0.5, 0.7), 3.0, 0.5),
    "0.5/0.7, t2, no cap": ((0.5, 0.7), 2.0, 1.0),
    "0.5/0.7, t3, no cap": ((0.5, 0.7), 3.0, 1.0),
}
C_VALUES = (0.0, 0.5, 1.0, 1.5, 2.0, "max-t")


def make_dev(name, seed):
    """``dev_search.py``'s development sets, and ``noise``: labels independent of X."""
    if name == "noise":
        rng = np.random.RandomState(seed)
        X = rng.randn(600, 8)
        y = rng.choice(4, size=600, p=[0.5, 0.25, 0.15, 0.1])
        X_test = rng.randn(400, 8)
        y_test = rng.choice(4, size=400, p=[0.5, 0.25, 0.15, 0.1])
        return X, y, X_test, y_test
    import dev_search

    return dev_search.make(name, seed)


def _scores(logits, y, soft, seed, step, n_boot=300):
    """The tournament's scores of ``logits`` and the gain replicates (same bootstrap seed).

    ``soft``: score the expected error ``1 - p(y | x)`` instead of the argmax's
    0-1 error (the study's alternative; the package scores the 0-1 error).
    """
    import torch

    from sklearn_autobalance._selection import bootstrap_errors
    from sklearn_autobalance._tournament import _ratio, score_arms

    if soft:
        p = torch.softmax(logits.double(), dim=-1).cpu().numpy()
        predictions = 1.0 - p[:, np.arange(len(y)), y]
    else:
        predictions = logits.argmax(-1).cpu().numpy()
    full, reps = bootstrap_errors(predictions, y, name="balanced", n_boot=n_boot,
                                  random_state=[seed, step])
    gain = full[0] - full
    se = (reps[0] - reps).std(axis=1, ddof=1)
    scores = {"error": full, "gain": gain, "se": se, "t": _ratio(gain, se)}
    if not soft:  # the package's own scores
        assert np.allclose(full, score_arms(logits, y, n_boot=n_boot,
                                            random_state=[seed, step])["error"])
    return {key: v.tolist() for key, v in scores.items()}, (reps[0] - reps)


def tournament_inputs(name, seed, hidden=(128, 128), make=None):
    """A development set's split, its training tensors, 3 stratified folds and the seeded MLP.

    ``make(name, seed)`` gives the split (default: :func:`make_dev`).
    Returns ``(Xtr, ytr, Xte, yte, X, y, folds, module)``.
    """
    import torch
    from sklearn.model_selection import StratifiedKFold

    from sklearn_autobalance._network import MLP

    Xtr, ytr, Xte, yte = (make or make_dev)(name, seed)
    X = torch.as_tensor(Xtr, dtype=torch.float32)
    y = torch.as_tensor(ytr, dtype=torch.long)
    folds = list(StratifiedKFold(3, shuffle=True, random_state=seed).split(Xtr, ytr))
    torch.manual_seed(seed)
    module = MLP(X.shape[1], int(ytr.max()) + 1, tuple(hidden))
    return Xtr, ytr, Xte, yte, X, y, folds, module


def record(name, seed, args):
    """One tournament without halving; every arm's scores at each checkpoint and at the end."""
    import torch
    from sklearn.metrics import balanced_accuracy_score

    from sklearn_autobalance import AutoBalanceClassifier, _tournament

    Xtr, ytr, Xte, yte, X, y, folds, module = tournament_inputs(name, seed, args.hidden)
    captured, original = {}, _tournament.score_arms

    def capture(logits, y_oof, **kw):
        captured[kw["random_state"][1]] = (logits.detach().clone(), np.asarray(y_oof))
        return original(logits, y_oof, **kw)

    _tournament.score_arms = capture
    try:
        start = time.perf_counter()
        tour = _tournament.Tournament(
            _tournament.default_arms(), max_epochs=args.max_epochs, batch_size=args.batch_size,
            lr=args.lr, checkpoints=CHECKPOINTS, t_drop=np.inf,
            random_state=seed).fit(module, X, y, folds)
        seconds = time.perf_counter() - start
    finally:
        _tournament.score_arms = original
    report = tour.report_
    total = report["steps"]
    X_test = torch.as_tensor(Xte, dtype=torch.float32)
    with torch.no_grad():
        held_out = [100 * (1 - balanced_accuracy_score(
            yte, tour.arm_model(a)(X_test).argmax(1).numpy())) for a in range(len(tour.arms))]
    scored = {}
    for step, (logits, y_oof) in sorted(captured.items()):
        for soft in (False, True):
            scores, gain_reps = _scores(logits, y_oof, soft, seed, step)
            entry = {"step": step, "fraction": step / total, **scores}
            if step == total:
                entry["gain_reps"] = gain_reps.tolist()
            scored.setdefault("soft" if soft else "hard", []).append(entry)
    la_seconds = None
    if not args.no_la_timing:
        start = time.perf_counter()
        AutoBalanceClassifier(search=None, hidden_layer_sizes=tuple(args.hidden),
                              max_epochs=args.max_epochs, batch_size=args.batch_size,
                              lr=args.lr, n_threads=max(args.threads, 1),
                              random_state=seed).fit(Xtr, ytr)
        la_seconds = time.perf_counter() - start
    names = [a.name for a in tour.arms]
    print(f"\n== {name}, seed {seed}: {len(ytr)} training rows, {len(yte)} held-out rows, "
          f"{total} steps; tournament {seconds:.1f} s"
          + ("" if la_seconds is None else f", plain LA fit {la_seconds:.1f} s "
             f"(ratio {seconds / la_seconds:.1f})"))
    hard, soft = scored["hard"], scored["soft"]
    print(f"{'arm':<11}{'oof err':>8}{'gain':>7}{'t':>7}{'t 0.4':>7}{'t 0.5':>7}{'t 0.7':>7}"
          f"{'soft err':>9}{'soft t':>7}{'held-out':>9}{'h-o gain':>9}")
    for a, arm in enumerate(names):
        end = hard[-1]
        print(f"{arm:<11}{100 * end['error'][a]:8.2f}{100 * end['gain'][a]:7.2f}"
              f"{end['t'][a]:7.2f}" + "".join(f"{e['t'][a]:7.2f}" for e in hard[:-1])
              + f"{100 * soft[-1]['error'][a]:9.2f}{soft[-1]['t'][a]:7.2f}"
              f"{held_out[a]:9.2f}{held_out[0] - held_out[a]:9.2f}", flush=True)
    return {"set": name, "seed": seed, "n_train": len(ytr), "steps": total,
            "seconds": seconds, "la_seconds": la_seconds, "arms": names,
            "held_out": held_out, "scores": scored}


def _maxt_threshold(gain, se, gain_reps, pool, level=0.05):
    """Family-wise max-t critical value over the challengers ``pool`` with se > 0."""
    pool = [a for a in pool if a != 0 and se[a] > 0]
    if not pool:
        return np.inf
    centred = (gain_reps[pool] - gain[pool, None]) / se[pool, None]
    return max(float(np.quantile(centred.max(axis=0), 1 - level)), 0.0)


def halve_capped(t, alive, *, t_drop, keep_fraction, control=0):
    """The package's halving (drop ``t < -t_drop``), then at most ``ceil(keep_fraction * m)``
    of the ``m`` challengers alive before go on, by t (ties to the earlier arm, NaN last).

    The cap was a candidate of this study (rejected: it dropped a noise arm that was behind
    at 0.7 and won at the end); with ``keep_fraction=1`` this is the package's rule.
    """
    import math

    challengers = [a for a in alive if a != control]
    cap = math.ceil(keep_fraction * len(challengers))
    eligible = [a for a in challengers if not t[a] < -t_drop]
    kept = sorted(eligible, key=lambda a: (-(-np.inf if np.isnan(t[a]) else t[a]), a))[:cap]
    survivors = sorted(set(kept) | ({control} & set(alive)))
    return survivors, sorted(set(alive) - set(survivors))


def replay(rec, c, halving, soft):
    """Kept arm and arm-steps trained under one rule, replayed on a record."""
    from sklearn_autobalance._tournament import select_arm

    scores = rec["scores"]["soft" if soft else "hard"]
    total, n_arms = rec["steps"], len(rec["arms"])
    alive, trained = list(range(n_arms)), [total] * n_arms
    if halving is not None:
        fractions, t_drop, keep = halving
        for f in fractions:
            step = int(round(f * total))
            entry = next(e for e in scores if e["step"] == step)
            t = dict(zip(range(n_arms), entry["t"]))
            alive, dropped = halve_capped(t, alive, t_drop=t_drop, keep_fraction=keep)
            for a in dropped:
                trained[a] = step
    end = scores[-1]
    gain, se = np.asarray(end["gain"]), np.asarray(end["se"])
    if c == "max-t":
        c = _maxt_threshold(gain, se, np.asarray(end["gain_reps"]), alive)
    kept, _ = select_arm(gain, se, alive, c=c)
    return kept, sum(trained) / (n_arms * total)


def analyse(paths):
    from _common import markdown_table

    records = [r for p in paths for r in json.loads(Path(p).read_text())["results"]]
    sets = list(dict.fromkeys(r["set"] for r in records if r["set"] != "noise"))
    noise = [r for r in records if r["set"] == "noise"]
    dev = [r for r in records if r["set"] != "noise"]
    print(f"records: {len(dev)} (set, seed) runs on {sets}; {len(noise)} noise seeds")
    la = {s: np.mean([r["held_out"][0] for r in dev if r["set"] == s]) for s in sets}
    header = (["rule (scoring; halving; c)"] + [f"`{s}`" for s in sets]
              + ["mean over sets", "W/T/L vs LA", "worst vs LA", "moved", "noise moved",
                 "arm-steps"])
    rows = [["LA (control)"] + [f"{la[s]:.2f}" for s in sets]
            + [f"{np.mean(list(la.values())):.2f}", "", "", "", "", ""]]
    oracle = {s: np.mean([min(r["held_out"]) for r in dev if r["set"] == s]) for s in sets}
    rows.append(["oracle arm per (set, seed), on held-out"] + [f"{oracle[s]:.2f}" for s in sets]
                + [f"{np.mean(list(oracle.values())):.2f}", "", "", "", "", ""])
    summary = []
    for soft in (False, True):
        for label, halving in HALVING.items():
            for c in C_VALUES:
                per_set, diffs, moved, fractions = {}, [], 0, []
                for r in dev:
                    kept, frac = replay(r, c, halving, soft)
                    err = r["held_out"][kept]
                    per_set.setdefault(r["set"], []).append(err)
                    diffs.append(err - r["held_out"][0])
                    moved += kept != 0
                    fractions.append(frac)
                noise_moved = sum(replay(r, c, halving, soft)[0] != 0 for r in noise)
                diffs = np.asarray(diffs)
                means = [np.mean(per_set[s]) for s in sets]
                c_label = c if isinstance(c, str) else f"{c:g}"
                row = ([f"{'soft' if soft else 'hard'}; {label}; c={c_label}"]
                       + [f"{m:.2f}" for m in means]
                       + [f"{np.mean(means):.2f}",
                          f"{(diffs < 0).sum()}/{(diffs == 0).sum()}/{(diffs > 0).sum()}",
                          f"{diffs.max():+.2f}", f"{moved}/{len(dev)}",
                          f"{noise_moved}/{len(noise)}", f"{np.mean(fractions):.2f}"])
                rows.append(row)
                summary.append((np.mean(means), diffs.max(), row[0]))
    print(markdown_table(header, rows))
    print("the kept arm per (set, seed), held-out gain over LA in points "
          "(positive: better than LA):")
    detail = [("hard", "none", c) for c in (0.5, 1.0, 1.5, 2.0)] + [
        ("hard", "0.5/0.7, t2, no cap", 1.5), ("hard", "0.4/0.7, t2, half", 1.5),
        ("soft", "none", 1.5)]
    for scoring, label, c in detail:
        cells, gains = [], {}
        for r in dev:
            kept = replay(r, c, HALVING[label], scoring == "soft")[0]
            gain = r["held_out"][0] - r["held_out"][kept]
            gains.setdefault(r["set"], []).append(gain)
            cells.append(f"{r['set']}/{r['seed']}: " + ("LA" if kept == 0 else (
                f"{r['arms'][kept]} {gain:+.2f}")))
        print(f"  {scoring}; {label}; c={c:g}: " + ", ".join(cells))
        print("    per set, held-out gain over LA (points): W/T/L, mean, std, min: " + "; ".join(
            f"{k} {sum(g > 0 for g in v)}/{sum(g == 0 for g in v)}/{sum(g < 0 for g in v)}, "
            f"{np.mean(v):+.2f}, {np.std(v, ddof=1) if len(v) > 1 else 0:.2f}, {min(v):+.2f}"
            for k, v in gains.items()))

    print("halving (hard scoring): arms dropped, of them ending with t > 1, with t > 1.5 "
          "(listed), or beating LA on the hold-out")
    for label, halving in HALVING.items():
        if halving is None:
            continue
        n_dropped, late, listed, better = 0, 0, [], 0
        for r in dev:
            alive, hard = list(range(len(r["arms"]))), r["scores"]["hard"]
            for f in halving[0]:
                entry = next(e for e in hard if e["step"] == int(round(f * r["steps"])))
                alive, dropped = halve_capped(dict(enumerate(entry["t"])), alive,
                                              t_drop=halving[1], keep_fraction=halving[2])
                for a in dropped:
                    end_t = hard[-1]["t"][a]
                    n_dropped += 1
                    late += end_t > 1.0
                    better += r["held_out"][a] < r["held_out"][0]
                    if end_t > 1.5:
                        listed.append(f"{r['set']}/{r['seed']} {r['arms'][a]} at {f} "
                                      f"(t {entry['t'][a]:+.2f} -> {end_t:+.2f})")
        print(f"  {label}: {n_dropped} dropped, {late} end t > 1, {better} beat LA on the "
              f"hold-out; end t > 1.5: " + ("; ".join(listed) or "none"))
    print("best 10 by mean over sets:")
    for mean, worst, label in sorted(summary)[:10]:
        print(f"  {mean:.2f} (worst {worst:+.2f})  {label}")
    times = [(r["set"], r["seconds"], r["la_seconds"]) for r in records if r["la_seconds"]]
    for s in dict.fromkeys(t[0] for t in times):
        tt = [(a, b) for n, a, b in times if n == s]
        print(f"time {s}: tournament {np.mean([a for a, _ in tt]):.1f} s, plain LA "
              f"{np.mean([b for _, b in tt]):.1f} s, ratio "
              f"{np.mean([a / b for a, b in tt]):.1f} (n={len(tt)})")


def run(name, seed, args):
    import torch
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold

    from sklearn_autobalance._network import MLP
    from sklearn_autobalance._tournament import Tournament, default_arms

    Xtr, ytr, Xte, yte = (make(name, seed, args.n_samples) if name in ("hd384", "syn20")
                          else make_dev(name, seed))
    X = torch.as_tensor(Xtr, dtype=torch.float32)
    y = torch.as_tensor(ytr, dtype=torch.long)
    folds = list(StratifiedKFold(3, shuffle=True, random_state=seed).split(Xtr, ytr))
    torch.manual_seed(seed)
    module = MLP(X.shape[1], int(ytr.max()) + 1, tuple(args.hidden))
    start = time.perf_counter()
    tour = Tournament(default_arms(), max_epochs=args.max_epochs, batch_size=args.batch_size,
                      lr=args.lr, checkpoints=() if args.no_halving else tuple(args.checkpoints),
                      t_drop=args.t_drop,
                      c=args.c, random_state=seed).fit(module, X, y, folds)
    seconds = time.perf_counter() - start
    report = tour.report_
    X_test = torch.as_tensor(Xte, dtype=torch.float32)
    with torch.no_grad():
        train_err = 100 * (1 - balanced_accuracy_score(
            ytr, tour.arm_model(0)(X).argmax(1).numpy()))
        for a, record in enumerate(report["arms"]):
            pred = tour.arm_model(a)(X_test).argmax(1).numpy()
            record["test_error"] = 100 * (1 - balanced_accuracy_score(yte, pred))
    base = report["arms"][0]["test_error"]
    print(f"\n== {name}, seed {seed}: {len(ytr)} training rows (class counts "
          f"{np.bincount(ytr).tolist()}), {report['steps']} steps, {seconds:.0f} s; "
          f"LA fold-average training balanced error {train_err:.1f} %")
    print(f"{'arm':<11}{'oof err':>8}{'gain':>7}{'t':>7}{'step':>6}{'test err':>9}"
          f"{'test gain':>10}  dropped at")
    for record in report["arms"]:
        print(f"{record['name']:<11}{100 * record['error']:8.2f}{100 * record['gain']:7.2f}"
              f"{record['t']:7.2f}{record['step']:6d}{record['test_error']:9.2f}"
              f"{base - record['test_error']:10.2f}  "
              + ("" if record["dropped_at"] is None else f"{record['dropped_at']:.2f}"))
    best = None if report["best"] is None else report["arms"][report["best"]]["name"]
    print(f"kept: {report['kept_name']} (best survivor: {best}; c = {report['c']})")
    return {"set": name, "seed": seed, "seconds": seconds, "train_error_la": train_err,
            "report": report}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="*", default=["hd384", "syn20"])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true",
                        help="4000 samples and 30 epochs (unless given)")
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--c", type=float, default=1.0)
    parser.add_argument("--checkpoints", nargs="*", type=float, default=[0.4, 0.7])
    parser.add_argument("--t-drop", type=float, default=2.0)
    parser.add_argument("--no-halving", action="store_true",
                        help="no checkpoints: every arm trains and is scored to the end")
    parser.add_argument("--json", default=None, help="write the reports there")
    parser.add_argument("--record", default=None, metavar="JSON",
                        help="the rule study: record every arm's scores (no halving) there")
    parser.add_argument("--no-la-timing", action="store_true",
                        help="with --record: skip the plain LA fit that times the ratio")
    parser.add_argument("--analyse", nargs="*", default=None, metavar="JSON",
                        help="replay the candidate rules on these records")
    add_network_arguments(parser, max_epochs=None)
    args = parser.parse_args()
    args.n_samples = args.n_samples or (4000 if args.quick else 6000)
    args.max_epochs = args.max_epochs or (30 if args.quick else 50)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.analyse:
        return analyse(args.analyse)
    if args.record:
        results = []
        for name in args.sets:
            for seed in args.seeds:
                results.append(record(name, seed, args))
                write_json(args.record, {"command": command_line(), "machine": machine_info(),
                                         "results": results})
        return
    results = [run(name, seed, args) for name in args.sets for seed in args.seeds]
    if args.json:
        write_json(args.json, {"command": command_line(), "machine": machine_info(),
                               "results": results})


if __name__ == "__main__":
    main()
