"""n_threads: torch's thread count during fit / predict, restored afterwards."""

import threading

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from skorch.callbacks import Callback

from sklearn_autobalance import MLP, AnyLossClassifier, AutoBalanceClassifier
from sklearn_autobalance._threading import (
    SINGLE_THREAD_WORK,
    check_n_threads,
    resolve_n_threads,
    torch_threads,
)

ESTIMATORS = (AutoBalanceClassifier, AnyLossClassifier)
CPU = torch.device("cpu")


class RecordThreads(Callback):
    """Records torch.get_num_threads() at every batch."""

    def initialize(self):
        self.seen_ = []
        return self

    def on_batch_end(self, net, **kwargs):
        self.seen_.append(torch.get_num_threads())


@pytest.fixture
def data():
    return make_classification(n_samples=200, n_features=5, weights=[0.7, 0.3], random_state=0)


@pytest.fixture
def caller_threads():
    """The caller's setting is 2 during the test, whatever the machine; restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


def _fast(cls, **kw):
    return cls(hidden_layer_sizes=(8,), max_epochs=2, batch_size=64, random_state=0, **kw)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("n_threads, expected", [("auto", 1), (1, 1), (None, 2)])
def test_fit_runs_with_the_chosen_threads_and_restores(cls, n_threads, expected, data,
                                                        caller_threads, monkeypatch):
    seen = []

    class Spy(RecordThreads):
        def on_batch_end(self, net, **kwargs):
            seen.append(torch.get_num_threads())

    clf = _fast(cls, n_threads=n_threads, callbacks=[Spy()]).fit(*data)
    assert seen and set(seen) == {expected}
    assert torch.get_num_threads() == caller_threads
    clf.predict(data[0])
    assert torch.get_num_threads() == caller_threads


def test_predict_runs_with_the_chosen_threads(data, caller_threads, monkeypatch):
    clf = _fast(AutoBalanceClassifier, search=None).fit(*data)
    seen = []
    forward = clf.net_.forward

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return forward(*args, **kwargs)

    monkeypatch.setattr(clf.net_, "forward", spy)
    clf.predict(data[0])
    assert seen == [1] and torch.get_num_threads() == caller_threads


def test_restored_after_a_failing_fit(data, caller_threads):
    class Boom(Callback):
        def on_epoch_end(self, net, **kwargs):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        _fast(AutoBalanceClassifier, callbacks=[Boom()]).fit(*data)
    assert torch.get_num_threads() == caller_threads


def test_same_model_whatever_the_thread_count(data):
    a = _fast(AutoBalanceClassifier, n_threads=1).fit(*data).predict_proba(data[0])
    b = _fast(AutoBalanceClassifier, n_threads=2).fit(*data).predict_proba(data[0])
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_concurrent_scopes_restore_the_callers_value(caller_threads):
    # Two threads enter and leave in an interleaved order: the caller's value
    # comes back only when the last one leaves.
    entered, release = threading.Barrier(2), threading.Event()

    def body():
        with torch_threads(1):
            entered.wait()
            release.wait()

    threads = [threading.Thread(target=body) for _ in range(2)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join()
    assert torch.get_num_threads() == caller_threads


def test_nested_scope_restores_in_order(caller_threads):
    with torch_threads(1):
        assert torch.get_num_threads() == 1
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == caller_threads


def test_none_changes_nothing(caller_threads):
    with torch_threads(None):
        assert torch.get_num_threads() == caller_threads


def test_auto_resolution():
    small = MLP(20, 3, (128, 128))
    assert resolve_n_threads("auto", CPU, small, 128) == 1
    n_params = sum(p.numel() for p in small.parameters())
    big_batch = SINGLE_THREAD_WORK // n_params + 1
    assert resolve_n_threads("auto", CPU, small, big_batch) is None
    assert resolve_n_threads("auto", torch.device("cuda"), small, 128) is None
    assert resolve_n_threads(3, CPU, small, 128) == 3
    assert resolve_n_threads(None, CPU, small, 128) is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, "many", True])
def test_bad_n_threads(bad):
    with pytest.raises(ValueError, match="n_threads must be 'auto', None or an int >= 1"):
        check_n_threads(bad)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_bad_n_threads_in_fit(cls, data):
    with pytest.raises(ValueError, match="n_threads"):
        _fast(cls, n_threads=0).fit(*data)
