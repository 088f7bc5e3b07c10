"""AnyLossClassifier: scikit-learn contract, warm start, sample weights, errors, F1 gain.

Every fit is tiny (a few hundred samples, one hidden layer of 8 or 16 units,
a few epochs): the point is behaviour, not accuracy.
"""

import doctest
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback

import sklearn_autobalance._anyloss as anyloss_module
from sklearn_autobalance import AnyLossClassifier, AutoBalanceClassifier
from sklearn_autobalance.losses import AnyLoss

def _fast(**kwargs):
    params = dict(hidden_layer_sizes=(8,), max_epochs=3, batch_size=64, lr=1e-2, random_state=0)
    params.update(kwargs)
    return AnyLossClassifier(**params)

def _data(n_samples=240, n_classes=2, seed=0, weights=None, class_sep=1.5):
    weights = weights or {2: [0.8, 0.2], 3: [0.6, 0.3, 0.1]}[n_classes]
    return make_classification(
        n_samples=n_samples, n_features=5, n_informative=3, n_redundant=0,
        n_classes=n_classes, n_clusters_per_class=1, weights=weights, class_sep=class_sep,
        random_state=seed)

@pytest.fixture(scope="module")
def data():
    return _data()

# ------------------------------------------------------------ estimator checks
EXPECTED_FAILED = {
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch training: a weight of 2 counts a sample twice in its batch's soft "
        "confusion matrix, but repeating the sample changes which samples share a batch "
        "and the number of batches per epoch (with one full batch the two agree: "
        "test_full_batch_weights_equal_repeated_samples)"),
    "check_sample_weight_equivalence_on_sparse_data": (
        "the same as on dense data: sparse X trains on the same batches"),
    "check_methods_subset_invariance": (
        "the network computes in float32 and a batched matmul's rounding depends on the "
        "number of rows (BLAS blocking): outputs on a subset differ at the 1e-7 relative "
        "level, the check's tolerance"),
}

# 10 epochs of batches of 64: check_classifiers_train asks for > 83% training
# accuracy on its 3-class blobs, which 3-4 epochs of batch 256 do not reach.
# Scikit-learn's checks fit degenerate data on purpose.
@pytest.mark.filterwarnings("ignore:AnyLossClassifier predicts one class")
@parametrize_with_checks(
    [AnyLossClassifier(hidden_layer_sizes=(16,), max_epochs=10, batch_size=64, lr=1e-2,
                       random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

def test_docstring_example():
    result = doctest.testmod(anyloss_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0

# ------------------------------------------------------------ meta-estimators
def test_pipeline_and_attributes(data):
    X, y = data
    pipe = Pipeline([("scale", StandardScaler()), ("clf", _fast(max_epochs=5))])
    pipe.fit(X * 100 + 7, y)
    assert pipe.score(X * 100 + 7, y) > 0.6
    clf = pipe[-1]
    assert pipe.predict_proba(X[:5] * 100 + 7).shape == (5, 2)
    assert clf.decision_function(X[:5]).shape == (5,)
    assert isinstance(clf.criterion_, AnyLoss) and clf.criterion_.metric == "f1"
    assert len(clf.net_.history) == 5

def test_grid_search(data):
    X, y = data
    grid = GridSearchCV(_fast(max_epochs=2), {"metric": ["f1", "gmean"], "amplifier": [10.0, 73.0]},
                        cv=2, scoring="f1", error_score="raise")
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))

def test_clone_and_pickle_round_trip(data):
    X, y = data
    clf = _fast(metric="fbeta", beta=2.0).fit(X, y)
    assert clone(clf).get_params() == clf.get_params()
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))
    assert restored.criterion_.beta == 2.0

def test_same_seed_same_predictions(data):
    X, y = data
    a = _fast(random_state=3).fit(X, y).predict_proba(X)
    b = _fast(random_state=3).fit(X, y).predict_proba(X)
    c = _fast(random_state=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)

def test_string_labels_positive_class_is_second(data):
    X, y = data
    names = np.array(["no", "yes"])
    clf = _fast().fit(X, names[y])
    np.testing.assert_array_equal(clf.classes_, names)
    np.testing.assert_array_equal(clf.predict(X), names[_fast().fit(X, y).predict(X)])

@pytest.mark.parametrize("average", ["macro", "micro"])
def test_multiclass_fit(average):
    X, y = _data(n_classes=3)
    clf = _fast(metric="f1", average=average, max_epochs=6, lr=3e-2).fit(X, y)
    assert clf.predict_proba(X).shape == (len(y), 3)
    assert clf.criterion_.n_classes == 3 and clf.criterion_.average == average
    assert f1_score(y, clf.predict(X), average="macro") > 0.4

def test_callable_metric_fit(data):
    X, y = data

    def recall(tp, fn, fp, tn):
        return tp / (tp + fn + 1e-7)

    clf = _fast(metric=recall, max_epochs=4).fit(X, y)
    assert clf.criterion_.metric_fn is recall
    # Maximising recall alone drives the network towards predicting positive.
    assert clf.predict(X).mean() > y.mean()

# ------------------------------------------------------------ warm start
# 2 AnyLoss epochs on tiny data: a collapse is not what this test checks.
@pytest.mark.filterwarnings("ignore:AnyLossClassifier predicts one class")
def test_pretrain_epochs_are_plain_cross_entropy(data):
    X, y = data
    clf = _fast(pretrain_epochs=2, max_epochs=2).fit(X, y)
    history = clf.net_.history
    assert len(history) == 4
    assert clf.net_.criterion_.epoch == 3 and not clf.net_.criterion_.pretraining
    # Same seed, same network and batches: the first two epochs are exactly the
    # plain-CE training of AutoBalanceClassifier(search=None, init="ce").
    ce = AutoBalanceClassifier(search=None, init="ce", hidden_layer_sizes=(8,), max_epochs=2,
                               batch_size=64, lr=1e-2, random_state=0).fit(X, y)
    np.testing.assert_allclose(history[:2, "train_loss"], ce.net_.history[:, "train_loss"],
                               rtol=1e-6)
    # The AnyLoss epochs report 1 - soft F1, in [0, 1].
    assert all(0.0 <= v <= 1.0 for v in history[2:, "train_loss"])
    assert not np.allclose(clf.predict_proba(X), ce.predict_proba(X))

# ------------------------------------------------------------ amplifier warm-up
class _RecordAmplifier(Callback):
    """Records the AnyLoss amplifier in force during each epoch."""

    def initialize(self):
        self.values = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.values.append(net.criterion_.anyloss.amplifier)


@pytest.mark.parametrize("warmup, pretrain, max_epochs, expected", [
    # round(0.5 * 4) = 2 warm-up epochs: L = 1, 73 ** 0.5, then 73.
    (0.5, 0, 4, [1.0, 73.0 ** 0.5, 73.0, 73.0]),
    # Pretraining epochs do not count; the warm-up starts with the first AnyLoss epoch.
    (0.5, 2, 4, [73.0, 73.0, 1.0, 73.0 ** 0.5, 73.0, 73.0]),
    # warm-up 1.0 is capped at max_epochs - 1: the last epoch always trains at L.
    (1.0, 0, 3, [1.0, 73.0 ** 0.5, 73.0]),
    # 0: the paper's constant amplifier.
    (0.0, 0, 3, [73.0, 73.0, 73.0]),
])
def test_amplifier_warmup_resolves_as_documented(data, warmup, pretrain, max_epochs, expected):
    X, y = data
    clf = _fast(amplifier_warmup=warmup, pretrain_epochs=pretrain, max_epochs=max_epochs,
                callbacks=[_RecordAmplifier()]).fit(X, y)
    recorded = dict(clf.net_.callbacks_)["user_0"].values
    np.testing.assert_allclose(recorded[pretrain:], expected[pretrain:])
    assert clf.criterion_.amplifier == 73.0


def test_no_warmup_is_the_constant_amplifier_loss(data):
    # amplifier_warmup=0 trains exactly as a constant L: the same as a warm-up
    # whose start value is the amplifier itself.
    X, y = data
    a = _fast(amplifier_warmup=0.0, amplifier=0.8).fit(X, y).predict_proba(X)
    b = _fast(amplifier_warmup=1.0, amplifier=0.8).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    c = _fast(amplifier_warmup=1.0, amplifier=73.0).fit(X, y).predict_proba(X)
    assert not np.allclose(a, c)


# ------------------------------------------------------------ sample weights
def test_unit_weights_change_nothing(data):
    X, y = data
    a = _fast(pretrain_epochs=1).fit(X, y).predict_proba(X)
    b = _fast(pretrain_epochs=1).fit(X, y, sample_weight=np.ones(len(y))).predict_proba(X)
    np.testing.assert_array_equal(a, b)

def test_full_batch_weights_equal_repeated_samples():
    X, y = _data(n_samples=60, seed=1)
    w = np.random.default_rng(0).integers(1, 4, len(y))
    rep = np.repeat(np.arange(len(y)), w)
    kw = dict(batch_size=1000, max_epochs=5, metric="gmean")
    weighted = _fast(**kw).fit(X, y, sample_weight=w).predict_proba(X)
    repeated = _fast(**kw).fit(X[rep], y[rep]).predict_proba(X)
    np.testing.assert_allclose(weighted, repeated, atol=1e-5)

def test_weights_steer_the_model(data):
    X, y = data
    plain = _fast(max_epochs=4).fit(X, y).predict(X).mean()
    heavy = _fast(max_epochs=4).fit(X, y, sample_weight=np.where(y == 1, 1.0, 20.0))
    assert heavy.predict(X).mean() < plain

def test_zero_weights_rejected(data):
    X, y = data
    with pytest.raises(ValueError, match="non-zero|positive sum"):
        _fast().fit(X, y, sample_weight=np.zeros(len(y)))

def test_no_sensitive_features(data):
    X, y = data
    with pytest.raises(TypeError):
        _fast().fit(X, y, sensitive_features=np.zeros(len(y)))

# ------------------------------------------------------------ errors
@pytest.mark.parametrize("params, match", [
    (dict(metric="auc"), r"unknown metric 'auc'.*\['accuracy', 'balanced_accuracy', 'f1'"),
    (dict(metric=None), "callable"),
    (dict(beta=0.0), "beta"),
    (dict(beta=-1.0), "beta"),
    (dict(amplifier=0.0), "amplifier"),
    (dict(amplifier=-73.0), "amplifier"),
    (dict(average="weighted"), "average"),
    (dict(pretrain_epochs=-1), "pretrain_epochs"),
    (dict(amplifier_warmup=-0.1), "amplifier_warmup"),
    (dict(amplifier_warmup=1.5), "amplifier_warmup"),
    (dict(amplifier_warmup=float("nan")), "amplifier_warmup"),
    (dict(amplifier_warmup="auto"), "amplifier_warmup"),
    (dict(metric=lambda tp, fn, fp, tn: 0.9), "must return a torch.Tensor"),
    (dict(metric=lambda tp, fn, fp, tn: tp / (tp - tp)), "non-finite"),
])
def test_bad_parameters(data, params, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        _fast(**params).fit(X, y)

# ------------------------------------------------------------ the point of it
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_anyloss_f1_beats_cross_entropy_on_imbalanced_data(seed):
    # ~9% positives, weakly separated: CE mostly predicts the majority class.
    # Training F1 (what the loss optimises); margins >= 0.2 over 6 seeds checked.
    X, y = make_classification(n_samples=300, n_features=6, n_informative=3, n_redundant=0,
                               weights=[0.91], class_sep=0.5, random_state=seed)
    kw = dict(hidden_layer_sizes=(16,), max_epochs=20, batch_size=256, lr=1e-2, random_state=0)
    ce = AutoBalanceClassifier(search=None, init="ce", **kw).fit(X, y)
    al = AnyLossClassifier(metric="f1", **kw).fit(X, y)
    assert f1_score(y, al.predict(X)) > f1_score(y, ce.predict(X)) + 0.1

# ------------------------------------------------------------ pos_label
def _fraud(n=300, seed=0):
    return make_classification(n_samples=n, n_features=6, n_informative=4, weights=[0.9, 0.1],
                               class_sep=1.2, random_state=seed)


@pytest.mark.parametrize("pos, neg", [("fraud", "ok"), ("yes", "no"), ("b", "a"), (7, 3)])
def test_string_labels_in_any_order_give_the_01_model(pos, neg):
    X, y = _fraud()
    reference = _fast(max_epochs=6).fit(X, y)
    labels = np.where(y == 1, pos, neg)
    clf = _fast(max_epochs=6).fit(X, labels)
    assert clf.pos_label_ == pos  # the rarer class
    # Same network, same training: the positive class's probability is identical.
    col = list(clf.classes_).index(pos)
    np.testing.assert_array_equal(clf.predict_proba(X)[:, col], reference.predict_proba(X)[:, 1])
    assert f1_score(labels, clf.predict(X), pos_label=pos) == f1_score(y, reference.predict(X))
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("labels, expected", [
    ((0, 1), 1), ((-1, 1), 1), ((False, True), True)])
def test_default_pos_label_for_conventional_labels(labels, expected):
    X, y = _fraud()
    y = np.where(y == 1, labels[0], labels[1])  # the positive label is now the majority
    assert _fast(max_epochs=1).fit(X, y).pos_label_ == expected


def test_explicit_pos_label_and_unknown_label():
    X, y = _fraud()
    labels = np.where(y == 1, "fraud", "ok")
    assert _fast(max_epochs=1, pos_label="ok").fit(X, labels).pos_label_ == "ok"
    with pytest.raises(ValueError, match=r"pos_label='spam' is not one of the classes "
                       r"\['fraud', 'ok'\]"):
        _fast(max_epochs=1, pos_label="spam").fit(X, labels)


def test_pos_label_multiclass():
    X, y = _data(n_classes=3)
    assert _fast(max_epochs=1).fit(X, y).pos_label_ is None
    with pytest.raises(ValueError, match="pos_label=1 applies to binary problems"):
        _fast(max_epochs=1, pos_label=1).fit(X, y)


@pytest.mark.filterwarnings("ignore:AnyLossClassifier predicts one class")
def test_pos_label_round_trips_clone_and_grid_search():
    X, y = _fraud()
    labels = np.where(y == 1, "fraud", "ok")
    clf = _fast(max_epochs=2, pos_label="fraud")
    assert clone(clf).get_params()["pos_label"] == "fraud"
    grid = GridSearchCV(clf, {"pos_label": ["fraud", "ok"]}, cv=2).fit(X, labels)
    assert grid.best_estimator_.pos_label_ in ("fraud", "ok")
    assert [p["pos_label"] for p in grid.cv_results_["params"]] == ["fraud", "ok"]


# ------------------------------------------------------------ collapse warning
class _BiasOnly(__import__("torch").nn.Module):
    """Ignores X: whatever the loss, the prediction is one class."""

    def __init__(self, n_features, n_classes):
        super().__init__()
        import torch
        self.bias = torch.nn.Parameter(torch.tensor([0.5, -0.5]))

    def forward(self, X):
        return self.bias.expand(len(X), 2)


def test_collapse_warning_on_a_constructed_collapse():
    X, y = _fraud()
    labels = np.where(y == 1, "fraud", "ok")
    with pytest.warns(UserWarning, match=r"predicts one class \('(fraud|ok)'\) for all 300 "
                      r"training samples.*metric_weight < 1") as record:
        clf = _fast(module=_BiasOnly).fit(X, labels)
    assert len(np.unique(clf.predict(X))) == 1
    assert record[0].filename == __file__  # points at the caller's fit


def test_no_collapse_warning_on_a_healthy_fit(recwarn):
    X, y = _fraud()
    clf = _fast(max_epochs=20).fit(X, y)
    assert len(np.unique(clf.predict(X))) == 2
    assert not [w for w in recwarn.list if "predicts one class" in str(w.message)]


# ------------------------------------------------------------ metric_weight
@pytest.mark.parametrize("mix, init", [("plain", "ce"), ("balanced", "balanced")])
def test_metric_weight_zero_is_cross_entropy(mix, init):
    X, y = _fraud()
    from sklearn_autobalance import AutoBalanceClassifier as AB
    mixed = _fast(metric_weight=0.0, mix_weighting=mix).fit(X, y)
    ce = AB(search=None, init=init, hidden_layer_sizes=(8,), max_epochs=3, batch_size=64,
            lr=1e-2, random_state=0).fit(X, y)
    np.testing.assert_allclose(mixed.predict_proba(X), ce.predict_proba(X), rtol=1e-5,
                               atol=1e-6)


def test_metric_weight_one_is_the_paper_loss():
    X, y = _fraud()
    pure = _fast(metric_weight=1.0).fit(X, y).predict_proba(X)
    # With r = 1 the CE term is gone, whatever its weighting.
    np.testing.assert_array_equal(
        pure, _fast(metric_weight=1.0, mix_weighting="plain").fit(X, y).predict_proba(X))
    assert not np.allclose(pure, _fast().fit(X, y).predict_proba(X))  # default r = 0.5


def test_mixed_loss_value():
    import torch
    counts = np.array([90.0, 10.0])
    anyloss = AnyLoss(counts, metric="f1")
    crit = anyloss_module._WarmStartAnyLoss(counts, anyloss, metric_weight=0.3,
                                            mix_weighting="balanced")
    logits, y = torch.randn(16, 2, generator=torch.Generator().manual_seed(0)), torch.tensor(
        [0] * 12 + [1] * 4)
    from sklearn_autobalance.losses import WeightedCrossEntropy
    expected = 0.3 * anyloss(logits, y) + 0.7 * WeightedCrossEntropy(counts)(logits, y)
    assert float(crit(logits, y)) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize("params, match", [
    ({"metric_weight": 1.5}, "metric_weight must lie in"),
    ({"mix_weighting": "inverse"}, "mix_weighting must be 'balanced', 'plain' or 'calibrated'")])
def test_bad_mix_params(params, match):
    X, y = _fraud()
    with pytest.raises(ValueError, match=match):
        _fast(**params).fit(X, y)


# ------------------------------------------------------------ calibrated CE term
def test_calibrated_weight_sets_the_threshold_at_half_the_running_f():
    import torch
    counts = np.array([80.0, 20.0])
    crit = anyloss_module._WarmStartAnyLoss(counts, AnyLoss(counts), metric_weight=0.5,
                                            mix_weighting="calibrated", f_beta=1.0)
    crit.eval()  # no update of the running F
    crit.running_f.fill_(0.6)
    w = crit._calibrated_weight(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))
    # Weighted CE is minimised by p(1|x) > w0 / (w0 + w1): that threshold is F / 2.
    assert float(w[0] / (w[0] + w[1])) == pytest.approx(0.3)
    assert float((crit.prior * w).sum()) == pytest.approx(1.0)  # mean weight 1


def test_calibrated_running_f_tracks_the_batch_f1():
    import torch
    counts = np.array([6.0, 2.0])
    crit = anyloss_module._WarmStartAnyLoss(counts, AnyLoss(counts), metric_weight=0.5,
                                            mix_weighting="calibrated", f_beta=1.0)
    logits = torch.tensor([[4.0, -4.0]] * 6 + [[-4.0, 4.0]] * 2)  # perfect: F1 = 1
    y = torch.tensor([0] * 6 + [1] * 2)
    start = float(crit.running_f)
    crit.train()
    crit(logits, y)
    assert float(crit.running_f) == pytest.approx(0.9 * start + 0.1 * 1.0)


def test_calibrated_mix_weighting_resolution():
    X, y = _fraud()
    clf = _fast(metric="f1", mix_weighting="calibrated", max_epochs=1).fit(X, y)
    assert clf.net_.criterion_.f_beta == 1.0
    clf = _fast(metric="fbeta", beta=2.0, mix_weighting="calibrated", max_epochs=1).fit(X, y)
    assert clf.net_.criterion_.f_beta == 2.0
    assert _fast(max_epochs=1).fit(X, y).net_.criterion_.f_beta is None  # balanced default
    with pytest.raises(ValueError, match="mix_weighting='calibrated' needs a binary"):
        _fast(metric="gmean", mix_weighting="calibrated").fit(X, y)
