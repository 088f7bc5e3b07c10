"""Loss names used by the estimators' ``init`` parameter."""

import inspect

from ._fixed import FocalLoss, GCALoss, GLALoss, LDAMLoss
from ._groups import DEOCrossEntropy, GroupDROLoss
from ._parametric import (
    CDTLoss,
    CrossEntropy,
    GroupBalancedCrossEntropy,
    GroupLogitAdjustedLoss,
    LogitAdjustedLoss,
    VSLoss,
    WeightedCrossEntropy,
)

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
}

#: Losses that are members of the parametric family (a search can start there).
PARAMETRIC_LOSSES = ("ce", "balanced", "la", "cdt", "vs", "group_balanced", "group_la")


def make_loss(name, counts, params=None):
    """Build the loss ``name`` from training counts, with keyword ``params``.

    Raises a ValueError naming the valid choices for an unknown name, and the
    accepted parameters for an unknown parameter.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}")
    cls = LOSSES[name]
    params = dict(params or {})
    accepted = [p for p in inspect.signature(cls).parameters if p not in ("counts", "reduction")]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"{cls.__name__} (loss {name!r}) does not take {unknown}; it accepts {accepted}"
        )
    return cls(counts, **params)
