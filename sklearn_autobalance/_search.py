"""Algorithm 1 of AutoBalance: hyper-steps on the loss during training, best-alpha selection."""

import numpy as np
import torch
from skorch.callbacks import Callback

from ._augmentation import StrengthCoordinates
from ._clusters import cluster_dictionary
from ._early_stopping import Patience
from ._hypergradient import implicit_hypergradient
from ._selection import bootstrap_errors, paired_selection

SEARCH_SPACES = ("tau", "l", "delta", "l+delta", "w+l+delta", "eps")
LOSS_PARTS = ("w", "l", "delta")


class LossSearchSpace:
    """Low-dimensional coordinates of the parametric loss around its initial value.

    ``l = l0 + D_l a_l``, ``Delta = Delta0 + D_Delta a_Delta`` and
    ``w = w0 * exp(D_w a_w)`` (renormalised so that the expected training weight
    is unchanged). All coordinates ``a`` start at zero, so the search starts
    exactly at the ``init`` loss. The dictionary ``D`` (paper 2.2) is the
    single column ``log(pi / pi_max)``: for ``l`` the LA direction (a learned
    tau), for Delta the CDT/VS direction (a learned power of the frequency),
    for ``w`` a power of the frequency; one scalar per searched part, the most
    robust choice on small data (the paper's per-cluster dictionary went in
    issue 22). ``search="tau"`` is ``l``; ``search="eps"`` searches the
    augmentation strengths alone.

    With ``augmentation`` the training augmentation's strengths are searched
    too (``_augmentation.py``): ``eps = softplus(rho0 + D_eps a_eps)``, with
    ``D_eps`` one column of ones (``"shared"``) or the one-hot frequency
    clusters (``"personalized"``).

    Parameters
    ----------
    criterion : ParametricCrossEntropy
        The initial loss; its ``w``, ``l``, ``delta`` are the starting point.
    search : {"tau", "l", "delta", "l+delta", "w+l+delta", "eps"}
    clusters : ndarray of int, shape of the criterion's counts
        Frequency clusters of the personalized strengths.
    augmentation : FeatureAugmentation or None, default=None
        The search network's augmentation; its ``eps`` table is the start.
    augmentation_mode : {"shared", "personalized"} or None, default=None
        How the strengths are searched; None keeps them fixed.
    """

    def __init__(self, criterion, search, clusters, augmentation=None, augmentation_mode=None):
        self.shape = tuple(criterion.w.shape)
        self.delta_scale = criterion.delta_scale
        device = criterion.w.device
        self.base = {k: getattr(criterion, k).detach().clone() for k in ("w", "l", "delta")}
        counts = np.maximum(np.asarray(criterion.counts, dtype=np.float64).reshape(-1), 1.0)
        self.freq = torch.as_tensor(counts / counts.sum(), dtype=torch.float32, device=device)
        onehot = torch.as_tensor(cluster_dictionary(clusters), dtype=torch.float32, device=device)
        log_prior = torch.log(self.freq / self.freq.max())[:, None]
        parts = "l" if search == "tau" else search
        self.dictionaries = {name: log_prior for name in parts.split("+") if name != "eps"}
        self.augmentation, self.coordinates = augmentation, None
        if augmentation is not None and augmentation_mode is not None:
            strength_columns = (onehot if augmentation_mode == "personalized"
                                else torch.ones(onehot.shape[0], 1, device=device))
            self.coordinates = StrengthCoordinates(augmentation.eps, strength_columns)
            self.dictionaries["eps"] = strength_columns
        self.hparams = {
            name: torch.zeros(d.shape[1], device=device, requires_grad=True)
            for name, d in self.dictionaries.items()
        }

    def _offset(self, name):
        return (self.dictionaries[name] @ self.hparams[name]).view(self.shape)

    def tensors(self):
        """Current (w, l, delta), differentiable in the coordinates."""
        w, l, delta = self.base["w"], self.base["l"], self.base["delta"]
        if "w" in self.hparams:
            w_flat = w.reshape(-1) * torch.exp(self._offset("w").reshape(-1))
            scale = (self.freq * self.base["w"].reshape(-1)).sum() / (self.freq * w_flat).sum()
            w = (w_flat * scale).view(self.shape)
        if "l" in self.hparams:
            l = l + self._offset("l")
        if "delta" in self.hparams:
            delta = delta + self._offset("delta")
        return w, l, delta

    def strengths(self):
        """Current augmentation strengths per class (cell), differentiable; None without."""
        if self.augmentation is None:
            return None
        if self.coordinates is None:
            return self.augmentation.eps
        return self.coordinates.strengths(self.hparams["eps"])

    def augment(self, X, y, groups, generator):
        """A training batch's features augmented at the current strengths (differentiably)."""
        if self.augmentation is None:
            return X
        noise = self.augmentation.draw_parts(X, generator)
        return self.augmentation.apply(X, y, groups, eps=self.strengths(), noise=noise)

    def values(self):
        """Current ``w``, ``l``, ``delta`` (and ``eps`` with augmentation), detached copies."""
        out = dict(zip(LOSS_PARTS, (t.detach().clone() for t in self.tensors())))
        if self.augmentation is not None:
            out["eps"] = self.strengths().detach().clone()
        return out

    def write_to(self, criterion):
        """Write the current loss into ``criterion`` and the strengths into the augmentation."""
        with torch.no_grad():
            for name, value in zip(LOSS_PARTS, self.tensors()):
                getattr(criterion, name).copy_(value)
            if self.coordinates is not None:
                self.augmentation.eps.copy_(self.strengths())

    def state(self):
        return {k: v.detach().clone() for k, v in self.hparams.items()}

    def load_state(self, state):
        with torch.no_grad():
            for k, v in state.items():
                self.hparams[k].copy_(v)


class LossSearch(Callback):
    """skorch callback running the AutoBalance search while the net trains.

    From epoch ``start_epoch`` on, every ``hyper_interval`` training steps it
    takes one hyper-step: a training batch and a validation batch (one per
    fold network with cross-fitting), the implicit hyper-gradient of the
    validation objective (the mean over the fold networks), gradient clipping
    and an SGD-with-momentum step on the search coordinates, which are then
    written into the net's criterion. At the end of every epoch from the
    warm-up's last on, the validation samples (S_V, or the pooled out-of-fold
    predictions of all samples) score the current coordinates; the warm-up's
    end scores the initial loss, so the search never returns a loss worse on
    validation than where it started. Each candidate's predictions are kept
    for :meth:`select_paired`.

    Parameters
    ----------
    space : LossSearchSpace
    objective : callable (logits, y, groups) -> scalar tensor
    design : CrossFit
        Where the training and validation samples of each network come from
        (``_crossfit.py``).
    start_epoch, hyper_interval, neumann_steps : int
    hyper_lr, damping, max_grad_norm : float
    hyper_batch_size : int
    generator : torch.Generator
    curvature_generator : torch.Generator or None
        Draws the power iteration's start vectors, on the data's device
        (None: torch's global generator, shared by the threads of a process).
    selection_metric : callable or None
        0-1 metric choosing the kept loss (None: the objective).
    selection_key : str, default="selection"
        History name of the selection metric: each epoch-end evaluation
        records ``valid_objective`` and ``valid_<selection_key>`` (with a
        ``_best`` flag skorch's epoch table highlights) in the net's history.
    patience : tuple (int, float) or None
        ``(n_iter_no_change, tol)``: stop the search run once the selection
        key has not improved by ``tol`` for that many evaluations.
    watch_warmup : bool, default=False
        Also score the validation set after the warm-up's epochs (recorded in
        the history for progress output; not candidates).
    """

    def __init__(self, space, objective, design, *, start_epoch, hyper_interval,
                 hyper_lr, neumann_steps, damping, max_grad_norm, hyper_batch_size,
                 generator, selection_metric=None, curvature_generator=None,
                 selection_key="selection", patience=None, watch_warmup=False):
        self.space, self.objective, self.design = space, objective, design
        self.selection_metric = selection_metric
        self.selection_key, self.patience = selection_key, patience
        self.watch_warmup = watch_warmup
        self.start_epoch, self.hyper_interval = start_epoch, hyper_interval
        self.hyper_lr, self.neumann_steps, self.damping = hyper_lr, neumann_steps, damping
        self.max_grad_norm, self.hyper_batch_size = max_grad_norm, hyper_batch_size
        self.generator = generator
        self.curvature_generator = curvature_generator

    def initialize(self):
        # SGD moves in proportion to the hyper-gradient; Adam's per-coordinate
        # normalisation turned noisy hyper-gradients into a random walk.
        self.optimizer_ = torch.optim.SGD(
            list(self.space.hparams.values()), lr=self.hyper_lr, momentum=0.9)
        self.steps_, self.records_ = 0, []
        self.eps_rms_sq_ = None
        # Hyper-batches are drawn on the data's device (no host round trip per
        # hyper-step), from a generator seeded by the estimator's.
        seed = int(torch.randint(2**62, (1,), generator=self.generator))
        self.device_generator_ = torch.Generator(device=self.design.device).manual_seed(seed)
        self.step_size_, self.step_size_epoch_ = None, None
        self.best_state_, self.best_step_ = self.space.state(), 0
        self.best_score_, self.best_key_ = np.inf, (np.inf, np.inf)
        # The coordinates each epoch started with, and how many epochs had run
        # when the kept loss was scored: the retraining replays this schedule.
        self.epoch_states_, self.best_epoch_ = [], 0
        self.initial_key_ = None
        # Every epoch-end candidate: its coordinates, when it was scored, and
        # its validation predictions (for the paired selection).
        self.candidates_ = []
        self.last_predictions_ = self.last_control_predictions_ = None
        self.patience_ = None if self.patience is None else Patience(*self.patience)
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.epoch_states_.append(self.space.state())

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        self.steps_ += 1
        epoch = len(net.history) - 1
        if epoch >= self.start_epoch and self.steps_ % self.hyper_interval == 0:
            self.hyper_step(net)

    def hyper_step(self, net):
        values = self.space.values()
        train_loss, val_loss, params = self.design.hyper_losses(
            net.module_, self.space, self.objective, net.batch_size, self.hyper_batch_size,
            self.device_generator_)
        hparams = list(self.space.hparams.values())
        # The curvature (hence the Neumann step size) changes slowly: estimate
        # it by power iteration once per epoch, not at every hyper-step.
        epoch = len(net.history) - 1
        step_size = self.step_size_ if self.step_size_epoch_ == epoch else None
        grads, self.step_size_ = implicit_hypergradient(
            train_loss, val_loss, params, hparams, neumann_steps=self.neumann_steps,
            step_size=step_size, damping=self.damping, return_step_size=True,
            generator=self.curvature_generator, n_blocks=self.design.n_blocks,
        )
        k = self.design.n_searched
        if k is not None:  # the sum over the searched fold networks -> their mean
            grads = [g / k for g in grads]
            val_loss = val_loss / k
        self.step_size_epoch_ = epoch
        if "eps" in self.space.hparams:
            grads = self._normalize_strength_gradient(grads)
        for h, g in zip(hparams, grads):
            h.grad = g.detach()
        # The strengths are clipped apart from the loss coordinates: their
        # normalised gradient must not shrink the loss's step.
        for part in self._clip_groups():
            torch.nn.utils.clip_grad_norm_(part, self.max_grad_norm)
        self.optimizer_.step()
        self.optimizer_.zero_grad(set_to_none=True)
        self.space.write_to(net.criterion_)
        # Detached tensors: converted to Python numbers once, after training,
        # so that no hyper-step waits for the device.
        self.records_.append({
            "epoch": len(net.history) - 1, "step": self.steps_,
            "validation_objective": val_loss.detach(), "scope": "batch",
            "params": values,
        })

    def _clip_groups(self):
        hparams = self.space.hparams
        loss = [h for name, h in hparams.items() if name != "eps"]
        return [part for part in (loss, [hparams["eps"]] if "eps" in hparams else [])
                if part]

    def _normalize_strength_gradient(self, grads):
        """The augmentation strengths' hyper-gradient divided by a running RMS of its norm.

        For a symmetric noise the training loss moves with eps only at second
        order, so the raw hyper-gradient of a strength shrinks with it: from
        0.1 it was 6-15x, from 0.8 1.2-2.8x smaller than that of ``l`` or
        Delta on our development sets (``docs/benchmarks.md``), and a shared
        step size would move eps at a speed that depends on where it is. Normalised, the strengths move about ``hyper_lr`` per
        step in their softplus coordinates, in the direction the
        hyper-gradient (averaged by the momentum) says.
        """
        i = list(self.space.hparams).index("eps")
        g = grads[i].detach()
        norm_sq = (g ** 2).sum()
        self.eps_rms_sq_ = norm_sq if self.eps_rms_sq_ is None else (
            0.9 * self.eps_rms_sq_ + 0.1 * norm_sq)
        grads = list(grads)
        grads[i] = g / (self.eps_rms_sq_.sqrt() + 1e-12)
        return grads

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history) - 1
        if epoch == self.start_epoch - 1:
            self.design.start_controls(net)
        if epoch < self.start_epoch - 1:
            if self.watch_warmup:  # validation curve for the progress display only
                self._record_history(net, *self.evaluate(net), improved=False)
            return
        self.last_predictions_ = self.last_control_predictions_ = None
        score, selection = self.evaluate(net)
        record = {
            "epoch": epoch, "step": self.steps_, "validation_objective": score,
            "scope": "validation_set", "params": self.space.values(),
        }
        if selection is not None:
            record["validation_selection"] = selection
        self.records_.append(record)
        # Selection key: the selection metric (e.g. the validation balanced
        # error) first, the smooth objective to break its ties.
        key = (score, score) if selection is None else (selection, score)
        if self.initial_key_ is None:
            self.initial_key_ = key  # the warm-up's end: the initial loss
        state = self.space.state()
        self.candidates_.append({"epoch": epoch + 1, "step": self.steps_, "state": state,
                                 "key": key, "record": record,
                                 "predictions": self.last_predictions_,
                                 "control_predictions": self.last_control_predictions_})
        improved = key < self.best_key_
        if improved:
            self.best_key_, self.best_score_, self.best_step_ = key, score, self.steps_
            self.best_state_, self.best_epoch_ = state, epoch + 1
        self._record_history(net, score, selection, improved)
        if self.patience_ is not None:
            self.patience_.update(key[0])
            if self.patience_.exhausted:
                net.request_stop()

    def select_paired(self, name, *, n_groups=None, fairness_weight=0.9, significance=0.05,
                      n_boot=500, random_state=None):
        """Replace the lowest-error choice by the noise-aware rule of ``_selection.py``.

        Sets ``best_state_``, ``best_epoch_``, ``best_step_``, ``best_key_``
        to the kept candidate, marks each candidate's record with its paired
        standard error against the initial loss and whether it was kept, and
        returns the rule's report (None when the candidates carry no
        predictions).
        """
        candidates = self.candidates_
        if not candidates or any(c["predictions"] is None for c in candidates):
            return None
        y, groups = self.validation_labels_
        with_control = all(c.get("control_predictions") is not None for c in candidates)
        rows = [c["predictions"] for c in candidates]
        if with_control:
            rows += [c["control_predictions"] for c in candidates]
        full, replicates = bootstrap_errors(
            torch.stack(rows).cpu().numpy(), y.cpu().numpy(),
            None if groups is None else groups.cpu().numpy(),
            name=name, n_groups=n_groups, fairness_weight=fairness_weight, n_boot=n_boot,
            random_state=random_state)
        n = len(candidates)
        baseline = None
        if with_control:
            # What keeping the initial loss gives: the control network at the
            # end of the run (the initial loss trained for every epoch).
            baseline = (np.full(n, full[-1]), np.broadcast_to(replicates[-1:],
                                                             replicates[n:].shape))
        control_errors = full[n:] if with_control else None
        full, replicates = full[:n], replicates[:n]
        distances = np.array([
            float(torch.sqrt(sum((v.float() ** 2).sum() for v in c["state"].values())))
            for c in candidates])
        index, report = paired_selection(full, replicates, distances, baseline=baseline,
                                         significance=significance)
        kept = candidates[index]
        self.best_state_, self.best_epoch_ = kept["state"], kept["epoch"]
        self.best_step_, self.best_key_ = kept["step"], kept["key"]
        self.best_score_ = kept["key"][1]
        for i, c in enumerate(candidates):
            c["record"]["paired_gain"] = float(report["gain"][i])
            c["record"]["paired_se"] = float(report["se"][i])
            if control_errors is not None:  # the control network at this epoch
                c["record"]["control_selection"] = float(control_errors[i])
            c["record"]["kept"] = i == index
        report = {**report, "index": index, "errors": full,
                  "baseline_errors": None if baseline is None else baseline[0]}
        self.selection_report_ = report
        return report

    def _record_history(self, net, score, selection, improved):
        net.history.record("valid_objective", score)
        if selection is not None:
            net.history.record(f"valid_{self.selection_key}", selection)
            net.history.record(f"valid_{self.selection_key}_best", improved)

    def objective_trend(self):
        """How the whole-validation-set objective moved over the search epochs.

        Returns ``(rises, changes, first, last)``: the number of epoch-to-epoch
        increases among ``changes`` consecutive pairs, and the first and last
        values (from the warm-up's end on).
        """
        values = [float(r["validation_objective"]) for r in self.records_
                  if r["scope"] == "validation_set"]
        if len(values) < 2:
            return 0, 0, (values[0] if values else np.nan), (values[-1] if values else np.nan)
        rises = sum(b > a for a, b in zip(values, values[1:]))
        return rises, len(values) - 1, values[0], values[-1]

    @torch.no_grad()
    def evaluate(self, net):
        """Objective and selection metric on the validation samples (floats).

        The predicted classes are kept in ``last_predictions_``.
        """
        logits, y, groups, control = self.design.validation_logits(net.module_)
        self.validation_labels_ = (y, groups)
        self.last_predictions_ = logits.argmax(dim=1).to(torch.int32)
        self.last_control_predictions_ = (None if control is None
                                          else control.argmax(dim=1).to(torch.int32))
        score = float(self.objective(logits, y, groups))
        if self.selection_metric is None:
            return score, None
        return score, float(self.selection_metric(logits, y, groups))

    def __getstate__(self):
        # The data, objectives (closures) and generators serve the search while
        # the net trains; a pickled net (``refit=False``) keeps the results only.
        state = self.__dict__.copy()
        for key in ("design", "objective", "selection_metric", "generator",
                    "curvature_generator", "device_generator_", "candidates_",
                    "last_predictions_", "last_control_predictions_", "validation_labels_"):
            state[key] = None
        return state

    def loss_schedule(self):
        """The loss of each search epoch up to the kept one, as dicts of tensors.

        Keys ``w``, ``l``, ``delta`` (and ``eps``, the augmentation strengths,
        when the search network augments).

        Entry ``e`` is the loss epoch ``e`` of the search run started with (the
        initial loss through the warm-up, then the searched one); the list ends
        with the epoch whose end scored the kept loss.
        """
        current = self.space.state()
        schedule = []
        for state in self.epoch_states_[:self.best_epoch_]:
            self.space.load_state(state)
            schedule.append(self.space.values())
        self.space.load_state(current)
        return schedule

    def history(self):
        """The search records with tensors turned into Python floats and NumPy arrays."""
        out = []
        for record in self.records_:
            params = {k: v.cpu().double().numpy() for k, v in record["params"].items()}
            params["l"] = params["l"] - params["l"].mean(axis=0, keepdims=True)
            params["delta"] = self.space.delta_scale / (1.0 + np.exp(-params["delta"]))
            out.append({**record, "validation_objective": float(record["validation_objective"]),
                        "params": params})
        return out


class LossSchedule(Callback):
    """skorch callback replaying a per-epoch loss schedule while a net trains.

    At the start of epoch ``e`` it writes ``schedule[e]`` (``w``, ``l``,
    ``delta``) into the net's parametric criterion, and its ``eps`` into the
    net's augmentation; after the schedule's last entry both keep the values
    they were built with. The retraining of
    :class:`~sklearn_autobalance.AutoBalanceClassifier` uses it to follow the
    path the search took to the kept loss: the search network reached that loss
    gradually, and a network trained on it from the first step ends elsewhere
    when it lies far from the initial loss.

    Parameters
    ----------
    schedule : list of dict of str to torch.Tensor
        One entry per epoch, as :meth:`LossSearch.loss_schedule`.
    """

    def __init__(self, schedule):
        self.schedule = schedule

    def on_train_begin(self, net, **kwargs):
        self.final_ = {name: getattr(net.criterion_, name).detach().clone()
                       for name in LOSS_PARTS}
        if net.augmentation is not None:
            self.final_["eps"] = net.augmentation.eps.detach().clone()
        self.epoch_ = 0

    def on_epoch_begin(self, net, **kwargs):
        self._write(net, self.schedule[self.epoch_] if self.epoch_ < len(self.schedule)
                    else self.final_)
        self.epoch_ += 1

    def on_train_end(self, net, **kwargs):
        self._write(net, self.final_)  # the trained net's criterion is the kept loss

    @staticmethod
    def _write(net, values):
        with torch.no_grad():
            for name in LOSS_PARTS:
                getattr(net.criterion_, name).copy_(values[name])
            if "eps" in values and net.augmentation is not None:
                net.augmentation.eps.copy_(values["eps"])
