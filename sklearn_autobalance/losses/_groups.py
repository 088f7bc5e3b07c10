"""Group losses: the CE_deo proxy, online group DRO, and training-loss blends."""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._base import BaseLoss, cell_index, cell_means, check_positive


def cell_cross_entropy(logits, y, groups, n_classes, n_groups):
    """Mean CE per (class, group) cell, shape (K, G), and the mask of non-empty cells."""
    ce = F.cross_entropy(logits, y, reduction="none")
    means, present = cell_means(ce, cell_index(y, groups, n_groups), n_classes * n_groups)
    return means.view(n_classes, n_groups), present.view(n_classes, n_groups)


def deo_gap(cell_values, present):
    r"""Sum over classes of (max_g - min_g) of a (K, G) table over its non-empty cells.

    The K-class, G-group form of the symmetric DEO of Li et al. (2021, eq. 4.1):
    with two classes and two groups it is
    :math:`|E_{+,1} - E_{+,2}| + |E_{-,1} - E_{-,2}|`. Classes seen in fewer than
    two groups contribute nothing.
    """
    inf = torch.finfo(cell_values.dtype).max
    high = torch.where(present, cell_values, -inf).amax(dim=1)
    low = torch.where(present, cell_values, inf).amin(dim=1)
    comparable = present.sum(dim=1) >= 2
    return torch.where(comparable, high - low, 0.0).sum()


def _check_batch_reduction(loss):
    if loss.reduction != "mean":
        raise ValueError(
            f"{type(loss).__name__} is a batch-level loss (a function of the batch's cell "
            f"means): reduction={loss.reduction!r} and per-sample weights are not available"
        )


class DEOCrossEntropy(BaseLoss):
    r"""CE_deo, the differentiable proxy of the DEO (Li et al. 2021, section 4).

    .. math::

        \mathcal{L}_{deo} = \sum_k \bigl(\max_g L_{k g} - \min_g L_{k g}\bigr),
        \qquad L_{k g} = \text{mean CE over the batch's samples of cell } (k, g)

    A batch-level loss (``reduction="none"`` is not available). Alone it is
    minimised by a constant prediction, so train with a blend
    (:class:`BlendedLoss`) that keeps some cross-entropy.

    Parameters
    ----------
    counts : array-like of shape (n_classes, n_groups)

    Examples
    --------
    >>> import torch
    >>> from sklearn_autobalance.losses import DEOCrossEntropy
    >>> loss = DEOCrossEntropy([[10, 10], [10, 10]])
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    >>> round(loss(logits, torch.tensor([0, 0]), torch.tensor([0, 1])).item(), 4)
    0.5662
    """

    requires_groups = True
    #: A function of the whole batch: no per-sample loss, hence no sample weights.
    batch_level = True

    def __init__(self, counts):
        super().__init__(counts, reduction="mean")

    def forward(self, logits, y, groups=None):
        self._check_groups(groups)
        _check_batch_reduction(self)
        cells, present = cell_cross_entropy(logits, y, groups, self.n_classes, self.n_groups)
        return deo_gap(cells, present)


class GroupDROLoss(BaseLoss):
    r"""Online group DRO (Sagawa et al. 2020) over (class, group) cells.

    Keeps a distribution ``q`` over cells; at each training call
    :math:`q_c \leftarrow q_c e^{\eta_q L_c}` (renormalised) for the cells in
    the batch, and the loss is :math:`\sum_c q_c L_c` with ``L_c`` the batch's
    mean CE in cell ``c``. ``q`` only moves while the module is in training mode.

    Parameters
    ----------
    counts : array-like of shape (n_classes, n_groups)
    eta_q : float, default=0.01
        Step size of the exponentiated-gradient update of ``q``.

    Attributes
    ----------
    q : torch.Tensor of shape (n_classes * n_groups,)
        ``exp(log_q)``; the buffer ``log_q`` holds the state.

    References
    ----------
    S. Sagawa, P. W. Koh, T. B. Hashimoto, P. Liang. Distributionally robust
    neural networks for group shifts. ICLR 2020.

    Examples
    --------
    >>> import torch
    >>> from sklearn_autobalance.losses import GroupDROLoss
    >>> loss = GroupDROLoss([[10, 10], [10, 0]])
    >>> loss.q.double().numpy().round(4).tolist()
    [0.3333, 0.3333, 0.3333, 0.0]
    """

    requires_groups = True
    #: A function of the whole batch: no per-sample loss, hence no sample weights.
    batch_level = True

    def __init__(self, counts, *, eta_q=0.01):
        super().__init__(counts, reduction="mean")
        self.eta_q = check_positive(eta_q, "eta_q", strict=False)
        nonempty = self.counts.reshape(-1) > 0
        # q is kept as log q: the multiplicative update then cannot underflow
        # every cell to 0 after large loss gaps. Empty cells have log q = -inf.
        log_q = np.where(nonempty, -np.log(nonempty.sum()), -np.inf)
        self.register_buffer("log_q", torch.as_tensor(log_q, dtype=torch.float32))

    @property
    def q(self):
        return torch.exp(self.log_q)

    def forward(self, logits, y, groups=None):
        self._check_groups(groups)
        _check_batch_reduction(self)
        cells, present = cell_cross_entropy(logits, y, groups, self.n_classes, self.n_groups)
        cells, present = cells.reshape(-1), present.reshape(-1)
        if self.training:
            with torch.no_grad():
                step = torch.where(present, self.eta_q * cells.detach(), 0.0)
                log_q = self.log_q + step.to(self.log_q.dtype)
                self.log_q.copy_(log_q - torch.logsumexp(log_q, 0))
        return (self.q.to(cells.dtype) * cells).sum()


class BlendedLoss(nn.Module):
    r"""Training-loss blend :math:`(1 - \lambda) L_{base} + \lambda L_{reg}`.

    The group baselines of Li et al. (2021, Table 3 and Figure 5) blend CE with a
    group regulariser (CE_deo, group-balanced CE, Group-LA).

    Parameters
    ----------
    base, regularizer : nn.Module
        Losses called as ``loss(logits, y, groups)``.
    lam : float in [0, 1]

    Examples
    --------
    >>> import torch
    >>> from sklearn_autobalance.losses import BlendedLoss, CrossEntropy, DEOCrossEntropy
    >>> counts = [[10, 10], [10, 10]]
    >>> blend = BlendedLoss(CrossEntropy(counts), DEOCrossEntropy(counts), lam=0.0)
    >>> round(blend(torch.zeros(2, 2), torch.tensor([0, 1]), torch.tensor([0, 1])).item(), 4)
    0.6931
    """

    requires_groups = True

    def __init__(self, base, regularizer, lam):
        super().__init__()
        self.base, self.regularizer = base, regularizer
        self.lam = check_positive(lam, "lam", strict=False, upper=1.0)

    @property
    def batch_level(self):
        """True when a part is a batch-level loss (then no per-sample loss exists)."""
        return any(getattr(loss, "batch_level", False) for loss in (self.base, self.regularizer))

    @property
    def reduction(self):
        """The parts' reduction; setting it sets both (``"none"``: per-sample blend)."""
        return self.base.reduction

    @reduction.setter
    def reduction(self, value):
        for loss in (self.base, self.regularizer):
            loss.reduction = value

    def set_epoch(self, epoch):
        for loss in (self.base, self.regularizer):
            if hasattr(loss, "set_epoch"):
                loss.set_epoch(epoch)

    def forward(self, logits, y, groups=None):
        return ((1.0 - self.lam) * self.base(logits, y, groups)
                + self.lam * self.regularizer(logits, y, groups))
