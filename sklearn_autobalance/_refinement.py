"""Hyper-gradient refinement of tournament arms: each refined arm runs Algorithm 1 on its loss.

An arm with ``refine`` (a search space of ``_search.py``: "tau", "l", "delta",
"l+delta", "w+l+delta") starts at its fixed loss. From ``warmup_fraction`` of the
run on, every ``hyper_interval`` optimiser steps, it takes a hyper-step: the
implicit hyper-gradient (``_hypergradient.py``) of the validation objective of
its k fold copies, copy ``j`` on rows of its own held-out fold ``j``, with
respect to the arm's own loss coordinates
(:class:`~sklearn_autobalance._search.LossSearchSpace`), summed over its copies,
then clipping and SGD with momentum, as in the whole-network search. The copies
are independent blocks of one :class:`~sklearn_autobalance._crossfit.FoldEnsemble`
and each arm owns its coordinates, so one implicit hyper-gradient serves every
refined arm at once.

Hyper-batches and their noise come from a generator of their own: the training
batches and noise draws are those of the tournament without refinement, so an
unrefined arm trains exactly as it would alone, and a refined arm differs from
its fixed twin by the moves of its loss only. The arms are scored at the
tournament's checkpoints and end, never at every hyper-step: the candidates are
the arms, not snapshots of their trajectories.
"""

import numpy as np
import torch

from ._crossfit import _sample_rows, fold_mean_loss, implicit_parameter_names, padded_index
from ._hypergradient import implicit_hypergradient
from ._search import LossSearchSpace
from ._sparse import dense
from .losses._parametric import parametric_cross_entropy


class ArmRefinement:
    """The hyper-steps of the refined arms of one tournament.

    Parameters
    ----------
    criteria : dict of int to ParametricCrossEntropy
        The refined arms' training losses, by arm index; each hyper-step
        writes the arm's new loss into its criterion.
    searches : dict of int to str
        Each refined arm's search space ("tau", "l", "delta", "l+delta", "w+l+delta").
    objective : callable (logits, y, groups) -> scalar tensor
        The validation objective (balanced CE for ``objective="balanced"``).
    X, y : torch.Tensor
        The whole data set; ``sample_weight`` (or None) weighs the training loss.
    folds : list of (train_rows, valid_rows)
    hyper : dict
        Checked ``hypergradient_params``
        (:data:`~sklearn_autobalance._network_search.HYPERGRADIENT_DEFAULTS`).
    total_steps, steps_per_epoch, batch_size : int
        The tournament's run: the warm-up is ``warmup_fraction`` of
        ``total_steps``; "auto" intervals give about five hyper-steps an epoch;
        hyper-batches default to ``4 * batch_size`` rows per copy.
    module : torch.nn.Module
        The wrapped network (names of the implicit parameters).
    seed : int
        Seeds the hyper-batches, their noise and the power iterations.
    """

    def __init__(self, criteria, searches, objective, X, y, folds, hyper, *, total_steps,
                 steps_per_epoch, batch_size, module, seed, sample_weight=None):
        self.criteria, self.objective = criteria, objective
        self.X, self.y, self.sample_weight = X, y, sample_weight
        n_classes = len(next(iter(criteria.values())).w)
        clusters = np.zeros(n_classes, dtype=int)  # only personalized noise uses them
        self.spaces = {a: LossSearchSpace(criteria[a], searches[a], clusters) for a in criteria}
        # SGD moves in proportion to the hyper-gradient (Adam turned noisy
        # hyper-gradients into a random walk in the network search).
        self.optimizers = {a: torch.optim.SGD(list(s.hparams.values()), lr=hyper["hyper_lr"],
                                              momentum=0.9) for a, s in self.spaces.items()}
        self.start = max(1, int(round(hyper["warmup_fraction"] * total_steps)))
        self.total = total_steps
        interval = hyper["hyper_interval"]
        self.interval = max(1, steps_per_epoch // 5) if interval == "auto" else interval
        self.size = hyper["hyper_batch_size"] or 4 * batch_size
        self.neumann_steps, self.damping = hyper["neumann_steps"], hyper["damping"]
        self.max_grad_norm = hyper["max_grad_norm"]
        self.names = implicit_parameter_names(module, hyper["implicit_params"])
        self.steps_per_epoch = steps_per_epoch
        device = y.device
        self.generator = torch.Generator(device=device).manual_seed(int(seed))
        self.train_table, self.train_lengths = padded_index([f[0] for f in folds], device)
        self.valid_table, self.valid_lengths = padded_index([f[1] for f in folds], device)
        self.hyper_steps_ = 0
        self._step_size, self._step_size_key = None, None

    def due(self, step):
        """Whether a hyper-step follows optimiser step ``step`` (not the last: the
        networks would never train with its loss)."""
        return (self.start <= step < self.total
                and (step - self.start) % self.interval == 0)

    def values(self, a):
        """Arm ``a``'s current loss: ``{"w", "l", "delta"}`` as lists."""
        return {k: v.cpu().tolist() for k, v in self.spaces[a].values().items()}

    def step(self, ensemble, alive, inputs, step):
        """One hyper-step of every alive refined arm.

        Parameters
        ----------
        ensemble : FoldEnsemble
            The alive arms' copies, arm ``alive[i]`` owning copies ``i * k .. i * k + k - 1``.
        alive : list of int
        inputs : callable (X, y, generator) -> stacked inputs
            The alive arms' training inputs of a batch (with each arm's noise).
        step : int
        """
        refined = [(i, a) for i, a in enumerate(alive) if a in self.spaces]
        if not refined:
            return
        k = self.train_table.shape[0]
        train_rows = _sample_rows(self.train_table, self.train_lengths, self.size, self.generator)
        valid_rows = _sample_rows(self.valid_table, self.valid_lengths, self.size, self.generator)
        yt, yv = self.y[train_rows], self.y[valid_rows]
        logits_t = ensemble(inputs(dense(self.X[train_rows]), yt, self.generator))
        logits_v = ensemble(dense(self.X[valid_rows]).repeat(len(alive), 1, 1))
        weight = None if self.sample_weight is None else self.sample_weight[train_rows]
        n_classes = logits_t.shape[-1]
        train_loss = val_loss = 0.0
        for i, a in refined:
            space, block = self.spaces[a], slice(i * k, (i + 1) * k)
            w, l, delta = space.tensors()
            per_sample = parametric_cross_entropy(
                logits_t[block].reshape(-1, n_classes), yt.reshape(-1), w, l, delta,
                delta_scale=space.delta_scale, reduction="none").view(k, -1)
            train_loss = train_loss + fold_mean_loss(per_sample, weight)
            val_loss = val_loss + sum(self.objective(logits_v[i * k + j], yv[j], None)
                                      for j in range(k))
        hparams = [h for _, a in refined for h in self.spaces[a].hparams.values()]
        # The Neumann step size (a power iteration per copy) is renewed once an
        # epoch, and whenever halving changed the copies.
        key = (step // self.steps_per_epoch, len(alive))
        grads, step_size = implicit_hypergradient(
            train_loss, val_loss, ensemble.stacked_parameters(self.names), hparams,
            neumann_steps=self.neumann_steps, damping=self.damping,
            step_size=self._step_size if key == self._step_size_key else None,
            return_step_size=True, generator=self.generator, n_blocks=len(alive) * k)
        self._step_size, self._step_size_key = step_size, key
        grads = iter(grads)
        for _, a in refined:
            space, optimizer = self.spaces[a], self.optimizers[a]
            params = list(space.hparams.values())
            for p in params:
                p.grad = next(grads).detach()
            torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
            optimizer.step()
            space.write_to(self.criteria[a])
        self.hyper_steps_ += 1
