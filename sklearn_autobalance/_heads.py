"""Cross-fitted output layer: the loss search on features the network never trained on.

Why: a network that fits its training set exactly (high-dimensional feature
vectors, the default MLP) makes the same decisions under every loss of the
parametric family, so a searched loss cannot act (``docs/benchmarks.md``,
"Group DEO"). The cross-fitted design trains body ``j`` on every fold but
``j``; its penultimate features of fold ``j`` are those of samples it never
saw, where a linear output layer does not interpolate. There the loss acts
(a per-cell ``l`` shifts each group's decision threshold), and the lower
problem, an L2-penalised linear softmax regression, is convex: its implicit
hyper-gradient is exact, with the Hessian in closed form.

The search runs on inner folds of each outer fold, so that every sample has
an out-of-fold *head* prediction for every candidate loss, and the candidates
are compared on all n samples with the paired rule of ``_selection.py``. The
final model is the ensemble of the ``cv`` bodies, each with the head fitted on
its whole fold with the kept loss, folded into its output layer.
"""

import copy
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import StratifiedKFold
from torch import nn

from .losses._objectives import group_balanced_cross_entropy, make_objective
from .losses._parametric import parametric_cross_entropy
from ._sparse import chunk_rows, dense

#: Candidate L2 penalties of the head on standardised features (per-sample
#: mean loss + ``alpha / 2 * ||W||^2``). The initial loss's head takes the one
#: with the lowest pooled validation cell-balanced cross-entropy (on a 420-row
#: development table 1 beat 0.01 by 6 points of group-balanced error); the
#: search screens all of them, because a per-cell ``l`` moves the decisions
#: only when the head may encode the group in its weights: on a 512-d
#: development copy of ``make_waterbirds_like`` the search lowered the test
#: DEO to 7.7-9.7 % at 1e-3 / 1e-2 and to 67-87 % at 0.1 / 1, which the
#: cross-entropy at the initial loss preferred (``docs/benchmarks.md``).
HEAD_L2_GRID = (1e-3, 1e-2, 1e-1, 1.0)
#: Hyper-steps of the head's loss search and their Adam step (in loss
#: coordinates: a per-cell offset can move by about ``HEAD_STEPS * HEAD_LR``).
HEAD_STEPS = 40
HEAD_LR = 0.15
#: Hyper-steps run at every penalty of ``HEAD_L2_GRID`` before the search
#: continues at the one whose steps reached the lowest validation error.
SCREEN_STEPS = 10
#: Inner folds of each outer fold, for the heads' own validation predictions.
INNER_FOLDS = 3
#: Step of the guard's multiplier per ``tolerance`` of violation (see :class:`ErrorGuard`).
MULTIPLIER_STEP = 1.0
#: L2 penalty of the group probe (:func:`group_probe_auc`); mild, since only
#: the ranking of its held-out scores is read.
PROBE_L2 = 1e-2
HEAD_PARTS = {"l": ("l",), "delta": ("delta",), "l+delta": ("l", "delta"),
              "w+l+delta": ("w", "l", "delta")}


def output_layer(module):
    """The last ``nn.Linear`` of ``module`` (in registration order), or None."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def has_feature_layers(module):
    """Whether ``module`` has parameters outside its output layer (a feature extractor)."""
    layer = output_layer(module)
    own = set() if layer is None else {id(p) for p in layer.parameters()}
    return any(id(p) not in own for p in module.parameters())


@torch.no_grad()
def penultimate_features(module, X, chunk=4096):
    """Inputs of the output layer for the rows of ``X`` (float64), module in eval mode.

    Raises ValueError when the module's output is not that layer's output
    (the head could not replace it).
    """
    layer = output_layer(module)
    if layer is None:
        raise ValueError("the cross-fitted output layer (a searched group objective) needs a "
                         f"module with an nn.Linear output layer; {type(module).__name__} has "
                         "no nn.Linear")
    seen = {}

    def hook(_, inputs, output):
        seen["in"], seen["out"] = inputs[0], output

    chunk = chunk_rows(X, chunk)  # sparse X: densified a block at a time
    was_training = module.training
    module.eval()
    handle = layer.register_forward_hook(hook)
    try:
        parts = []
        for start in range(0, len(X), chunk):
            out = module(dense(X[start:start + chunk]))
            if "out" not in seen or seen["out"].shape != out.shape or not torch.equal(
                    seen["out"], out):
                raise ValueError(
                    "the cross-fitted output layer of a searched group objective fits a new "
                    f"output layer on the inputs of the module's last nn.Linear ({layer}), "
                    "but the module's output is not that layer's output; end the module with "
                    "its nn.Linear output layer, or use search=None")
            parts.append(seen.pop("in").reshape(len(out), -1).double())
            seen.clear()
    finally:
        handle.remove()
        module.train(was_training)
    return torch.cat(parts)


def _with_bias(F_):
    return torch.cat([F_, torch.ones(len(F_), 1, dtype=F_.dtype, device=F_.device)], 1)


def inner_splits(labels, n_splits, random_state, device):
    """Stratified shuffled folds of ``labels`` (numpy), as pairs of index tensors on ``device``."""
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class")
        return [(torch.as_tensor(a, device=device), torch.as_tensor(b, device=device))
                for a, b in splitter.split(np.zeros((len(labels), 1)), labels)]


class HeadData:
    """Standardised features (with a bias column), labels, groups, weights of one fold."""

    def __init__(self, features, y, groups, sample_weight=None):
        self.mean = features.mean(0)
        self.scale = features.std(0, unbiased=False).clamp_min(1e-6)
        self.F = _with_bias((features - self.mean) / self.scale)
        self.y, self.groups = y, groups
        self.sample_weight = sample_weight

    def rows(self, idx):
        out = copy.copy(self)
        out.F, out.y, out.groups = self.F[idx], self.y[idx], self.groups[idx]
        if self.sample_weight is not None:
            out.sample_weight = self.sample_weight[idx]
        return out


def head_loss(W, data, w, l, delta, alpha):
    """Penalised training loss of the linear head ``W`` (the bias row unpenalised)."""
    per_sample = parametric_cross_entropy(data.F @ W, data.y, w, l, delta, data.groups,
                                          reduction="none")
    if data.sample_weight is not None:
        per_sample = per_sample * data.sample_weight
    return per_sample.mean() + 0.5 * alpha * (W[:-1] ** 2).sum()


def _per_sample_terms(W, data, w, l, delta):
    """Per-sample multipliers ``m``, probabilities ``p`` and loss weights of the head."""
    multiplier = (2.0 * torch.sigmoid(delta.to(W.dtype)))[:, data.groups].T  # (n, K)
    offset = (l - l.mean(0, keepdim=True)).to(W.dtype)[:, data.groups].T
    p = torch.softmax(multiplier * (data.F @ W) + offset, 1)
    weight = w.to(W.dtype)[data.y, data.groups]
    if data.sample_weight is not None:
        weight = weight * data.sample_weight
    return multiplier, p, weight


def _penalty(W, alpha):
    """Diagonal of the L2 penalty's Hessian: ``alpha``, a tiny ridge on the bias row."""
    penalty = torch.full_like(W, alpha)
    penalty[-1] = 1e-8  # the bias is unpenalised; the ridge keeps the Hessian invertible
    return penalty


def head_gradient(W, data, w, l, delta, alpha):
    """Closed-form gradient of :func:`head_loss` in ``W``."""
    multiplier, p, weight = _per_sample_terms(W, data, w, l, delta)
    residual = p - F.one_hot(data.y, W.shape[1]).to(W.dtype)
    grad = data.F.T @ (weight[:, None] * multiplier * residual) / len(data.y)
    grad[:-1] += alpha * W[:-1]  # the bias row is unpenalised
    return grad


def head_hessian(W, data, w, l, delta, alpha):
    """Closed-form Hessian of :func:`head_loss` in ``W`` (flattened row-major)."""
    multiplier, p, weight = _per_sample_terms(W, data, w, l, delta)
    d, K = W.shape
    penalty = torch.diag(_penalty(W, alpha).reshape(-1))
    if K == 2:
        # Two classes: diag(p) - p p^T = p_0 p_1 (1, -1)(1, -1)^T, so each
        # sample's curvature is s_i u u^T with u = (m_0, -m_1) set by its group:
        # H = sum_g B_g (x) u_g u_g^T, one d x d product per group instead of K^2.
        s = weight * p[:, 0] * p[:, 1] / len(data.y)
        H = penalty
        for g in torch.unique(data.groups):
            rows = data.groups == g
            u = multiplier[rows][0] * torch.tensor([1.0, -1.0], dtype=W.dtype, device=W.device)
            B = data.F[rows].T @ (s[rows, None] * data.F[rows])
            H = H + torch.kron(B, u[:, None] * u[None, :])
        return H
    # d^2 ce / dz^2 = diag(p) - p p^T, and z_k = m_k (F W)_k + l_k.
    curvature = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    A = weight[:, None, None] * multiplier[:, :, None] * curvature * multiplier[:, None, :]
    # One batched matmul over the K^2 (k, m) pairs: F^T diag(A_km) F.
    blocks = (data.F.T[None] * A.reshape(-1, K * K).T[:, None, :]) @ data.F  # (K*K, d, d)
    H = blocks.reshape(K, K, d, d).permute(2, 0, 3, 1).reshape(d * K, d * K) / len(data.y)
    return H + penalty


class HeadSystem:
    """The head's Hessian, factorised once, as a linear solver ``solve(G) = H^{-1} G``.

    Two classes with one logit multiplier for every cell (the default: Delta
    not searched) make ``H = c^2 B (x) U + diag(pi) (x) I`` with
    ``U = [[1, -1], [-1, 1]]``; in U's eigenbasis that is one ``d x d`` system
    (``2 c^2 B + diag(pi)``, along ``(1, -1)``) and a diagonal one (along
    ``(1, 1)``): 8x less work than the ``2d x 2d`` Cholesky of the general path.
    """

    def __init__(self, W, data, w, l, delta, alpha):
        multiplier, p, weight = _per_sample_terms(W, data, w, l, delta)
        d, K = W.shape
        self.shape = W.shape
        self.pi = _penalty(W, alpha)[:, 0]
        self.reduced = K == 2 and bool(torch.all(multiplier == multiplier[0, 0]))
        if self.reduced:
            s = weight * p[:, 0] * p[:, 1] / len(data.y)
            B = data.F.T @ (s[:, None] * data.F)
            c2 = float(multiplier[0, 0]) ** 2
            self.factor = torch.linalg.cholesky(2.0 * c2 * B + torch.diag(self.pi))
        else:
            self.factor = torch.linalg.cholesky(head_hessian(W, data, w, l, delta, alpha))

    def solve(self, G):
        if not self.reduced:
            return torch.cholesky_solve(G.reshape(-1, 1), self.factor).reshape(self.shape)
        minus = (G[:, 0] - G[:, 1]) / 2.0  # coefficients along (1, -1) and (1, 1)
        plus = (G[:, 0] + G[:, 1]) / 2.0
        x_minus = torch.cholesky_solve(minus[:, None], self.factor)[:, 0]
        x_plus = plus / self.pi
        return torch.stack([x_minus + x_plus, x_plus - x_minus], 1)


@torch.no_grad()
def fit_head(data, w, l, delta, alpha, start=None, factor=None, max_iter=100, tol=1e-9):
    """Minimiser of :func:`head_loss`: Newton's method with backtracking, float64.

    The problem is convex and small (``(n_features + 1) * n_classes``
    coordinates), so Newton converges in a few steps and the minimiser is exact
    to ``tol``. ``start``, ``factor``: the previous hyper-step's head and its
    :class:`HeadSystem`, used until a step fails to shrink the
    gradient tenfold (the chord method); from there one or two steps usually
    suffice.
    """
    K = w.shape[0]
    W = (torch.zeros(data.F.shape[1], K, dtype=data.F.dtype, device=data.F.device)
         if start is None else start.detach().clone())
    w, l, delta = (t.detach().to(W.dtype) for t in (w, l, delta))
    value = head_loss(W, data, w, l, delta, alpha)
    previous = np.inf
    for _ in range(max_iter):
        grad = head_gradient(W, data, w, l, delta, alpha)
        size = float(grad.abs().max())
        if size < tol:
            break
        if factor is None or size > 0.1 * previous:
            factor = HeadSystem(W, data, w, l, delta, alpha)
        previous = size
        step = factor.solve(grad)
        decrease = float((grad * step).sum())
        t = 1.0
        while t > 1e-10:
            trial = head_loss(W - t * step, data, w, l, delta, alpha)
            if trial <= value - 1e-4 * t * decrease:
                break
            t *= 0.5
        W, value = W - t * step, trial
    return W


class ErrorGuard:
    """The error budget of a fairness search, and its smooth penalty.

    A DEO is lowest for a constant predictor, so the DEO search is a
    constrained one: lower the DEO while the group-balanced error stays within
    ``tolerance`` of the initial loss's. The trajectory follows the Lagrangian
    ``objective + multiplier * group-balanced CE``; the multiplier rises while
    a step's validation group-balanced error exceeds the budget and falls while
    it is inside (dual ascent, in units of ``tolerance``), so the path stays
    near the admissible region instead of drifting out of it (on a benchmark
    table only 0-3 of 40 unconstrained steps stayed inside it).

    Parameters
    ----------
    n_classes, n_groups : int
    tolerance : float >= 0
        Allowed rise of the validation group-balanced error.
    """

    def __init__(self, n_classes, n_groups, tolerance):
        self.n_classes, self.n_groups, self.tolerance = n_classes, n_groups, tolerance
        self._error = make_objective("group_balanced", n_classes, n_groups, kind="error")

    def smooth(self, logits, y, groups):
        return group_balanced_cross_entropy(logits, y, groups, self.n_classes, self.n_groups)

    def error(self, logits, y, groups):
        """Validation group-balanced 0-1 error (mean over the non-empty cells)."""
        return float(self._error(logits, y, groups))

    def update(self, multiplier, error, budget):
        """The multiplier after a step whose validation error is ``error``."""
        violation = (error - budget) / max(self.tolerance, 0.01)
        return max(0.0, multiplier + MULTIPLIER_STEP * violation)


class HeadLossSearch:
    """Search of the head's per-cell loss on inner out-of-fold predictions.

    Parameters
    ----------
    folds : list of HeadData
        Each outer fold's features from the body that did not train on it.
    w, l, delta : torch.Tensor of shape (n_classes, n_groups)
        The initial loss (float64).
    parts : tuple of {"w", "l", "delta"}
        The searched parts; ``w`` is searched as its logarithm.
    objective : callable (logits, y, groups) -> scalar tensor
        The smooth validation objective, on the pooled inner out-of-fold logits.
    random_state : int
        Seeds the inner folds.
    guard : ErrorGuard or None, default=None
        The error budget of the search (``objective="deo"``): candidates
        outside it are not admissible (``admissible``).
    track_budget : bool, default=True
        Whether the trajectories track the guard's budget (its Lagrangian).

    Attributes
    ----------
    alpha_scores_ : dict of float to float
        Pooled validation cell-balanced CE of the initial loss's heads per
        penalty of ``HEAD_L2_GRID``.
    calibrated_alpha_ : float
        The penalty with the lowest of those: the initial loss's head.
    budget_ : float
        With a ``guard``: that head's pooled validation group-balanced error
        plus the guard's tolerance, the budget of every trajectory.
    """

    def __init__(self, folds, w, l, delta, parts, objective, random_state, guard=None,
                 track_budget=True):
        self.folds, self.parts, self.objective, self.guard = folds, parts, objective, guard
        self.track_budget = track_budget and guard is not None
        self.init = {"w": w, "l": l, "delta": delta}
        self.n_groups = w.shape[1]
        self.splits = []
        for j, data in enumerate(folds):
            cells = (data.y * self.n_groups + data.groups).cpu().numpy()
            n_inner = min(INNER_FOLDS, max(2, int(np.bincount(cells).max())))
            self.splits += [(data.rows(a), data.rows(b)) for a, b in inner_splits(
                cells, n_inner, random_state + j, data.F.device)]
        self.y = torch.cat([valid.y for _, valid in self.splits])
        self.groups = torch.cat([valid.groups for _, valid in self.splits])
        zero = {p: torch.zeros_like(l, dtype=torch.float64) for p in parts}
        self.initial_ = {alpha: self._candidate(zero, alpha, step=0) for alpha in HEAD_L2_GRID}
        n_classes = w.shape[0]
        self.alpha_scores_ = {alpha: float(group_balanced_cross_entropy(
            c["logits"], self.y, self.groups, n_classes, self.n_groups))
            for alpha, c in self.initial_.items()}
        self.calibrated_alpha_ = min(self.alpha_scores_, key=self.alpha_scores_.get)
        if guard is not None:
            # One budget for every penalty's trajectory: the selection compares
            # all of them with the initial loss's head.
            self.budget_ = (self.initial_[self.calibrated_alpha_]["group_balanced_error"]
                            + guard.tolerance)

    def admissible(self, candidates):
        """Indices of the candidates within the guard's budget (all without a guard)."""
        if self.guard is None:
            return np.arange(len(candidates))
        return np.array([i for i, c in enumerate(candidates)
                         if c["group_balanced_error"] <= self.budget_], dtype=int)

    def loss_of(self, theta):
        """``(w, l, delta)`` of the coordinates ``theta`` (offsets from the initial loss)."""
        w = self.init["w"] * torch.exp(theta["w"]) if "w" in theta else self.init["w"]
        l = self.init["l"] + theta["l"] if "l" in theta else self.init["l"]
        delta = self.init["delta"] + theta["delta"] if "delta" in theta else self.init["delta"]
        return w, l, delta

    def validation_logits(self, theta, alpha, starts=None):
        """Heads fitted at ``theta`` on each inner training part, their validation logits."""
        w, l, delta = self.loss_of(theta)
        heads, logits = [], []
        for i, (train, valid) in enumerate(self.splits):
            W = fit_head(train, w, l, delta, alpha, *(None, None) if starts is None else starts[i])
            heads.append(W)
            logits.append(valid.F @ W)
        return heads, logits

    def _candidate(self, theta, alpha, step, starts=None):
        heads, logits = self.validation_logits(theta, alpha, starts)
        logits = torch.cat(logits).detach()
        candidate = {"step": step, "alpha": alpha, "theta": {k: v.detach().clone()
                                                             for k, v in theta.items()},
                     "objective": float(self.objective(logits, self.y, self.groups)),
                     "logits": logits, "heads": heads}
        if self.guard is not None:
            candidate["group_balanced_error"] = self.guard.error(logits, self.y, self.groups)
        return candidate

    def hypergradient(self, theta, heads, alpha, multiplier=0.0):
        """Exact gradient of the pooled validation objective in ``theta`` (implicit function).

        With a ``guard``, the objective is its Lagrangian
        ``objective + multiplier * guard.smooth``. Returns the objective, the
        gradient per part, and each head's :class:`HeadSystem` (the next
        hyper-step's fits start from them).
        """
        leaves = [W.clone().requires_grad_(True) for W in heads]
        logits = torch.cat([valid.F @ W for W, (_, valid) in zip(leaves, self.splits)])
        value = self.objective(logits, self.y, self.groups)
        if multiplier:
            value = value + multiplier * self.guard.smooth(logits, self.y, self.groups)
        outer = torch.autograd.grad(value, leaves)
        theta = {k: v.detach().clone().requires_grad_(True) for k, v in theta.items()}
        total = {k: torch.zeros_like(v) for k, v in theta.items()}
        factors = []
        for W, g, (train, _) in zip(heads, outer, self.splits):
            w, l, delta = self.loss_of(theta)
            factor = HeadSystem(W, train, w.detach(), l.detach(), delta.detach(), alpha)
            factors.append(factor)
            v = factor.solve(g)
            W = W.clone().requires_grad_(True)
            grad_W = torch.autograd.grad(head_loss(W, train, w, l, delta, alpha), W,
                                         create_graph=True)[0]
            mixed = torch.autograd.grad((grad_W * v).sum(), list(theta.values()),
                                        allow_unused=True)
            for k, m in zip(theta, mixed):
                if m is not None:
                    total[k] -= m
        return float(value.detach()), total, factors

    def trajectory(self, alpha, lr=HEAD_LR):
        """A resumable Adam run of the coordinates at penalty ``alpha`` (see :class:`Trajectory`)."""
        return Trajectory(self, alpha, lr)

    def screened_run(self, score, steps=HEAD_STEPS, screen=SCREEN_STEPS):
        """Screen every penalty of ``HEAD_L2_GRID``, then continue at the best one.

        ``score(candidates)``: the lowest validation error among a run's
        searched candidates (``inf`` when none is admissible). Returns the
        chosen penalty, its run's searched candidates (steps 1 to ``steps``)
        and the score of every penalty after ``screen`` steps.
        """
        runs = {alpha: self.trajectory(alpha).advance(screen) for alpha in HEAD_L2_GRID}
        scores = {alpha: score(run.candidates[1:]) for alpha, run in runs.items()}
        alpha = min(scores, key=scores.get)
        return alpha, runs[alpha].advance(steps - screen).candidates[1:], scores

    def final_heads(self, theta, alpha):
        """Each outer fold's head fitted on the whole fold with the loss ``theta``."""
        w, l, delta = self.loss_of(theta)
        return [fit_head(data, w, l, delta, alpha) for data in self.folds]


class Trajectory:
    """Adam on the loss coordinates at one head penalty; ``candidates[0]`` is the initial loss.

    Each candidate: ``step``, ``alpha``, ``theta`` (dict of tensors), ``objective``
    (smooth, pooled; without the guard's term), ``logits`` (pooled inner
    out-of-fold, in the order of ``search.y``), ``heads``, and with a guard
    ``group_balanced_error`` (of those logits). ``multiplier``: the
    guard's Lagrange multiplier for the next step (0 without a tracked guard).
    """

    def __init__(self, search, alpha, lr):
        self.search, self.alpha = search, alpha
        shape, device = search.init["l"].shape, search.init["l"].device
        self.theta = {p: torch.zeros(shape, dtype=torch.float64, device=device,
                                     requires_grad=True) for p in search.parts}
        self.optimizer = torch.optim.Adam(list(self.theta.values()), lr=lr)
        self.candidates = [search.initial_[alpha]]
        self.multiplier = 0.0

    def advance(self, n_steps):
        """Take ``n_steps`` hyper-steps, appending one candidate after each."""
        guard = self.search.guard if self.search.track_budget else None
        for _ in range(n_steps):
            last = self.candidates[-1]
            _, grads, factors = self.search.hypergradient(last["theta"], last["heads"],
                                                          self.alpha, self.multiplier)
            self.optimizer.zero_grad()
            for k, v in self.theta.items():
                v.grad = grads[k]
            self.optimizer.step()
            self.candidates.append(self.search._candidate(
                self.theta, self.alpha, last["step"] + 1, list(zip(last["heads"], factors))))
            if guard is not None:
                self.multiplier = guard.update(
                    self.multiplier, self.candidates[-1]["group_balanced_error"],
                    self.search.budget_)
        return self


def with_head(module, data, W):
    """A copy of ``module`` whose output layer computes the head ``W`` on raw features."""
    module = copy.deepcopy(module)
    layer = output_layer(module)
    with torch.no_grad():
        weight = W[:-1] / data.scale[:, None]  # (d, K): the standardisation folded in
        bias = W[-1] - (data.mean / data.scale) @ W[:-1]
        if layer.weight.shape != weight.T.shape:
            raise ValueError(
                f"the output layer's weight has shape {tuple(layer.weight.shape)}; expected "
                f"{tuple(weight.T.shape)} (n_classes, n_features of its input)")
        layer.weight.copy_(weight.T.to(layer.weight.dtype))
        if layer.bias is None:
            layer.bias = nn.Parameter(bias.to(layer.weight.dtype))
        else:
            layer.bias.copy_(bias.to(layer.bias.dtype))
    return module


class CrossFittedEnsemble(nn.Module):
    """Mean of the logits of the fold networks (each with its cross-fitted head)."""

    def __init__(self, modules):
        super().__init__()
        self.folds = nn.ModuleList(modules)

    def forward(self, X):
        return torch.stack([m(X) for m in self.folds]).mean(0)


def group_probe_auc(folds, n_groups, random_state):
    """How well the heads' features tell the groups apart: held-out ROC AUC of a linear probe.

    A per-cell ``l`` acts as a per-group threshold only as far as the head can
    tell the groups apart from its features; where it cannot, the DEO falls
    only through global trades that cost error (``docs/benchmarks.md``, "How
    much of the group the features carry": the DEO bar was met on every set
    with a probe AUC of 0.98-1.0, on neither of those at 0.59 and 0.75). On
    each outer fold, a linear softmax probe of the group (Newton, penalty
    ``PROBE_L2``) is fit on inner folds of its head features and scored on
    the held-out rows; returns the mean over the folds of the (one-vs-rest,
    macro over the groups, for more than two) ROC AUC, 0.5 meaning no
    information, or NaN when no fold has two groups with enough rows.
    """
    from sklearn.metrics import roc_auc_score

    aucs = []
    for j, data in enumerate(folds):
        g = data.groups.cpu().numpy()
        counts = np.bincount(g, minlength=n_groups)
        present = np.flatnonzero(counts)
        if len(present) < 2 or counts[present].min() < 2:
            continue
        probe = HeadData(data.F[:, :-1], data.groups, torch.zeros_like(data.groups))
        w = torch.ones((n_groups, 1), dtype=torch.float64, device=data.F.device)
        zero = torch.zeros_like(w)
        scores = torch.zeros(len(g), n_groups, dtype=torch.float64, device=data.F.device)
        for a, b in inner_splits(g, int(min(INNER_FOLDS, counts[present].min())),
                                 random_state + j, data.F.device):
            scores[b] = torch.softmax(probe.F[b] @ fit_head(probe.rows(a), w, zero, zero,
                                                             PROBE_L2), 1)
        scores = scores.cpu().numpy()
        # Macro one-vs-rest over the groups present (with two, both terms are the AUC).
        aucs.append(np.mean([roc_auc_score(g == k, scores[:, k]) for k in present]))
    return float(np.mean(aucs)) if aucs else float("nan")


def validation_scores(logits, y, groups, n_classes, n_groups):
    """0-1 figures of pooled validation logits: what a kept loss gained, and at what cost.

    ``error`` and ``balanced_error``; with groups (``n_groups`` not None) also
    ``group_balanced_error``, ``worst_group_error`` and ``deo`` (the DEO of the
    cell errors, as :func:`~sklearn_autobalance.metrics.difference_of_equal_opportunity`).
    """
    names = {"error": ("accuracy", {}), "balanced_error": ("balanced", {})}
    if n_groups is not None:
        names.update(group_balanced_error=("group_balanced", {}),
                     worst_group_error=("worst_group", {}),
                     deo=("deo", {"fairness_weight": 1.0}))
    return {key: float(make_objective(name, n_classes, n_groups, kind="error", **kw)(
        logits, y, groups)) for key, (name, kw) in names.items()}


def soft_errors(logits, y):
    """Each sample's expected 0-1 error ``1 - p(y | x)``."""
    return 1.0 - F.softmax(logits, 1).gather(1, y[:, None])[:, 0]
