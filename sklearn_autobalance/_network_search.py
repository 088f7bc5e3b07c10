"""The paper's search on the whole network: one arm refined by the implicit hyper-gradient.

``AutoBalanceClassifier(search="l+delta")`` (or another search space) runs
Algorithm 1 of Li et al. (2021), cross-fitted: ``cv`` fold networks train with
the parametric loss, which after a warm-up follows the hyper-gradient of the
validation objective (:class:`~sklearn_autobalance._search.LossSearch`); a
control twin beside each trains with the initial loss on the same batches, and
the paired rule of ``_selection.py`` decides whether a searched epoch-end loss
replaces the initial one. The kept loss is then retrained on all the data along
the search's loss schedule.
"""

import copy
import math

import numpy as np

from ._augmentation import describe_eps
from ._base import _check_float, _check_int, checked_dict
from ._crossfit import CrossFit, FoldAverage, FoldNet
from . import _selection
from ._search import LossSchedule, LossSearch, LossSearchSpace
from .losses._parametric import ParametricCrossEntropy


HYPERGRADIENT_DEFAULTS = {"warmup_fraction": 0.4, "hyper_lr": 0.01, "hyper_interval": "auto",
                          "neumann_steps": 5, "damping": 0.01, "max_grad_norm": 1.0,
                          "hyper_batch_size": None, "implicit_params": "last"}


def check_hypergradient_params(params):
    """``hypergradient_params`` over :data:`HYPERGRADIENT_DEFAULTS`, every value checked."""
    hyper = checked_dict(params, HYPERGRADIENT_DEFAULTS, "hypergradient_params")
    name = "hypergradient_params[{!r}]".format
    _check_float(hyper["warmup_fraction"], name("warmup_fraction"), 0.0, 1.0, high_open=True)
    _check_float(hyper["hyper_lr"], name("hyper_lr"), low_open=True)
    if hyper["hyper_interval"] != "auto":
        _check_int(hyper["hyper_interval"], name("hyper_interval"))
    _check_int(hyper["neumann_steps"], name("neumann_steps"), minimum=0)
    _check_float(hyper["damping"], name("damping"))
    _check_float(hyper["max_grad_norm"], name("max_grad_norm"), low_open=True)
    if hyper["hyper_batch_size"] is not None:
        _check_int(hyper["hyper_batch_size"], name("hyper_batch_size"))
    if hyper["implicit_params"] not in ("last", "all"):
        raise ValueError(f"{name('implicit_params')} must be 'last' or 'all'; "
                         f"got {hyper['implicit_params']!r}")
    return hyper


def fit_network_search(est, full_X, full_y, y, groups, rng, objective, error, metric):
    """Search, select and retrain; returns the final skorch net.

    Parameters
    ----------
    est : AutoBalanceClassifier
        The estimator being fitted (its parameters, ``_make_net``, ``_say``).
    full_X, full_y : dict of torch.Tensor, torch.Tensor
        The whole data on the device.
    y, groups : ndarray
        Encoded labels and groups (None without).
    rng : numpy.random.RandomState
    objective, error : callable
        The validation objective and its 0-1 counterpart.
    metric : (str, str)
        History key and readable name of the 0-1 selection metric.
    """
    hyper = est._hypergradient
    fresh_generator = est._generator.get_state()  # the retrain starts from it
    names = [n for n, _ in est._module_init.named_parameters()]
    folds = est._folds(y, groups, rng)
    counts = est.class_counts_  # each fold network sees (k-1)/k of them
    design = CrossFit((full_X, full_y), folds, hyper["implicit_params"], names, control=True)
    steps_per_epoch = math.ceil(max(len(f[0]) for f in folds) / est.batch_size)
    where = (f"{est.cv} fold networks, each validated on its own fold; all {len(y)} samples "
             "scored out of fold; beside each network a control twin trains with the initial "
             "loss on the same batches")
    augmentation = None
    if est.augmentation is not None:
        eps0 = est.augmentation_params_["eps"]
        augmentation = est._augmenter(full_X, eps0, control=eps0)
        where += (f"; {est.augmentation} augmentation ({est.augmentation_params_['noise']} "
                  f"noise) from eps {describe_eps(eps0)}, searched")
    criterion = est._initial_parametric_loss().to(est._device)
    space = LossSearchSpace(criterion, est._search, est.clusters_,
                            augmentation=augmentation, augmentation_mode=est.augmentation)
    # At least one warm-up epoch: its end scores the initial loss, so the
    # search can always fall back on it.
    warmup = max(1, int(round(hyper["warmup_fraction"] * est.max_epochs)))
    interval = hyper["hyper_interval"]
    if interval == "auto":
        interval = max(1, steps_per_epoch // 5)
    metric_key, metric_name = metric
    search = LossSearch(
        space, objective, design, start_epoch=warmup, hyper_interval=interval,
        hyper_lr=hyper["hyper_lr"], neumann_steps=hyper["neumann_steps"],
        damping=hyper["damping"], max_grad_norm=hyper["max_grad_norm"],
        hyper_batch_size=hyper["hyper_batch_size"] or 4 * est.batch_size,
        generator=est._generator, selection_metric=error,
        curvature_generator=est._curvature_generator, selection_key=metric_key,
        patience=(est.n_iter_no_change, est.tol) if est.early_stopping else None,
        watch_warmup=bool(est.verbose))
    est._say(f"search: {where}; warm-up {warmup} epoch(s), then hyper-steps every {interval} "
             f"steps; the loss is chosen by {metric_name}, paired against the initial loss")
    progress = (lambda e: "warm-up" if e < warmup else "search",
                [("valid_objective", "validation objective"), (f"valid_{metric_key}", metric_name)])
    net = est._make_net(criterion, extra_callbacks=[("loss_search", search)], progress=progress,
                        net_class=FoldNet, module=design.make_module(est._module_init),
                        augmentation=augmentation)
    design.fit_net(net, control_loss=copy.deepcopy(criterion))
    n_groups = None if groups is None else len(est.groups_)
    est.selection_report_ = {"kind": "paired", **search.select_paired(
        est.objective, n_groups=n_groups, fairness_weight=est._fairness_weight,
        significance=_selection.SIGNIFICANCE, random_state=rng.randint(np.iinfo(np.int32).max))}
    est.search_history_ = search.history()
    est.best_step_, est.best_epoch_ = search.best_step_, search.best_epoch_
    kept_initial = not est.selection_report_["moved"]
    if kept_initial:
        # The fit search=None would make: the initial loss from all the data's counts.
        final = est._initial_parametric_loss()
    else:
        space.load_state(search.best_state_)
        w, l, delta = (t.detach() for t in space.tensors())
        final = ParametricCrossEntropy(counts, w=w, l=l, delta=delta,
                                       delta_scale=space.delta_scale)
        if augmentation is not None:
            est.augmentation_params_["eps"] = space.strengths().detach().cpu().double().numpy()
    est.loss_params_ = final.effective_params()
    _report(est, search, metric_name, len(net.history))
    if kept_initial:
        est._warn_no_gain("no searched loss beat it beyond sampling noise on the validation "
                          "predictions", stacklevel=5)
    if est.augmentation is not None:
        est._say(f"augmentation strengths kept: eps "
                 f"{describe_eps(est.augmentation_params_['eps'])}")
    if not est.refit:
        # The searched fold networks as one model: the mean of their logits.
        search_net = net
        net = est._make_net(final.to(est._device),
                            module=FoldAverage(net.module_, design.n_searched)).initialize()
        net.history_ = search_net.history_
        return net
    schedule = [] if kept_initial else search.loss_schedule()
    # A kept candidate beat the initial loss trained for the whole run as it
    # was scored: after best_epoch_ epochs.
    epochs = (est.best_epoch_ if est.early_stopping or not kept_initial else est.max_epochs)
    est._say(f"retrain: the kept loss on all {len(y)} samples for {epochs} epochs"
             + (f", following the search's loss for the first {len(schedule)}"
                if schedule else ""))
    # Free the search network before the retrain, so the two phases' memory
    # does not add up.
    del net, search, space, design
    est._generator.set_state(fresh_generator)
    callbacks = [("loss_schedule", LossSchedule(schedule))] if schedule else []
    return est._make_net(final.to(est._device), max_epochs=epochs, extra_callbacks=callbacks,
                         progress=("retrain", ()),
                         augmentation=est._augmenter(full_X, est._kept_eps())
                         ).fit(full_X, full_y)


def _report(est, search, metric_name, epochs_run):
    """Verbose summary: what was kept and why, early stop, over-fitting of the folds."""
    if not est.verbose:
        return
    report = est.selection_report_
    b = report["best"]
    best = search.candidates_[b]
    against = "the initial loss trained for the whole run (control network)"
    if not np.isfinite(report["threshold"]):
        est._say(f"paired selection: no searched loss changed a validation prediction "
                 f"against {against}; the initial loss is kept")
    else:
        est._say(
            f"paired selection: the {'best passing' if report['moved'] else 'lowest-error'} "
            f"searched loss (epoch {best['epoch']}, {metric_name} {report['errors'][b]:.4f}) "
            f"{'beats' if report['moved'] else 'does not beat'} {against} beyond sampling "
            f"noise: gain {report['gain'][b]:+.4f}, paired SE {report['se'][b]:.4f}, needed "
            f"{report['threshold']:.2f} SE (max-t, false-move rate {_selection.SIGNIFICANCE:g})"
            + (f"; of the {len(report['within_one_se'])} passing candidate(s) within one SE of "
               "it, the one closest to the initial loss is kept"
               if report["moved"] else "; the initial loss is kept"))
    if epochs_run < est.max_epochs:
        est._say(f"search stopped early after epoch {epochs_run}: {metric_name} did not "
                 f"improve by more than tol={est.tol:g} for {est.n_iter_no_change} epochs")
    rises, changes, first, last = search.objective_trend()
    if changes >= 4 and rises >= 2 * changes / 3 and last > first:
        est._say(f"warning: the validation objective rose in {rises} of {changes} search "
                 f"epochs ({first:.4f} -> {last:.4f}): the network over-fits its training "
                 "folds; early_stopping=True, fewer max_epochs or weight_decay may help")
