"""Noise-aware choice of the kept loss: paired bootstrap against the initial loss, one-SE rule.

Every epoch-end candidate of the search (the initial loss at the warm-up's end
first) has a prediction for the same validation samples. Picking the lowest
error among ~30 such candidates is biased towards sampling noise (the winner's
curse), and on a small validation set the noise is larger than the effect of
the loss. The rule here moves away from the initial loss only when the
evidence says so:

1. ``best``: the searched candidate with the lowest error (ties: the earliest).
2. Paired bootstrap: the samples are resampled with Poisson(1) weights, the
   same weights for every candidate, so a replicate scores all of them on the
   same data; ``se(c, d)`` is the standard deviation over replicates of
   ``error(c) - error(d)``.
3. Move only if ``error(initial) - error(best) > significance * se(best, initial)``.
4. Then, among the searched candidates within one ``se(c, best)`` of the best
   that also pass 3, keep the one closest to the initial loss (smallest norm
   of its search coordinates): the simplest change the data support.
"""

import numpy as np

METRICS = ("balanced", "accuracy", "group_balanced", "worst_group", "deo")


def _cells(y, groups, name, n_groups):
    """Cell of each sample for metric ``name``: the class, or the (class, group) cell."""
    y = np.asarray(y, dtype=np.int64)
    if name in ("balanced", "accuracy") or groups is None:
        return y, None
    return y * n_groups + np.asarray(groups, dtype=np.int64), n_groups


def metric_from_cells(errors, counts, name, cell_ids, n_groups=None, fairness_weight=0.9):
    """Error metric ``name`` from weighted error sums and weights per cell.

    ``errors`` and ``counts`` have shape ``(..., n_cells)`` over the cells that
    occur (``cell_ids`` names them); the result has shape ``(...)``.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = errors / counts
    present = counts > 0
    if name == "accuracy":
        return errors.sum(-1) / counts.sum(-1)
    if name in ("balanced", "group_balanced"):
        return np.where(present, rates, 0.0).sum(-1) / present.sum(-1)
    if name == "worst_group":
        return np.where(present, rates, -np.inf).max(-1)
    # deo: (1 - fw) error + fw * sum over classes of (max_g - min_g) cell error.
    classes = cell_ids // n_groups
    gap = 0.0
    for k in np.unique(classes):
        cols = classes == k
        r, p = rates[..., cols], present[..., cols]
        high = np.where(p, r, -np.inf).max(-1)
        low = np.where(p, r, np.inf).min(-1)
        gap = gap + np.where(p.sum(-1) >= 2, high - low, 0.0)
    total = errors.sum(-1) / counts.sum(-1)
    return (1.0 - fairness_weight) * total + fairness_weight * gap


def bootstrap_errors(predictions, y, groups=None, *, name="balanced", n_groups=None,
                     fairness_weight=0.9, n_boot=300, random_state=None):
    """Error of every candidate on the full data and on ``n_boot`` paired replicates.

    Parameters
    ----------
    predictions : ndarray of shape (n_candidates, n_samples)
        Predicted class of every sample by every candidate.
    y, groups : ndarray of shape (n_samples,)
    name : {"balanced", "accuracy", "group_balanced", "worst_group", "deo"}

    Returns
    -------
    full : ndarray of shape (n_candidates,)
    replicates : ndarray of shape (n_candidates, n_boot)
    """
    if name not in METRICS:
        raise ValueError(f"name must be one of {METRICS}; got {name!r}")
    predictions = np.asarray(predictions)
    rng = np.random.default_rng(random_state)
    cells, n_groups = _cells(y, groups, name, n_groups)
    order = np.argsort(cells, kind="stable")
    cell_ids, starts = np.unique(cells[order], return_index=True)
    wrong = (predictions != np.asarray(y)[None, :])[:, order].astype(np.float64)
    n = len(order)

    def metric(weights):  # weights: (b, n) in sorted order -> (n_candidates, b)
        counts = np.add.reduceat(weights, starts, axis=1)
        out = []
        for row in wrong:
            errors = np.add.reduceat(weights * row, starts, axis=1)
            out.append(metric_from_cells(errors, counts, name, cell_ids, n_groups,
                                         fairness_weight))
        return np.array(out)

    full = metric(np.ones((1, n)))[:, 0]
    chunk = max(1, int(4e6 // max(n, 1)))
    replicates = []
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        replicates.append(metric(rng.poisson(1.0, size=(size, n)).astype(np.float64)))
    return full, np.concatenate(replicates, axis=1)


def paired_selection(full, replicates, distances, *, significance=2.0):
    """Index of the kept candidate (0: the initial loss) and a report of why.

    Parameters
    ----------
    full : ndarray of shape (n_candidates,)
        Errors on the whole validation data; entry 0 is the initial loss.
    replicates : ndarray of shape (n_candidates, n_boot)
        The same errors on paired bootstrap replicates.
    distances : ndarray of shape (n_candidates,)
        How far each candidate lies from the initial loss (0 for entry 0).
    significance : float, default=2.0
        Paired standard errors by which the best searched candidate must beat
        the initial loss.

    Returns
    -------
    index : int
    report : dict
        ``best`` (lowest-error searched candidate), ``improvement``
        (initial error - best error), ``se`` (paired SE of that difference),
        ``moved`` (bool), ``within_one_se`` (indices considered in step 4),
        ``se_to_initial`` (paired SE of every candidate's difference to the
        initial loss).
    """
    full = np.asarray(full, dtype=np.float64)
    replicates = np.asarray(replicates, dtype=np.float64)
    distances = np.asarray(distances, dtype=np.float64)
    if len(full) < 2:
        return 0, {"best": 0, "improvement": 0.0, "se": 0.0, "moved": False,
                   "within_one_se": [], "se_to_initial": np.zeros(len(full))}
    diff_to_initial = replicates - replicates[:1]
    se_initial = diff_to_initial.std(axis=1, ddof=1)
    best = 1 + int(np.argmin(full[1:]))
    improvement = full[0] - full[best]
    passes = (full[0] - full) > significance * se_initial
    passes[0] = False
    report = {"best": best, "improvement": float(improvement), "se": float(se_initial[best]),
              "moved": bool(passes[best]), "within_one_se": [],
              "se_to_initial": se_initial}
    if not passes[best]:
        return 0, report
    se_best = (replicates - replicates[best]).std(axis=1, ddof=1)
    near = np.flatnonzero(passes & (full - full[best] <= se_best))
    report["within_one_se"] = [int(i) for i in near]
    # Smallest distance from the initial loss; ties go to the earliest candidate.
    index = int(near[np.lexsort((near, distances[near]))[0]])
    return index, report
