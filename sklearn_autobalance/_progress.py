"""Progress of a training phase: a tqdm bar on a terminal, else lines with elapsed time and ETA."""

import re
import sys
import time

from skorch.callbacks import Callback, PrintLog

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Seconds between two plain progress lines of one phase.
MIN_INTERVAL = 1.0


def is_terminal(stream=None):
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def strip_ansi(text):
    """``text`` without ANSI colour codes."""
    return _ANSI.sub("", text)


def plain_print(*args, **kwargs):
    """``print`` that drops ANSI colour codes when stdout is not a terminal."""
    if not is_terminal():
        args = tuple(strip_ansi(str(a)) for a in args)
    print(*args, **kwargs)


class PlainPrintLog(PrintLog):
    """skorch's epoch table, without colour codes when stdout is not a terminal."""

    def _sink(self, text, verbose):
        if verbose:  # skorch calls a custom sink whatever the verbosity
            plain_print(text)


def plain_print_log():
    return PlainPrintLog()


def _duration(seconds):
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes} min {seconds:02d} s"


class PhaseProgress(Callback):
    """Epoch progress of one fit, named by phase, with elapsed time and ETA.

    On a terminal with tqdm installed: one bar per fit whose description is the
    current phase. Otherwise one line per epoch, at most one a second (and
    always on the first and last epoch and at a phase change):
    ``"<prefix> <phase>: epoch 3/50, train loss 0.4123, ..., 1.2 s elapsed, ETA 18.8 s"``.

    Parameters
    ----------
    prefix : str
        Printed first, e.g. ``"[AutoBalanceClassifier]"``.
    phase_of : str or callable int -> str
        The phase of epoch ``e`` (0-based), e.g. ``"warm-up"`` / ``"search"``,
        or one name for all epochs.
    keys : sequence of (str, str)
        ``(history key, label)`` pairs shown after the train loss when the
        epoch's history row has them (e.g. the validation balanced error).
    min_interval : float or None, default=None
        Seconds between plain lines (None: ``MIN_INTERVAL``, 1 s).
    display : bool, default=True
        False only records each epoch's phase in the history (``"phase"``, a
        column of skorch's epoch table) and shows nothing.
    """

    def __init__(self, prefix, phase_of="train", keys=(), min_interval=None, display=True):
        self.prefix = prefix
        self.phase_of = phase_of
        self.keys = keys
        self.min_interval = min_interval
        self.display = display

    def _phase(self, epoch):
        return self.phase_of if isinstance(self.phase_of, str) else self.phase_of(epoch)

    def on_train_begin(self, net, **kwargs):
        self.total_ = net.max_epochs
        self.start_ = time.perf_counter()
        self.last_print_, self.last_phase_, self.bar_ = None, None, None
        self.epochs_run_ = 0
        # The ETA uses the current phase's epoch time: a search epoch (with
        # hyper-steps) costs more than a warm-up epoch.
        self.phase_start_, self.phase_start_epoch_, self.rate_phase_ = self.start_, 0, None
        self.epoch_end_ = self.start_
        if self.display and is_terminal(sys.stderr):
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar_ = tqdm(total=self.total_, desc=self._bar_name(self._phase(0)),
                                 unit="epoch", leave=True, file=sys.stderr)

    def _bar_name(self, phase):
        # "[AutoBalanceClassifier]" -> "AutoBalance search": bars are narrow.
        return f"{self.prefix.strip('[]').replace('Classifier', '')} {phase}"

    def _values(self, net):
        row = net.history[-1]
        values = []
        if "train_loss" in row:
            values.append(("train loss", row["train_loss"]))
        values += [(label, row[key]) for key, label in self.keys if key in row]
        return values

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history) - 1
        phase = self._phase(epoch)
        values = self._values(net)
        self.epochs_run_ = epoch + 1
        net.history.record("phase", phase)
        if not self.display:
            return
        if self.bar_ is not None:
            self.bar_.set_description(self._bar_name(phase), refresh=False)
            # Short names in the bar: the history keys (e.g. val_balanced_error).
            short = {label: key.replace("valid_", "val_") for key, label in self.keys}
            self.bar_.set_postfix({short.get(k, "loss"): f"{v:.4f}" for k, v in values},
                                  refresh=False)
            self.bar_.update()
            return
        now = time.perf_counter()
        elapsed = now - self.start_
        if phase != self.rate_phase_:
            # this epoch is the first of a new phase: its time starts the rate
            self.phase_start_ = self.epoch_end_
            self.phase_start_epoch_, self.rate_phase_ = epoch, phase
        rate = (now - self.phase_start_) / (epoch + 1 - self.phase_start_epoch_)
        self.epoch_end_ = now
        last = epoch + 1 >= self.total_
        if (self.last_print_ is not None and phase == self.last_phase_ and not last
                and now - self.last_print_ < (MIN_INTERVAL if self.min_interval is None
                                              else self.min_interval)):
            return
        eta = rate * (self.total_ - epoch - 1)
        shown = "".join(f", {k} {v:.4f}" for k, v in values)
        print(f"{self.prefix} {phase}: epoch {epoch + 1}/{self.total_}{shown}, "
              f"{_duration(elapsed)} elapsed, ETA {_duration(eta)}", flush=True)
        self.last_print_, self.last_phase_ = now, phase

    def on_train_end(self, net, **kwargs):
        if self.bar_ is not None:
            self.bar_.close()
            self.bar_ = None
        if self.display and self.epochs_run_ < self.total_:
            phase = self._phase(self.epochs_run_ - 1)
            print(f"{self.prefix} {phase}: stopped early after epoch {self.epochs_run_}/"
                  f"{self.total_}, {_duration(time.perf_counter() - self.start_)} elapsed",
                  flush=True)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("bar_", None)
        if not isinstance(state.get("phase_of"), str):
            state["phase_of"] = None  # a closure over the estimator's settings
        return state
