"""Early stopping on a held-out validation score, as ``MLPClassifier(early_stopping=True)``."""

import copy

import numpy as np
import torch
from skorch.callbacks import Callback

from ._base import class_counts


class Patience:
    """Counts epochs without an improvement of at least ``tol`` (lower is better).

    Parameters
    ----------
    n_iter_no_change : int
        Epochs without improvement after which :attr:`exhausted` is True.
    tol : float
        A score improves when it is below the best so far minus ``tol``.
    """

    def __init__(self, n_iter_no_change, tol):
        self.n_iter_no_change, self.tol = n_iter_no_change, tol
        self.best, self.stale = np.inf, 0

    def update(self, score):
        """Take one epoch's score; return True when it improved."""
        if score < self.best - self.tol:
            self.best, self.stale = score, 0
            return True
        self.stale += 1
        return False

    @property
    def exhausted(self):
        return self.stale >= self.n_iter_no_change


class ValidationEarlyStopping(Callback):
    """Scores a held-out set after each epoch, stops on patience, restores the best weights.

    After every epoch the network's logits on ``valid`` are scored with
    ``score`` (lower is better) and recorded in the history as
    ``valid_<name>`` (plus ``valid_<name>_best``, which skorch's epoch table
    highlights). Training stops once ``n_iter_no_change`` epochs pass without
    an improvement of at least ``tol``; the module then gets back the weights
    of its best epoch, as ``MLPClassifier(early_stopping=True)`` does.

    Parameters
    ----------
    valid : tuple (dict of tensors, tensor)
        Held-out ``X`` dict and labels, on the network's device.
    score : callable (logits, y, groups) -> float or tensor
        Lower is better (e.g. balanced error, ``1 - F1``).
    name : str
        History key suffix, e.g. ``"balanced_error"``.
    n_iter_no_change : int
    tol : float
    restore_best : bool, default=True
        False when only the best epoch count is wanted (no weight copies).
    """

    def __init__(self, valid, score, name, n_iter_no_change, tol, restore_best=True):
        self.valid, self.score, self.name = valid, score, name
        self.n_iter_no_change, self.tol = n_iter_no_change, tol
        self.restore_best = restore_best

    def on_train_begin(self, net, **kwargs):
        self.patience_ = Patience(self.n_iter_no_change, self.tol)
        self.best_epoch_, self.best_state_ = 0, None

    @torch.no_grad()
    def on_epoch_end(self, net, **kwargs):
        X, y = self.valid
        logits = net.forward(X, training=False, device=y.device)
        value = float(self.score(logits, y, X.get("groups")))
        improved = self.patience_.update(value)
        net.history.record(f"valid_{self.name}", value)
        net.history.record(f"valid_{self.name}_best", improved)
        if improved:
            self.best_epoch_ = len(net.history)
            if self.restore_best:
                self.best_state_ = copy.deepcopy(net.module_.state_dict())
        if self.patience_.exhausted:
            net.request_stop()

    def on_train_end(self, net, **kwargs):
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
        self.best_state_ = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(valid=None, score=None, best_state_=None)
        return state


def early_stopping_epochs(est, full_X, full_y, y, groups, rng, error, metric, make_loss,
                          augmentation):
    """The epoch count of ``early_stopping``: a run on a stratified training part, watching
    the held-out part, stopped after ``n_iter_no_change`` epochs without improvement.

    Parameters
    ----------
    est : AutoBalanceClassifier
        The estimator being fitted (its split, settings, ``_make_net``, ``_say``).
    full_X, full_y : dict of torch.Tensor, torch.Tensor
        The whole data on the device.
    y, groups : ndarray
        Encoded labels and groups (None without).
    rng : numpy.random.RandomState
    error : callable
        The 0-1 metric watched.
    metric : (str, str)
        Its history key and readable name.
    make_loss : callable (counts) -> loss
        The training loss, built from the training part's counts.
    augmentation : FeatureAugmentation or None

    Returns
    -------
    epochs : int
    """
    train_idx, val_idx = est._split(y, groups, rng)
    n_groups = None if groups is None else len(est.groups_)
    counts = class_counts(y[train_idx], None if groups is None else groups[train_idx],
                          len(est.classes_), n_groups)
    metric_key, metric_name = metric
    stopper = ValidationEarlyStopping(
        est._subset(full_X, full_y, val_idx, keys=("X", "groups")), error, metric_key,
        est.n_iter_no_change, est.tol, restore_best=False)
    est._say(f"early stopping: {len(train_idx)} training / {len(val_idx)} held-out "
             f"samples, {metric_name} watched")
    net = est._make_net(make_loss(counts), extra_callbacks=[("early_stopping", stopper)],
                        progress=("early-stopping run", [(f"valid_{metric_key}", metric_name)]),
                        augmentation=augmentation)
    net.fit(*est._subset(full_X, full_y, train_idx))
    return stopper.best_epoch_
