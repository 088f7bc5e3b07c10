"""Early stopping: Patience, the held-out callback, and both estimators' early_stopping."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from skorch.callbacks import Callback, EarlyStopping

from sklearn_autobalance import AnyLossClassifier, AutoBalanceClassifier
from sklearn_autobalance._early_stopping import Patience


def _data(n=400, seed=0, flip_y=0.0):
    return make_classification(n_samples=n, n_features=8, n_informative=4, n_classes=3,
                               weights=[0.6, 0.3, 0.1], flip_y=flip_y, random_state=seed)


def _noise(n=300, seed=0):
    # Labels independent of X: validation error cannot improve for long.
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, 10)), rng.randint(0, 2, size=n)


def _fast(cls, **kw):
    params = dict(hidden_layer_sizes=(16,), max_epochs=40, batch_size=64, lr=1e-2,
                  random_state=0)
    return cls(**{**params, **kw})


def test_patience_counts_epochs_without_improvement_by_tol():
    p = Patience(n_iter_no_change=2, tol=0.1)
    assert p.update(1.0) and not p.exhausted
    assert not p.update(0.95)  # better, but by less than tol
    assert not p.exhausted
    assert p.update(0.85)  # better by more than tol: counter reset
    assert not p.update(0.9) and not p.update(0.8)
    assert p.exhausted and p.best == 0.85


def test_autobalance_search_stops_and_retrain_uses_the_best_epoch_count(capsys):
    X, y = _noise()
    clf = _fast(AutoBalanceClassifier, early_stopping=True, n_iter_no_change=3,
                search="l+delta", hidden_layer_sizes=(64,), verbose=1).fit(X, y)
    records = [r for r in clf.search_history_ if r["scope"] == "validation_set"]
    n_search_epochs = records[-1]["epoch"] + 1
    assert n_search_epochs < 40
    # Stopped exactly n_iter_no_change evaluations after the last improvement.
    errors = [r["validation_selection"] for r in records]
    improved = [i for i, e in enumerate(errors) if e < min(errors[:i], default=np.inf) - 1e-4]
    assert len(records) - 1 - improved[-1] == 3
    # The paired rule's kept candidate gives the epoch count.
    assert clf.best_epoch_ == records[clf.selection_report_["index"]]["epoch"] + 1
    # The retraining ran for the epoch count the search found best.
    assert len(clf.net_.history) == clf.best_epoch_
    out = capsys.readouterr().out
    assert "search stopped early after epoch" in out
    assert f"for {clf.best_epoch_} epochs" in out


def test_autobalance_without_early_stopping_runs_all_epochs():
    X, y = _noise()
    clf = _fast(AutoBalanceClassifier, max_epochs=8, search="l+delta").fit(X, y)
    assert not clf.selection_report_["moved"]  # noise labels: the initial loss, all epochs
    assert len(clf.net_.history) == 8
    assert max(r["epoch"] for r in clf.search_history_) == 7


class RecordRuns(Callback):
    """Keeps each training run's history and, with early stopping, the held-out
    score of the weights the run ends with (after the stopper restored them)."""

    runs = []

    def on_train_end(self, net, **kwargs):
        stopper = dict(net.callbacks_).get("early_stopping")
        final = None
        if stopper is not None and stopper.valid is not None:
            X, y = stopper.valid
            with torch.no_grad():
                logits = net.forward(X, training=False, device=y.device)
            final = float(stopper.score(logits, y, X.get("groups")))
        RecordRuns.runs.append((list(net.history), final))


def _stale_after_best(scores, n_iter_no_change, tol=1e-4):
    """Index of the last improvement by more than tol, checked against patience."""
    improved = [i for i, v in enumerate(scores) if v < min(scores[:i], default=np.inf) - tol]
    assert len(scores) - 1 - improved[-1] == n_iter_no_change
    return improved[-1]


def test_fixed_loss_early_stopping_then_all_data():
    X, y = _noise()
    RecordRuns.runs = []
    clf = _fast(AutoBalanceClassifier, search=None, early_stopping=True,
                n_iter_no_change=3, hidden_layer_sizes=(64,), callbacks=[RecordRuns()]).fit(X, y)
    (held_out, _), (final, _) = RecordRuns.runs
    # The held-out run stopped 3 epochs after its last improvement; that
    # epoch count is what the final network trained for, on all rows.
    best = _stale_after_best([row["valid_balanced_error"] for row in held_out], 3)
    assert clf.best_epoch_ == best + 1 < 40
    assert len(final) == len(clf.net_.history) == clf.best_epoch_
    assert clf.net_.history[-1, "train_batch_count"] == int(np.ceil(len(y) / 64))
    assert held_out[-1]["train_batch_count"] < clf.net_.history[-1, "train_batch_count"]


def test_anyloss_early_stopping_keeps_the_best_weights():
    X, y = make_classification(n_samples=400, n_features=8, weights=[0.8, 0.2],
                               flip_y=0.2, random_state=0)
    RecordRuns.runs = []
    clf = _fast(AnyLossClassifier, early_stopping=True, n_iter_no_change=3,
                hidden_layer_sizes=(64,), max_epochs=60, callbacks=[RecordRuns()]).fit(X, y)
    history = clf.net_.history
    assert len(history) < 60
    scores = history[:, "valid_1-f1"]
    best = _stale_after_best(scores, 3)
    assert clf.best_epoch_ == best + 1
    # The weights kept are the best epoch's, not the last one's: re-scoring the
    # held-out split with them gives the best recorded score.
    (_, final_score), = RecordRuns.runs
    assert final_score == pytest.approx(scores[best])
    stopper = dict(clf.net_.callbacks_)["early_stopping"]
    assert stopper.best_state_ is None  # released once loaded


def test_anyloss_early_stopping_validation_split_is_held_out():
    X, y = make_classification(n_samples=400, n_features=8, weights=[0.8, 0.2], random_state=0)
    clf = _fast(AnyLossClassifier, early_stopping=True, validation_fraction=0.25,
                max_epochs=2).fit(X, y)
    assert clf.net_.history[-1, "train_batch_count"] == int(np.ceil(300 / 64))


@pytest.mark.parametrize("cls", [AutoBalanceClassifier, AnyLossClassifier])
def test_early_stopping_is_deterministic(cls):
    X, y = _data(flip_y=0.2)
    a = _fast(cls, early_stopping=True, n_iter_no_change=2).fit(X, y)
    b = _fast(cls, early_stopping=True, n_iter_no_change=2).fit(X, y)
    assert len(a.net_.history) == len(b.net_.history)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("cls", [AutoBalanceClassifier, AnyLossClassifier])
def test_skorch_early_stopping_gets_a_clear_error(cls):
    X, y = _data()
    with pytest.raises(ValueError, match=r"EarlyStopping\(monitor='valid_loss'\).*"
                       r"early_stopping=True"):
        _fast(cls, callbacks=[EarlyStopping()]).fit(X, y)


@pytest.mark.parametrize("cls", [AutoBalanceClassifier, AnyLossClassifier])
@pytest.mark.parametrize("param, value, match", [
    ("early_stopping", "yes", "early_stopping must be True or False"),
    ("n_iter_no_change", 0, "n_iter_no_change must be an int >= 1"),
    ("tol", -1.0, "tol must lie in"),
])
def test_bad_early_stopping_params(cls, param, value, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        _fast(cls, **{param: value}).fit(X, y)


def test_anyloss_bad_validation_fraction():
    X, y = _data()
    with pytest.raises(ValueError, match="validation_fraction"):
        _fast(AnyLossClassifier, early_stopping=True, validation_fraction=1.0).fit(X, y)
