"""Frequency clusters: the dictionary D_pi of the AutoBalance search space (paper 2.2)."""

import math

import numpy as np


def auto_cluster_size(n_entries):
    """Entries per cluster for ``cluster_size="auto"``.

    Matches the paper's choices (1 for ~10 classes, 10 for 100, 20 for 1000):
    about ten clusters up to 100 entries, clusters of at most 20 beyond.
    """
    return max(1, min(20, math.ceil(n_entries / 10)))


def frequency_clusters(counts, cluster_size="auto"):
    """Assign each class (or (class, group) cell) to a frequency cluster.

    Entries are sorted by their training count (most frequent first; ties by
    index) and cut into contiguous blocks of ``cluster_size``; the last block
    may be smaller. Labels need not be sorted by frequency.

    Parameters
    ----------
    counts : array-like of shape (n_classes,) or (n_classes, n_groups)
    cluster_size : int or "auto", default="auto"

    Returns
    -------
    clusters : ndarray of int, same shape as ``counts``
        Cluster id of each entry; cluster 0 holds the most frequent entries.

    Examples
    --------
    >>> from sklearn_autobalance._clusters import frequency_clusters
    >>> frequency_clusters([5, 50, 20, 1, 8], cluster_size=2).tolist()
    [1, 0, 0, 2, 1]
    """
    counts = np.asarray(counts, dtype=np.float64)
    flat = counts.reshape(-1)
    size = auto_cluster_size(flat.size) if cluster_size == "auto" else int(cluster_size)
    if size < 1:
        raise ValueError(f"cluster_size must be a positive int or 'auto'; got {cluster_size!r}")
    order = np.argsort(-flat, kind="stable")
    clusters = np.empty(flat.size, dtype=np.int64)
    clusters[order] = np.arange(flat.size) // size
    return clusters.reshape(counts.shape)


def cluster_dictionary(clusters):
    """One-hot dictionary (n_entries, n_clusters) of a cluster assignment."""
    flat = np.asarray(clusters).reshape(-1)
    return np.eye(flat.max() + 1)[flat]
