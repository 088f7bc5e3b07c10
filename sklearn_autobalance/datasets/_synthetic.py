"""Synthetic and resampled benchmark data.

``make_long_tailed`` turns a (typically balanced) labelled data set into the
exponentially long-tailed version used by the long-tail literature (CIFAR-LT,
Cui et al. 2019; Cao et al. 2019; the AutoBalance paper, Section 4.1).

``make_waterbirds_like`` draws a feature-space stand-in for the Waterbirds
spurious-correlation benchmark (Sagawa et al. 2020) as used in the AutoBalance
paper, Section 4.2: binary bird type, binary background, the real training
cell fractions and a test split balanced over the four cells.
"""

# This module imports only numpy and scikit-learn.

import numbers
import warnings

import numpy as np
from sklearn.utils import Bunch, _safe_indexing, check_consistent_length
from sklearn.utils import check_random_state

__all__ = ["make_long_tailed", "make_waterbirds_like"]


# --------------------------------------------------------------------------
# make_long_tailed
# --------------------------------------------------------------------------


def _long_tailed_targets(n_max, n_classes, imbalance_ratio):
    """Per-rank targets ``max(1, floor(n_max * rho ** (-i / (K - 1))))``."""
    ranks = np.arange(n_classes, dtype=float)
    # Divide (rather than multiply by 1 / rho) and allow a tiny tolerance so
    # that exact cases such as 5000 / 100 are not floored to 49.
    exact = n_max / imbalance_ratio ** (ranks / (n_classes - 1))
    targets = np.floor(exact * (1.0 + 1e-12)).astype(np.int64)
    targets[0] = n_max
    return np.maximum(targets, 1)


def make_long_tailed(
    X,
    y,
    imbalance_ratio,
    *,
    class_order=None,
    n_max=None,
    random_state=None,
    return_indices=False,
):
    r"""Subsample a data set to an exponentially long-tailed class profile.

    This is the construction of CIFAR-10-LT / CIFAR-100-LT (Cui et al. 2019,
    Cao et al. 2019) used in the AutoBalance paper (Section 4.1): with the
    classes ranked from head (rank 0) to tail (rank :math:`K-1`), class of
    rank :math:`i` keeps

    .. math::

        n_i = \max\left(1, \left\lfloor n_{\max}\,
              \rho^{-i/(K-1)} \right\rfloor\right),

    rows drawn uniformly without replacement from that class, where
    :math:`\rho` is ``imbalance_ratio``. The head class keeps exactly
    :math:`n_{\max}` rows, so the ratio of the largest to the smallest class
    of the result is :math:`\rho` up to the flooring of the tail count.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Input data. NumPy arrays, sparse matrices, lists and pandas
        DataFrames are supported; the type is kept in the output.
    y : array-like of shape (n_samples,)
        Class labels (integers, strings, ...). A pandas Series keeps its type.
    imbalance_ratio : float
        :math:`\rho \ge 1`, the ratio of the head-class count to the
        tail-class count. ``1`` gives a balanced subsample of ``n_max`` rows
        per class.
    class_order : array-like of shape (n_classes,), default=None
        The class labels listed from head to tail (a permutation of the
        unique labels of ``y``). ``None`` uses the sorted unique labels, so
        that the smallest label (e.g. class ``0``) is the head, as in
        CIFAR-LT.
    n_max : int, default=None
        Number of rows kept for the head class. ``None`` uses the smallest
        class count of ``y``, which every class can supply whatever the
        ordering (for a balanced input this is the per-class count, as in
        CIFAR-LT). A larger value is allowed when each class still holds its
        target :math:`n_i`; otherwise a ``ValueError`` is raised.
    random_state : int, RandomState instance or None, default=None
        Controls which rows are drawn. Pass an int for reproducible output.
    return_indices : bool, default=False
        If True, also return the (sorted) positional indices of the kept rows.

    Returns
    -------
    X_lt : array-like or sparse matrix of shape (n_kept, n_features)
        The kept rows of ``X``, in their original order, same type as ``X``.
    y_lt : array-like of shape (n_kept,)
        The matching labels, same type as ``y``.
    indices : ndarray of shape (n_kept,)
        Increasing positional indices into ``X`` and ``y`` of the kept rows.
        Only returned if ``return_indices=True``.

    Warns
    -----
    UserWarning
        If ``imbalance_ratio > n_max``: the tail keeps one row and the
        achieved ratio (``n_max``) is smaller than the requested one.

    Notes
    -----
    The inputs are never modified. Classes are sampled one after another in
    head-to-tail order from a single random generator, so a fixed
    ``random_state`` gives the same rows on every call.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autobalance.datasets import make_long_tailed
    >>> X = np.arange(300).reshape(100, 3)
    >>> y = np.repeat([0, 1, 2, 3], 25)
    >>> X_lt, y_lt = make_long_tailed(X, y, imbalance_ratio=10, random_state=0)
    >>> np.bincount(y_lt)
    array([25, 11,  5,  2])
    >>> X_lt.shape
    (43, 3)
    """
    check_consistent_length(X, y)
    imbalance_ratio = _check_imbalance_ratio(imbalance_ratio)

    y_arr = np.asarray(y)
    if y_arr.ndim != 1:
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            y_arr = y_arr.ravel()
        else:
            raise ValueError(
                f"y must be one-dimensional, got an array of shape {y_arr.shape}."
            )

    classes, y_codes = np.unique(y_arr, return_inverse=True)
    y_codes = y_codes.ravel()
    n_classes = classes.shape[0]
    if n_classes < 2:
        raise ValueError(
            f"make_long_tailed needs at least 2 classes; y has {n_classes}."
        )

    # Head-to-tail order, as positions into ``classes``.
    if class_order is None:
        order = np.arange(n_classes)
    else:
        order = _check_class_order(class_order, classes)

    counts = np.bincount(y_codes, minlength=n_classes)[order]

    if n_max is None:
        n_max = int(counts.min())
    else:
        if (
            not isinstance(n_max, numbers.Integral)
            or isinstance(n_max, bool)
            or n_max < 1
        ):
            raise ValueError(f"n_max must be a positive integer or None, got {n_max!r}.")
        n_max = int(n_max)

    targets = _long_tailed_targets(n_max, n_classes, imbalance_ratio)
    short = np.flatnonzero(targets > counts)
    if short.size:
        details = ", ".join(
            f"{classes[order[r]]!r} (needs {targets[r]}, has {counts[r]})"
            for r in short
        )
        raise ValueError(
            f"n_max={n_max} with imbalance_ratio={imbalance_ratio:g} asks for "
            f"more rows than some classes hold: {details}."
        )

    if imbalance_ratio > n_max:
        warnings.warn(
            f"imbalance_ratio={imbalance_ratio:g} exceeds the head-class size "
            f"n_max={n_max}; the tail keeps 1 row and the achieved ratio is "
            f"{n_max}.",
            UserWarning,
            stacklevel=2,
        )

    rng = check_random_state(random_state)
    chosen = []
    for rank, code in enumerate(order):
        members = np.flatnonzero(y_codes == code)
        chosen.append(rng.choice(members, size=targets[rank], replace=False))
    indices = np.sort(np.concatenate(chosen)).astype(np.intp)

    X_lt = _safe_indexing(X, indices)
    y_lt = _safe_indexing(y, indices)
    if return_indices:
        return X_lt, y_lt, indices
    return X_lt, y_lt


def _check_imbalance_ratio(imbalance_ratio):
    if isinstance(imbalance_ratio, bool) or not isinstance(
        imbalance_ratio, numbers.Real
    ):
        raise TypeError(
            f"imbalance_ratio must be a real number, got {type(imbalance_ratio).__name__}."
        )
    imbalance_ratio = float(imbalance_ratio)
    if not np.isfinite(imbalance_ratio) or imbalance_ratio < 1:
        raise ValueError(
            f"imbalance_ratio must be a finite number >= 1, got {imbalance_ratio!r}."
        )
    return imbalance_ratio


def _check_class_order(class_order, classes):
    order_labels = np.asarray(class_order)
    if order_labels.ndim != 1:
        raise ValueError("class_order must be one-dimensional.")
    if order_labels.shape[0] != classes.shape[0] or len(
        np.unique(order_labels)
    ) != order_labels.shape[0]:
        raise ValueError(
            "class_order must list every class of y exactly once; "
            f"got {order_labels.tolist()!r} for classes {classes.tolist()!r}."
        )
    pos = np.searchsorted(classes, order_labels)
    pos = np.clip(pos, 0, classes.shape[0] - 1)
    if not np.all(classes[pos] == order_labels):
        raise ValueError(
            "class_order must list every class of y exactly once; "
            f"got {order_labels.tolist()!r} for classes {classes.tolist()!r}."
        )
    return pos


# --------------------------------------------------------------------------
# make_waterbirds_like
# --------------------------------------------------------------------------

#: Cell counts of the official Waterbirds training split (Sagawa et al. 2020),
#: keyed by (y, place): y 0 = landbird, 1 = waterbird; place 0 = land, 1 = water.
#: As fractions of 4795 these are 0.730, 0.038, 0.012 and 0.220, the values
#: quoted in the AutoBalance paper (Section 4.2).
WATERBIRDS_TRAIN_COUNTS = {(0, 0): 3498, (0, 1): 184, (1, 0): 56, (1, 1): 1057}

_CELLS = ((0, 0), (0, 1), (1, 0), (1, 1))

_WATERBIRDS_LIKE_DESCR = """\
Waterbirds-like synthetic features
----------------------------------

A feature-space stand-in for ResNet features of the Waterbirds benchmark
(Sagawa et al. 2020; AutoBalance paper, Section 4.2).

Target y: 0 = landbird, 1 = waterbird.
Sensitive feature (background, "place"): 0 = land, 1 = water.

Training split: the four (y, place) cells in the Waterbirds training
fractions (landbird/land 0.730, landbird/water 0.038, waterbird/land 0.012,
waterbird/water 0.220), so bird type and background agree on 95% of the rows.
Test split: balanced over the four cells.

Each row is x = Q [s_core * (2y - 1) u_core + s_spur * (2g - 1) u_spur + noise],
with u_core spread evenly over the first n_core_features coordinates,
u_spur over the next n_spurious_features coordinates, isotropic Gaussian
noise on every coordinate, and Q a random rotation (unless rotate=False).
The background is easier to read than the bird type (s_spur > s_core by
default), so empirical risk minimisation learns the background shortcut and
errs most on the minority cells (waterbird/land and landbird/water).
"""


def _allocate(total, weights):
    """Split ``total`` in proportion to ``weights`` (largest remainders)."""
    weights = np.asarray(weights, dtype=float)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder = total - counts.sum()
    if remainder:
        # stable tie-break: larger remainder first, then first cell
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:remainder]] += 1
    return counts


def _check_positive_real(name, value, *, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not np.isfinite(value) or not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}.")
    return value


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def make_waterbirds_like(
    n_samples=4795,
    n_features=512,
    *,
    n_test=None,
    n_core_features=4,
    n_spurious_features=4,
    core_strength=1.5,
    spurious_strength=2.5,
    noise=1.0,
    rotate=True,
    dtype=np.float64,
    random_state=None,
):
    r"""Generate a Waterbirds-like spurious-correlation data set of features.

    A feature-space stand-in for the Waterbirds benchmark (Sagawa et al.
    2020) as used in the AutoBalance paper (Section 4.2, 512-d ResNet
    features). The target is the bird type, the sensitive feature is the
    image background:

    - ``y``: 0 = landbird, 1 = waterbird (as in the Waterbirds metadata);
    - ``sensitive_features`` (``place``): 0 = land, 1 = water.

    The training split has the real Waterbirds training cell fractions
    (landbird/land 0.730, landbird/water 0.038, waterbird/land 0.012,
    waterbird/water 0.220; with the default ``n_samples=4795`` exactly the
    real counts 3498 / 184 / 56 / 1057), and the test split is balanced over
    the four (y, place) cells, as in the paper.

    Each row is

    .. math::

        x = Q\left[s_c (2y - 1)\,u_c + s_s (2g - 1)\,u_s
            + \sigma\,\varepsilon\right],
        \qquad \varepsilon \sim \mathcal{N}(0, I),

    where :math:`u_c` (core, bird type) is the unit vector spread evenly
    over the first ``n_core_features`` coordinates, :math:`u_s` (spurious,
    background) over the next ``n_spurious_features`` coordinates, the other
    coordinates are pure noise, and :math:`Q` is a random orthogonal matrix
    (identity when ``rotate=False``), so no single coordinate carries the
    signal. The classes are :math:`2 s_c` apart along :math:`u_c`: the core
    alone gives a Bayes error of :math:`\Phi(-s_c/\sigma)` (about 6.7% by
    default), the background is read with error :math:`\Phi(-s_s/\sigma)`
    (about 0.6%). Because the background is the easier cue and agrees with
    the label on 95% of training rows, empirical risk minimisation leans on
    it and errs most on the minority cells (waterbird on land, landbird on
    water), which is the point of Waterbirds.

    Parameters
    ----------
    n_samples : int, default=4795
        Number of training rows (the size of the Waterbirds training split).
        Must be at least 4; every cell gets at least one row.
    n_features : int, default=512
        Number of features (512 = ResNet-18 penultimate layer). Must be at
        least ``n_core_features + n_spurious_features``.
    n_test : int, default=None
        Number of test rows, split as evenly as possible over the four
        cells. ``None`` means ``4 * round(n_samples / 16)`` (1200 by
        default, 300 per cell); ``0`` gives no test split.
    n_core_features : int, default=4
        Number of (pre-rotation) coordinates carrying the bird type.
    n_spurious_features : int, default=4
        Number of (pre-rotation) coordinates carrying the background.
    core_strength : float, default=1.5
        :math:`s_c > 0`, half the distance between the two bird-type means,
        in units of the noise scale when ``noise=1``.
    spurious_strength : float, default=2.5
        :math:`s_s > 0`, half the distance between the two background means.
    noise : float, default=1.0
        :math:`\sigma > 0`, standard deviation of the isotropic Gaussian noise.
    rotate : bool, default=True
        Whether to apply a random rotation :math:`Q` to the features.
    dtype : numpy dtype, default=np.float64
        Floating dtype of ``X``.
    random_state : int, RandomState instance or None, default=None
        Controls the cell order, the noise and the rotation. Pass an int for
        reproducible output.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        The same layout as :func:`load_waterbirds_features`, with fields

        X : ndarray of shape (n_samples + n_test, n_features)
            Features; the training rows come first, each split in random
            order.
        y : ndarray of shape (n_samples + n_test,), dtype int64
            Bird type: 0 = landbird, 1 = waterbird.
        sensitive_features : ndarray of shape (n_samples + n_test,), dtype int64
            Background (``place``): 0 = land, 1 = water.
        split : ndarray of shape (n_samples + n_test,), dtype str
            ``"train"`` or ``"test"``. Select a split with a boolean mask,
            e.g. ``X[split == "train"]``.
        target_names : list of str
            ``["landbird", "waterbird"]``.
        group_names : list of str
            ``["land", "water"]``.
        core_direction, spurious_direction : ndarray of shape (n_features,)
            The unit vectors :math:`Q u_c` and :math:`Q u_s` in feature space.
        DESCR : str
            Description of the generator.

    See Also
    --------
    load_waterbirds_features : Load real Waterbirds features and metadata.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autobalance.datasets import make_waterbirds_like
    >>> data = make_waterbirds_like(n_samples=1000, n_features=16, random_state=0)
    >>> data.X.shape
    (1248, 16)
    >>> train = data.split == "train"
    >>> cells = 2 * data.y + data.sensitive_features    # (y, place) -> 0..3
    >>> np.bincount(cells[train])
    array([730,  38,  12, 220])
    >>> np.bincount(cells[~train])
    array([62, 62, 62, 62])
    """
    n_samples = _check_int("n_samples", n_samples, 4)
    n_core_features = _check_int("n_core_features", n_core_features, 1)
    n_spurious_features = _check_int("n_spurious_features", n_spurious_features, 1)
    n_features = _check_int(
        "n_features", n_features, n_core_features + n_spurious_features
    )
    if n_test is None:
        n_test = 4 * int(round(n_samples / 16))
    n_test = _check_int("n_test", n_test, 0)
    core_strength = _check_positive_real("core_strength", core_strength)
    spurious_strength = _check_positive_real("spurious_strength", spurious_strength)
    noise = _check_positive_real("noise", noise)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating dtype, got {dtype}.")
    rng = check_random_state(random_state)

    # Cell counts: training in Waterbirds proportions, each cell >= 1 row.
    train_counts = _allocate(n_samples, [WATERBIRDS_TRAIN_COUNTS[c] for c in _CELLS])
    while train_counts.min() < 1:
        train_counts[np.argmax(train_counts)] -= 1
        train_counts[np.argmin(train_counts)] += 1
    test_counts = _allocate(n_test, np.ones(4))

    def cells_of(counts):
        cell_idx = np.repeat(np.arange(4), counts)
        rng.shuffle(cell_idx)
        yy = np.array([_CELLS[c][0] for c in cell_idx], dtype=np.int64)
        gg = np.array([_CELLS[c][1] for c in cell_idx], dtype=np.int64)
        return yy, gg

    y_train, g_train = cells_of(train_counts)
    y_test, g_test = cells_of(test_counts)
    y = np.concatenate([y_train, y_test])
    g = np.concatenate([g_train, g_test])
    split = np.array(["train"] * n_samples + ["test"] * n_test, dtype="<U5")

    u_core = np.zeros(n_features)
    u_core[:n_core_features] = 1.0 / np.sqrt(n_core_features)
    u_spur = np.zeros(n_features)
    u_spur[n_core_features : n_core_features + n_spurious_features] = 1.0 / np.sqrt(
        n_spurious_features
    )

    n_total = n_samples + n_test
    X = noise * rng.standard_normal((n_total, n_features))
    X += np.outer(core_strength * (2 * y - 1), u_core)
    X += np.outer(spurious_strength * (2 * g - 1), u_spur)

    if rotate:
        Q = _random_rotation(n_features, rng)
        X = X @ Q.T
        u_core = Q @ u_core
        u_spur = Q @ u_spur

    return Bunch(
        X=X.astype(dtype, copy=False),
        y=y,
        sensitive_features=g,
        split=split,
        target_names=["landbird", "waterbird"],
        group_names=["land", "water"],
        core_direction=u_core,
        spurious_direction=u_spur,
        DESCR=_WATERBIRDS_LIKE_DESCR,
    )


def _random_rotation(n, rng):
    """Haar-distributed random orthogonal matrix (QR with sign correction)."""
    A = rng.standard_normal((n, n))
    Q, R = np.linalg.qr(A)
    Q *= np.sign(np.diag(R))
    return Q
