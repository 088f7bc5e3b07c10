"""Fixed imbalance losses outside the parametric family: LDAM, focal, GLA, GCA."""

import numpy as np
import torch
import torch.nn.functional as F

from ._base import BaseLoss, check_positive, class_counts, class_priors, reduce_loss
from ._parametric import class_weights


class _ClassLoss(BaseLoss):
    """A class-level loss: 2-D (class, group) counts are summed over groups."""

    def __init__(self, counts, *, reduction="mean"):
        super().__init__(class_counts(counts), reduction=reduction)


class LDAMLoss(_ClassLoss):
    r"""Label-distribution-aware margin loss (Cao et al. 2019), optionally with DRW.

    .. math::

        \ell(x, y) = - w_y \log \frac{e^{s (f_y - m_y)}}
            {e^{s (f_y - m_y)} + \sum_{k \ne y} e^{s f_k}},
        \qquad m_y = \frac{C}{n_y^{1/4}}

    with ``C`` chosen so that the largest margin is ``max_margin``. With deferred
    re-weighting (DRW), ``w = 1`` until epoch ``drw_epoch`` and the
    effective-number weights (``beta = 0.9999``) afterwards; the training loop
    announces epochs through :meth:`set_epoch`.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
    max_margin : float, default=0.5
    scale : float, default=1.0
        The logit scale ``s``. Cao et al. use ``s = 30`` with a normalised
        (cosine) last layer; on the raw logits of an ordinary network ``s = 1``
        is the matching choice.
    drw_epoch : int or None, default=None
        First epoch (0-based) with re-weighting; None disables DRW.
    drw_beta : float, default=0.9999
    reduction : {"mean", "sum", "none"}, default="mean"

    References
    ----------
    K. Cao, C. Wei, A. Gaidon, N. Arechiga, T. Ma. Learning imbalanced datasets
    with label-distribution-aware margin loss. NeurIPS 2019.

    Examples
    --------
    >>> from sklearn_autobalance.losses import LDAMLoss
    >>> LDAMLoss([625, 16]).margins.tolist()
    [0.2, 0.5]
    """

    def __init__(
        self, counts, *, max_margin=0.5, scale=1.0, drw_epoch=None, drw_beta=0.9999,
        reduction="mean",
    ):
        super().__init__(counts, reduction=reduction)
        self.max_margin = check_positive(max_margin, "max_margin", strict=False)
        self.scale = check_positive(scale, "scale")
        if drw_epoch is not None and (isinstance(drw_epoch, bool) or int(drw_epoch) != drw_epoch
                                      or drw_epoch < 0):
            raise ValueError(f"drw_epoch must be a non-negative int or None; got {drw_epoch!r}")
        self.drw_epoch = drw_epoch
        raw = self.counts ** -0.25
        self.register_buffer("margins", torch.as_tensor(raw * (self.max_margin / raw.max())))
        self.register_buffer(
            "drw_weights", torch.as_tensor(class_weights(self.counts, "effective", drw_beta))
        )
        self.register_buffer("weights_on", torch.tensor(drw_epoch == 0))

    def set_epoch(self, epoch):
        if self.drw_epoch is not None:
            self.weights_on.fill_(epoch >= self.drw_epoch)

    def forward(self, logits, y, groups=None):
        margins = self.margins.to(logits.dtype)
        adjusted = logits - F.one_hot(y, self.n_classes).to(logits.dtype) * margins[y, None]
        ce = F.cross_entropy(self.scale * adjusted, y, reduction="none")
        weight = torch.where(self.weights_on, self.drw_weights.to(logits.dtype)[y], 1.0)
        return reduce_loss(weight * ce, self.reduction)


class FocalLoss(_ClassLoss):
    r"""Focal loss (Lin et al. 2017): :math:`-w_y (1 - p_y)^\gamma \log p_y`.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
    gamma : float, default=2.0
        Focusing parameter; ``gamma = 0`` is cross-entropy.
    weighting : {None, "inverse", "effective"}, default=None
        Optional class weights ``w`` (the alpha of the paper), as in
        :class:`WeightedCrossEntropy`.
    reduction : {"mean", "sum", "none"}, default="mean"

    References
    ----------
    T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollar. Focal loss for dense
    object detection. ICCV 2017.

    Examples
    --------
    >>> import torch
    >>> from sklearn_autobalance.losses import FocalLoss
    >>> round(FocalLoss([5, 5], gamma=2.0)(torch.zeros(1, 2), torch.tensor([0])).item(), 4)
    0.1733
    """

    def __init__(self, counts, *, gamma=2.0, weighting=None, reduction="mean"):
        super().__init__(counts, reduction=reduction)
        self.gamma = check_positive(gamma, "gamma", strict=False)
        w = np.ones(self.n_classes) if weighting is None else class_weights(self.counts, weighting)
        self.register_buffer("w", torch.as_tensor(w))

    def forward(self, logits, y, groups=None):
        log_p = F.log_softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1)
        # (1 - p)^gamma via -expm1(log p): accurate when p is close to 1. The
        # floor keeps the derivative of x^gamma (gamma < 1) finite at x = 0.
        tiny = torch.finfo(logits.dtype).tiny
        focus = (-torch.expm1(log_p)).clamp_min(tiny) ** self.gamma
        return reduce_loss(-self.w.to(logits.dtype)[y] * focus * log_p, self.reduction)


def _comp_sum(log_p, q):
    """Phi_q of the general cross-entropy family as a function of log p_y.

    ``q = 0``: ``-log p`` (log loss). ``q`` in (0, 1): ``(1 - p^q) / q``, which
    interpolates towards the MAE-like ``1 - p`` and keeps gradients bounded.
    """
    if q == 0:
        return -log_p
    return -torch.expm1(q * log_p) / q


class GLALoss(_ClassLoss):
    r"""Generalized logit-adjusted loss (reconstruction of Cortes, Mohri, Zhong 2025).

    .. math::

        \ell(x, y) = \Phi_q\bigl(p_y\bigr), \quad
        p = \mathrm{softmax}(f + \tau \log \pi), \quad
        \Phi_q(p) = \frac{1 - p^q}{q} \ (q > 0), \quad \Phi_0(p) = -\log p

    i.e. the comp-sum loss ``Phi(sum_{k != y} exp(h_k - h_y))`` of the general
    cross-entropy family applied to logit-adjusted scores (``q = tau_paper - 1``
    in the notation of METHOD.md). ``q = 0`` is the LA loss. The paper's exact
    formulas were not available to us: this follows its public summary and is
    documented as a reconstruction.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
    q : float in [0, 1), default=0.3
    tau : float, default=1.0
        Logit-adjustment strength.
    reduction : {"mean", "sum", "none"}, default="mean"

    References
    ----------
    C. Cortes, M. Mohri, Y. Zhong. Improved Balanced Classification with
    Theoretically Grounded Loss Functions. arXiv 2512.23947, 2025.

    Examples
    --------
    >>> import torch
    >>> from sklearn_autobalance.losses import GLALoss
    >>> loss = GLALoss([90, 10], q=0.5)
    >>> round(loss(torch.zeros(1, 2), torch.tensor([1])).item(), 4)  # (1 - 0.1 ** 0.5) / 0.5
    1.3675
    """

    def __init__(self, counts, *, q=0.3, tau=1.0, reduction="mean"):
        super().__init__(counts, reduction=reduction)
        self.q = check_positive(q, "q", strict=False, upper=1.0, upper_strict=True)
        self.tau = check_positive(tau, "tau", strict=False)
        self.register_buffer("l", torch.as_tensor(self.tau * np.log(class_priors(self.counts))))

    def forward(self, logits, y, groups=None):
        z = logits + self.l.to(logits.dtype)
        log_p = F.log_softmax(z, dim=1).gather(1, y[:, None]).squeeze(1)
        return reduce_loss(_comp_sum(log_p, self.q), self.reduction)


class GCALoss(_ClassLoss):
    r"""Generalized class-aware loss (reconstruction of Cortes, Mohri, Zhong 2025).

    .. math::

        \ell(x, y) = w_y \, \Phi_q\bigl(p^{(y)}_y\bigr), \quad
        p^{(y)} = \mathrm{softmax}(f / \rho_y), \quad
        w_y = \frac{1}{K \pi_y}, \quad \rho_y = (n_{max} / n_y)^{r}

    i.e. ``w_y Phi(sum_{k != y} exp((h_k - h_y) / rho_y))``: class weights with
    class-dependent confidence margins ``rho_y`` that grow for rare classes.
    ``q`` as in :class:`GLALoss`. A documented reconstruction (see GLALoss).

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
    q : float in [0, 1), default=0.3
    margin_power : float, default=1/3
        The exponent ``r`` of ``rho_y``; 0 gives plain weighted general CE.
    reduction : {"mean", "sum", "none"}, default="mean"

    References
    ----------
    C. Cortes, M. Mohri, Y. Zhong. Improved Balanced Classification with
    Theoretically Grounded Loss Functions. arXiv 2512.23947, 2025.

    Examples
    --------
    >>> from sklearn_autobalance.losses import GCALoss
    >>> GCALoss([800, 100]).rho.tolist()
    [1.0, 2.0]
    """

    def __init__(self, counts, *, q=0.3, margin_power=1.0 / 3.0, reduction="mean"):
        super().__init__(counts, reduction=reduction)
        self.q = check_positive(q, "q", strict=False, upper=1.0, upper_strict=True)
        self.margin_power = check_positive(margin_power, "margin_power", strict=False)
        self.register_buffer("w", torch.as_tensor(class_weights(self.counts, "inverse")))
        self.register_buffer(
            "rho", torch.as_tensor((self.counts.max() / self.counts) ** self.margin_power)
        )

    def forward(self, logits, y, groups=None):
        z = logits / self.rho.to(logits.dtype)[y, None]
        log_p = F.log_softmax(z, dim=1).gather(1, y[:, None]).squeeze(1)
        return reduce_loss(self.w.to(logits.dtype)[y] * _comp_sum(log_p, self.q), self.reduction)
