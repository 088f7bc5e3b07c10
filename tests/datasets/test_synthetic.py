import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.utils import Bunch

from sklearn_autobalance.datasets import make_long_tailed, make_waterbirds_like

# --------------------------------------------------------------------------
# make_long_tailed
# --------------------------------------------------------------------------


def _balanced(n_per_class=100, n_classes=10, n_features=3, seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    rng.shuffle(y)
    X = rng.standard_normal((y.size, n_features))
    return X, y


def test_long_tailed_cifar_profile():
    # CIFAR-10-LT with rho = 100 from 500 per class (scaled-down CIFAR-10).
    X, y = _balanced(n_per_class=500, n_classes=10)
    X_lt, y_lt = make_long_tailed(X, y, 100, random_state=0)
    counts = np.bincount(y_lt)
    expected = [int(np.floor(500 * 100 ** (-i / 9) + 1e-9)) for i in range(10)]
    assert counts.tolist() == expected
    assert counts[0] == 500 and counts[-1] == 5
    assert counts[0] / counts[-1] == 100
    assert np.all(np.diff(counts) <= 0)
    assert X_lt.shape == (counts.sum(), 3)


@settings(max_examples=40, deadline=None)
@given(
    n_classes=st.integers(2, 8),
    n_per_class=st.integers(5, 60),
    rho=st.floats(1.0, 50.0),
    seed=st.integers(0, 2**16),
)
def test_long_tailed_ratio_matches_up_to_rounding(n_classes, n_per_class, rho, seed):
    X, y = _balanced(n_per_class, n_classes, seed=seed % 7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _, y_lt = make_long_tailed(X, y, rho, random_state=seed)
    counts = np.bincount(y_lt, minlength=n_classes)
    n_max = n_per_class
    assert counts[0] == n_max
    tail = counts[-1]
    assert tail == max(1, int(np.floor(n_max / rho + 1e-9)))
    # floor rounding: n_max / rho - 1 < tail <= n_max / rho (unless clipped to 1)
    if tail > 1:
        assert tail <= n_max / rho * (1 + 1e-9)
        assert tail > n_max / rho - 1
    assert counts.max() / counts.min() == pytest.approx(n_max / tail)
    assert np.all(np.diff(counts) <= 0)
    assert np.all(counts >= 1)


def test_long_tailed_rho_one_is_balanced():
    X, y = _balanced(20, 4)
    _, y_lt = make_long_tailed(X, y, 1, random_state=0)
    assert np.bincount(y_lt).tolist() == [20] * 4


def test_long_tailed_unbalanced_input_uses_min_count():
    y = np.array([0] * 50 + [1] * 30 + [2] * 80)
    X = np.arange(y.size)[:, None]
    _, y_lt = make_long_tailed(X, y, 10, random_state=0)
    # n_max = 30; targets 30, floor(30 / sqrt(10)) = 9, 3
    assert np.bincount(y_lt).tolist() == [30, 9, 3]


def test_long_tailed_explicit_n_max():
    y = np.array([0] * 500 + [1] * 500 + [2] * 5)
    X = np.zeros((y.size, 1))
    _, y_lt = make_long_tailed(X, y, 100, n_max=500, random_state=0)
    assert np.bincount(y_lt).tolist() == [500, 50, 5]
    with pytest.raises(ValueError, match="needs 5, has 4"):
        make_long_tailed(X[:-1], y[:-1], 100, n_max=500)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_max"):
            make_long_tailed(X, y, 10, n_max=bad)


def test_long_tailed_deterministic_and_keeps_order():
    X, y = _balanced(30, 5)
    a = make_long_tailed(X, y, 10, random_state=42, return_indices=True)
    b = make_long_tailed(X, y, 10, random_state=42, return_indices=True)
    c = make_long_tailed(X, y, 10, random_state=43, return_indices=True)
    np.testing.assert_array_equal(a[2], b[2])
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[2], c[2])
    idx = a[2]
    assert np.all(np.diff(idx) > 0)  # original row order, no duplicates
    np.testing.assert_array_equal(a[0], X[idx])
    np.testing.assert_array_equal(a[1], y[idx])
    rs = np.random.RandomState(0)
    make_long_tailed(X, y, 10, random_state=rs)  # RandomState accepted


def test_long_tailed_does_not_modify_inputs():
    X, y = _balanced(30, 3)
    X0, y0 = X.copy(), y.copy()
    X_lt, _ = make_long_tailed(X, y, 5, random_state=0)
    X_lt[:] = -1.0
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_long_tailed_class_order():
    X, y = _balanced(40, 3)
    _, y_lt = make_long_tailed(X, y, 4, class_order=[2, 0, 1], random_state=0)
    counts = np.bincount(y_lt)
    assert counts[2] == 40 and counts[0] == 20 and counts[1] == 10
    for bad in ([0, 1], [0, 1, 1], [0, 1, 5], [[0, 1, 2]]):
        with pytest.raises(ValueError, match="class_order"):
            make_long_tailed(X, y, 4, class_order=bad)


def test_long_tailed_string_labels_sorted_head():
    y = np.array(["cat"] * 20 + ["ant"] * 20 + ["bee"] * 20)
    X = np.arange(60).reshape(-1, 1)
    _, y_lt = make_long_tailed(X, y, 4, random_state=0)
    labels, counts = np.unique(y_lt, return_counts=True)
    assert dict(zip(labels, counts)) == {"ant": 20, "bee": 10, "cat": 5}
    assert y_lt.dtype == y.dtype


def test_long_tailed_pandas_types_kept():
    pd = pytest.importorskip("pandas")
    X, y = _balanced(20, 3)
    df = pd.DataFrame(X, columns=["a", "b", "c"], index=np.arange(100, 160))
    ys = pd.Series(y, index=df.index, name="label")
    X_lt, y_lt, idx = make_long_tailed(df, ys, 4, random_state=0, return_indices=True)
    assert isinstance(X_lt, pd.DataFrame) and isinstance(y_lt, pd.Series)
    assert list(X_lt.columns) == ["a", "b", "c"]
    assert y_lt.name == "label"
    np.testing.assert_array_equal(X_lt.index, df.index[idx])
    assert y_lt.value_counts().sort_index().tolist() == [20, 10, 5]


def test_long_tailed_sparse_and_list():
    X, y = _balanced(10, 2)
    X_lt, _ = make_long_tailed(sparse.csr_matrix(X), y, 2, random_state=0)
    assert sparse.issparse(X_lt) and X_lt.shape == (15, 3)
    X_lt, y_lt = make_long_tailed(X.tolist(), y.tolist(), 2, random_state=0)
    assert isinstance(X_lt, list) and isinstance(y_lt, list) and len(y_lt) == 15


def test_long_tailed_warns_when_ratio_exceeds_head():
    X, y = _balanced(10, 3)
    with pytest.warns(UserWarning, match="achieved ratio"):
        _, y_lt = make_long_tailed(X, y, 50, random_state=0)
    assert np.bincount(y_lt).tolist() == [10, 1, 1]


@pytest.mark.parametrize("rho", [0.5, 0.0, -2, np.inf, np.nan])
def test_long_tailed_bad_ratio(rho):
    X, y = _balanced(10, 3)
    with pytest.raises(ValueError, match="imbalance_ratio"):
        make_long_tailed(X, y, rho)


@pytest.mark.parametrize("rho", ["10", None, True])
def test_long_tailed_ratio_type(rho):
    X, y = _balanced(10, 3)
    with pytest.raises(TypeError, match="imbalance_ratio"):
        make_long_tailed(X, y, rho)


def test_long_tailed_validation():
    X, y = _balanced(10, 3)
    with pytest.raises(ValueError, match="at least 2 classes"):
        make_long_tailed(X, np.zeros(30), 2)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        make_long_tailed(X[:-1], y, 2)
    with pytest.raises(ValueError, match="one-dimensional"):
        make_long_tailed(X, np.c_[y, y], 2)
    # column vector y is accepted: 10, floor(10 / sqrt(2)) = 7, 5 rows
    _, y_lt = make_long_tailed(X, y[:, None], 2, random_state=0)
    assert y_lt.shape == (22, 1)


# --------------------------------------------------------------------------
# make_waterbirds_like
# --------------------------------------------------------------------------

PAPER_FRACTIONS = {(1, 1): 0.22, (1, 0): 0.012, (0, 1): 0.038, (0, 0): 0.73}


def _cell_counts(y, g):
    return {c: int(np.sum((y == c[0]) & (g == c[1]))) for c in PAPER_FRACTIONS}


def test_paper_fractions_sum_to_one():
    assert sum(PAPER_FRACTIONS.values()) == pytest.approx(1.0)


def test_waterbirds_like_default_counts_are_the_real_ones():
    d = make_waterbirds_like(n_features=8, n_core_features=2,
                             n_spurious_features=2, random_state=0)
    assert isinstance(d, Bunch)
    tr = d.split == "train"
    assert tr.sum() == 4795
    assert _cell_counts(d.y[tr], d.sensitive_features[tr]) == {
        (0, 0): 3498, (0, 1): 184, (1, 0): 56, (1, 1): 1057
    }
    te = d.split == "test"
    assert te.sum() == 1200
    assert set(_cell_counts(d.y[te], d.sensitive_features[te]).values()) == {300}
    assert set(np.unique(d.split)) == {"train", "test"}
    assert d.X.shape == (5995, 8) and d.X.dtype == np.float64
    assert d.y.dtype == np.int64 and d.sensitive_features.dtype == np.int64
    assert d.target_names == ["landbird", "waterbird"]
    assert d.group_names == ["land", "water"]
    assert "Waterbirds" in d.DESCR
    # training rows first
    assert np.all(tr[:4795]) and not np.any(tr[4795:])


@pytest.mark.parametrize("n_samples", [4, 37, 500, 1234])
@pytest.mark.parametrize("n_test", [0, 7, 100])
def test_waterbirds_like_fractions_within_rounding(n_samples, n_test):
    d = make_waterbirds_like(n_samples, 6, n_test=n_test, n_core_features=2,
                             n_spurious_features=2, random_state=1)
    tr = d.split == "train"
    counts = _cell_counts(d.y[tr], d.sensitive_features[tr])
    assert sum(counts.values()) == n_samples
    assert min(counts.values()) >= 1
    if n_samples >= 100:
        for cell, frac in PAPER_FRACTIONS.items():
            # paper fractions are rounded to 3 decimals; allocation rounds to 1 row
            assert abs(counts[cell] - frac * n_samples) <= 0.001 * n_samples + 1
    te = d.split == "test"
    test_counts = list(_cell_counts(d.y[te], d.sensitive_features[te]).values())
    assert sum(test_counts) == n_test
    assert max(test_counts) - min(test_counts) <= 1


def test_waterbirds_like_deterministic():
    kw = dict(n_samples=300, n_features=10, random_state=3)
    a, b = make_waterbirds_like(**kw), make_waterbirds_like(**kw)
    c = make_waterbirds_like(**{**kw, "random_state": 4})
    for key in ("X", "y", "sensitive_features", "split"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.allclose(a.X, c.X)


def test_waterbirds_like_directions_and_rotation():
    d = make_waterbirds_like(2000, 12, n_test=0, random_state=0)
    assert np.linalg.norm(d.core_direction) == pytest.approx(1.0)
    assert np.linalg.norm(d.spurious_direction) == pytest.approx(1.0)
    assert d.core_direction @ d.spurious_direction == pytest.approx(0.0, abs=1e-12)
    # rotated: the signal is not confined to a few coordinates
    assert np.count_nonzero(np.abs(d.core_direction) > 1e-8) > 4
    # class means are 2 * core_strength apart along the core direction
    proj = d.X @ d.core_direction
    gap = proj[d.y == 1].mean() - proj[d.y == 0].mean()
    assert gap == pytest.approx(2 * 1.5, abs=0.25)
    d0 = make_waterbirds_like(200, 12, n_test=0, rotate=False, random_state=0)
    assert np.count_nonzero(d0.core_direction) == 4
    np.testing.assert_array_equal(np.flatnonzero(d0.spurious_direction), [4, 5, 6, 7])


def test_waterbirds_like_dtype():
    d = make_waterbirds_like(100, 8, dtype=np.float32, random_state=0)
    assert d.X.dtype == np.float32
    with pytest.raises(ValueError, match="floating"):
        make_waterbirds_like(100, 8, dtype=np.int64)


def test_waterbirds_like_erm_learns_the_shortcut():
    d = make_waterbirds_like(n_features=32, random_state=0)
    tr, te = d.split == "train", d.split == "test"
    clf = LogisticRegression(max_iter=1000).fit(d.X[tr], d.y[tr])
    err = clf.predict(d.X[te]) != d.y[te]
    y, g = d.y[te], d.sensitive_features[te]
    cell_err = {c: err[(y == c[0]) & (g == c[1])].mean() for c in PAPER_FRACTIONS}
    majority = (cell_err[(0, 0)] + cell_err[(1, 1)]) / 2  # bird matches background
    minority = (cell_err[(0, 1)] + cell_err[(1, 0)]) / 2
    assert majority < 0.05
    assert minority > 0.2
    assert minority > 5 * majority
    # the rarest cell (waterbird on land, 56 training rows) is the worst
    assert max(cell_err, key=cell_err.get) == (1, 0)
    assert cell_err[(1, 0)] > 0.3
    # the core is informative: an oracle on the core direction beats chance
    oracle = (d.X[te] @ d.core_direction > 0).astype(int)
    assert np.mean(oracle == y) > 0.85


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(n_samples=3), ValueError, "n_samples"),
        (dict(n_samples=10.0), TypeError, "n_samples"),
        (dict(n_features=7), ValueError, "n_features"),
        (dict(n_test=-1), ValueError, "n_test"),
        (dict(n_core_features=0), ValueError, "n_core_features"),
        (dict(core_strength=0), ValueError, "core_strength"),
        (dict(spurious_strength=np.inf), ValueError, "spurious_strength"),
        (dict(noise=-1.0), ValueError, "noise"),
        (dict(noise="1"), TypeError, "noise"),
    ],
)
def test_waterbirds_like_validation(kwargs, exc, match):
    params = dict(n_samples=100, n_features=8)
    params.update(kwargs)
    with pytest.raises(exc, match=match):
        make_waterbirds_like(**params)
