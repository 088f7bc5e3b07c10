"""Frequency clusters: the dictionary of the AutoBalance search space (paper 2.2)."""

import numpy as np
import pytest

from sklearn_autobalance._clusters import (
    auto_cluster_size,
    cluster_dictionary,
    frequency_clusters,
)


def test_unsorted_labels_are_clustered_by_count():
    # Labels are not in frequency order: clusters follow the counts, not the index.
    counts = [5, 50, 20, 1, 8, 30]
    clusters = frequency_clusters(counts, cluster_size=2)
    # Sorted by count: 50 (1), 30 (5) | 20 (2), 8 (4) | 5 (0), 1 (3)
    assert clusters.tolist() == [2, 0, 1, 2, 1, 0]
    assert clusters.dtype.kind == "i"


def test_cluster_zero_holds_the_most_frequent():
    rng = np.random.RandomState(0)
    counts = rng.permutation(np.arange(1, 38) * 7)
    clusters = frequency_clusters(counts, cluster_size=4)
    # Monotone: a more frequent class never sits in a later cluster.
    order = np.argsort(-counts, kind="stable")
    assert np.all(np.diff(clusters[order]) >= 0)
    assert set(clusters[counts >= np.sort(counts)[-4]]) == {0}


def test_uneven_last_block():
    counts = np.arange(10, 0, -1)  # 10 classes, blocks of 4: 4, 4, 2
    clusters = frequency_clusters(counts, cluster_size=4)
    assert clusters.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert np.bincount(clusters).tolist() == [4, 4, 2]
    # And the same with labels shuffled.
    perm = np.random.RandomState(1).permutation(10)
    np.testing.assert_array_equal(frequency_clusters(counts[perm], 4), clusters[perm])


def test_ties_are_broken_by_index():
    assert frequency_clusters([3, 3, 3, 3, 3], cluster_size=2).tolist() == [0, 0, 1, 1, 2]


@pytest.mark.parametrize("n_classes, size", [(2, 1), (10, 1), (11, 2), (100, 10),
                                             (150, 15), (1000, 20), (5000, 20)])
def test_auto_cluster_size(n_classes, size):
    assert auto_cluster_size(n_classes) == size
    rng = np.random.RandomState(n_classes)
    counts = rng.randint(1, 1000, size=n_classes)
    clusters = frequency_clusters(counts)  # "auto" is the default
    sizes = np.bincount(clusters)
    assert sizes.max() == size
    assert len(sizes) == -(-n_classes // size)
    # Every cluster full but (maybe) the last.
    assert np.all(sizes[:-1] == size)


@pytest.mark.parametrize("n_classes, n_clusters", [(10, 10), (100, 10), (1000, 50)])
def test_auto_matches_the_paper(n_classes, n_clusters):
    # Paper: C = 1 for ~10 classes, 10 for 100, 20 for 1000.
    counts = np.round(1000 * 0.99 ** np.arange(n_classes)) + 1
    assert len(np.unique(frequency_clusters(counts, "auto"))) == n_clusters


def test_two_dimensional_counts_keep_their_shape():
    counts = np.array([[30, 2], [5, 60], [10, 1]])  # (class, group) cells
    clusters = frequency_clusters(counts, cluster_size=2)
    assert clusters.shape == counts.shape
    # 60, 30 | 10, 5 | 2, 1
    assert clusters.tolist() == [[0, 2], [1, 0], [1, 2]]


def test_cluster_size_larger_than_the_classes():
    assert frequency_clusters([1, 9, 4], cluster_size=10).tolist() == [0, 0, 0]


@pytest.mark.parametrize("bad", [0, -3])
def test_bad_cluster_size(bad):
    with pytest.raises(ValueError, match="cluster_size"):
        frequency_clusters([1, 2, 3], cluster_size=bad)


def test_cluster_dictionary_is_one_hot():
    clusters = frequency_clusters([5, 50, 20, 1, 8], cluster_size=2)
    D = cluster_dictionary(clusters)
    assert D.shape == (5, 3)
    np.testing.assert_array_equal(D.sum(axis=1), np.ones(5))
    np.testing.assert_array_equal(D.argmax(axis=1), clusters)
