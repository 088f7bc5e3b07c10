"""How many CPU threads torch uses while an estimator fits or predicts, scoped to that call."""

import contextlib
import numbers
import threading

import torch

# Multiply-adds of one training step (batch rows x network parameters) below
# which "auto" runs on one thread. torch's intra-op threads cost a
# synchronisation per operation; on the small matmuls of tabular networks that
# costs more than it saves, and when the cores are shared (another job,
# GridSearchCV(n_jobs=2), a Dask worker) the spinning threads collapse the fit
# (docs/benchmarks.md, "Threads"). The default MLP on 20-600 features with
# batch 128-256 lies far below it.
SINGLE_THREAD_WORK = 2**30

# torch.set_num_threads is process-wide. Fits running side by side in threads
# of one process (joblib's threading backend, a Dask worker) share one
# setting: the first call that enters saves the caller's value and the last
# one that leaves restores it.
_LOCK = threading.Lock()
_ACTIVE = {"count": 0, "saved": None}


def check_n_threads(n_threads):
    """Validate the ``n_threads`` parameter ("auto", None or an int >= 1)."""
    if n_threads is None or (isinstance(n_threads, str) and n_threads == "auto"):
        return n_threads
    if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral) or n_threads < 1:
        raise ValueError(f"n_threads must be 'auto', None or an int >= 1; got {n_threads!r}")
    return int(n_threads)


def resolve_n_threads(n_threads, device, module, batch_size):
    """The thread count a call should run with, or None to leave torch's setting alone.

    "auto": one thread on the CPU when a training step is small
    (``batch_size * n_parameters < SINGLE_THREAD_WORK``), else torch's own
    setting; on a GPU torch's setting (the host only launches kernels).
    """
    if n_threads != "auto":
        return n_threads
    if device.type != "cpu":
        return None
    n_params = sum(p.numel() for p in module.parameters())
    return 1 if batch_size * n_params < SINGLE_THREAD_WORK else None


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run the body with ``torch.set_num_threads(n_threads)``; restore the caller's value after.

    ``n_threads=None`` changes nothing.
    """
    if n_threads is None:
        yield
        return
    with _LOCK:
        if _ACTIVE["count"] == 0:
            _ACTIVE["saved"] = torch.get_num_threads()
        _ACTIVE["count"] += 1
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE["count"] -= 1
            if _ACTIVE["count"] == 0:
                torch.set_num_threads(_ACTIVE["saved"])
                _ACTIVE["saved"] = None
