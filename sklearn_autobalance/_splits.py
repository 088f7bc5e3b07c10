"""Stratified folds and hold-out splits on the label, or on (label, group) cells.

Every stratum needs 2 samples so that it lands on both sides of a split; the
error names the class (and group) as the user wrote it.
"""

import math
import warnings

import numpy as np
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from ._base import as_python


def strata(y, groups, classes, group_names, why):
    """Stratum of each sample (label, or label and group) and the distinct strata.

    Parameters
    ----------
    y, groups : ndarray of int
        Encoded labels and groups (None without groups).
    classes, group_names : ndarray
        What the codes stand for, for the error.
    why : str
        The split, named in the error.
    """
    n_groups = 1 if groups is None else len(group_names)
    codes = y * n_groups + (0 if groups is None else groups)
    values, counts = np.unique(codes, return_counts=True)
    for value, count in zip(values, counts):
        if count < 2:
            k, g = divmod(int(value), n_groups)
            what = f"class {as_python(classes[k])!r}" + (
                "" if groups is None else f" in group {as_python(group_names[g])!r}")
            raise ValueError(f"{what} has {count} sample(s): {why} needs at least 2 of each; "
                             "gather more samples or use search=None")
    return codes, values


def stratified_folds(y, groups, cv, rng, classes, group_names=None):
    """``cv`` stratified folds: a list of (train rows, validation rows)."""
    if len(y) < 2 * cv:
        raise ValueError(f"{len(y)} samples are too few for cv={cv} folds")
    codes, _ = strata(y, groups, classes, group_names,
                      f"cross-fitting (cv={cv}), so that every fold network trains on it,")
    splitter = StratifiedKFold(n_splits=cv, shuffle=True,
                               random_state=rng.randint(np.iinfo(np.int32).max))
    with warnings.catch_warnings():
        # Strata smaller than cv leave some folds without a validation sample
        # of theirs; the pooled out-of-fold score still has them all.
        warnings.filterwarnings("ignore", message="The least populated class")
        return list(splitter.split(np.zeros((len(y), 1)), codes))


def holdout_split(y, groups, fraction, rng, classes, group_names=None):
    """One stratified split holding out ``fraction`` of the rows: (train rows, held-out rows)."""
    codes, values = strata(y, groups, classes, group_names, "the held-out split of early_stopping")
    n_val = math.ceil(fraction * len(y))
    if n_val < len(values) or len(y) - n_val < len(values):
        raise ValueError(f"{len(y)} samples are too few for early_stopping's stratified split "
                         f"over {len(values)} strata ({fraction:.0%} held out)")
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val,
                                      random_state=rng.randint(np.iinfo(np.int32).max))
    return next(splitter.split(np.zeros((len(y), 1)), codes))
