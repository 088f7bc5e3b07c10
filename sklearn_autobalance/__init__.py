"""Learned, imbalance-aware and fairness-seeking losses for scikit-learn.

Estimators: :class:`AutoBalanceClassifier` (AutoBalance, Li et al. 2021),
:class:`AnyLossClassifier` (AnyLoss, Han et al. 2024).
Plotting (matplotlib optional): :class:`LearnedLossDisplay`.
Warnings: :class:`NoGainWarning` (a group objective's search kept its initial loss).
Submodules: :mod:`sklearn_autobalance.losses`, :mod:`sklearn_autobalance.metrics`,
:mod:`sklearn_autobalance.datasets`.
"""

from ._anyloss import AnyLossClassifier
from ._autobalance import AutoBalanceClassifier
from ._exceptions import NoGainWarning
from ._network import MLP
from ._plot import LearnedLossDisplay

__version__ = "0.1.0.dev0"

__all__ = ["AnyLossClassifier", "AutoBalanceClassifier", "LearnedLossDisplay", "MLP",
           "NoGainWarning", "__version__"]
