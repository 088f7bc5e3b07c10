"""AutoBalanceClassifier: scikit-learn contract, search behaviour, input handling.

Every fit is tiny (a few hundred samples, one hidden layer of 8 or 16 units,
2-6 epochs): the point is behaviour, not accuracy.
"""

import copy
import math
import pickle
import warnings
import re

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

from skorch.callbacks import Callback

from sklearn_autobalance import AutoBalanceClassifier
from sklearn_autobalance.losses import ParametricCrossEntropy
from sklearn_autobalance.losses._registry import make_loss

CUDA = torch.cuda.is_available()
FIXED_LOSSES = ("ce", "balanced", "la", "cdt", "vs", "ldam", "gla", "gca", "focal")
PARAMETRIC = ("ce", "balanced", "la", "cdt", "vs")
SEARCHES = ("tau", "l", "delta", "l+delta", "w+l+delta")

def _fast(**kwargs):
    params = dict(hidden_layer_sizes=(8,), max_epochs=3, batch_size=64, lr=1e-2,
                  random_state=0)
    params.update(kwargs)
    return AutoBalanceClassifier(**params)

def _data(n_samples=240, n_classes=3, seed=0):
    weights = {2: [0.75, 0.25], 3: [0.6, 0.3, 0.1]}[n_classes]
    return make_classification(
        n_samples=n_samples, n_features=5, n_informative=3, n_redundant=0,
        n_classes=n_classes, n_clusters_per_class=1, weights=weights, class_sep=1.5,
        random_state=seed)

@pytest.fixture(scope="module")
def data():
    return _data()

@pytest.fixture(scope="module")
def fitted(data):
    """One fitted searching classifier, shared by read-only tests."""
    X, y = data
    return _fast(max_epochs=4, search="l+delta", hypergradient_params={"hyper_lr": 0.1}).fit(X, y)

# ------------------------------------------------------------ estimator checks
EXPECTED_FAILED = {
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch SGD training is not exactly equivalent to repeating samples (a weight "
        "of 2 is not two copies of a sample in the batches), as scikit-learn declares for "
        "MLPClassifier"),
    "check_sample_weight_equivalence_on_sparse_data": (
        "the same as on dense data: sparse X trains on the same batches"),
}

@parametrize_with_checks(
    [AutoBalanceClassifier(hidden_layer_sizes=(16,), max_epochs=4, lr=1e-2, random_state=0,
                           search=None),
     AutoBalanceClassifier(hidden_layer_sizes=(16,), max_epochs=4, lr=1e-2, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

def test_unfitted_predict_raises_not_fitted_error(data):
    # check_estimators_unfitted asks for NotFittedError from every method.
    from sklearn.exceptions import NotFittedError

    X, _ = data
    clf = AutoBalanceClassifier()
    for method in ("predict", "predict_proba", "decision_function"):
        with pytest.raises(NotFittedError):
            getattr(clf, method)(X)

# ------------------------------------------------------------ meta-estimators
def test_pipeline(data):
    X, y = data
    pipe = Pipeline([("scale", StandardScaler()), ("clf", _fast())])
    pipe.fit(X * 100 + 7, y)
    assert pipe.predict(X * 100 + 7).shape == y.shape
    assert pipe.score(X * 100 + 7, y) > 0.5
    assert pipe.predict_proba(X[:5] * 100 + 7).shape == (5, 3)

def test_grid_search_parallel(data):
    X, y = data
    grid = GridSearchCV(_fast(max_epochs=2), {"hypergradient_params": [None, {"hyper_lr": 0.1}],
                                          "search": [None, "l"]},
                        cv=2, n_jobs=2, scoring="balanced_accuracy", error_score="raise")
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_estimator_.predict(X).shape == y.shape

def test_clone(fitted):
    clone_ = clone(fitted)
    assert clone_.get_params() == fitted.get_params()
    assert not hasattr(clone_, "net_") and not hasattr(clone_, "classes_")
    other = clone(_fast(search="w+l+delta", init="vs", init_params={"gamma": 0.1}))
    assert other.init_params == {"gamma": 0.1} and other.search == "w+l+delta"

def test_pickle_round_trip(fitted, data):
    X, _ = data
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))
    for key, value in fitted.loss_params_.items():
        np.testing.assert_array_equal(restored.loss_params_[key], value)

def test_joblib_round_trip(fitted, data, tmp_path):
    X, _ = data
    path = tmp_path / "clf.joblib"
    joblib.dump(fitted, path)
    restored = joblib.load(path)
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(restored.decision_function(X), fitted.decision_function(X))

def test_deepcopy_of_fitted(fitted, data):
    X, _ = data
    np.testing.assert_array_equal(copy.deepcopy(fitted).predict_proba(X),
                                  fitted.predict_proba(X))

# ------------------------------------------------------------ reproducibility
@pytest.mark.parametrize("search", [None, "auto", "l+delta"])
def test_same_seed_same_model(data, search):
    X, y = data
    a = _fast(search=search, random_state=3).fit(X, y).predict_proba(X)
    b = _fast(search=search, random_state=3).fit(X, y).predict_proba(X)
    c = _fast(search=search, random_state=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)

def test_random_state_instance_is_accepted(data):
    X, y = data
    a = _fast(random_state=np.random.RandomState(5)).fit(X, y).predict_proba(X)
    b = _fast(random_state=np.random.RandomState(5)).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)

@pytest.mark.parametrize("random_state", [0, None])
def test_global_torch_rng_untouched(data, random_state):
    X, y = data
    torch.manual_seed(123)
    before = torch.get_rng_state().clone()
    _fast(random_state=random_state, max_epochs=2).fit(X, y)
    assert torch.equal(torch.get_rng_state(), before)
    expected = torch.rand(3)
    torch.manual_seed(123)
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())

def test_string_labels(data):
    X, y = data
    names = np.array(["cat", "dog", "eel"])
    clf = _fast().fit(X, names[y])
    np.testing.assert_array_equal(clf.classes_, names)
    pred = clf.predict(X)
    assert pred.dtype == names.dtype and set(pred) <= set(names)
    # Same model as with integer labels, up to the label names.
    ints = _fast().fit(X, y)
    np.testing.assert_array_equal(pred, names[ints.predict(X)])

def test_binary():
    X, y = _data(n_classes=2)
    clf = _fast().fit(X, y)
    assert clf.decision_function(X).shape == (len(y),)
    assert clf.predict_proba(X).shape == (len(y), 2)
    np.testing.assert_array_equal(clf.predict(X), (clf.decision_function(X) > 0).astype(int))

# ------------------------------------------------------------ verbosity
def test_verbose_prints_the_tournament(data, capsys):
    X, y = data
    clf = _fast(verbose=1, max_epochs=4).fit(X, y)
    out = capsys.readouterr().out
    assert "tournament: 9 arms (la, la_tau1.5" in out
    # Every checkpoint says which arms were scored and which stopped.
    assert len(re.findall(r"checkpoint at step \d+ \(\d+%\): t against 'la': \w",
                          out)) == 3, out
    assert re.search(r"arms stop at step \d+ if t < -4, step \d+ if t < -2, step \d+ if "
                     r"t < -2;", out), out
    # Every arm alive at the end is listed with its out-of-fold score, then the kept arm.
    assert re.search(r"^\[AutoBalanceClassifier\] +la: out-of-fold balanced error 0\.\d+$",
                     out, flags=re.M), out
    assert f"kept: '{clf.kept_arm_}'" in out
    assert re.search(r"^\[AutoBalanceClassifier\] train: epoch \d+/\d+, .*elapsed, ETA",
                     out, flags=re.M), out
    assert "\x1b[" not in out  # not a terminal: no ANSI colours


def test_verbose_prints_the_search_phases(data, capsys):
    X, y = data
    _fast(verbose=1, search="l+delta").fit(X, y)
    out = capsys.readouterr().out
    # One progress line per phase start and end, each with elapsed time and ETA.
    for phase in ("warm-up", "search", "retrain"):
        assert re.search(rf"^\[AutoBalanceClassifier\] {phase}: epoch \d+/3, .*elapsed, ETA",
                         out, flags=re.M), out
    assert "validation balanced error" in out
    assert "selection metric" not in out
    assert re.search(r"paired selection: .* (beats|does not beat) the initial loss", out), out

def test_verbose_2_prints_epoch_table_in_order(data, capsys):
    X, y = data
    _fast(verbose=2, max_epochs=4, search="l+delta").fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    # skorch's table with the phase and the validation columns; the summary
    # line after the search's last row, never inside the table.
    header = next(i for i, line in enumerate(lines) if "valid_balanced_error" in line)
    assert "phase" in lines[header] and "valid_objective" in lines[header]
    rows = [line.split() for line in lines[header + 2:header + 6]]
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    assert [r[1] for r in rows] == ["warm-up", "warm-up", "search", "search"]
    assert "paired selection:" in lines[header + 6]
    assert not any("\x1b[" in line for line in lines)

def test_verbose_warns_when_validation_objective_rises(capsys):
    # A wide net over-fits 60 noisy rows: the validation CE climbs epoch after epoch.
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(150, 30)), rng.randint(0, 2, size=150)
    _fast(verbose=1, hidden_layer_sizes=(256,), max_epochs=20, lr=3e-2,
          search="l+delta").fit(X, y)
    out = capsys.readouterr().out
    assert re.search(r"validation objective rose in \d+ of \d+ search epochs", out), out

def test_verbose_fixed_loss_prints_training(data, capsys):
    X, y = data
    _fast(verbose=1, search=None).fit(X, y)
    out = capsys.readouterr().out
    assert "'la'" in out and "train" in out

@pytest.mark.parametrize("search", [None, "l+delta"])
def test_quiet_by_default(data, capsys, search):
    X, y = data
    clf = _fast(search=search).fit(X, y)
    clf.predict(X)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""

# ------------------------------------------------------------ fitted attributes
def test_fitted_attributes(fitted, data):
    X, y = data
    np.testing.assert_array_equal(fitted.classes_, [0, 1, 2])
    assert fitted.n_features_in_ == X.shape[1]
    params = fitted.loss_params_
    assert set(params) == {"w", "l", "delta"}
    for value in params.values():
        assert isinstance(value, np.ndarray) and value.shape == (3,)
        assert np.all(np.isfinite(value))
    assert abs(params["l"].sum()) < 1e-5  # centred
    assert np.all((params["delta"] > 0) & (params["delta"] < 2))
    assert np.all(params["w"] > 0)
    assert fitted.clusters_.shape == (3,)
    assert fitted.clusters_.dtype.kind == "i"
    # clusters come from the counts: the most frequent class (0) in cluster 0.
    assert fitted.clusters_[0] == 0

    history = fitted.search_history_
    assert isinstance(history, list) and history
    for record in history:
        assert {"epoch", "step", "validation_objective", "params", "scope"} <= set(record)
        assert isinstance(record["validation_objective"], float)
        assert np.isfinite(record["validation_objective"])
        assert record["scope"] in ("batch", "validation_set")
        assert set(record["params"]) == {"w", "l", "delta"}
    assert any(r["scope"] == "batch" for r in history)  # hyper-steps were taken
    scored = [r for r in history if r["scope"] == "validation_set"]
    assert [r["epoch"] for r in scored] == sorted({r["epoch"] for r in scored})
    steps = [r["step"] for r in history]
    assert steps == sorted(steps)
    assert isinstance(fitted.best_step_, int)
    assert fitted.best_step_ in [r["step"] for r in scored]
    assert fitted.net_.module_ is not None
    assert fitted.predict_proba(X).sum(axis=1) == pytest.approx(np.ones(len(X)))

def test_learned_loss_used_at_retrain(fitted):
    criterion = fitted.net_.criterion_
    assert isinstance(criterion, ParametricCrossEntropy)
    effective = criterion.effective_params()
    for key, value in fitted.loss_params_.items():
        np.testing.assert_allclose(effective[key], value, rtol=1e-6, atol=1e-7)
    # The retrain is on all the data: the net saw every sample each epoch.
    assert fitted.net_.history[-1]["batches"]

@pytest.mark.parametrize("init", FIXED_LOSSES)
def test_fixed_losses_train_and_predict(data, init):
    X, y = data
    clf = _fast(search=None, init=init, max_epochs=2).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), 3) and np.allclose(proba.sum(axis=1), 1)
    assert set(clf.predict(X)) <= {0, 1, 2}
    assert clf.search_history_ == [] and clf.best_step_ is None and clf.clusters_ is None
    if init in PARAMETRIC:
        assert set(clf.loss_params_) == {"w", "l", "delta"}
        effective = clf.net_.criterion_.effective_params()
        for key, value in clf.loss_params_.items():
            np.testing.assert_allclose(effective[key], value, rtol=1e-6)
    else:
        assert isinstance(clf.loss_params_, dict)

def test_fixed_la_loss_params(data):
    X, y = data
    clf = _fast(search=None, init="la", init_params={"tau": 2.0}, max_epochs=2).fit(X, y)
    log_prior = np.log(np.bincount(y) / len(y))
    np.testing.assert_allclose(clf.loss_params_["l"], 2.0 * (log_prior - log_prior.mean()),
                               rtol=1e-5)
    np.testing.assert_allclose(clf.loss_params_["w"], 1.0)
    np.testing.assert_allclose(clf.loss_params_["delta"], 1.0)

def test_refit_false_keeps_search_net(data):
    from sklearn_autobalance._crossfit import FoldAverage

    X, y = data
    clf = _fast(refit=False, search="l+delta").fit(X, y)
    assert clf.predict(X).shape == y.shape
    # The model is the mean of the cv searched fold networks, never retrained.
    assert isinstance(clf.net_.module_, FoldAverage)
    refit = _fast(refit=True, search="l+delta").fit(X, y)
    n_seen = sum(b["train_batch_size"] for b in refit.net_.history[-1]["batches"])
    assert n_seen == len(y)
    # Same search (same seed), so the same learned loss.
    for key in ("w", "l", "delta"):
        np.testing.assert_array_equal(clf.loss_params_[key], refit.loss_params_[key])

class _LossRecorder(Callback):
    """Records, per net, the criterion's (w, l, delta) at the start of every epoch.

    User callbacks are deep-copied into each net, so the records go to a list
    shared through the class, keyed by whether the net runs the search.
    """

    records = []

    def on_epoch_begin(self, net, **kwargs):
        searching = any(name == "loss_search" for name, _ in net.callbacks_)
        self.records.append((searching, [getattr(net.criterion_, k).detach().clone()
                                         for k in ("w", "l", "delta")]))


def _epoch_losses(clf, data):
    _LossRecorder.records = []
    clf.set_params(callbacks=[_LossRecorder()]).fit(*data)
    search = [v for searching, v in _LossRecorder.records if searching]
    retrain = [v for searching, v in _LossRecorder.records if not searching]
    return search, retrain


def _kept_epochs(clf):
    """Epochs of the search run up to the end that scored the kept loss."""
    kept = [r for r in clf.search_history_
            if r["scope"] == "validation_set" and r["step"] == clf.best_step_]
    return kept[0]["epoch"] + 1


@pytest.fixture
def moves_on_any_gain(monkeypatch):
    """The paired rule with its threshold at 0: any searched loss with a positive gain moves,
    so that the tests of what follows a move need not find data where one is significant."""
    from sklearn_autobalance import _selection

    monkeypatch.setattr(_selection, "SIGNIFICANCE", 1.0 - 1e-9)


def test_refit_schedule_replays_the_search_losses(data, moves_on_any_gain):
    # From CE, a few hyper-steps towards LA lower the balanced error.
    clf = _fast(max_epochs=6, search="l+delta", init="ce", lr=0.05, refit=True,
                hypergradient_params={"hyper_lr": 0.5, "warmup_fraction": 0.2})
    search, retrain = _epoch_losses(clf, data)
    kept = _kept_epochs(clf)
    assert clf.selection_report_["moved"]
    assert kept > 2, "the test needs a kept loss reached after some hyper-steps"
    # The kept loss beat the control as scored, after `kept` epochs: so long the retrain.
    assert len(search) == 6 and len(retrain) == kept == clf.best_epoch_
    final = [getattr(clf.net_.criterion_, k) for k in ("w", "l", "delta")]
    for epoch in range(kept):
        expected = search[epoch] if epoch < kept else final
        for got, want in zip(retrain[epoch], expected):
            torch.testing.assert_close(got, want)
    # The search moved the loss, so the replay is not the kept loss throughout.
    assert not torch.allclose(retrain[0][1], final[1])
    # ... and the trained net ends with the kept loss, the one loss_params_ reports.
    np.testing.assert_allclose(final[1].numpy() - final[1].numpy().mean(0),
                               clf.loss_params_["l"], atol=1e-6)


def _untouched(fitted, name):
    """Search parts that were not searched keep the initial value (first record)."""
    initial = fitted.search_history_[0]["params"][name]
    np.testing.assert_allclose(fitted.loss_params_[name], initial, rtol=1e-6, atol=1e-7)

def _moved(fitted, name):
    initial = fitted.search_history_[0]["params"][name]
    assert not np.allclose(fitted.loss_params_[name], initial, rtol=1e-4, atol=1e-5), name

@pytest.mark.parametrize("search", SEARCHES)
def test_each_search_space(data, search):
    X, y = data
    # Big steps; the search history shows which parts moved, whatever was kept.
    clf = _fast(search=search, hypergradient_params={"hyper_lr": 0.5}, max_epochs=4).fit(X, y)
    assert clf.predict(X).shape == y.shape
    history = clf.search_history_
    assert any(r["scope"] == "batch" for r in history)
    parts = {"tau": {"l"}}.get(search, set(search.split("+")))
    last = history[-1]["params"]
    for name in ("w", "l", "delta"):
        initial = history[0]["params"][name]
        if name in parts:
            assert not np.allclose(last[name], initial, rtol=1e-4, atol=1e-5), name
        else:
            np.testing.assert_allclose(last[name], initial, rtol=1e-6, atol=1e-7)
            _untouched(clf, name)
    for record in history:
        assert abs(record["params"]["l"].sum()) < 1e-5
        assert np.all((record["params"]["delta"] > 0) & (record["params"]["delta"] < 2))
    if search == "tau":
        # l stays on the LA line: a multiple of the (centred) initial log-prior.
        ratio = last["l"] / history[0]["params"]["l"]
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)
    if "w" in parts:
        # w stays positive, with expected training weight ~1 (LA init: w0 = 1).
        prior = np.bincount(y) / len(y)
        assert np.all(last["w"] > 0)
        assert float(prior @ last["w"]) == pytest.approx(1.0, abs=0.02)

def test_warmup_end_scores_the_initial_loss(data):
    X, y = data
    clf = _fast(max_epochs=5, search="l+delta",
                hypergradient_params={"warmup_fraction": 0.4}).fit(X, y)
    first = clf.search_history_[0]
    assert first["scope"] == "validation_set"
    assert first["epoch"] == 1  # warm-up = round(0.4 * 5) = 2 epochs: 0 and 1
    assert all(r["epoch"] >= 2 for r in clf.search_history_ if r["scope"] == "batch")

# ------------------------------------------------------------ the tournament
def _tournament_with_c(monkeypatch, c):
    """The estimator's tournament with another move threshold (in paired SEs)."""
    import functools

    from sklearn_autobalance import _autobalance, _tournament

    monkeypatch.setattr(_autobalance, "Tournament",
                        functools.partial(_tournament.Tournament, c=c, t_drop=np.inf))


def test_tournament_report(data):
    X, y = data
    clf = _fast(max_epochs=4).fit(X, y)
    report = clf.selection_report_
    assert report["kind"] == "tournament"
    names = [a["name"] for a in report["arms"]]
    assert names == ["la", "la_tau1.5", "la_tau2", "vs", "noise0.4", "noise0.8", "noise1.6",
                     "balanced", "ldam"]
    for arm in report["arms"]:
        assert {"error", "gain", "se", "t", "step", "dropped_at", "loss", "eps"} <= set(arm)
        assert 0.0 <= arm["error"] <= 1.0
    assert report["arms"][0]["gain"] == 0.0 and report["arms"][0]["dropped_at"] is None
    assert [c["fraction"] for c in report["checkpoints"]] == pytest.approx([0.2, 0.5, 0.7], abs=0.05)
    assert clf.kept_arm_ == names[report["kept"]]
    assert report["moved"] == (report["kept"] != 0)
    assert clf.best_step_ == report["steps"] == 4 * math.ceil(len(y) * 2 / 3 / 64)
    assert clf.search_history_ == [] and clf.clusters_ is None


def test_tournament_keeping_the_control_is_exactly_the_fixed_fit(data, monkeypatch):
    X, y = data
    _tournament_with_c(monkeypatch, np.inf)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = _fast(max_epochs=4).fit(X, y)
    # Keeping LA is a result, not a warning.
    assert [str(w.message) for w in caught] == []
    assert not clf.selection_report_["moved"] and clf.kept_arm_ == "la"
    fixed = _fast(max_epochs=4, search=None).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), fixed.predict_proba(X))
    for key in ("w", "l", "delta"):
        np.testing.assert_array_equal(clf.loss_params_[key], fixed.loss_params_[key])
    assert clf.augmentation_params_ is None and clf.best_epoch_ is None


@pytest.mark.parametrize("arm, fixed", [
    ({"loss": "vs"}, dict(init="vs")),
    ({"loss": "la", "loss_params": {"tau": 2.0}}, dict(init_params={"tau": 2.0})),
    ({"eps": 1.6}, dict(augmentation="shared", augmentation_params={"eps": 1.6})),
    ({"loss": "ldam"}, dict(init="ldam")),
])
def test_the_kept_arm_is_retrained_whole(data, monkeypatch, arm, fixed):
    # c = -inf: the surviving arm always replaces the control.
    X, y = data
    _tournament_with_c(monkeypatch, -np.inf)
    clf = _fast(max_epochs=6, search=[arm]).fit(X, y)
    report = clf.selection_report_
    assert report["moved"] and clf.kept_arm_ == report["arms"][1]["name"]
    # Its loss and noise, for max_epochs on all the rows (as the control would train).
    assert clf.best_epoch_ is None
    ref = _fast(search=None, max_epochs=6, **fixed).fit(X, y)
    assert len(clf.net_.history) == 6
    np.testing.assert_array_equal(clf.predict_proba(X), ref.predict_proba(X))
    assert clf.loss_params_.keys() == ref.loss_params_.keys()
    for key in clf.loss_params_:
        np.testing.assert_array_equal(clf.loss_params_[key], ref.loss_params_[key])
    if "eps" in arm:
        np.testing.assert_array_equal(clf.augmentation_params_["eps"], [1.6] * 3)


def test_a_kept_refined_arm_is_retrained_with_the_loss_it_reached(data, monkeypatch):
    X, y = data
    _tournament_with_c(monkeypatch, -np.inf)
    clf = _fast(max_epochs=6, search=[{"loss": "vs", "refine": "l+delta"}],
                hypergradient_params={"warmup_fraction": 0.3}).fit(X, y)
    report = clf.selection_report_
    assert report["moved"] and clf.kept_arm_ == "vs+refine_l+delta"
    assert report["hyper_steps"] > 0
    refined = report["arms"][1]["refined"]
    criterion = clf.net_.criterion_
    start = make_loss("vs", clf.class_counts_)
    assert not np.allclose(refined["l"], start.l.numpy())  # the loss moved ...
    for key in ("w", "l", "delta"):  # ... and the retrain trains with where it went
        np.testing.assert_allclose(getattr(criterion, key).cpu().numpy(), refined[key])
    assert len(clf.net_.history) == 6
    fixed_vs = _fast(max_epochs=6, search=None, init="vs").fit(X, y)
    assert not np.allclose(clf.predict_proba(X), fixed_vs.predict_proba(X))


def test_the_papers_search_is_one_refined_arm(data):
    X, y = data
    clf = _fast(max_epochs=5, search=[{"refine": "l+delta"}]).fit(X, y)
    report = clf.selection_report_
    assert [a["name"] for a in report["arms"]] == ["la", "la+refine_l+delta"]
    assert report["arms"][0]["refined"] is None and report["arms"][1]["refined"] is not None
    assert report["hyper_steps"] > 0 and report["kept_name"] == clf.kept_arm_


def test_refit_false_is_the_kept_arms_fold_average(data, monkeypatch):
    from sklearn_autobalance._crossfit import FoldAverage

    X, y = data
    models = {}
    for c in (np.inf, -np.inf):
        _tournament_with_c(monkeypatch, c)
        models[c] = _fast(max_epochs=4, search=[{"loss": "vs"}], refit=False).fit(X, y)
        assert isinstance(models[c].net_.module_, FoldAverage)
        assert models[c].net_.module_.n_searched == 3
    assert models[np.inf].kept_arm_ == "la" and models[-np.inf].kept_arm_ == "vs"
    # The kept arm's own fold networks, so another model than the control's.
    assert not np.allclose(models[np.inf].predict_proba(X), models[-np.inf].predict_proba(X))
    assert not np.allclose(models[np.inf].loss_params_["delta"],
                           models[-np.inf].loss_params_["delta"])


def test_tournament_control_is_init(data):
    X, y = data
    clf = _fast(max_epochs=2, init="focal", search=[{"loss": "la"}, {"loss": "focal"}]).fit(X, y)
    # The control is the init loss; an arm equal to it is not run twice.
    assert [a["name"] for a in clf.selection_report_["arms"]] == ["focal", "la"]


@pytest.mark.parametrize("search, exc, match", [
    ([], ValueError, "empty list of arms"),
    (["vs"], TypeError, r"search\[0\] must be a dict"),
    ([{"loss": "hinge"}], ValueError, r"search\[0\]\['loss'\] must be a class loss"),
    ([{"loss": "group_la"}], ValueError, "must be a class loss"),
    ([{"eps": -1}], ValueError, r"search\[0\]\['eps'\] must be finite and > 0"),
    ([{"eps": "big"}], TypeError, r"\['eps'\] must be a number"),
    ([{"loss": "vs", "tau": 2}], ValueError, r"unknown keys \['tau'\]"),
    ([{"loss": "vs"}, {"loss": "vs"}], ValueError, "the same name"),
])
def test_bad_arms(data, search, exc, match):
    X, y = data
    with pytest.raises(exc, match=match):
        _fast(search=search).fit(X, y)


def test_tournament_refuses_augmentation(data):
    X, y = data
    with pytest.raises(ValueError, match="tries feature noise as arms"):
        _fast(augmentation="shared").fit(X, y)


# ------------------------------------------------------------ sample weights
@pytest.mark.parametrize("search", [None, "auto", "l+delta"])
def test_zero_weight_on_a_class_changes_the_model(data, search):
    X, y = data
    plain = _fast(search=search).fit(X, y)
    weight = np.where(y == 0, 0.0, 1.0)
    weighted = _fast(search=search).fit(X, y, sample_weight=weight)
    p_plain, p_weighted = plain.predict_proba(X), weighted.predict_proba(X)
    assert not np.allclose(p_plain, p_weighted)
    # Class 0 no longer pulls its own logit up.
    assert p_weighted[y == 0, 0].mean() < p_plain[y == 0, 0].mean()

def test_unit_weights_match_no_weights(data):
    X, y = data
    plain = _fast(search=None).fit(X, y).predict_proba(X)
    ones = _fast(search=None).fit(X, y, sample_weight=np.ones(len(y))).predict_proba(X)
    np.testing.assert_allclose(plain, ones, rtol=1e-4, atol=1e-5)

def test_sample_weight_wrong_length(data):
    X, y = data
    with pytest.raises(ValueError, match=r"sample_weight.shape|shape"):
        _fast().fit(X, y, sample_weight=np.ones(len(y) - 1))

def test_inputs_not_modified(data):
    X, y = data
    X = X.copy()
    groups = np.arange(len(y)) % 2
    weight = np.linspace(0.5, 1.5, len(y))
    copies = [a.copy() for a in (X, y, weight, groups)]
    _fast().fit(X, y, sample_weight=weight, sensitive_features=groups)
    for before, after in zip(copies, (X, y, weight, groups)):
        np.testing.assert_array_equal(before, after)
    X32 = X.astype(np.float32)
    X32_copy = X32.copy()
    clf = _fast(search=None).fit(X32, y)
    clf.predict_proba(X32)
    np.testing.assert_array_equal(X32, X32_copy)

# ------------------------------------------------------------ bad input
def _bad_X(kind, X):
    X = X.copy()
    if kind == "nan":
        X[3, 1] = np.nan
    elif kind == "inf":
        X[3, 1] = np.inf
    elif kind == "1d":
        X = X[:, 0]
    elif kind == "3d":
        X = X[:, :, None]
    return X

@pytest.mark.parametrize("kind, exc, match", [
    ("nan", ValueError, "NaN"),
    ("inf", ValueError, "infinity"),
    ("1d", ValueError, "Expected 2D array"),
    ("3d", ValueError, "dim 3"),
])
def test_bad_X(data, kind, exc, match):
    X, y = data
    with pytest.raises(exc, match=match):
        _fast().fit(_bad_X(kind, X), y)

def test_bad_X_at_predict(fitted, data):
    X, _ = data
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(_bad_X("nan", X))
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :3])

def test_one_class_only(data):
    X, y = data
    with pytest.raises(ValueError, match="at least 2 classes"):
        _fast().fit(X, np.zeros(len(y), dtype=int))

@pytest.mark.parametrize("labels", [np.array([0, 1, 2]), np.array(["a", "b", "c"])])
def test_class_with_a_single_sample_when_searching(data, labels):
    X, y = data
    y = y.copy()
    y[y == 2] = 1
    y[7] = 2
    y = labels[y]
    # The message names the class (as the user wrote it) and its count.
    name = repr(labels[2].item())
    with pytest.raises(ValueError, match=rf"class {re.escape(name)} has 1 sample"):
        _fast().fit(X, y)
    # Without a search there is no split: it trains.
    _fast(search=None, max_epochs=1).fit(X, y)

def test_hypergradient_params_reach_the_search(data):
    # Unset keys keep their defaults; set ones reach the hyper-step (one Neumann term and
    # the implicit function over every parameter give another search than the defaults).
    X, y = data
    default = _fast(max_epochs=4, search="l+delta", hypergradient_params={"hyper_lr": 0.5}
                    ).fit(X, y)
    same = _fast(max_epochs=4, search="l+delta",
                 hypergradient_params={"hyper_lr": 0.5, "neumann_steps": 5, "damping": 0.01,
                                       "warmup_fraction": 0.4, "hyper_interval": "auto"}
                 ).fit(X, y)
    other = _fast(max_epochs=4, search="l+delta",
                  hypergradient_params={"hyper_lr": 0.5, "neumann_steps": 1,
                                        "implicit_params": "all"}).fit(X, y)
    np.testing.assert_array_equal(default.predict_proba(X), same.predict_proba(X))
    assert not np.allclose(default.search_history_[-1]["params"]["l"],
                           other.search_history_[-1]["params"]["l"])
    with pytest.raises(TypeError, match="hypergradient_params must be a dict"):
        _fast(hypergradient_params=[("damping", 0.1)]).fit(X, y)


@pytest.mark.parametrize("params, match", [
    ({"objective": "f1"}, "objective must be one of"),
    ({"search": "w"}, "search must be 'auto', None, a list of arms"),
    ({"init": "hinge"}, "init must be one of"),
    ({"init": "ldam", "search": "l+delta"}, "not a member of the parametric family"),
    ({"init": "focal", "search": "l"}, "not a member of the parametric family"),
    ({"init": "la", "init_params": {"gamma": 0.3}}, r"does not take \['gamma'\]"),
    ({"init": "vs", "init_params": {"beta": 1}}, "does not take"),
    ({"device": "tpu"}, "device must be"),
    ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
    ({"max_epochs": 0}, "max_epochs"),
    ({"hypergradient_params": {"hyper_lr": -1.0}}, r"hypergradient_params\['hyper_lr'\]"),
    ({"hypergradient_params": {"warmup_fraction": 1.0}}, "warmup_fraction"),
    ({"objective_params": {"fairness": 0.5}}, r"unknown keys \['fairness'\]"),
    ({"objective_params": {"fairness_weight": 1.5}}, r"objective_params\['fairness_weight'\]"),
    ({"cv": 1}, "cv must be an int >= 2"),
    ({"refit": "final"}, r"refit must be True \(train the kept loss on all the data\) or False"),
    ({"hypergradient_params": {"neumann_step": 3}}, r"unknown keys \['neumann_step'\]"),
    ({"hypergradient_params": {"damping": -0.1}}, r"hypergradient_params\['damping'\]"),
    ({"hypergradient_params": {"implicit_params": "first"}}, "'last' or 'all'"),
    ({"hypergradient_params": {"hyper_batch_size": 0}}, "hyper_batch_size"),
])
def test_bad_params(data, params, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        _fast(**params).fit(X, y)

def test_init_params_not_a_dict(data):
    X, y = data
    with pytest.raises(TypeError, match="init_params must be a dict"):
        _fast(init_params=[("tau", 1.0)]).fit(X, y)

def test_ldam_without_search_is_fine(data):
    X, y = data
    _fast(init="ldam", search=None, max_epochs=1).fit(X, y)

def test_sensitive_features_wrong_length(data):
    X, y = data
    with pytest.raises(ValueError, match=rf"10 entries but X has {len(y)} rows"):
        _fast(objective="group_balanced").fit(X, y, sensitive_features=np.arange(10) % 2)

@pytest.mark.parametrize("objective", ["group_balanced", "worst_group", "deo"])
def test_group_objective_needs_sensitive_features(data, objective):
    X, y = data
    with pytest.raises(ValueError, match="pass sensitive_features"):
        _fast(objective=objective).fit(X, y)

@pytest.mark.skipif(CUDA, reason="CUDA is available here: the error path cannot be hit")
def test_cuda_requested_without_cuda(data):
    X, y = data
    with pytest.raises(ValueError, match="CUDA is not available"):
        _fast(device="cuda").fit(X, y)

@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("search", [None, "l+delta"])
def test_fit_on_cuda(data, search):
    X, y = data
    gpu = _fast(device="cuda", search=search).fit(X, y)
    cpu = _fast(device="cpu", search=search).fit(X, y)
    assert torch.device(gpu.net_.device).type == "cuda"
    assert next(gpu.net_.module_.parameters()).is_cuda
    pred, proba = gpu.predict(X), gpu.predict_proba(X)
    assert isinstance(proba, np.ndarray) and proba.shape == (len(y), 3)
    assert np.allclose(proba.sum(axis=1), 1)
    # Same seed, same initial weights and batch order: only rounding differs.
    assert np.mean(pred == cpu.predict(X)) > 0.9
    assert get_tags(gpu).non_deterministic
    # A CUDA model pickles and predicts.
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(gpu)).predict(X), pred)

# ------------------------------------------------------------ groups
def _group_data():
    X, y = _data(n_samples=320, n_classes=2, seed=1)
    rng = np.random.RandomState(0)
    groups = np.where(rng.rand(len(y)) < np.where(y == 1, 0.8, 0.3), "water", "land")
    return X, y, groups

# Tiny data: whether the group search moves is not what this test checks.
@pytest.mark.filterwarnings("ignore::sklearn_autobalance.NoGainWarning")
@pytest.mark.parametrize("init", ["la", "group_balanced", "group_la"])
def test_sensitive_features_with_group_objective(init):
    X, y, groups = _group_data()
    # A linear model: the group search runs on its own (cross-fitted) output layer.
    clf = _fast(objective="group_balanced", init=init, max_epochs=4, hidden_layer_sizes=())
    clf.fit(X, y, sensitive_features=groups)
    np.testing.assert_array_equal(clf.groups_, ["land", "water"])
    for key, value in clf.loss_params_.items():
        assert value.shape == (2, 2), key
    np.testing.assert_allclose(clf.loss_params_["l"].sum(axis=0), 0.0, atol=1e-5)
    assert clf.clusters_.shape == (2, 2)
    for record in clf.search_history_:
        assert record["params"]["l"].shape == (2, 2)
    # predict needs X only.
    assert clf.predict(X).shape == y.shape
    assert clf.predict_proba(X).shape == (len(y), 2)
    effective = clf.net_.criterion_.effective_params()
    for key, value in clf.loss_params_.items():
        np.testing.assert_allclose(effective[key], value, rtol=1e-6, atol=1e-7)

def test_sensitive_features_with_fixed_group_loss():
    X, y, groups = _group_data()
    clf = _fast(search=None, init="group_dro", objective="group_balanced", max_epochs=2)
    clf.fit(X, y, sensitive_features=groups)
    assert clf.predict(X).shape == y.shape

def test_cell_with_a_single_sample_is_named():
    X, y, groups = _group_data()
    groups = groups.copy()
    groups[(y == 0)] = "land"
    groups[np.flatnonzero(y == 0)[0]] = "water"
    with pytest.raises(ValueError, match=r"class 0 in group 'water' has 1 sample"):
        _fast(objective="group_balanced").fit(X, y, sensitive_features=groups)
