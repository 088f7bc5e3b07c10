"""Imbalance-aware and group-aware loss functions as torch modules.

Every loss is built from the training counts (per class, or per (class, group)
cell) and called as ``loss(logits, y)`` or ``loss(logits, y, groups)``.
"""

from ._anyloss import ANYLOSS_METRICS, AnyLoss, amplified_sigmoid, soft_confusion_matrix
from ._base import BaseLoss
from ._fixed import FocalLoss, GCALoss, GLALoss, LDAMLoss
from ._groups import BlendedLoss, DEOCrossEntropy, GroupDROLoss
from ._objectives import (
    balanced_cross_entropy,
    deo_objective,
    group_balanced_cross_entropy,
    make_objective,
    worst_group_cross_entropy,
)
from ._parametric import (
    CDTLoss,
    CrossEntropy,
    GroupBalancedCrossEntropy,
    GroupLogitAdjustedLoss,
    LogitAdjustedLoss,
    ParametricCrossEntropy,
    VSLoss,
    WeightedCrossEntropy,
    parametric_cross_entropy,
)

__all__ = [
    "ANYLOSS_METRICS",
    "AnyLoss",
    "BaseLoss",
    "BlendedLoss",
    "CDTLoss",
    "CrossEntropy",
    "DEOCrossEntropy",
    "FocalLoss",
    "GCALoss",
    "GLALoss",
    "GroupBalancedCrossEntropy",
    "GroupDROLoss",
    "GroupLogitAdjustedLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "ParametricCrossEntropy",
    "VSLoss",
    "WeightedCrossEntropy",
    "amplified_sigmoid",
    "balanced_cross_entropy",
    "deo_objective",
    "group_balanced_cross_entropy",
    "make_objective",
    "parametric_cross_entropy",
    "soft_confusion_matrix",
    "worst_group_cross_entropy",
]
