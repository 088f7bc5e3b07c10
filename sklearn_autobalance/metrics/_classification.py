r"""Class-balanced and group-fairness classification metrics.

All metrics here are *errors*: lower is better, and they lie in ``[0, 1]``
except :func:`difference_of_equal_opportunity`, which lies in ``[0, K]`` for
``K`` classes.

Notation (METHOD.md section 4): for a class ``k`` and a group ``g`` of the
sensitive attribute, the *cell* ``(k, g)`` holds the samples with
``y_true == k`` and ``sensitive_features == g``, and its cell error is

.. math::

    E_{k,g} = \frac{\#\{i : y_i = k,\ a_i = g,\ \hat y_i \neq k\}}
                   {\#\{i : y_i = k,\ a_i = g\}} .

Cells without samples are skipped by every metric.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_consistent_length, column_or_1d

__all__ = [
    "CellErrors",
    "balanced_error",
    "cell_errors",
    "difference_of_equal_opportunity",
    "group_balanced_error",
    "worst_group_error",
]


# --------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------


def _as_1d(values, name):
    """Return ``values`` as a 1-D numpy array (a ``(n, 1)`` column is raveled)."""
    if values is None:
        raise ValueError(f"{name} is required, got None.")
    try:
        array = column_or_1d(values, input_name=name)
    except ValueError as exc:
        try:
            shape = np.shape(values)
        except Exception:  # ragged nested sequences and the like
            shape = "unknown"
        raise ValueError(
            f"{name} must be a 1-D array-like of shape (n_samples,) or a single "
            f"column of shape (n_samples, 1); got an input of shape {shape}."
        ) from exc
    return array


def _is_missing(value):
    """True for None, NaN, NaT and pandas.NA held in an object array."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        # pandas.NA: ``NA != NA`` is NA, whose truth value is ambiguous.
        return True


def _check_no_missing(values, name):
    kind = values.dtype.kind
    if kind in "fc":
        missing = np.isnan(values)
    elif kind in "mM":
        missing = np.isnat(values)
    elif kind == "O":
        missing = np.fromiter(
            (_is_missing(v) for v in values), dtype=bool, count=values.shape[0]
        )
    else:
        return
    if missing.any():
        raise ValueError(
            f"{name} contains {int(missing.sum())} missing value(s) (NaN, None "
            f"or NA), first at position {int(np.flatnonzero(missing)[0])}; "
            "every sample needs a group."
        )


def _check_labels(values, name):
    try:
        target_type = type_of_target(values, input_name=name)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must hold class labels (all strings or all numbers, no "
            f"missing values): {exc}"
        ) from exc
    if target_type not in ("binary", "multiclass"):
        raise ValueError(
            f"{name} must hold binary or multiclass class labels; got target "
            f"type {target_type!r}."
            + (
                " An object array must hold strings; convert numbers stored "
                "as objects with e.g. `.astype(int)`."
                if target_type == "unknown"
                else ""
            )
        )


def _validate(y_true, y_pred, sensitive_features=None, *, with_groups):
    """Validate and convert inputs; never modifies them."""
    y_true = _as_1d(y_true, "y_true")
    y_pred = _as_1d(y_pred, "y_pred")
    arrays = [y_true, y_pred]
    names = ["y_true", "y_pred"]
    if with_groups:
        sensitive_features = _as_1d(sensitive_features, "sensitive_features")
        arrays.append(sensitive_features)
        names.append("sensitive_features")
    try:
        check_consistent_length(*arrays)
    except ValueError as exc:
        lengths = ", ".join(f"{n} has {a.shape[0]}" for n, a in zip(names, arrays))
        raise ValueError(
            f"Inconsistent numbers of samples: {lengths}. They must be equal."
        ) from exc
    if y_true.shape[0] == 0:
        raise ValueError("Empty input: y_true has 0 samples; nothing to compute.")
    _check_labels(y_true, "y_true")
    _check_labels(y_pred, "y_pred")
    unique_labels(y_true, y_pred)  # raises on a mix of strings and numbers
    if with_groups:
        _check_no_missing(sensitive_features, "sensitive_features")
    return y_true, y_pred, sensitive_features


def _unique_inverse(values, name):
    try:
        return np.unique(values, return_inverse=True)
    except TypeError as exc:
        raise ValueError(
            f"{name} values must be mutually comparable (e.g. all strings or "
            f"all numbers): {exc}"
        ) from exc


# --------------------------------------------------------------------------
# Cell table
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CellErrors:
    r"""Per-cell error table returned by :func:`cell_errors`.

    Cell ``(k, g)`` holds the samples of true class ``classes[k]`` in group
    ``groups[g]``. Arrays are read-only.

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        Sorted classes present in ``y_true``.
    groups : ndarray of shape (n_groups,)
        Sorted groups present in ``sensitive_features``.
    errors : ndarray of shape (n_classes, n_groups), dtype float
        Cell error :math:`E_{k,g}` (fraction of the cell's samples that are
        mispredicted); NaN where the cell has no samples.
    counts : ndarray of shape (n_classes, n_groups), dtype int
        Number of samples in each cell.
    """

    classes: np.ndarray
    groups: np.ndarray
    errors: np.ndarray
    counts: np.ndarray


def _cell_table(y_true, y_pred, sensitive_features):
    """Cell table from validated 1-D arrays."""
    classes, y_index = _unique_inverse(y_true, "y_true")
    groups, g_index = _unique_inverse(sensitive_features, "sensitive_features")
    n_classes, n_groups = classes.shape[0], groups.shape[0]
    flat = y_index.reshape(-1) * n_groups + g_index.reshape(-1)
    size = n_classes * n_groups
    counts = np.bincount(flat, minlength=size).reshape(n_classes, n_groups)
    wrong = np.bincount(
        flat, weights=np.asarray(y_true != y_pred, dtype=float), minlength=size
    ).reshape(n_classes, n_groups)
    errors = np.full((n_classes, n_groups), np.nan)
    np.divide(wrong, counts, out=errors, where=counts > 0)
    for array in (classes, groups, errors, counts):
        array.flags.writeable = False
    return CellErrors(classes=classes, groups=groups, errors=errors, counts=counts)


def cell_errors(y_true, y_pred, *, sensitive_features):
    r"""Error of every (class, group) cell.

    .. math::

        E_{k,g} = \frac{\#\{i : y_i = k,\ a_i = g,\ \hat y_i \neq k\}}
                       {\#\{i : y_i = k,\ a_i = g\}}

    where :math:`a_i` is the sensitive feature of sample :math:`i`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels (strings or numbers).
    y_pred : array-like of shape (n_samples,)
        Predicted class labels, same label type as ``y_true``; may contain
        labels absent from ``y_true`` (they count as errors).
    sensitive_features : array-like of shape (n_samples,) or (n_samples, 1)
        Group of each sample (strings or numbers, no missing values).
        Required.

    Returns
    -------
    table : CellErrors
        ``classes`` (classes in ``y_true``), ``groups``, ``errors`` of shape
        ``(n_classes, n_groups)`` with NaN for empty cells, and ``counts``.

    Examples
    --------
    >>> from sklearn_autobalance.metrics import cell_errors
    >>> y_true = [1, 1, 1, 1, 0, 0, 0, 0]
    >>> y_pred = [1, 1, 1, 0, 0, 0, 1, 1]
    >>> groups = ["a", "a", "b", "b", "a", "a", "b", "b"]
    >>> table = cell_errors(y_true, y_pred, sensitive_features=groups)
    >>> table.classes.tolist(), table.groups.tolist()
    ([0, 1], ['a', 'b'])
    >>> table.errors.tolist()
    [[0.0, 1.0], [0.0, 0.5]]
    >>> table.counts.tolist()
    [[2, 2], [2, 2]]
    """
    y_true, y_pred, sensitive_features = _validate(
        y_true, y_pred, sensitive_features, with_groups=True
    )
    return _cell_table(y_true, y_pred, sensitive_features)


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def balanced_error(y_true, y_pred):
    r"""Balanced error: mean over classes of the class-conditional error.

    .. math::

        E_{\mathrm{bal}} = \frac{1}{K} \sum_{k=1}^{K}
            \frac{\#\{i : y_i = k,\ \hat y_i \neq k\}}{\#\{i : y_i = k\}}

    over the :math:`K` classes present in ``y_true``. It equals
    ``1 - sklearn.metrics.balanced_accuracy_score(y_true, y_pred)``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels (strings or numbers).
    y_pred : array-like of shape (n_samples,)
        Predicted class labels, same label type as ``y_true``; labels absent
        from ``y_true`` count as errors.

    Returns
    -------
    error : float
        Balanced error in ``[0, 1]``; lower is better.

    Examples
    --------
    >>> from sklearn_autobalance.metrics import balanced_error
    >>> balanced_error([0, 0, 1, 1], [0, 1, 1, 1])
    0.25
    >>> balanced_error(["cat", "cat", "cat", "dog"], ["cat"] * 4)
    0.5
    """
    y_true, y_pred, _ = _validate(y_true, y_pred, with_groups=False)
    classes, y_index = _unique_inverse(y_true, "y_true")
    y_index = y_index.reshape(-1)
    counts = np.bincount(y_index, minlength=classes.shape[0])
    wrong = np.bincount(
        y_index,
        weights=np.asarray(y_true != y_pred, dtype=float),
        minlength=classes.shape[0],
    )
    return float(np.mean(wrong / counts))


def group_balanced_error(y_true, y_pred, *, sensitive_features):
    r"""Group-balanced error: mean error over the non-empty (class, group) cells.

    .. math::

        E_{\mathrm{gbal}} = \frac{1}{|C|} \sum_{(k, g) \in C} E_{k,g},
        \qquad C = \{(k, g) : n_{k,g} > 0\}

    with :math:`E_{k,g}` the cell error (see :func:`cell_errors`) and
    :math:`n_{k,g}` the number of samples in cell :math:`(k, g)`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels (strings or numbers).
    y_pred : array-like of shape (n_samples,)
        Predicted class labels, same label type as ``y_true``.
    sensitive_features : array-like of shape (n_samples,) or (n_samples, 1)
        Group of each sample (strings or numbers, no missing values).
        Required.

    Returns
    -------
    error : float
        Mean cell error in ``[0, 1]``; lower is better.

    Examples
    --------
    >>> from sklearn_autobalance.metrics import group_balanced_error
    >>> y_true = [1, 1, 1, 1, 0, 0, 0, 0]
    >>> y_pred = [1, 1, 1, 0, 0, 0, 1, 1]
    >>> groups = ["a", "a", "b", "b", "a", "a", "b", "b"]
    >>> group_balanced_error(y_true, y_pred, sensitive_features=groups)
    0.375
    """
    table = cell_errors(y_true, y_pred, sensitive_features=sensitive_features)
    return float(np.mean(table.errors[table.counts > 0]))


def worst_group_error(y_true, y_pred, *, sensitive_features):
    r"""Worst-cell error: the largest error over non-empty (class, group) cells.

    .. math::

        E_{\mathrm{worst}} = \max_{(k, g) :\, n_{k,g} > 0} E_{k,g}

    with :math:`E_{k,g}` the cell error (see :func:`cell_errors`).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels (strings or numbers).
    y_pred : array-like of shape (n_samples,)
        Predicted class labels, same label type as ``y_true``.
    sensitive_features : array-like of shape (n_samples,) or (n_samples, 1)
        Group of each sample (strings or numbers, no missing values).
        Required.

    Returns
    -------
    error : float
        Worst cell error in ``[0, 1]``; lower is better.

    Examples
    --------
    >>> from sklearn_autobalance.metrics import worst_group_error
    >>> y_true = [1, 1, 1, 1, 0, 0, 0, 0]
    >>> y_pred = [1, 1, 1, 0, 0, 0, 1, 1]
    >>> groups = ["a", "a", "b", "b", "a", "a", "b", "b"]
    >>> worst_group_error(y_true, y_pred, sensitive_features=groups)
    1.0
    """
    table = cell_errors(y_true, y_pred, sensitive_features=sensitive_features)
    return float(np.max(table.errors[table.counts > 0]))


def difference_of_equal_opportunity(y_true, y_pred, *, sensitive_features):
    r"""Symmetric difference of equal opportunity (DEO).

    For two classes and two groups this is eq. (4.1) of the AutoBalance
    paper,

    .. math::

        \mathrm{DEO} = |E_{+,1} - E_{+,2}| + |E_{-,1} - E_{-,2}| ,

    the true-positive-rate gap (fairlearn's ``equal_opportunity_difference``)
    plus the same gap for the negative class. For :math:`K` classes and
    :math:`G` groups it generalises to

    .. math::

        \mathrm{DEO} = \sum_{k=1}^{K}
            \Big( \max_{g \in G_k} E_{k,g} - \min_{g \in G_k} E_{k,g} \Big),
        \qquad G_k = \{g : n_{k,g} > 0\},

    where a class with samples in fewer than two groups contributes nothing.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels (strings or numbers).
    y_pred : array-like of shape (n_samples,)
        Predicted class labels, same label type as ``y_true``.
    sensitive_features : array-like of shape (n_samples,) or (n_samples, 1)
        Group of each sample (strings or numbers, no missing values).
        Required; at least one class must have samples in two groups.

    Returns
    -------
    deo : float
        Sum over classes of the between-group error gap, in ``[0, K]``;
        lower is better.

    Raises
    ------
    ValueError
        If ``sensitive_features`` has a single group, or no class has
        samples in two or more groups.

    Examples
    --------
    >>> from sklearn_autobalance.metrics import difference_of_equal_opportunity
    >>> y_true = [1, 1, 1, 1, 0, 0, 0, 0]
    >>> y_pred = [1, 1, 1, 0, 0, 0, 1, 1]
    >>> groups = ["a", "a", "b", "b", "a", "a", "b", "b"]
    >>> difference_of_equal_opportunity(y_true, y_pred, sensitive_features=groups)
    1.5

    Class 1 has errors 0 (group a) and 0.5 (group b); class 0 has errors 0
    and 1, so DEO = 0.5 + 1.0.
    """
    table = cell_errors(y_true, y_pred, sensitive_features=sensitive_features)
    if table.groups.shape[0] < 2:
        raise ValueError(
            "difference_of_equal_opportunity needs at least two groups in "
            f"sensitive_features; got only {table.groups[0]!r}."
        )
    gaps = []
    for errors, counts in zip(table.errors, table.counts):
        present = errors[counts > 0]
        if present.shape[0] >= 2:
            gaps.append(present.max() - present.min())
    if not gaps:
        raise ValueError(
            "difference_of_equal_opportunity is undefined: no class has "
            "samples in two or more groups of sensitive_features."
        )
    return float(np.sum(gaps))
