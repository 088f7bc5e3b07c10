"""Sparse X: the same model as the dense fit, and never a dense copy of the whole matrix."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from sklearn_autobalance import AnyLossClassifier, AutoBalanceClassifier
from sklearn_autobalance import _sparse
from sklearn_autobalance._sparse import SparseRows, chunk_rows, dense

# These small fits may keep the initial loss (NoGainWarning) or collapse (AnyLoss):
# what is tested is that sparse input gives the dense fit's model, whatever it is.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FORMATS = ("csr", "csc", "coo")


def _data(n=360, d=40, seed=0):
    """Sparse-looking features (80% zeros), three imbalanced classes, a group."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) * (rng.rand(n, d) < 0.2)
    score = X[:, :5].sum(1) + 0.5 * rng.randn(n)
    y = (score > 0.8).astype(int) + (score > 2.0)
    groups = (rng.rand(n) < 0.3).astype(int)
    return X, y, groups


def _as(X, fmt):
    return getattr(sp, f"{fmt}_matrix")(X)


SMALL = dict(hidden_layer_sizes=(16,), max_epochs=3, random_state=0)
ESTIMATORS = {
    # the default: the tournament of arms, batched fold networks
    "autobalance_default": lambda: AutoBalanceClassifier(batch_size=32, **SMALL),
    "autobalance_search_none": lambda: AutoBalanceClassifier(batch_size=32, search=None,
                                                             **SMALL),
    # the hyper-gradient search, cross-fitted with control twins
    "autobalance_hypergradient": lambda: AutoBalanceClassifier(
        batch_size=32, search="l+delta", **SMALL),
    "autobalance_early_stopping": lambda: AutoBalanceClassifier(
        batch_size=32, search=None, early_stopping=True, n_iter_no_change=2, **SMALL),
    "autobalance_augmentation": lambda: AutoBalanceClassifier(
        batch_size=32, search="l+delta", augmentation="shared", **SMALL),
    "anyloss": lambda: AnyLossClassifier(batch_size=64, metric="balanced_accuracy", **SMALL),
    "anyloss_early_stopping": lambda: AnyLossClassifier(
        batch_size=64, metric="balanced_accuracy", early_stopping=True, n_iter_no_change=2,
        pretrain_epochs=1, **SMALL),
}


def _outputs(clf, X):
    return clf.predict(X), clf.predict_proba(X), clf.decision_function(X)


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def dense_fits(data):
    X, y, _ = data
    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, make in ESTIMATORS.items():
            fits[name] = make().fit(X, y)
    return fits


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_sparse_fit_equals_dense_fit(name, fmt, data, dense_fits):
    X, y, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = ESTIMATORS[name]().fit(_as(X, fmt), y)
    reference = dense_fits[name]
    # Bitwise: the batches hold the same float32 values, in the same order. The
    # augmentation's feature scale is computed from the sparse matrix in float64
    # (from the dense tensor in float32), so its noise may differ in the last bit.
    same = (np.testing.assert_array_equal if name != "autobalance_augmentation" else
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6))
    for got, want in zip(_outputs(clf, _as(X, fmt)), _outputs(reference, X)):
        same(got, want)
    assert clf.n_features_in_ == X.shape[1]
    if hasattr(reference, "loss_params_"):
        for key, value in reference.loss_params_.items():
            same(clf.loss_params_[key], value)
    # A model fitted on dense data predicts sparse input the same, and the other way round.
    for got, want in zip(_outputs(reference, _as(X, fmt)), _outputs(reference, X)):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(_outputs(clf, X), _outputs(clf, _as(X, fmt))):
        np.testing.assert_array_equal(got, want)


def test_sparse_crossfitted_head_equals_dense():
    # The cross-fitted output layer: penultimate features of sparse fold rows.
    X, y, groups = _data(n=150, d=20, seed=1)
    y = (y > 0).astype(int)

    def make():
        return AutoBalanceClassifier(hidden_layer_sizes=(8,), max_epochs=2, batch_size=32,
                                     objective="group_balanced", random_state=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = make().fit(X, y, sensitive_features=groups)
        got = make().fit(sp.csr_matrix(X), y, sensitive_features=groups)
    np.testing.assert_array_equal(got.predict_proba(sp.csr_matrix(X)), want.predict_proba(X))


def test_sample_weight_with_sparse(data):
    X, y, _ = data
    weight = np.random.RandomState(0).rand(len(y)) + 0.5
    make = ESTIMATORS["autobalance_search_none"]
    want = make().fit(X, y, sample_weight=weight).predict_proba(X)
    got = make().fit(sp.csr_matrix(X), y, sample_weight=weight).predict_proba(
        sp.csr_matrix(X))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("Estimator", [AutoBalanceClassifier, AnyLossClassifier])
def test_float32_csr_input_is_not_modified(Estimator, data):
    X, y, _ = data
    Xs = sp.csr_matrix(X.astype(np.float32))
    Xs.data.flags.writeable = False  # any write into the caller's arrays would raise
    before = (Xs.data.copy(), Xs.indices.copy(), Xs.indptr.copy())
    clf = Estimator(hidden_layer_sizes=(8,), max_epochs=2, random_state=0, search=None) \
        if Estimator is AutoBalanceClassifier else \
        Estimator(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    clf.fit(Xs, y).predict(Xs)
    for array, copy in zip((Xs.data, Xs.indices, Xs.indptr), before):
        np.testing.assert_array_equal(array, copy)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("Estimator", [AutoBalanceClassifier, AnyLossClassifier])
def test_non_finite_sparse_input_raises(Estimator, bad, data):
    X, y, _ = data
    Xs = sp.csr_matrix(X)
    Xs.data[0] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        Estimator(max_epochs=1).fit(Xs, y)
    clf = Estimator(hidden_layer_sizes=(8,), max_epochs=1, random_state=0)
    if Estimator is AutoBalanceClassifier:
        clf.set_params(search=None)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        clf.predict(Xs)


def test_sparse_tag_and_wrong_width(data):
    X, y, _ = data
    clf = AutoBalanceClassifier(hidden_layer_sizes=(8,), max_epochs=1, search=None,
                                random_state=0).fit(sp.csr_matrix(X), y)
    assert clf.__sklearn_tags__().input_tags.sparse
    assert AnyLossClassifier().__sklearn_tags__().input_tags.sparse
    with pytest.raises(ValueError, match="features"):
        clf.predict(sp.csr_matrix(X[:, :-1]))


def _corpus(n_docs=300, seed=0):
    """Short documents of three long-tailed topics, each with its own likely words."""
    rng = np.random.RandomState(seed)
    common = [f"w{i}" for i in range(60)]
    topics = [[f"t{k}_{i}" for i in range(15)] for k in range(3)]
    labels = rng.choice(3, size=n_docs, p=[0.75, 0.2, 0.05])
    labels[:3] = [0, 1, 2]
    docs = []
    for label in labels:
        words = list(rng.choice(common, size=8)) + list(rng.choice(topics[label], size=3))
        docs.append(" ".join(words))
    return docs, np.array(["news", "sport", "arts"])[labels]


def test_pipeline_tfidf_autobalance():
    docs, labels = _corpus()
    pipe = Pipeline([("tfidf", TfidfVectorizer()),
                     ("clf", AutoBalanceClassifier(hidden_layer_sizes=(16,), max_epochs=8,
                                                   batch_size=32, lr=1e-2, random_state=0))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(docs, labels)
    assert sp.issparse(pipe[0].transform(docs[:2]))
    pred = pipe.predict(docs)
    assert pred.shape == (len(docs),) and set(pred) <= set(labels)
    assert pipe.predict_proba(docs[:4]).shape == (4, 3)
    assert np.mean(pred == labels) > 0.8  # the topic words are easy to learn


@pytest.fixture
def toarray_spy(monkeypatch):
    """Record the shape of every dense array made from a CSR matrix."""
    shapes = []
    original = sp.csr_matrix.toarray

    def spy(self, *args, **kwargs):
        shapes.append(self.shape)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sp.csr_matrix, "toarray", spy)
    return shapes


@pytest.mark.parametrize("name", ["autobalance_default", "autobalance_search_none",
                                  "autobalance_hypergradient", "anyloss_early_stopping"])
def test_whole_matrix_never_densified(name, toarray_spy, monkeypatch):
    # Scoring blocks of at most 50 rows (instead of 64 MiB) on this narrow matrix, so
    # that prediction and validation scoring would show a whole-matrix block too.
    X, y, _ = _data(n=900, d=40, seed=2)
    monkeypatch.setattr(_sparse, "CHUNK_FLOATS", 50 * X.shape[1])
    Xs = sp.csr_matrix(X)
    clf = ESTIMATORS[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(Xs, y)
    clf.predict_proba(Xs)
    assert toarray_spy, "the sparse path densified nothing: was X densified elsewhere?"
    rows = [shape[0] for shape in toarray_spy]
    # The largest blocks: k fold networks' hyper-batches of 4 * batch_size rows each.
    k = 3 if name in ("autobalance_default", "autobalance_hypergradient") else 1
    bound = max(k * 4 * clf.batch_size, 2 * k * 50)
    assert max(rows) <= bound < len(y), (max(rows), bound)
    assert all(shape[1] == X.shape[1] for shape in toarray_spy)


def test_sparse_rows_indexing():
    X = sp.random(20, 7, density=0.3, format="csr", random_state=0, dtype=np.float64)
    rows = SparseRows(X, "cpu")
    assert len(rows) == 20 and rows.shape == (20, 7) and rows.dtype == torch.float32
    idx = torch.tensor([[3, 1, 3], [0, 19, 2]])
    block = dense(rows[idx])
    assert block.shape == (2, 3, 7) and block.dtype == torch.float32
    np.testing.assert_array_equal(block.numpy(), X.toarray().astype(np.float32)[idx.numpy()])
    np.testing.assert_array_equal(dense(rows[2:5]).numpy(),
                                  X.toarray().astype(np.float32)[2:5])
    mask = np.zeros(20, bool)
    mask[[4, 6]] = True
    assert rows[mask].shape == (2, 7)
    np.testing.assert_allclose(rows.column_std().numpy(), X.toarray().std(0), rtol=1e-6)
    tensor = torch.zeros(3, 2)
    assert dense(tensor) is tensor and chunk_rows(tensor, 4096) == 4096
    assert chunk_rows(rows, 4096) == 4096  # 7 features: far below the block budget
    with pytest.raises(TypeError):
        rows[3]
    with pytest.raises(TypeError):
        rows[idx][0]
