"""The parametric cross-entropy family (w, l, Delta) and its fixed members."""

import numpy as np
import torch
import torch.nn.functional as F

from ._base import (
    BaseLoss,
    balancing_weights,
    check_positive,
    class_counts,
    class_priors,
    reduce_loss,
)


def delta_from_multiplier(multiplier, delta_scale=2.0):
    """Raw Delta whose effective multiplier ``delta_scale * sigmoid(Delta)`` is ``multiplier``."""
    m = np.asarray(multiplier, dtype=np.float64) / delta_scale
    if np.any(m <= 0) or np.any(m >= 1):
        raise ValueError(f"multipliers must lie in (0, {delta_scale}); got {multiplier}")
    return np.log(m) - np.log1p(-m)


def _per_sample(table, groups):
    """Rows of a (K,) or (K, G) table for each sample: (1, K) or (N, K)."""
    if table.ndim == 1:
        return table.unsqueeze(0)
    return table[:, groups].T


def parametric_cross_entropy(
    logits, y, w, l, delta, groups=None, *, delta_scale=2.0, reduction="mean"
):
    """Functional form of :class:`ParametricCrossEntropy`.

    ``w``, ``l`` and ``delta`` are tensors of shape ``(K,)`` or ``(K, G)``; they
    may require gradients (the search differentiates through them).
    """
    dtype = logits.dtype
    w, l, delta = (t.to(dtype) for t in (w, l, delta))
    if w.ndim == 2 and groups is None:
        raise ValueError("(class, group) parameters need `groups`")
    # Adding a constant to every l_k (within a group) changes nothing: centre l
    # so that a learned l cannot drift along that direction.
    l = l - l.mean(dim=0, keepdim=True)
    multiplier = delta_scale * torch.sigmoid(delta)
    z = _per_sample(multiplier, groups) * logits + _per_sample(l, groups)
    ce = F.cross_entropy(z, y, reduction="none")
    weight = w[y] if w.ndim == 1 else w[y, groups]
    return reduce_loss(weight * ce, reduction)


class ParametricCrossEntropy(BaseLoss):
    r"""Parametric cross-entropy of AutoBalance (Li et al. 2021, eq. 2.2 and 4.2).

    .. math::

        z_k = 2\,\sigma(\Delta_k)\, f_k(x) + (l_k - \bar l), \qquad
        \ell(x, y) = - w_y \log \frac{e^{z_y}}{\sum_k e^{z_k}}

    Per class, or per (class, group) cell when built from 2-D counts (then
    ``w_{y g}``, ``l_{k g}`` and ``\Delta_{k g}`` use the sample's group ``g``).
    The multiplicative adjustment goes through a sigmoid as in the paper, scaled
    by ``delta_scale`` (default 2) so that ``Delta = 0`` is the identity and the
    family contains plain cross-entropy exactly. ``l`` is centred (within each
    group) because the loss is invariant to a common shift of the logits.

    Special cases: CE (``w = 1, l = 0, Delta = 0``), balanced CE
    (``w_y = 1 / (K \pi_y)``), LA (``l = \tau \log \pi``), CDT
    (``2\sigma(\Delta_y) = (n_y / n_{max})^\gamma``) and VS (both).

    Parameters
    ----------
    counts : array-like of shape (n_classes,) or (n_classes, n_groups)
        Training samples per class or per (class, group) cell.
    w, l, delta : array-like of the shape of ``counts``, default=None
        Initial weights, additive and (raw) multiplicative adjustments.
        Default: ones, zeros, zeros (plain cross-entropy). 1-D values are
        broadcast over groups.
    delta_scale : float, default=2.0
        Upper bound of the multiplier ``delta_scale * sigmoid(Delta)``.
    reduction : {"mean", "sum", "none"}, default="mean"
        The mean is over samples (``sum_i w_{y_i} ce_i / N``), not over weights.

    Attributes
    ----------
    w, l, delta : torch.Tensor
        Plain tensors (buffers, so they follow ``.to(device)`` but are not
        ``nn.Parameter`` and no optimiser of the network picks them up). Call
        ``requires_grad_()`` on them to optimise them.

    References
    ----------
    M. Li, X. Zhang, C. Thrampoulidis, J. Chen, S. Oymak. AutoBalance: Optimized
    Loss Functions for Imbalanced Data. NeurIPS 2021.

    Examples
    --------
    >>> import torch
    >>> from sklearn_autobalance.losses import ParametricCrossEntropy
    >>> loss = ParametricCrossEntropy([90, 10])
    >>> logits, y = torch.tensor([[2.0, -1.0]]), torch.tensor([0])
    >>> bool(torch.isclose(loss(logits, y), torch.nn.functional.cross_entropy(logits, y)))
    True
    """

    def __init__(self, counts, *, w=None, l=None, delta=None, delta_scale=2.0, reduction="mean"):
        super().__init__(counts, reduction=reduction)
        self.delta_scale = check_positive(delta_scale, "delta_scale")
        shape = self.counts.shape
        self.register_buffer("w", self._param(w, 1.0, shape, "w"))
        self.register_buffer("l", self._param(l, 0.0, shape, "l"))
        self.register_buffer("delta", self._param(delta, 0.0, shape, "delta"))

    @staticmethod
    def _param(value, default, shape, name):
        if value is None:
            return torch.full(shape, default, dtype=torch.float32)
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 1 and len(shape) == 2 and arr.shape[0] == shape[0]:
            arr = np.repeat(arr[:, None], shape[1], axis=1)
        if arr.shape != shape:
            raise ValueError(f"{name} must have shape {shape}; got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite")
        return torch.as_tensor(arr, dtype=torch.float32)

    def forward(self, logits, y, groups=None):
        if self.n_groups is not None and groups is None:
            raise ValueError(
                f"{type(self).__name__} has (class, group) parameters: call loss(logits, y, groups)"
            )
        return parametric_cross_entropy(
            logits, y, self.w, self.l, self.delta,
            groups if self.n_groups is not None else None,
            delta_scale=self.delta_scale, reduction=self.reduction,
        )

    def effective_params(self):
        """The loss as applied: ``w``, centred ``l`` and the multiplier, as NumPy arrays."""
        with torch.no_grad():
            l = self.l - self.l.mean(dim=0, keepdim=True)
            mult = self.delta_scale * torch.sigmoid(self.delta)
        return {
            "w": self.w.detach().cpu().double().numpy(),
            "l": l.cpu().double().numpy(),
            "delta": mult.cpu().double().numpy(),
        }


def _cell_frequencies(counts):
    """pi_{k g} over the 2-D counts, or pi_k for 1-D counts."""
    return counts / counts.sum()


def _log_frequencies(counts):
    # An empty cell gets the frequency of a single sample: log 0 would make the
    # logit of that class -inf for the group, and the cell never trains anyway.
    freq = _cell_frequencies(np.maximum(counts, 1.0 if counts.ndim == 2 else 0.0))
    return np.log(freq)


class CrossEntropy(ParametricCrossEntropy):
    """Plain softmax cross-entropy, the ``w = 1, l = 0, Delta = 0`` member.

    Parameters
    ----------
    counts : array-like of shape (n_classes,) or (n_classes, n_groups)
    reduction : {"mean", "sum", "none"}, default="mean"

    Examples
    --------
    >>> import torch
    >>> from sklearn_autobalance.losses import CrossEntropy
    >>> CrossEntropy([5, 5])(torch.zeros(1, 2), torch.tensor([1])).item()  # log 2
    0.6931...
    """

    def __init__(self, counts, *, reduction="mean"):
        super().__init__(class_counts(counts), reduction=reduction)


class WeightedCrossEntropy(ParametricCrossEntropy):
    r"""Class-weighted cross-entropy.

    ``weighting="inverse"``: :math:`w_y = 1 / (K \pi_y)` (balanced CE: the sample
    mean estimates the mean over classes of the class-conditional CE).
    ``weighting="effective"``: Cui et al. (2019),
    :math:`w_y \propto (1 - \beta) / (1 - \beta^{n_y})`. Both are normalised so
    that the expected weight under the training distribution is 1.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
    weighting : {"inverse", "effective"}, default="inverse"
    beta : float in [0, 1), default=0.9999
        Effective-number parameter.
    reduction : {"mean", "sum", "none"}, default="mean"

    References
    ----------
    Y. Cui, M. Jia, T.-Y. Lin, Y. Song, S. Belongie. Class-Balanced Loss Based on
    Effective Number of Samples. CVPR 2019.

    Examples
    --------
    >>> from sklearn_autobalance.losses import WeightedCrossEntropy
    >>> WeightedCrossEntropy([75, 25]).w.double().numpy().round(4).tolist()
    [0.6667, 2.0]
    """

    def __init__(self, counts, *, weighting="inverse", beta=0.9999, reduction="mean"):
        counts = class_counts(counts)
        super().__init__(counts, reduction=reduction)
        self.w.copy_(torch.as_tensor(class_weights(self.counts, weighting, beta)))


def class_weights(counts, weighting="inverse", beta=0.9999):
    """Per-class weights, normalised so that ``sum_k pi_k w_k = 1``."""
    counts = np.asarray(counts, dtype=np.float64)
    pi = class_priors(counts)
    if weighting == "inverse":
        return balancing_weights(pi)
    if weighting == "effective":
        beta = check_positive(beta, "beta", strict=False, upper=1.0, upper_strict=True)
        raw = (1.0 - beta) / (-np.expm1(counts * np.log(beta))) if beta > 0 else np.ones_like(pi)
        return raw / np.sum(pi * raw)
    raise ValueError(f"weighting must be 'inverse' or 'effective'; got {weighting!r}")


class LogitAdjustedLoss(ParametricCrossEntropy):
    r"""Logit-adjusted loss (Menon et al. 2021): :math:`z_k = f_k + \tau \log \pi_k`.

    Fisher-consistent for the balanced error at ``tau = 1``; ``tau = 0`` is CE.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
    tau : float, default=1.0
    reduction : {"mean", "sum", "none"}, default="mean"

    References
    ----------
    A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit, S. Kumar.
    Long-tail learning via logit adjustment. ICLR 2021.

    Examples
    --------
    >>> import torch
    >>> from sklearn_autobalance.losses import LogitAdjustedLoss
    >>> loss = LogitAdjustedLoss([90, 10], tau=1.0)
    >>> round(loss(torch.zeros(1, 2), torch.tensor([1])).item(), 4)  # -log 0.1
    2.3026
    """

    def __init__(self, counts, *, tau=1.0, reduction="mean"):
        counts = class_counts(counts)
        tau = check_positive(tau, "tau", strict=False)
        super().__init__(counts, reduction=reduction)
        self.tau = tau
        self.l.copy_(torch.as_tensor(tau * np.log(class_priors(self.counts))))


def _multipliers(counts, gamma):
    counts = np.asarray(counts, dtype=np.float64)
    return (counts / counts.max()) ** gamma


class CDTLoss(ParametricCrossEntropy):
    r"""Class-dependent temperatures (Ye et al. 2020): :math:`z_k = (n_k / n_{max})^\gamma f_k`.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
    gamma : float, default=0.3
    reduction : {"mean", "sum", "none"}, default="mean"

    References
    ----------
    H.-J. Ye, H.-Y. Chen, D.-C. Zhan, W.-L. Chao. Identifying and compensating
    for feature deviation in imbalanced deep learning. arXiv 2001.01385, 2020.

    Examples
    --------
    >>> from sklearn_autobalance.losses import CDTLoss
    >>> CDTLoss([100, 10], gamma=0.3).effective_params()["delta"].round(3).tolist()
    [1.0, 0.501]
    """

    def __init__(self, counts, *, gamma=0.3, reduction="mean"):
        counts = class_counts(counts)
        gamma = check_positive(gamma, "gamma", strict=False)
        super().__init__(counts, reduction=reduction)
        self.gamma = gamma
        self.delta.copy_(torch.as_tensor(delta_from_multiplier(_multipliers(self.counts, gamma))))


class VSLoss(ParametricCrossEntropy):
    r"""Vector-scaling loss (Kini et al. 2021).

    .. math:: z_k = (n_k / n_{max})^\gamma f_k + \tau \log \pi_k

    ``gamma = 0`` gives the LA loss, ``tau = 0`` the CDT loss.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
    gamma : float, default=0.2
    tau : float, default=1.0
    reduction : {"mean", "sum", "none"}, default="mean"

    References
    ----------
    G. R. Kini, O. Paraskevas, S. Oymak, C. Thrampoulidis. Label-imbalanced and
    group-sensitive classification under overparameterization. NeurIPS 2021.

    Examples
    --------
    >>> from sklearn_autobalance.losses import VSLoss
    >>> VSLoss([100, 10], gamma=0.0, tau=1.0).effective_params()["delta"].tolist()
    [1.0, 1.0]
    """

    def __init__(self, counts, *, gamma=0.2, tau=1.0, reduction="mean"):
        counts = class_counts(counts)
        gamma = check_positive(gamma, "gamma", strict=False)
        tau = check_positive(tau, "tau", strict=False)
        super().__init__(counts, reduction=reduction)
        self.gamma, self.tau = gamma, tau
        self.delta.copy_(torch.as_tensor(delta_from_multiplier(_multipliers(self.counts, gamma))))
        self.l.copy_(torch.as_tensor(tau * np.log(class_priors(self.counts))))


class GroupBalancedCrossEntropy(ParametricCrossEntropy):
    r"""Cross-entropy weighted by inverse (class, group) cell frequency.

    :math:`w_{yg} = 1 / (C \pi_{yg})` with ``C`` the number of non-empty cells:
    the sample mean estimates the mean over cells of the cell-conditional CE.

    Parameters
    ----------
    counts : array-like of shape (n_classes, n_groups)
    reduction : {"mean", "sum", "none"}, default="mean"

    Examples
    --------
    >>> from sklearn_autobalance.losses import GroupBalancedCrossEntropy
    >>> GroupBalancedCrossEntropy([[30, 10], [10, 50]]).w.double().numpy().round(4).tolist()
    [[0.8333, 2.5], [2.5, 0.5]]
    """

    requires_groups = True

    def __init__(self, counts, *, reduction="mean"):
        super().__init__(counts, reduction=reduction)
        self.w.copy_(torch.as_tensor(balancing_weights(_cell_frequencies(self.counts))))


class GroupLogitAdjustedLoss(ParametricCrossEntropy):
    r"""Group logit adjustment: :math:`z_k = f_k + \tau \log \pi_{k g}` for a sample of group g.

    Within a group this is LA with the group's class frequencies
    (``log pi_{kg} = log P(k | g) + const``). Empty cells count as one sample.

    Parameters
    ----------
    counts : array-like of shape (n_classes, n_groups)
    tau : float, default=1.0
    reduction : {"mean", "sum", "none"}, default="mean"

    Examples
    --------
    >>> from sklearn_autobalance.losses import GroupLogitAdjustedLoss
    >>> GroupLogitAdjustedLoss([[30, 10], [10, 50]]).n_groups
    2
    """

    requires_groups = True

    def __init__(self, counts, *, tau=1.0, reduction="mean"):
        tau = check_positive(tau, "tau", strict=False)
        super().__init__(counts, reduction=reduction)
        self.tau = tau
        self.l.copy_(torch.as_tensor(tau * _log_frequencies(self.counts)))
