"""Stratified folds and hold-out splits with errors that name the class and group."""

import numpy as np
import pytest

from sklearn_autobalance._splits import holdout_split, stratified_folds

CLASSES = np.array(["cat", "dog", "eel"])


def test_folds_partition_the_rows_and_keep_every_class_in_every_training_part():
    y = np.repeat([0, 1, 2], [30, 12, 6])
    folds = stratified_folds(y, None, 3, np.random.RandomState(0), CLASSES)
    valid = np.sort(np.concatenate([v for _, v in folds]))
    np.testing.assert_array_equal(valid, np.arange(len(y)))
    for train, v in folds:
        assert not set(train) & set(v)
        assert set(y[train]) == {0, 1, 2}


def test_folds_stratify_on_cells_with_groups():
    y = np.repeat([0, 1], [40, 20])
    g = np.tile([0, 1], 30)
    folds = stratified_folds(y, g, 2, np.random.RandomState(0), CLASSES[:2], np.array(["a", "b"]))
    for _, v in folds:  # each cell split in half
        np.testing.assert_array_equal(np.bincount(y[v] * 2 + g[v]), [10, 10, 5, 5])


def test_a_lone_sample_is_named():
    y = np.array([0] * 10 + [1] * 10 + [2])
    with pytest.raises(ValueError, match=r"class 'eel' has 1 sample\(s\): cross-fitting"):
        stratified_folds(y, None, 3, np.random.RandomState(0), CLASSES)
    g = np.array([0] * 20 + [1])
    y = np.array([0] * 10 + [1] * 11)
    with pytest.raises(ValueError, match=r"class 'dog' in group 'b' has 1 sample"):
        holdout_split(y, g, 0.2, np.random.RandomState(0), CLASSES, np.array(["a", "b"]))


def test_holdout_split_holds_out_the_fraction_stratified():
    y = np.repeat([0, 1], [80, 20])
    train, held = holdout_split(y, None, 0.2, np.random.RandomState(0), CLASSES)
    assert len(held) == 20 and len(train) == 80
    np.testing.assert_array_equal(np.bincount(y[held]), [16, 4])


def test_too_few_rows_are_refused():
    with pytest.raises(ValueError, match="too few for cv=3"):
        stratified_folds(np.array([0, 0, 1, 1]), None, 3, np.random.RandomState(0), CLASSES)
