"""Progress output: plain lines with elapsed time and ETA, a tqdm bar on a terminal, no ANSI."""

import io
import re
import sys

import numpy as np
import pytest
from sklearn.datasets import make_classification
from skorch.callbacks import ProgressBar

import sklearn_autobalance._progress as progress_module
from sklearn_autobalance import AnyLossClassifier, AutoBalanceClassifier
from sklearn_autobalance._progress import PlainPrintLog, PhaseProgress, plain_print, strip_ansi


@pytest.fixture
def data():
    return make_classification(n_samples=200, n_features=5, weights=[0.7, 0.3], random_state=0)


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def _fast(cls, **kw):
    params = dict(hidden_layer_sizes=(8,), max_epochs=4, batch_size=64, random_state=0)
    return cls(**{**params, **kw})


def test_strip_ansi():
    assert strip_ansi("\x1b[32m0.1234\x1b[0m  1") == "0.1234  1"


def test_plain_print_keeps_colours_on_a_terminal(monkeypatch):
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", term)
    plain_print("\x1b[32mx\x1b[0m")
    assert term.getvalue() == "\x1b[32mx\x1b[0m\n"
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stdout", pipe)
    plain_print("\x1b[32mx\x1b[0m")
    assert pipe.getvalue() == "x\n"


def test_print_log_respects_verbose(capsys):
    # skorch calls a custom sink whatever net.verbose is; ours does not print at 0.
    PlainPrintLog()._sink("row", 0)
    assert capsys.readouterr().out == ""
    PlainPrintLog()._sink("row", 1)
    assert capsys.readouterr().out == "row\n"


def test_plain_lines_throttled_but_first_last_and_phase_changes(data, capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "MIN_INTERVAL", 1e9)
    # Only epoch 1, every phase change (each warm-up epoch has its own
    # amplifier) and the last epoch print.
    clf = _fast(AnyLossClassifier, max_epochs=6, pretrain_epochs=2, verbose=1)
    clf.fit(*data)
    out = capsys.readouterr().out
    epochs = [int(m) for m in re.findall(r"epoch (\d+)/8", out)]
    assert epochs == [1, 3, 4, 5, 6, 8], out
    assert re.search(r"\[AnyLossClassifier\] pretraining CE: epoch 1/8, train loss [\d.]+, "
                     r"[\d.]+ s elapsed, ETA [\d.]+ s", out), out
    assert re.search(r"amplifier warm-up \(L=1\.0\): epoch 3/8", out), out
    assert re.search(r"AnyLoss \(L=73\): epoch \d/8", out), out


def test_eta_counts_down():
    class Net:
        max_epochs = 4
        history = []

    lines = []
    progress = PhaseProgress("[X]", "train", min_interval=0.0)
    net = Net()
    net.history = _History()
    progress.on_train_begin(net)
    import builtins
    original = builtins.print
    builtins.print = lambda *a, **k: lines.append(" ".join(map(str, a)))
    try:
        for _ in range(4):
            net.history.append({"train_loss": 0.5})
            progress.on_epoch_end(net)
    finally:
        builtins.print = original
    assert [re.search(r"epoch (\d)/4", line).group(1) for line in lines] == ["1", "2", "3", "4"]
    assert lines[-1].endswith("ETA 0.0 s")
    assert all(net.history[i]["phase"] == "train" for i in range(4))


class _History(list):
    def record(self, key, value):
        self[-1][key] = value


def test_tqdm_bar_on_a_terminal(data, monkeypatch, capsys):
    pytest.importorskip("tqdm")
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", term)
    _fast(AutoBalanceClassifier, verbose=1, search="l+delta").fit(*data)
    bar = term.getvalue()
    # One bar per fit (search run, retrain) named by phase, with a rate and ETA.
    assert "warm-up" in bar or "search" in bar
    assert "retrain" in bar and "4/4" in bar
    assert "epoch/s" in bar or "s/epoch" in bar
    out = capsys.readouterr().out
    assert "epoch 1/4" not in out  # no plain lines when there is a bar


def test_skorch_progress_bar_counts_batches_and_shows_the_loss(data, monkeypatch):
    pytest.importorskip("tqdm")
    seen = []

    class Spy(ProgressBar):
        def on_epoch_end(self, net, **kwargs):
            seen.append((self.pbar_.n, self.pbar_.total, self.pbar_.postfix))
            super().on_epoch_end(net, **kwargs)

    clf = _fast(AutoBalanceClassifier, search=None, callbacks=[Spy()]).fit(*data)
    n_batches = int(np.ceil(len(data[1]) / 64))
    assert [(n, total) for n, total, _ in seen] == [(n_batches, n_batches)] * 4
    assert all("train_loss" in (postfix or "") for _, _, postfix in seen)
    # The batch losses are those the epoch's mean is made of.
    batches = clf.net_.history[-1, "batches"]
    assert np.isclose(np.mean([b["train_loss"] for b in batches]),
                      clf.net_.history[-1, "train_loss"], rtol=0.2)
