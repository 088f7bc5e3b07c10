"""Validation (upper-level) objectives of the loss search, as smooth proxies."""

import torch
import torch.nn.functional as F

from ._base import cell_means, check_positive
from ._groups import cell_cross_entropy, deo_gap

CLASS_OBJECTIVES = ("balanced", "accuracy")
GROUP_OBJECTIVES = ("deo", "group_balanced", "worst_group")
OBJECTIVES = CLASS_OBJECTIVES + GROUP_OBJECTIVES


def balanced_cross_entropy(logits, y, n_classes):
    """Mean over the classes present of the class-conditional cross-entropy."""
    ce = F.cross_entropy(logits, y, reduction="none")
    means, present = cell_means(ce, y, n_classes)
    return (means * present).sum() / present.sum()


def group_balanced_cross_entropy(logits, y, groups, n_classes, n_groups):
    """Mean over the non-empty (class, group) cells of the cell-conditional CE."""
    cells, present = cell_cross_entropy(logits, y, groups, n_classes, n_groups)
    return (cells * present).sum() / present.sum()


def worst_group_cross_entropy(logits, y, groups, n_classes, n_groups, temperature=0.1):
    r"""Smooth maximum of the cell CE: :math:`t \log \frac{1}{C} \sum_c e^{L_c / t}`.

    Lies between the mean and the maximum over the C non-empty cells and tends
    to the maximum as ``t -> 0``.
    """
    cells, present = cell_cross_entropy(logits, y, groups, n_classes, n_groups)
    scaled = torch.where(present, cells / temperature, -torch.inf).reshape(-1)
    return temperature * (torch.logsumexp(scaled, 0) - torch.log(present.sum().to(cells.dtype)))


def deo_objective(logits, y, groups, n_classes, n_groups, fairness_weight=0.9):
    r""":math:`(1 - \lambda)\,CE + \lambda\,CE_{deo}` (the paper's Table 3 uses 0.9)."""
    ce = F.cross_entropy(logits, y)
    cells, present = cell_cross_entropy(logits, y, groups, n_classes, n_groups)
    return (1.0 - fairness_weight) * ce + fairness_weight * deo_gap(cells, present)


def _error_objective(name, n_classes, n_groups, fairness_weight):
    """The 0-1 counterpart of objective ``name`` (balanced error, cell errors, DEO)."""

    def objective(logits, y, groups=None):
        errors = (logits.argmax(dim=1) != y).to(logits.dtype)
        if name == "accuracy":
            return errors.mean()
        if name == "balanced":
            means, present = cell_means(errors, y, n_classes)
            return (means * present).sum() / present.sum()
        means, present = cell_means(errors, y * n_groups + groups, n_classes * n_groups)
        if name == "group_balanced":
            return (means * present).sum() / present.sum()
        if name == "worst_group":
            return torch.where(present, means, 0.0).max()
        gap = deo_gap(means.view(n_classes, n_groups), present.view(n_classes, n_groups))
        return (1.0 - fairness_weight) * errors.mean() + fairness_weight * gap

    return objective


def make_objective(name, n_classes, n_groups=None, *, fairness_weight=0.9, temperature=0.1,
                   kind="smooth"):
    """The objective ``name`` as a function ``(logits, y, groups) -> scalar``.

    Parameters
    ----------
    name : {"balanced", "accuracy", "deo", "group_balanced", "worst_group"}
        "balanced": balanced CE; "accuracy": CE; "deo": the CE/CE_deo blend;
        "group_balanced": mean cell CE; "worst_group": smooth max of cell CE.
    n_classes : int
    n_groups : int or None
        Required by the group objectives.
    fairness_weight : float in [0, 1], default=0.9
    temperature : float > 0, default=0.1
    kind : {"smooth", "error"}, default="smooth"
        "smooth": the differentiable proxy above (cross-entropy based);
        "error": its 0-1 counterpart (balanced error, error, mean / max cell
        error, error blended with the DEO of cell errors), not differentiable.

    Returns
    -------
    objective : callable

    Examples
    --------
    >>> import torch
    >>> from sklearn_autobalance.losses import make_objective
    >>> bal_err = make_objective("balanced", 2, kind="error")
    >>> logits = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> bal_err(logits, torch.tensor([0, 0, 1, 1])).item()
    0.25
    """
    if name not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}; got {name!r}")
    if name in GROUP_OBJECTIVES and n_groups is None:
        raise ValueError(
            f"objective={name!r} is a group objective: pass sensitive_features to fit"
        )
    if kind not in ("smooth", "error"):
        raise ValueError(f"kind must be 'smooth' or 'error'; got {kind!r}")
    fairness_weight = check_positive(fairness_weight, "fairness_weight", strict=False, upper=1.0)
    if kind == "error":
        return _error_objective(name, n_classes, n_groups, fairness_weight)
    if name == "accuracy":
        return lambda logits, y, groups=None: F.cross_entropy(logits, y)
    if name == "balanced":
        return lambda logits, y, groups=None: balanced_cross_entropy(logits, y, n_classes)
    if name == "group_balanced":
        return lambda logits, y, groups: group_balanced_cross_entropy(
            logits, y, groups, n_classes, n_groups)
    if name == "worst_group":
        temperature = check_positive(temperature, "temperature")
        return lambda logits, y, groups: worst_group_cross_entropy(
            logits, y, groups, n_classes, n_groups, temperature)
    return lambda logits, y, groups: deo_objective(
        logits, y, groups, n_classes, n_groups, fairness_weight)
