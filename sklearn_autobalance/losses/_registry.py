"""Loss names used by the estimators' ``init`` parameter."""

import inspect

from ._base import check_counts
from ._fixed import FocalLoss, GCALoss, GLALoss, LDAMLoss
from ._groups import BlendedLoss, DEOCrossEntropy, GroupDROLoss
from ._parametric import (
    CDTLoss,
    CrossEntropy,
    GroupBalancedCrossEntropy,
    GroupLogitAdjustedLoss,
    LogitAdjustedLoss,
    VSLoss,
    WeightedCrossEntropy,
)

#: Regularisers of the training-loss blend ``init="blend"``.
BLEND_REGULARIZERS = ("deo", "group_balanced", "group_la")


def make_blended_loss(counts, *, regularizer="deo", lam=0.5, regularizer_params=None):
    r"""The group baseline :math:`(1 - \lambda)\,CE + \lambda\,L_{reg}` (loss ``"blend"``).

    Parameters
    ----------
    counts : array-like of shape (n_classes, n_groups)
        Training samples per (class, group) cell.
    regularizer : {"deo", "group_balanced", "group_la"}, default="deo"
        ``L_reg``: CE_deo (:class:`DEOCrossEntropy`, batch-level),
        group-balanced CE or Group-LA.
    lam : float in [0, 1], default=0.5
        Weight of the regulariser.
    regularizer_params : dict or None, default=None
        Keyword parameters of the regulariser, e.g. ``{"tau": 1.0}`` for Group-LA.

    Returns
    -------
    loss : BlendedLoss

    Examples
    --------
    >>> from sklearn_autobalance.losses._registry import make_loss
    >>> make_loss("blend", [[30, 10], [10, 50]], {"regularizer": "group_la", "lam": 0.3}).lam
    0.3
    """
    if regularizer not in BLEND_REGULARIZERS:
        raise ValueError(
            f"regularizer must be one of {BLEND_REGULARIZERS}; got {regularizer!r}")
    if regularizer_params is not None and not isinstance(regularizer_params, dict):
        raise TypeError(f"regularizer_params must be a dict or None; got {regularizer_params!r}")
    if check_counts(counts).ndim != 2:
        raise ValueError("the blended loss needs (class, group) counts of shape "
                         "(n_classes, n_groups); got 1-D class counts")
    return BlendedLoss(CrossEntropy(counts), make_loss(regularizer, counts, regularizer_params),
                       lam=lam)


LOSSES = {
    "ce": CrossEntropy,
    "balanced": WeightedCrossEntropy,
    "la": LogitAdjustedLoss,
    "cdt": CDTLoss,
    "vs": VSLoss,
    "ldam": LDAMLoss,
    "gla": GLALoss,
    "gca": GCALoss,
    "focal": FocalLoss,
    "group_balanced": GroupBalancedCrossEntropy,
    "group_la": GroupLogitAdjustedLoss,
    "group_dro": GroupDROLoss,
    "deo": DEOCrossEntropy,
    "blend": make_blended_loss,
}

#: Losses defined on (class, group) cells: they need ``sensitive_features``.
GROUP_LOSSES = ("group_balanced", "group_la", "group_dro", "deo", "blend")

#: Losses that are members of the parametric family (a search can start there).
PARAMETRIC_LOSSES = ("ce", "balanced", "la", "cdt", "vs", "group_balanced", "group_la")


def make_loss(name, counts, params=None):
    """Build the loss ``name`` from training counts, with keyword ``params``.

    ``name="blend"`` builds the training-loss blend of the group baselines,
    ``(1 - lam) CE + lam L_reg``, with ``params`` ``regularizer`` (one of
    ``BLEND_REGULARIZERS``), ``lam`` and ``regularizer_params`` (see
    :func:`make_blended_loss`).

    Raises a ValueError naming the valid choices for an unknown name, and the
    accepted parameters for an unknown parameter.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}")
    cls = LOSSES[name]
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"params of loss {name!r} must be a dict or None; got {params!r}")
    params = dict(params or {})
    accepted = [p for p in inspect.signature(cls).parameters if p not in ("counts", "reduction")]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"{cls.__name__} (loss {name!r}) does not take {unknown}; it accepts {accepted}"
        )
    return cls(counts, **params)
