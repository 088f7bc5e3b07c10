"""A tournament of candidate losses ("arms") trained side by side as copies of the fold ensemble.

Every candidate of the epoch-end search is a snapshot of one trajectory that
shares the control's weights and warm-up, so a loss that differs from LA from
the first step (LA with a larger tau, VS, balanced CE, LDAM, feature noise)
is never tried. Here each arm trains from the first step: arm ``a`` owns
copies ``a * k .. a * k + k - 1`` of one :class:`FoldEnsemble` (copy
``a * k + j`` trains on every fold but ``j``). All copies start from the same
weights, see the same batches (copy ``a * k + j`` gets fold ``j``'s batch) and
the same noise draw (scaled by each arm's strength), so two arms differ by
their loss alone, and their pooled out-of-fold errors are compared on the same
samples with the same bootstrap replicates (paired). The training loss is the
sum over copies of each copy's mean loss, and Adam, AdamW and SGD act
element-wise, so one optimiser step takes every copy's own step.

Successive halving scores the alive arms at a few fractions of the run and
drops the weak ones; the last scoring chooses between the control (arm 0) and
the best survivor (:func:`select_arm`). An arm with ``refine`` moves its loss
by the implicit hyper-gradient after a warm-up (``_refinement.py``); it is
scored like the others, at the checkpoints and the end.
"""

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from ._augmentation import FeatureAugmentation, feature_scale
from ._crossfit import FoldAverage, FoldBatches, FoldEnsemble, fold_mean_loss, padded_index
from ._selection import bootstrap_errors
from ._sparse import chunk_rows, dense
from ._network_search import check_hypergradient_params
from ._refinement import ArmRefinement
from ._search import SEARCH_SPACES
from .losses._objectives import make_objective
from .losses._parametric import ParametricCrossEntropy
from .losses._registry import GROUP_LOSSES, PARAMETRIC_LOSSES, make_loss

# Search spaces an arm may refine (the noise strengths stay the arm's), and the
# class losses of the parametric family the refinement moves in.
REFINE_SPACES = tuple(s for s in SEARCH_SPACES if s != "eps")
REFINABLE_LOSSES = tuple(name for name in PARAMETRIC_LOSSES if name not in GROUP_LOSSES)


@dataclass(frozen=True)
class Arm:
    """One candidate: a fixed loss of the library, an optional shared feature-noise strength.

    Parameters
    ----------
    name : str
    loss : str, default="la"
        A name of :func:`~sklearn_autobalance.losses._registry.make_loss`.
    loss_params : dict or None, default=None
        Its keyword parameters.
    eps : float or None, default=None
        Strength of the shared noise ``x + eps * s * u``
        (:class:`~sklearn_autobalance._augmentation.FeatureAugmentation`);
        None: no noise.
    refine : str or None, default=None
        A search space ("tau", "l", "delta", "l+delta", "w+l+delta"): the
        arm's loss (a member of the parametric family) follows the implicit
        hyper-gradient from the warm-up on (``_refinement.py``); None: fixed.
    """

    name: str
    loss: str = "la"
    loss_params: dict = None
    eps: float = None
    refine: str = None


def default_arms():
    """The candidate arms: LA (entry 0, the control), stronger LA, VS, noise, balanced CE, LDAM.

    Returns
    -------
    arms : list of Arm
    """
    return [Arm("la"), Arm("la_tau1.5", "la", {"tau": 1.5}), Arm("la_tau2", "la", {"tau": 2.0}),
            Arm("vs", "vs"), Arm("noise0.4", eps=0.4), Arm("noise0.8", eps=0.8),
            Arm("noise1.6", eps=1.6), Arm("balanced", "balanced"), Arm("ldam", "ldam")]


def check_arms(arms, losses, group_losses):
    """User arms (a list of dicts with keys ``loss``, ``loss_params``, ``eps``, ``refine``,
    ``name``) as Arms.

    Parameters
    ----------
    arms : list of dict
    losses, group_losses : collection of str
        The loss names, and those needing groups (refused).

    Returns
    -------
    arms : list of Arm
    """
    if len(arms) == 0:
        raise ValueError("search is an empty list of arms: give at least one dict such as "
                         "{'loss': 'vs'} or {'eps': 0.8}, or use search='auto'")
    keys = ["eps", "loss", "loss_params", "name", "refine"]
    out = []
    for i, arm in enumerate(arms):
        if not isinstance(arm, dict):
            raise TypeError(f"search[{i}] must be a dict with keys {keys}; got {arm!r}")
        unknown = sorted(set(arm) - set(keys))
        if unknown:
            raise ValueError(f"search[{i}] has unknown keys {unknown}; the keys are {keys}")
        loss, params, eps = arm.get("loss", "la"), arm.get("loss_params"), arm.get("eps")
        refine = arm.get("refine")
        if loss not in losses or loss in group_losses:
            raise ValueError(f"search[{i}]['loss'] must be a class loss, one of "
                             f"{sorted(set(losses) - set(group_losses))}; got {loss!r}")
        if params is not None and not isinstance(params, dict):
            raise TypeError(f"search[{i}]['loss_params'] must be a dict or None; got {params!r}")
        if eps is not None:
            if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)):
                raise TypeError(f"search[{i}]['eps'] must be a number or None; got {eps!r}")
            if not np.isfinite(eps) or eps <= 0:
                raise ValueError(f"search[{i}]['eps'] must be finite and > 0; got {eps!r}")
            eps = float(eps)
        if refine is not None:
            if refine not in REFINE_SPACES:
                raise ValueError(f"search[{i}]['refine'] must be None or one of "
                                 f"{REFINE_SPACES}; got {refine!r}")
            if loss not in REFINABLE_LOSSES:
                raise ValueError(f"search[{i}]['refine'] needs a loss of the parametric "
                                 f"family, one of {REFINABLE_LOSSES}; got {loss!r}")
        name = arm.get("name") or (loss + "".join(f"_{k}{v}" for k, v in (params or {}).items())
                                   + ("" if eps is None else f"+noise{eps:g}")
                                   + ("" if refine is None else f"+refine_{refine}"))
        out.append(Arm(str(name), loss, dict(params) if params else None, eps, refine))
    names = [a.name for a in out]
    if len(set(names)) < len(names):
        raise ValueError(f"search has arms with the same name: {names}; give each a 'name'")
    return out


def arm_loss(name, counts, params=None, refined=None):
    """An arm's loss from ``counts``: ``make_loss(name, counts, params)``, and with
    ``refined`` (``{"w", "l", "delta"}`` of the tournament's report) the loss a refined
    arm reached."""
    loss = make_loss(name, counts, params)
    if refined is not None:
        with torch.no_grad():
            for key, value in refined.items():
                getattr(loss, key).copy_(torch.as_tensor(value))
    return loss


def arm_inputs(X, y, eps, augmentation, generator=None):
    """The stacked training input of the alive arms: block ``i`` is ``X`` with arm ``i``'s noise.

    One draw ``s * u`` serves every arm (drawn only when some arm has noise),
    so arm ``i`` sees exactly ``X + eps[i] * s * u``.

    Parameters
    ----------
    X : torch.Tensor of shape (k, batch, n_features)
    y : torch.Tensor of shape (k, batch)
    eps : list of float or None
        Strength of each alive arm (None: no noise).
    augmentation : FeatureAugmentation or None
    generator : torch.Generator or None, default=None
        Draws the noise; None: the augmentation's training stream.

    Returns
    -------
    inputs : torch.Tensor of shape (len(eps) * k, batch, n_features)
    """
    if all(e is None for e in eps):
        return X.repeat(len(eps), 1, 1)
    noise = augmentation.draw_parts(X, generator)
    n_classes = len(augmentation.eps)
    return torch.cat([X if e is None else augmentation.apply(
        X, y, eps=torch.full((n_classes,), float(e), device=X.device), noise=noise)
        for e in eps])


def _ratio(gain, se):
    """``gain / se``; 0 where both are 0 (an arm predicting as the control), +-inf for se = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = gain / se
    return np.where((se == 0) & (gain == 0), 0.0, t)


def score_arms(logits, y, *, control=0, n_boot=300, random_state=None):
    """Balanced error of every arm, its gain over the control, the paired SE of the gain, t.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_arms, n_samples, n_classes)
        Pooled out-of-fold logits of each arm.
    y : array-like of shape (n_samples,)
    control : int, default=0
    n_boot : int, default=300
    random_state : int, sequence of int or None
        Seeds the Poisson replicates (the same for every arm).

    Returns
    -------
    scores : dict of ndarray of shape (n_arms,)
        ``error``, ``gain`` (control error - arm error), ``se``, ``t`` (gain / se).
    """
    y = np.asarray(y)
    # The 0-1 error: the expected error 1 - p(y | x) had SEs so small that it
    # moved on most runs and lost to LA (docs/studies/tournament.md).
    full, reps = bootstrap_errors(logits.argmax(-1).cpu().numpy(), y, name="balanced",
                                  n_boot=n_boot, random_state=random_state)
    gain = full[control] - full
    se = (reps[control] - reps).std(axis=1, ddof=1)
    return {"error": full, "gain": gain, "se": se, "t": _ratio(gain, se)}


def _rank(t):
    return -np.inf if np.isnan(t) else t


def halve(t, alive, *, control=0, t_drop=2.0):
    """Successive halving: which alive arms go on.

    Challengers (alive arms other than the control) with ``t < -t_drop`` are
    dropped; a NaN t (an arm that never disagrees with the control) is not
    below it. The control always goes on: it is what every gain is measured
    against. There is no cap on the survivors: capping at half dropped a
    noise arm that was behind at 70% of the run and won at the end
    (``docs/studies/tournament.md``).

    Parameters
    ----------
    t : array-like of shape (n_arms,) or dict of int to float
        t of each alive arm, indexed by arm.
    alive : list of int
    control : int, default=0
    t_drop : float, default=2.0

    Returns
    -------
    survivors, dropped : list of int (sorted)
    """
    survivors = sorted(a for a in alive if a == control or not t[a] < -t_drop)
    return survivors, sorted(set(alive) - set(survivors))


def select_arm(gain, se, candidates, *, c=1.5, control=0):
    """The kept arm: the best candidate if its gain exceeds ``c`` SEs, else the control.

    The best candidate has the largest gain over the control (the lowest
    error); ties go to the larger t, then to the earlier arm. NaN gains are
    never best, and a NaN comparison never moves.

    Parameters
    ----------
    gain, se : array-like of shape (n_arms,)
    candidates : list of int
        The arms scored at the end (the survivors); the control is skipped.
    c : float, default=1.5
        On the development sets (``docs/studies/tournament.md``) the smallest
        threshold that never lost to LA and moved on at most half of the
        pure-noise seeds.
    control : int, default=0

    Returns
    -------
    kept : int
    best : int or None
        The best candidate (None when there is none).
    """
    gain, se = np.asarray(gain, dtype=float), np.asarray(se, dtype=float)
    t = _ratio(gain, se)
    pool = [a for a in candidates if a != control and not np.isnan(gain[a])]
    if not pool:
        return control, None
    best = min(pool, key=lambda a: (-gain[a], -_rank(t[a]), a))
    return (best if gain[best] > c * se[best] else control), best


def _take(ensemble, copies, template, optimizer=None, make_optimizer=None):
    """A :class:`FoldEnsemble` of ``copies`` only, with their optimiser state (exactly)."""
    index = torch.as_tensor(copies, dtype=torch.long, device=next(ensemble.parameters()).device)
    out = FoldEnsemble(template, len(copies)).to(index.device)
    with torch.no_grad():
        for new, old in zip(out.parameters(), ensemble.parameters()):
            new.copy_(old[index])
        for new, old in zip(out.buffers(), ensemble.buffers()):
            new.copy_(old[index])
    if optimizer is None:
        return out, None
    # Moments are sliced like their parameter; the step count is shared.
    new_opt = make_optimizer(out.parameters())
    for new, old in zip(out.parameters(), ensemble.parameters()):
        new_opt.state[new] = {
            key: (value[index].clone() if torch.is_tensor(value) and value.shape == old.shape
                  else value.clone() if torch.is_tensor(value) else value)
            for key, value in optimizer.state.get(old, {}).items()}
    return out, new_opt


class Tournament:
    """Train every arm as ``k`` fold copies from one start; halve; choose by paired OOF error.

    Parameters
    ----------
    arms : list of Arm
        Entry 0 is the control.
    max_epochs : int, default=50
        Epochs of the longest fold's training rows (:class:`FoldBatches`).
    max_steps : int or None, default=None
        Stop after this many optimiser steps instead (checkpoints scale with it).
    checkpoints : tuple of float, default=(0.2, 0.5, 0.7)
        Fractions of the total steps at which the alive arms are scored and
        halved (:func:`halve`).
    t_drop : float or tuple of float, default=(4.0, 2.0, 2.0)
        See :func:`halve`; a tuple gives each checkpoint its own. Noise arms
        and VS start slowly: at 0.4 with ``t < -2`` the development study
        dropped arms that won at the end, at 0.5 none; at 0.2 only arms far
        behind (``t < -4``) stop, which changed no kept arm on 90
        development runs and saves most of the work on large data.
    c : float, default=1.5
        See :func:`select_arm`.
    batch_size : int, default=128
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Must act element-wise (Adam, AdamW, SGD).
    lr, weight_decay : float
    noise : {"ball", "gaussian"}, default="ball"
    n_boot : int, default=300
    objective : callable (logits, y, groups) -> scalar tensor, or None, default=None
        Validation objective of the refined arms' hyper-gradient (None:
        balanced CE).
    hypergradient : dict or None, default=None
        Settings of the refined arms' hyper-steps, as checked
        ``hypergradient_params`` (None: their defaults).
    random_state : int, default=0
        Seeds the batch order (as the estimator's generator), the noise
        stream and the bootstrap; the initial weights are the module's.
    log : callable or None, default=None
        Called with a line of text at every epoch, checkpoint and at the end.

    Attributes
    ----------
    report_ : dict
        ``arms`` (per arm: name, loss, loss_params, eps, error, gain, se, t,
        ``step`` it was last scored at, ``dropped_at``: the checkpoint
        fraction or None; the gain is over the control scored at that same
        step, ``refined`` (a refined arm's loss when scored: ``{"w", "l",
        "delta"}``; None for a fixed arm), ``checkpoints`` (fraction, step,
        alive, the t of each alive arm, dropped), ``c``, ``best``, ``kept``,
        ``kept_name``, ``moved``, ``steps`` (the optimiser steps each arm
        trained for when scored at the end), ``steps_per_epoch``,
        ``hyper_steps`` (taken by the refined arms).
    ensembles_ : list of FoldEnsemble
        Each arm's k fold networks as they were when last scored.
    """

    def __init__(self, arms, *, max_epochs=50, max_steps=None, checkpoints=(0.2, 0.5, 0.7),
                 t_drop=(4.0, 2.0, 2.0), c=1.5, batch_size=128,
                 optimizer=torch.optim.Adam, lr=1e-3, weight_decay=0.0, noise="ball",
                 n_boot=300, objective=None, hypergradient=None, random_state=0, log=None):
        self.arms, self.max_epochs, self.max_steps = list(arms), max_epochs, max_steps
        self.checkpoints, self.t_drop = checkpoints, t_drop
        self.c, self.batch_size, self.optimizer = c, batch_size, optimizer
        self.lr, self.weight_decay, self.noise = lr, weight_decay, noise
        self.n_boot, self.random_state = n_boot, random_state
        self.objective, self.hypergradient = objective, hypergradient
        self.log = log

    def fit(self, module, X, y, folds, sample_weight=None, counts=None):
        """Run the tournament.

        Parameters
        ----------
        module : torch.nn.Module
            The network; its weights start every copy.
        X : torch.Tensor of shape (n_samples, n_features)
        y : torch.Tensor of shape (n_samples,)
        folds : list of (train_rows, valid_rows)
            Validation rows partition the samples.
        sample_weight : torch.Tensor of shape (n_samples,) or None
        counts : array-like of shape (n_classes,) or None
            Class counts the losses are built from (default: those of ``y``).

        Returns
        -------
        self
        """
        k = len(folds)
        counts = np.bincount(y.cpu().numpy()) if counts is None else np.asarray(counts)
        n_classes = len(counts)
        losses = [make_loss(a.loss, counts, a.loss_params).to(X.device) for a in self.arms]
        for loss in losses:
            loss.reduction = "none"  # per-sample losses: fold_mean_loss weighs and averages
        data = {"X": X} if sample_weight is None else {"X": X, "sample_weight": sample_weight}
        batches = FoldBatches(data, y, [f[0] for f in folds], self.batch_size,
                              generator=torch.Generator().manual_seed(self.random_state))
        total = self.max_steps or self.max_epochs * len(batches)
        t_drops = np.asarray(self.t_drop, dtype=float)
        if t_drops.ndim == 0:
            t_drops = np.full(len(self.checkpoints), float(t_drops))
        elif t_drops.shape != (len(self.checkpoints),):
            raise ValueError(f"t_drop has {t_drops.size} values for {len(self.checkpoints)} "
                             "checkpoints; give one value or one per checkpoint")
        stops = {}  # step -> t_drop there
        for f, t_drop in zip(self.checkpoints, t_drops):
            step = int(round(f * total))
            if 0 < step < total:
                stops.setdefault(step, float(t_drop))
        augmentation = None
        if any(a.eps is not None for a in self.arms):
            augmentation = FeatureAugmentation(
                feature_scale(X), torch.ones(n_classes, device=X.device), self.noise,
                self.random_state + 1)
            augmentation.reset()
        refinement = self._refinement(losses, X, y, folds, sample_weight, total, len(batches),
                                      module)
        table, lengths = padded_index([f[1] for f in folds], X.device)
        mask = torch.arange(table.shape[1], device=X.device)[None, :] < lengths[:, None]
        y_oof = y[table[mask]].cpu().numpy()

        def make_optimizer(params):
            return self.optimizer(params, lr=self.lr, weight_decay=self.weight_decay)

        alive = list(range(len(self.arms)))
        ensemble = FoldEnsemble(module, len(alive) * k).to(X.device)
        optimizer = make_optimizer(ensemble.parameters())
        self.ensembles_ = [None] * len(self.arms)
        records, log = [None] * len(self.arms), []

        def score(step):
            scores = score_arms(self._oof_logits(ensemble, X, table, mask, len(alive)), y_oof,
                                n_boot=self.n_boot,
                                random_state=[self.random_state, step])
            for i, a in enumerate(alive):
                records[a] = {key: float(v[i]) for key, v in scores.items()} | {
                    "step": step,
                    "refined": (refinement.values(a)
                                if refinement is not None and a in refinement.spaces else None)}
                self.ensembles_[a] = _take(ensemble, range(i * k, (i + 1) * k), module)[0]
            return scores["t"]

        say = self.log or (lambda line: None)
        names = [a.name for a in self.arms]
        say(f"tournament: {total} optimiser steps ({len(batches)} a fold epoch); arms stop "
            "at " + (", ".join(f"step {s} if t < -{d:g}" for s, d in sorted(stops.items()))
                     or "no checkpoint") + "; an arm replaces "
            f"{names[0]!r} if its gain exceeds {self.c:g} paired SEs"
            + ("" if refinement is None else
               f"; refined arms take a hyper-step every {refinement.interval} step(s) from "
               f"step {refinement.start}"))
        started = time.perf_counter()
        step = 0
        while step < total:
            if step and step % len(batches) == 0:
                say(f"tournament epoch {step // len(batches)}/{math.ceil(total / len(batches))}: "
                    f"{len(alive)} arm(s) alive, {time.perf_counter() - started:.1f}s")
            for loss in losses:  # LDAM-DRW and the like follow the epoch
                if hasattr(loss, "set_epoch"):
                    loss.set_epoch(step // len(batches))
            for Xb, yb in batches:
                inputs = arm_inputs(Xb["X"], yb, [self.arms[a].eps for a in alive], augmentation)
                logits = ensemble(inputs)
                batch = yb.shape[1]
                flat_y = yb.reshape(-1)
                loss = sum(fold_mean_loss(
                    losses[a](logits[i * k:(i + 1) * k].reshape(k * batch, -1), flat_y)
                    .view(k, batch), Xb.get("sample_weight")) for i, a in enumerate(alive))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                if step in stops:
                    t = score(step)
                    survivors, dropped = halve(dict(zip(alive, t)), alive, t_drop=stops[step])
                    log.append({"fraction": step / total, "step": step, "alive": list(alive),
                                "t": [float(v) for v in t], "dropped": dropped})
                    say(f"checkpoint at step {step} ({step / total:.0%}): t against "
                        f"{names[0]!r}: " + ", ".join(
                            f"{names[a]} {t[i]:+.2f}" for i, a in enumerate(alive) if a)
                        + ("; stopped: " + ", ".join(names[a] for a in dropped)
                           if dropped else "; none stopped"))
                    if dropped:  # the dropped copies leave the forward, loss and optimiser
                        copies = [i * k + j for i, a in enumerate(alive) if a in survivors
                                  for j in range(k)]
                        ensemble, optimizer = _take(ensemble, copies, module, optimizer,
                                                    make_optimizer)
                        alive = survivors
                if refinement is not None and refinement.due(step):
                    eps = [self.arms[a].eps for a in alive]
                    refinement.step(ensemble, alive, lambda X_, y_, g: arm_inputs(
                        X_, y_, eps, augmentation, g), step)
                if step >= total:
                    break
        score(step)
        dropped_at = {a: entry["fraction"] for entry in log for a in entry["dropped"]}
        gain = [r["gain"] for r in records]
        se = [r["se"] for r in records]
        kept, best = select_arm(gain, se, alive, c=self.c)
        for a in alive:
            r = records[a]
            say(f"  {names[a]:>12}: out-of-fold balanced error {r['error']:.4f}"
                + ("" if a == 0 else f", gain {r['gain']:+.4f} (paired SE {r['se']:.4f}, "
                   f"t {r['t']:+.2f})"))
        say(f"kept: {names[kept]!r}" + (
            f" (gain of the best arm {names[best]!r} above {self.c:g} SEs)" if kept else
            "" if best is None else
            f" (the best arm, {names[best]!r}, gained {records[best]['gain']:+.4f} at "
            f"SE {records[best]['se']:.4f}: not above {self.c:g} SEs)"))
        if records[kept]["refined"] is not None:
            say(f"the loss {names[kept]!r} reached: " + ", ".join(
                f"{key} {np.round(value, 3).tolist()}"
                for key, value in records[kept]["refined"].items()))
        self.report_ = {
            "arms": [{"name": arm.name, "loss": arm.loss, "loss_params": arm.loss_params,
                      "eps": arm.eps, **records[a], "dropped_at": dropped_at.get(a)}
                     for a, arm in enumerate(self.arms)],
            "checkpoints": log, "c": self.c, "best": best, "kept": kept,
            "kept_name": self.arms[kept].name, "moved": kept != 0, "steps": step,
            "steps_per_epoch": len(batches),
            "hyper_steps": 0 if refinement is None else refinement.hyper_steps_}
        return self

    def _refinement(self, losses, X, y, folds, sample_weight, total, steps_per_epoch, module):
        """The hyper-steps of the arms with ``refine`` (None when no arm has it)."""
        refined = {a: arm.refine for a, arm in enumerate(self.arms) if arm.refine}
        if not refined:
            return None
        if 0 in refined:
            raise ValueError(f"the control arm {self.arms[0].name!r} cannot be refined: it is "
                             "the fixed loss every arm is compared with")
        for a in refined:
            if not isinstance(losses[a], ParametricCrossEntropy):
                raise ValueError(f"arm {self.arms[a].name!r} refines its loss, which must be "
                                 f"a member of the parametric family {REFINABLE_LOSSES}")
        objective = self.objective or make_objective("balanced", len(losses[0].w))
        return ArmRefinement(
            {a: losses[a] for a in refined}, refined, objective, X, y, folds,
            check_hypergradient_params(self.hypergradient), total_steps=total,
            steps_per_epoch=steps_per_epoch, batch_size=self.batch_size, module=module,
            seed=self.random_state + 2, sample_weight=sample_weight)

    @staticmethod
    @torch.no_grad()
    def _oof_logits(ensemble, X, table, mask, n_arms, chunk=1024):
        """``(n_arms, n_samples, n_classes)``: each sample scored by copies that never saw it."""
        was_training = ensemble.training
        ensemble.eval()
        try:
            parts = []
            # Wide sparse rows: blocks of at most CHUNK_FLOATS floats once densified.
            chunk = max(1, chunk_rows(X, table.shape[0] * chunk) // table.shape[0])
            for start in range(0, table.shape[1], chunk):
                Xv = dense(X[table[:, start:start + chunk]])
                out = ensemble(Xv.repeat(n_arms, 1, 1))
                parts.append(out.view(n_arms, *Xv.shape[:2], -1))
            return torch.cat(parts, dim=2)[:, mask]
        finally:
            ensemble.train(was_training)

    def arm_model(self, a):
        """Arm ``a``'s fold networks as one model: their mean logits (:class:`FoldAverage`)."""
        ensemble = self.ensembles_[a]
        return FoldAverage(ensemble, ensemble.n_folds)
