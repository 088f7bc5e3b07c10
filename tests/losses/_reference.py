"""Independent float64 NumPy evaluations of the documented loss formulas.

Written from the docstrings (and METHOD.md), not from the implementation, so
the tests compare two separate derivations of every loss.
"""

import numpy as np
import torch
from hypothesis import strategies as st

# ----------------------------------------------------------------------------
# Generic NumPy helpers


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def log_softmax(z):
    """Row-wise log-softmax with a stable log-sum-exp."""
    z = np.asarray(z, dtype=np.float64)
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def nll(z, y):
    """Per-sample cross-entropy -log softmax(z)_y."""
    return -log_softmax(z)[np.arange(len(y)), y]


def reduce(values, reduction):
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def priors(counts):
    counts = np.asarray(counts, dtype=np.float64)
    per_class = counts if counts.ndim == 1 else counts.sum(axis=1)
    return per_class / per_class.sum()


def inverse_weights(counts):
    """w_k = 1 / (K pi_k): sum_k pi_k w_k = 1."""
    pi = priors(counts)
    return 1.0 / (len(pi) * pi)


def effective_weights(counts, beta):
    """Cui et al.: w_k ~ (1 - beta) / (1 - beta^n_k), with sum_k pi_k w_k = 1."""
    n = np.asarray(counts, dtype=np.float64)
    raw = (1.0 - beta) / (1.0 - beta ** n) if beta > 0 else np.ones_like(n)
    pi = n / n.sum()
    return raw / np.sum(pi * raw)


def comp_sum(u, q):
    """Phi of the general cross-entropy family (METHOD.md section 6) of
    u = sum_{k != y} exp(h_k - h_y): log(1 + u) for q = 0, else
    (1 - (1 + u)^(-q)) / q (METHOD.md's tau = 1 + q)."""
    if q == 0:
        return np.log1p(u)
    return (1.0 - (1.0 + u) ** (-q)) / q


def others_sum(h, y):
    """u_i = sum_{k != y_i} exp(h_ik - h_iy), from the explicit definition."""
    h = np.asarray(h, dtype=np.float64)
    diff = h - h[np.arange(len(y)), y][:, None]
    e = np.exp(diff)
    e[np.arange(len(y)), y] = 0.0
    return e.sum(axis=1)


def cell_ce(logits, y, groups, n_classes, n_groups):
    """(K, G) table of mean CE per cell and the mask of non-empty cells."""
    ce = nll(logits, y)
    table = np.zeros((n_classes, n_groups))
    present = np.zeros((n_classes, n_groups), dtype=bool)
    for k in range(n_classes):
        for g in range(n_groups):
            mask = (y == k) & (groups == g)
            if mask.any():
                table[k, g] = ce[mask].mean()
                present[k, g] = True
    return table, present


def deo(table, present):
    """sum_k (max_g - min_g) over the present cells of class k (>= 2 of them)."""
    total = 0.0
    for k in range(table.shape[0]):
        vals = table[k, present[k]]
        if len(vals) >= 2:
            total += vals.max() - vals.min()
    return total


# ----------------------------------------------------------------------------
# Random problems


def t64(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def tlong(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.long)


def random_counts(rng, n_classes, low=1, high=1000):
    return rng.integers(low, high, size=n_classes).astype(np.float64)


def random_cell_counts(rng, n_classes, n_groups, p_empty=0.25):
    """(K, G) counts with some empty cells but every class present."""
    counts = rng.integers(1, 500, size=(n_classes, n_groups)).astype(np.float64)
    counts[rng.random((n_classes, n_groups)) < p_empty] = 0.0
    for k in range(n_classes):
        if counts[k].sum() == 0:
            counts[k, rng.integers(n_groups)] = rng.integers(1, 500)
    return counts


def random_batch(rng, n_samples, n_classes, n_groups=None, scale=3.0):
    logits = rng.normal(scale=scale, size=(n_samples, n_classes))
    y = rng.integers(0, n_classes, size=n_samples)
    groups = None if n_groups is None else rng.integers(0, n_groups, size=n_samples)
    return logits, y, groups


seeds = st.integers(min_value=0, max_value=2**32 - 1)
reductions = st.sampled_from(["none", "mean", "sum"])
n_classes_st = st.integers(min_value=2, max_value=6)
n_groups_st = st.integers(min_value=1, max_value=4)
n_samples_st = st.integers(min_value=1, max_value=40)


def assert_close(actual, expected, rtol=1e-5, atol=1e-5):
    actual = actual.detach().double().numpy() if isinstance(actual, torch.Tensor) else actual
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
