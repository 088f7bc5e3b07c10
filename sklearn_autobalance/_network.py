"""The skorch network behind the estimators: dense-tensor batches and loss hooks."""

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, ProgressBar
from torch import nn

from ._progress import plain_print_log
from ._sparse import chunk_rows, dense


class MLP(nn.Module):
    """Default network: a ReLU multi-layer perceptron returning raw logits.

    Parameters
    ----------
    n_features : int
        Input width.
    n_classes : int
        Number of outputs.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Width of each hidden layer; ``()`` gives a linear model.
    """

    def __init__(self, n_features, n_classes, hidden_layer_sizes=(128, 128)):
        super().__init__()
        layers, width = [], n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)


class TensorBatches:
    """Mini-batches sliced from tensors already on the device.

    Replaces skorch's ``DataLoader``: slicing pre-made tensors with a permutation
    avoids per-sample collation, which dominates on small dense data. A sparse
    ``"X"`` (:class:`~sklearn_autobalance._sparse.SparseRows`) is densified one
    batch at a time.

    Parameters
    ----------
    X : dict of str to torch.Tensor
        Per-sample tensors of equal length (``"X"``, a tensor or ``SparseRows``,
        and optional extras such as ``"groups"`` and ``"sample_weight"``).
    y : torch.Tensor or None
    batch_size : int
    shuffle : bool
    generator : torch.Generator or None
        Source of the permutation when shuffling (seeded by the estimator).
    """

    def __init__(self, X, y, batch_size, shuffle=False, generator=None):
        self.X, self.y = X, y
        self.n_samples = len(next(iter(X.values())))
        self.batch_size = min(batch_size, self.n_samples)
        self.shuffle, self.generator = shuffle, generator

    def __len__(self):
        return -(-self.n_samples // self.batch_size)

    def __iter__(self):
        device = self.X["X"].device
        if self.shuffle:
            order = torch.randperm(self.n_samples, generator=self.generator)
            order = order.to(device)
            for start in range(0, self.n_samples, self.batch_size):
                idx = order[start:start + self.batch_size]
                yield {k: dense(v[idx]) for k, v in self.X.items()}, (
                    None if self.y is None else self.y[idx])
        else:
            for start in range(0, self.n_samples, self.batch_size):
                sl = slice(start, start + self.batch_size)
                yield {k: dense(v[sl]) for k, v in self.X.items()}, (
                    None if self.y is None else self.y[sl])


class _Augmented:
    """An iterable of training batches passed through ``augmentation.batches`` (keeps ``len``)."""

    def __init__(self, batches, augmentation):
        self.batches, self.augmentation = batches, augmentation

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        return self.augmentation.batches(iter(self.batches))


class EpochAnnouncer(Callback):
    """Tells schedule-dependent losses (e.g. LDAM-DRW) which epoch starts."""

    def on_epoch_begin(self, net, **kwargs):
        set_epoch = getattr(net.criterion_, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(len(net.history) - 1)


class TabularNet(NeuralNet):
    """skorch ``NeuralNet`` for pre-made dense tensors.

    Each hook is a small change of skorch's default:

    - ``get_iterator`` slices device tensors (:class:`TensorBatches`).
    - ``infer`` feeds only ``X["X"]`` to the module; the other entries of the
      batch dict (``groups``, ``sample_weight``) are for the loss.
    - ``get_loss`` calls the criterion as ``loss(logits, y, groups)`` with
      ``reduction="none"`` semantics when sample weights are present.
    - ``run_single_epoch`` records the batch losses with one host transfer per
      epoch rather than one ``.item()`` per step.

    - ``notify`` ends training after an epoch in which a callback called
      :meth:`request_stop` (early stopping), once every callback, the epoch
      table included, has seen that epoch.
    - the default ``PrintLog`` drops its ANSI colours when stdout is not a
      terminal.

    - with ``augmentation`` (a :class:`~sklearn_autobalance._augmentation.FeatureAugmentation`,
      set by the estimator) the training batches are augmented; prediction
      and scoring batches never are.

    ``generator`` (set by the estimator) seeds the batch order.
    """

    generator = None
    augmentation = None
    _stop_requested = False

    @property
    def _default_callbacks(self):
        return [(name, plain_print_log() if name == "print_log" else cb)
                for name, cb in super()._default_callbacks]

    def request_stop(self):
        """End training after the current epoch (all its callbacks still run)."""
        self._stop_requested = True

    def notify(self, method_name, **cb_kwargs):
        if method_name == "on_train_begin":
            self._stop_requested = False
            if self.augmentation is not None:
                self.augmentation.reset()  # every run draws the same noise stream
        super().notify(method_name, **cb_kwargs)
        if method_name == "on_epoch_end" and self._stop_requested:
            self._stop_requested = False
            raise KeyboardInterrupt  # skorch's partial_fit ends the loop on it

    def get_iterator(self, dataset, training=False):
        batch_size = (self.batch_size if training else
                      chunk_rows(dataset.X["X"], max(self.batch_size, 4096)))
        return self.augmented(TensorBatches(
            dataset.X, dataset.y, batch_size, shuffle=training, generator=self.generator
        ), training)

    def augmented(self, batches, training):
        """``batches`` with the training augmentation applied (training batches only)."""
        if not training or self.augmentation is None:
            return batches
        return _Augmented(batches, self.augmentation)

    def infer(self, x, **fit_params):
        return self.module_(x["X"])

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.loss_with(self.criterion_, y_pred, y_true, X)

    def loss_with(self, criterion, y_pred, y_true, X=None):
        """The batch loss under ``criterion`` (the net's own, or a control arm's)."""
        groups = X.get("groups") if isinstance(X, dict) else None
        weight = X.get("sample_weight") if isinstance(X, dict) else None
        if weight is None:
            return criterion(y_pred, y_true, groups)
        reduction = criterion.reduction
        criterion.reduction = "none"
        try:
            per_sample = criterion(y_pred, y_true, groups)
        finally:
            criterion.reduction = reduction
        return (per_sample * weight).mean()

    @staticmethod
    def batch_rows(batch):
        """Samples per network in ``batch`` (the history's ``*_batch_size``)."""
        return len(batch[0]["X"])

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if iterator is None:
            return
        # skorch's ProgressBar shows each batch's loss as it ends; only then is
        # the loss read per step (a device sync on a GPU), else once an epoch.
        per_batch = any(isinstance(cb, ProgressBar) for _, cb in self.callbacks_)
        losses, n_batches = [], 0
        for batch in iterator:
            n_batches += 1
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            self.history.record_batch(prefix + "_batch_size", self.batch_rows(batch))
            if per_batch:
                self.history.record_batch(prefix + "_loss", step["loss"].item())
            else:
                losses.append(step["loss"].detach())
            self.notify("on_batch_end", batch=batch, training=training, **step)
        values = torch.stack(losses).float().cpu().tolist() if losses else []
        for record, value in zip(self.history[-1]["batches"][-len(values):], values):
            record[prefix + "_loss"] = value
        self.history.record(prefix + "_batch_count", n_batches)
