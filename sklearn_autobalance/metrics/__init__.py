"""Class-balanced and group-fairness metrics and scikit-learn scorers.

All metrics are errors (lower is better); the scorers return their negatives.
"""

from ._classification import (
    CellErrors,
    balanced_error,
    cell_errors,
    difference_of_equal_opportunity,
    group_balanced_error,
    worst_group_error,
)
from ._scorers import balanced_error_scorer, make_fairness_scorer

__all__ = [
    "CellErrors",
    "balanced_error",
    "balanced_error_scorer",
    "cell_errors",
    "difference_of_equal_opportunity",
    "group_balanced_error",
    "make_fairness_scorer",
    "worst_group_error",
]
