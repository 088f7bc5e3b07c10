"""Noise-aware choice of the kept loss: paired bootstrap against the initial loss, one-SE rule.

Every epoch-end candidate of the search (the initial loss at the warm-up's end
first) has a prediction for the same validation samples. Picking the lowest
error among ~30 such candidates is biased towards sampling noise (the winner's
curse), and on a small validation set the noise is larger than the effect of
the loss. The rule here moves away from the initial loss only when the
evidence says so:

1. Paired bootstrap: the samples are resampled with Poisson(1) weights, the
   same weights for every candidate, so a replicate scores all of them on the
   same data; ``se(c, d)`` is the standard deviation over replicates of
   ``error(c) - error(d)``.
2. Each searched candidate is compared with its baseline: the initial loss
   trained for as many epochs on the same batches (the search's control
   network), so that no candidate is credited with what more training alone
   gives. Its gain is ``error(baseline) - error(candidate)``; it passes when
   the gain exceeds ``t * se(gain)``, with ``t`` the bootstrap ``1 -
   significance`` quantile of the largest centred gain / SE over all
   candidates (max-t): the family-wise false-move rate is ``significance``
   however many candidates there are.
3. No candidate passes: the initial loss is kept. Otherwise, among the passing
   candidates within one ``se(c, best)`` of the lowest-error passing one,
   keep the one closest to the initial loss (smallest norm of its search
   coordinates): the simplest change the data support.
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
        return _metric_from_cells(errors, counts, name, cell_ids, n_groups, fairness_weight)


def _metric_from_cells(errors, counts, name, cell_ids, n_groups, fairness_weight):
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
        Predicted class (integers) of every sample by every candidate, or
        (floats) each sample's error directly, e.g. the expected 0-1 error
        ``1 - p(y | x)``; the metric then averages those per cell.
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
    if predictions.dtype.kind == "f":  # per-sample soft errors given directly
        wrong = predictions[:, order].astype(np.float64)
    else:
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
    chunk = max(1, int(1e6 // max(n, 1)))  # replicates at a time: ~8 MB per weight array
    replicates = []
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        replicates.append(metric(rng.poisson(1.0, size=(size, n)).astype(np.float64)))
    return full, np.concatenate(replicates, axis=1)


# False-move rate of the paired max-t rule of the hyper-gradient and head searches:
# the chance of leaving the initial loss when no searched candidate is better.
SIGNIFICANCE = 0.05


def paired_selection(full, replicates, distances, *, baseline=None, significance=0.05):
    """Index of the kept candidate (0: the initial loss) and a report of why.

    Parameters
    ----------
    full : ndarray of shape (n_candidates,)
        Errors on the whole validation data; entry 0 is the initial loss.
    replicates : ndarray of shape (n_candidates, n_boot)
        The same errors on paired bootstrap replicates (the same sample
        weights in column ``b`` for every candidate and baseline).
    distances : ndarray of shape (n_candidates,)
        How far each candidate lies from the initial loss (0 for entry 0).
    baseline : tuple (full, replicates) or None, default=None
        What each candidate must beat: the error of the initial loss trained
        for as long as the candidate (the control network), same shapes as
        ``full`` and ``replicates``. None: entry 0 for every candidate.
    significance : float in (0, 1), default=0.05
        Family-wise false-move rate: when no candidate is better than its
        baseline, the chance that the rule still moves. The threshold is the
        ``1 - significance`` quantile of the bootstrap distribution of the
        largest centred gain-to-SE ratio over the candidates (max-t), so it
        adapts to how many candidates there are and how alike they are.

    Returns
    -------
    index : int
    report : dict
        ``gain`` (baseline error - candidate error) and ``se`` (its paired
        standard error) per candidate, ``threshold`` (the max-t critical
        value), ``passing`` (candidates whose gain exceeds ``threshold * se``),
        ``best`` (lowest error among them, or the lowest error overall when
        none passes), ``moved``, ``within_one_se``.
    """
    full = np.asarray(full, dtype=np.float64)
    replicates = np.asarray(replicates, dtype=np.float64)
    distances = np.asarray(distances, dtype=np.float64)
    if baseline is None:
        base_full = np.full_like(full, full[0])
        base_reps = np.broadcast_to(replicates[:1], replicates.shape)
    else:
        base_full = np.asarray(baseline[0], dtype=np.float64)
        base_reps = np.asarray(baseline[1], dtype=np.float64)
    gain = base_full - full
    gain_reps = base_reps - replicates
    se = gain_reps.std(axis=1, ddof=1) if replicates.shape[1] > 1 else np.zeros(len(full))
    # Searched candidates that differ from their baseline somewhere.
    tested = np.zeros(len(full), dtype=bool)
    tested[1:] = se[1:] > 0
    report = {"gain": gain, "se": se, "threshold": np.inf, "passing": [], "best": 0,
              "moved": False, "within_one_se": []}
    if len(full) > 1:
        report["best"] = 1 + int(np.argmin(full[1:]))
    if not tested.any():
        return 0, report
    t_centred = (gain_reps[tested] - gain[tested, None]) / se[tested, None]
    threshold = float(np.quantile(t_centred.max(axis=0), 1.0 - significance))
    threshold = max(threshold, 0.0)
    passing = np.flatnonzero(tested & (gain > threshold * se))
    report.update(threshold=threshold, passing=[int(i) for i in passing])
    if len(passing) == 0:
        return 0, report
    best = int(passing[np.argmin(full[passing])])
    se_best = (replicates - replicates[best]).std(axis=1, ddof=1)
    near = passing[full[passing] - full[best] <= se_best[passing]]
    # Smallest distance from the initial loss; ties go to the earliest candidate.
    index = int(near[np.lexsort((near, distances[near]))[0]])
    report.update(best=best, moved=True, within_one_se=[int(i) for i in near])
    return index, report
