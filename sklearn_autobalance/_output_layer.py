"""The cross-fitted output layer: the group objectives' search on linear heads.

With a searched group objective (``objective`` "deo", "group_balanced" or
"worst_group"), ``AutoBalanceClassifier`` searches the loss of a linear head
instead of the whole network: network ``j`` trains with the ``init`` loss on
every fold but ``j``; on fold ``j``, rows it never trained on (where a head
does not interpolate), a linear head is fit on its penultimate features with a per-cell
loss searched by the exact hyper-gradient of that convex problem
(``_heads.py``); the paired rule keeps a searched loss only if it beats the
initial loss's heads beyond sampling noise. The model is the mean of the ``cv``
networks, each with its head. A linear model is its own output layer: its
heads are fit on the inputs, and no fold network is trained.
"""

import numpy as np
import torch

from ._base import class_counts
from ._heads import (HEAD_PARTS, HEAD_STEPS, SCREEN_STEPS, CrossFittedEnsemble, ErrorGuard,
                     HeadData, HeadLossSearch, group_probe_auc, has_feature_layers,
                     output_layer, penultimate_features, validation_scores, with_head)
from . import _selection
from ._selection import bootstrap_errors, paired_selection
from .losses._parametric import ParametricCrossEntropy
from .losses._registry import PARAMETRIC_LOSSES, make_loss


def check_head_settings(est):
    """Refuse the estimator settings the output layer does not support, by name."""
    for bad, what in [(est.init not in PARAMETRIC_LOSSES, f"init={est.init!r}, outside "
                       f"the parametric family; use one of {PARAMETRIC_LOSSES}"),
                      (est.augmentation is not None, f"augmentation={est.augmentation!r}"),
                      (est.early_stopping, "early_stopping=True"),
                      (not est.refit, "refit=False; the model is the fold networks with "
                       "their heads, never retrained")]:
        if bad:
            raise ValueError("a searched group objective (the cross-fitted output layer) "
                             "does not support " + what)


def fit_output_heads(est, full_X, full_y, y, groups, rng, objective):
    """The cross-fitted output layer: ``cv`` bodies, the head's loss search, the fold ensemble.

    Body ``j`` trains with the ``init`` loss on every fold but ``j``; its
    penultimate features of fold ``j`` feed a linear head whose per-cell
    loss is searched on inner out-of-fold predictions (``_heads.py``).
    """
    n_classes = len(est.classes_)
    n_groups = None if groups is None else len(est.groups_)
    folds = est._folds(y, groups, rng)
    codes = torch.as_tensor(np.zeros(len(y), np.int64) if groups is None else groups,
                            device=est._device)
    weights = full_X.get("sample_weight")
    # A linear model's output layer sees the inputs themselves: nothing to train below it.
    train_bodies = has_feature_layers(est._module_init)
    est._say(f"cross-fitted output layer: {est.cv} fold networks trained with "
             f"{est.init!r}; on each fold, a linear head on the features of the network "
              "that did not train on it" if train_bodies else
             f"cross-fitted output layer of a linear model: on each of {est.cv} folds, a "
              "linear head on the inputs")
    bodies, parts = [], []
    for j, (train_rows, head_rows) in enumerate(folds):
        counts = class_counts(y[train_rows], None if groups is None else groups[train_rows],
                         n_classes, n_groups)
        body = est._make_net(make_loss(est.init, counts, est.init_params),
                              progress=(f"fold network {j + 1}/{est.cv}", ()))
        if train_bodies:
            body.fit(*est._subset(full_X, full_y, train_rows))
        else:
            body.initialize()
        rows = torch.as_tensor(head_rows, device=est._device)
        bodies.append(body.module_)
        parts.append(HeadData(penultimate_features(body.module_, full_X["X"][rows]),
                              full_y[rows], codes[rows],
                              None if weights is None else weights[rows].double()))
    counts = est.class_counts_.reshape(n_classes, -1)
    init = make_loss(est.init, est.class_counts_, est.init_params)
    start = ParametricCrossEntropy(counts, w=init.w, l=init.l, delta=init.delta)
    w, l, delta = (getattr(start, k).to(est._device, torch.float64)
                   for k in ("w", "l", "delta"))
    parts_searched = () if est._search is None else HEAD_PARTS[est._search]
    guard = (ErrorGuard(n_classes, n_groups, est._error_tolerance)
             if est.objective == "deo" else None)
    seed = int(rng.randint(np.iinfo(np.int32).max))
    search = HeadLossSearch(parts, w, l, delta, parts_searched, objective,
                            random_state=seed, guard=guard,
                            track_budget=est._guarded_search)
    est.group_probe_auc_ = (None if groups is None else
                             group_probe_auc(parts, n_groups, seed + len(parts)))
    baseline = search.initial_[search.calibrated_alpha_]
    est._say(f"initial head: L2 penalty {search.calibrated_alpha_:g}, the lowest pooled "
              "validation cell-balanced cross-entropy of " + ", ".join(
                  f"{a:g}: {v:.4f}" for a, v in search.alpha_scores_.items()))
    candidates = [baseline]
    if parts_searched:
        def lowest_error(searched):
            full, _, admissible = _head_errors(est, [baseline] + searched, search,
                                                    n_groups, n_boot=2)
            return min((full[i] for i in admissible[1:]), default=np.inf)

        alpha, searched, screened = search.screened_run(lowest_error)
        candidates += searched
        est._say(f"head search: {', '.join(parts_searched)} per cell, "
                  f"{len(search.splits)} inner heads validated out of fold on all "
                  f"{len(y)} samples; {SCREEN_STEPS} steps at each L2 penalty (lowest "
                  "validation error " + ", ".join(
                      f"{a:g}: {v:.4f}" for a, v in screened.items())
                  + f"), then {HEAD_STEPS - SCREEN_STEPS} more at {alpha:g}")
    index, errors = _select_head(est, candidates, search, n_groups, rng)
    est.clusters_ = np.arange(counts.size).reshape(counts.shape)
    if groups is None:
        est.clusters_ = est.clusters_[:, 0]
    kept = candidates[index]
    scores = [validation_scores(c["logits"], search.y, search.groups, n_classes, n_groups)
              for c in candidates]
    est.validation_scores_ = {"initial": scores[0], "kept": scores[index]}
    if parts_searched and index == 0:
        est._warn_no_gain(_no_gain_reason(est, search), stacklevel=5)
    est.best_step_ = kept["step"]
    est.head_l2_ = kept["alpha"]
    heads = search.final_heads(kept["theta"], kept["alpha"])
    kept_loss = search.loss_of(kept["theta"])
    final = ParametricCrossEntropy(counts, w=kept_loss[0], l=kept_loss[1], delta=kept_loss[2])
    params = final.effective_params()
    est.loss_params_ = params if groups is not None else {k: v[:, 0] for k, v in params.items()}
    est.search_history_ = [
        {"step": c["step"], "epoch": None, "scope": "validation_set",
         "validation_objective": c["objective"], "validation_selection": e,
         "validation_scores": score, "head_l2": c["alpha"],
         "params": {k: v.cpu().numpy() for k, v in zip(
             ("w", "l", "delta"), search.loss_of(c["theta"]))}}
        for c, e, score in zip(candidates, errors, scores)]
    est._say(f"kept: {'the initial loss' if index == 0 else 'the searched loss of step %d' % index}"
              f" (validation objective {kept['objective']:.4f}, initial "
              f"{candidates[0]['objective']:.4f})")
    modules = [with_head(body, data, W) for body, data, W in zip(bodies, parts, heads)]
    if groups is None:
        final = ParametricCrossEntropy(est.class_counts_, w=final.w[:, 0], l=final.l[:, 0],
                                       delta=final.delta[:, 0])
    return est._make_net(final.to(est._device),
                          module=_mean_model(modules, train_bodies)).initialize()


def _mean_model(modules, feature_layers):
    """The mean of the fold networks' logits; for linear models, one model with the mean layer."""
    if feature_layers:
        return CrossFittedEnsemble(modules)
    # The mean of linear maps of the same inputs is the linear map of the mean weights.
    model = modules[0]
    layer = output_layer(model)
    with torch.no_grad():
        for name, value in layer.named_parameters():
            value.copy_(torch.stack([getattr(output_layer(m), name) for m in modules]).mean(0))
    return model


def _head_errors(est, candidates, search, n_groups, n_boot, random_state=None):
    """The candidates' 0-1 selection errors on the pooled out-of-fold head predictions.

    Returns the errors, their paired bootstrap replicates and the indices
    of the admissible candidates: with ``objective="deo"``, those within
    the search's error budget, the group-balanced error of candidate 0
    (the initial loss's heads) plus ``error_tolerance`` (a near-constant
    predictor has a small DEO); all of them otherwise.
    """
    y = search.y.cpu().numpy()
    groups = search.groups.cpu().numpy() if n_groups is not None else None
    predictions = np.stack([c["logits"].argmax(1).cpu().numpy() for c in candidates])
    full, replicates = bootstrap_errors(
        predictions, y, groups, name=est.objective, n_groups=n_groups,
        fairness_weight=est._fairness_weight, n_boot=n_boot, random_state=random_state)
    return full, replicates, search.admissible(candidates)


def _select_head(est, candidates, search, n_groups, rng):
    """The kept head loss (index among the candidates, 0: the initial one) and their errors."""
    paired = len(candidates) > 1
    full, replicates, admissible = _head_errors(
        est, candidates, search, n_groups, n_boot=500 if paired else 2,
        random_state=rng.randint(np.iinfo(np.int32).max))
    errors = [float(e) for e in full]
    if est.objective == "deo" and len(candidates) > 1:
        est._say(f"{len(admissible) - 1} of {len(candidates) - 1} searched head losses "
                  f"within error_tolerance={est._error_tolerance:g} of the initial loss's "
                  f"validation group-balanced error (budget {search.budget_:.4f})")
    if not paired:  # search=None: the initial loss's heads alone
        return 0, errors
    distances = np.array([float(torch.sqrt(sum((v ** 2).sum() for v in c["theta"].values())))
                          for c in candidates])
    sub, report = paired_selection(full[admissible], replicates[admissible],
                                   distances[admissible], significance=_selection.SIGNIFICANCE)
    index = int(admissible[sub])
    # The report in the candidates' own indices (NaN: outside error_tolerance).
    for key in ("gain", "se"):
        values = np.full(len(candidates), np.nan)
        values[admissible] = report[key]
        report[key] = values
    for key in ("passing", "within_one_se"):
        report[key] = [int(admissible[i]) for i in report[key]]
    report["best"] = int(admissible[report["best"]])
    report["admissible"] = [int(i) for i in admissible]
    est.selection_report_ = {"kind": "paired", **report, "moved": bool(report["moved"]), "index": index,
                              "errors": full, "baseline_errors": None}
    est._say("paired selection on the pooled out-of-fold head predictions: "
              + (f"step {index} kept, gain {report['gain'][index]:+.4f} "
                 f"(paired SE {report['se'][index]:.4f}, needed {report['threshold']:.2f} SE)"
                 if report["moved"] else "no searched loss beats the initial one beyond "
                 "sampling noise; the initial loss is kept"))
    return index, errors


def _no_gain_reason(est, search):
    """Why the head search kept the initial loss, with the figures that say so."""
    reason = "no searched loss beat it beyond sampling noise on the pooled out-of-fold head predictions"
    if est.objective == "deo":
        initial = est.validation_scores_["initial"]
        reason += (f" within the error budget (validation DEO {initial['deo']:.3f} at "
                   f"group-balanced error {initial['group_balanced_error']:.3f}; budget "
                   f"{search.budget_:.3f})")
    if est.group_probe_auc_ is not None and np.isfinite(est.group_probe_auc_):
        reason += (f"; the heads' features tell the groups apart with a held-out ROC AUC "
                   f"of {est.group_probe_auc_:.2f} (1: separable, 0.5: not at all; a "
                   "per-group threshold needs the former)")
    return reason

