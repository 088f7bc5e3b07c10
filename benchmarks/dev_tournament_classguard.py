"""Does a per-class evidence guard stop moves carried by a few rare-class samples? (DEV only)

Diagnosis that motivates it (report sets, ``docs/benchmarks.md``): on ``page_blocks`` the
tournament moved to balanced CE with an out-of-fold gain of +2.31 points at t 2.1, made of
2-3 samples of a tail class of 20 rows, and lost 5 points on test. The guard tried here:
besides ``gain > c * SE``, the kept arm's out-of-fold balanced-error gain must stay positive
when any one class is left out of the balanced error (the mean of the other classes'
recalls), so that no single class carries the move.

What is measured: one tournament per (set, seed) with the module's defaults (as
``dev_tournament_refit.py``: checkpoints 0.5 / 0.7, ``t_drop = 2``, ``c = 1.5``, hard
scoring; MLP (128, 128), 50 epochs, 3 stratified folds), the final pooled out-of-fold
predictions of every surviving arm, and each arm's fold-average balanced error on the set's
development hold-out. Replayed on them: the default rule, and the default rule with the
guard (the best survivor that passes both, else LA). Reported per set: moves, mean held-out
gain over LA, losses.

Example::

    python benchmarks/dev_tournament_classguard.py --sets hd syn10 flare olive --seeds 0 1 2 3 4 \\
        --json benchmarks/results/tournament_classguard.json
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, machine_info, write_json  # noqa: E402


def recalls(pred, y, n_classes):
    return np.array([np.mean(pred[y == k] == k) if np.any(y == k) else np.nan
                     for k in range(n_classes)])


def leave_one_class_out_gains(pred_arm, pred_la, y, n_classes):
    """Balanced-error gain of the arm over LA with each class left out in turn."""
    r_arm, r_la = recalls(pred_arm, y, n_classes), recalls(pred_la, y, n_classes)
    keep = ~np.isnan(r_la)
    out = []
    for k in np.flatnonzero(keep):
        mask = keep.copy()
        mask[k] = False
        out.append(float(np.mean(r_arm[mask]) - np.mean(r_la[mask])))
    return out


def run(name, seed):
    import torch
    from sklearn.metrics import balanced_accuracy_score

    from dev_tournament import tournament_inputs
    from sklearn_autobalance import _tournament

    Xtr, ytr, Xte, yte, X, y, folds, module = tournament_inputs(name, seed)
    n_classes = int(ytr.max()) + 1
    captured, original = {}, _tournament.score_arms

    def capture(logits, y_oof, **kw):
        captured["last"] = (logits.argmax(-1).cpu().numpy(), np.asarray(y_oof))
        return original(logits, y_oof, **kw)

    _tournament.score_arms = capture
    try:
        tour = _tournament.Tournament(_tournament.default_arms(), max_epochs=50,
                                      random_state=seed).fit(module, X, y, folds)
    finally:
        _tournament.score_arms = original
    report = tour.report_
    preds, y_oof = captured["last"]  # rows: the arms alive at the end, in arm order
    alive = [a for a, arm in enumerate(report["arms"]) if arm["dropped_at"] is None]
    X_test = torch.as_tensor(Xte, dtype=torch.float32)
    held_out = {}
    with torch.no_grad():
        for a in alive:
            held_out[a] = 100 * (1 - balanced_accuracy_score(
                yte, tour.arm_model(a)(X_test).argmax(1).numpy()))
    loo = {a: leave_one_class_out_gains(preds[i], preds[0], y_oof, n_classes)
           for i, a in enumerate(alive)}
    arms = report["arms"]
    gain = {a: arms[a]["gain"] for a in alive}
    se = {a: arms[a]["se"] for a in alive}
    default = report["kept"]
    passing = [a for a in alive if a and gain[a] > report["c"] * se[a] and min(loo[a]) > 0]
    guarded = max(passing, key=lambda a: (gain[a], -a)) if passing else 0
    out = {"set": name, "seed": seed, "default": default, "guarded": guarded,
           "names": [arm["name"] for arm in arms], "held_out": {str(a): v for a, v in held_out.items()},
           "loo_min": {str(a): min(v) for a, v in loo.items()}}
    print(f"{name} {seed}: default {arms[default]['name']} ({held_out[default] - held_out[0]:+.2f} vs LA), "
          f"guarded {arms[guarded]['name']} ({held_out[guarded] - held_out[0]:+.2f}); "
          f"kept arm's min leave-one-class-out gain {100 * min(loo[default]) if default else 0:+.2f}",
          flush=True)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sets", nargs="*", default=["hd", "syn10", "flare", "olive"])
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--json", default=None)
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    results = []
    for name in args.sets:
        for seed in args.seeds:
            results.append(run(name, seed))
            if args.json:
                write_json(args.json, {"command": command_line(), "machine": machine_info(),
                                       "results": results})


if __name__ == "__main__":
    main()
