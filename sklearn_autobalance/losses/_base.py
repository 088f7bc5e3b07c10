"""What every loss of the library shares: counts, reduction, cell statistics."""

import numbers

import numpy as np
import torch
from torch import nn

_REDUCTIONS = ("mean", "sum", "none")


def check_counts(counts, *, allow_zero=False, name="counts"):
    """Validate training counts: 1-D (per class) or 2-D (per class and group).

    Returns a float64 NumPy array. Classes (rows) must have at least one sample;
    empty (class, group) cells are allowed when ``allow_zero`` or when the array
    is 2-D.
    """
    if isinstance(counts, torch.Tensor):
        counts = counts.detach().cpu().numpy()
    try:
        arr = np.asarray(counts, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of non-negative numbers") from exc
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D (per class) or 2-D (per class and group); "
            f"got an array of shape {arr.shape}"
        )
    if arr.shape[0] < 2:
        raise ValueError(f"{name} must describe at least 2 classes; got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    per_class = arr if arr.ndim == 1 else arr.sum(axis=1)
    if not allow_zero and np.any(per_class <= 0):
        missing = np.flatnonzero(per_class <= 0).tolist()
        raise ValueError(f"{name}: classes {missing} have no training samples")
    return arr


def class_counts(counts):
    """Validated per-class counts; 2-D (class, group) counts are summed over groups."""
    counts = check_counts(counts)
    return counts.sum(axis=1) if counts.ndim == 2 else counts


def check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}; got {reduction!r}")
    return reduction


def check_positive(value, name, *, strict=True, upper=None, upper_strict=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or (value <= 0 if strict else value < 0):
        raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'}; got {value}")
    if upper is not None and (value >= upper if upper_strict else value > upper):
        raise ValueError(f"{name} must be {'<' if upper_strict else '<='} {upper}; got {value}")
    return value


def reduce_loss(per_sample, reduction):
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


def class_priors(counts):
    """Training class frequencies pi_k from 1-D or 2-D counts."""
    per_class = counts if counts.ndim == 1 else counts.sum(axis=1)
    return per_class / per_class.sum()


def balancing_weights(frequencies):
    """Weights w_k = 1 / (n_nonempty * pi_k), zero for empty entries.

    With this normalisation the expected weight under the training distribution
    is 1, and the sample mean of ``w_y * loss`` estimates the mean over classes
    (or cells) of the class-conditional loss (scikit-learn's "balanced").
    """
    freq = np.asarray(frequencies, dtype=np.float64)
    present = freq > 0
    weights = np.zeros_like(freq)
    weights[present] = 1.0 / (present.sum() * freq[present])
    return weights


def cell_index(y, groups, n_groups):
    """Flat (class, group) cell index ``y * n_groups + g`` of each sample."""
    return y * n_groups + groups


def cell_means(values, index, n_cells):
    """Mean of ``values`` per cell and a mask of the cells that have samples.

    Computed with ``index_add`` so it stays on the device with no host sync.
    """
    sums = values.new_zeros(n_cells).index_add(0, index, values)
    counts = values.new_zeros(n_cells).index_add(0, index, torch.ones_like(values))
    present = counts > 0
    means = sums / counts.clamp_min(1.0)
    return means, present


class BaseLoss(nn.Module):
    """Base class of the loss library.

    Every loss is built from the training ``counts`` (shape ``(K,)`` per class,
    or ``(K, G)`` per (class, group) cell; class losses sum a 2-D array over
    groups) and is called as ``loss(logits, y)`` or ``loss(logits, y, groups)``.

    Parameters
    ----------
    counts : array-like of shape (n_classes,) or (n_classes, n_groups)
        Training samples per class, or per (class, group) cell.
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"none"`` returns the per-sample loss.

    Attributes
    ----------
    n_classes : int
    n_groups : int or None
        Number of groups when built from 2-D counts.
    """

    #: Whether ``forward`` needs the ``groups`` argument.
    requires_groups = False

    def __init__(self, counts, *, reduction="mean"):
        super().__init__()
        counts = check_counts(counts)
        self.reduction = check_reduction(reduction)
        self.n_classes = counts.shape[0]
        self.n_groups = counts.shape[1] if counts.ndim == 2 else None
        self.counts = counts
        if self.requires_groups and self.n_groups is None:
            raise ValueError(
                f"{type(self).__name__} needs (class, group) counts of shape "
                "(n_classes, n_groups); got 1-D class counts"
            )

    @property
    def priors(self):
        return class_priors(self.counts)

    def set_epoch(self, epoch):
        """Hook called by the training loop at the start of each epoch.

        A no-op except for schedule-dependent losses (e.g. LDAM-DRW).
        """

    def _check_groups(self, groups):
        if groups is None and self.requires_groups:
            raise ValueError(f"{type(self).__name__} needs `groups`: call loss(logits, y, groups)")
        return groups

    def extra_repr(self):
        extra = f"n_classes={self.n_classes}"
        if self.n_groups is not None:
            extra += f", n_groups={self.n_groups}"
        return extra + f", reduction={self.reduction!r}"
