"""What the estimators share: validation, label encoding, the skorch net, prediction."""

import copy
import numbers
import threading
from abc import ABCMeta, abstractmethod

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._network import MLP, EpochAnnouncer, TabularNet
from ._progress import PhaseProgress
from ._sparse import ACCEPT_SPARSE, as_rows
from ._threading import check_n_threads, resolve_n_threads, torch_threads

_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}

# torch's global generator is shared by the threads of a process (joblib's
# threading backend, a Dask worker with several threads). A fit writes to it
# (seeds it, then restores the caller's state) and draws the network's initial
# weights from it only while holding this lock, so fits running side by side
# start from the weights they would get alone. A process-wide lock, never part
# of an estimator's state.
_GLOBAL_RNG_LOCK = threading.Lock()


def _seed_global_rng(seed, device):
    """Seed torch's global generators (hold ``_GLOBAL_RNG_LOCK``).

    Returns a function restoring the previous CPU state (and that of
    ``device`` when it is a GPU), as ``torch.random.fork_rng`` does on exit.
    """
    cpu_state = torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    torch.manual_seed(seed)

    def restore():
        torch.set_rng_state(cpu_state)
        if cuda_state is not None:
            torch.cuda.set_rng_state(cuda_state, device)

    return restore


def _check_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")
    return int(value)


def _check_float(value, name, low=0.0, high=None, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number; got {value!r}")
    bad_low = value <= low if low_open else value < low
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"{name} must lie in {lo}{low}, {high if high is not None else 'inf'}{hi}; "
                         f"got {value!r}")
    return float(value)


def checked_dict(params, defaults, name):
    """``params`` (a dict or None) over ``defaults``; unknown keys raise naming them."""
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"{name} must be a dict or None; got {params!r}")
    unknown = sorted(set(params or {}) - set(defaults))
    if unknown:
        raise ValueError(f"{name} has unknown keys {unknown}; the keys are {sorted(defaults)}")
    return {**defaults, **(params or {})}


def class_counts(y, groups, n_classes, n_groups):
    """Samples per class, or per (class, group) cell: shape (n_classes,) or (n_classes, n_groups)."""
    if groups is None:
        return np.bincount(y, minlength=n_classes).astype(np.float64)
    cells = np.bincount(y * n_groups + groups, minlength=n_classes * n_groups)
    return cells.reshape(n_classes, n_groups).astype(np.float64)


def as_python(value):
    """A NumPy scalar as the Python value it holds (for readable messages)."""
    return value.item() if isinstance(value, np.generic) else value


def check_sensitive_features(sensitive_features, n_samples):
    """Validate a 1-D sensitive attribute: length, NaN, at least two groups.

    Returns ``(group_codes, group_labels)``.
    """
    try:
        groups = column_or_1d(np.asarray(sensitive_features, dtype=object), warn=False)
    except ValueError as exc:
        raise ValueError(
            "sensitive_features must be 1-D (one sensitive attribute per sample); "
            f"got shape {np.shape(sensitive_features)}"
        ) from exc
    if len(groups) != n_samples:
        raise ValueError(
            f"sensitive_features has {len(groups)} entries but X has {n_samples} rows. "
            "If a resampler (e.g. imbalanced-learn's SMOTE) runs before this estimator, "
            "note that it does not resample routed metadata such as sensitive_features."
        )
    missing = [i for i, g in enumerate(groups) if g is None or (isinstance(g, float) and np.isnan(g))]
    if missing:
        raise ValueError(f"sensitive_features contains missing values (NaN/None) at rows {missing[:5]}")
    try:
        labels, codes = np.unique(groups.astype(str) if groups.dtype == object and
                                  len({type(g) for g in groups}) > 1 else groups,
                                  return_inverse=True)
    except TypeError as exc:
        raise TypeError("sensitive_features must hold comparable values (ints or strings)") from exc
    if len(labels) < 2:
        raise ValueError(f"sensitive_features has a single group ({as_python(labels[0])!r}); "
                         "group-sensitive training needs at least two")
    return codes.astype(np.int64), labels


class BaseNeuralClassifier(ClassifierMixin, BaseEstimator, metaclass=ABCMeta):
    """Template for the package's classifiers: a skorch network built inside ``fit``.

    ``fit`` validates and encodes the data, fixes the seeds, moves the data to
    the device once, and calls :meth:`_fit_net`, the one method subclasses
    write (it returns the trained skorch net). Prediction, tags and parameter
    checks live here.
    """

    @abstractmethod
    def __init__(self, *, module=None, hidden_layer_sizes=(128, 128), max_epochs=50,
                 batch_size=128, lr=1e-3, optimizer="adam", weight_decay=0.0, device="cpu",
                 n_threads="auto", random_state=None, verbose=0, callbacks=None,
                 early_stopping=False, n_iter_no_change=10, tol=1e-4):
        self.module = module
        self.hidden_layer_sizes = hidden_layer_sizes
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol

    # ----------------------------------------------------------------- checks
    def _check_common_params(self):
        _check_int(self.max_epochs, "max_epochs")
        _check_int(self.batch_size, "batch_size")
        _check_float(self.lr, "lr", low_open=True)
        _check_float(self.weight_decay, "weight_decay")
        if not (isinstance(self.optimizer, str) and self.optimizer in _OPTIMIZERS) and not (
            isinstance(self.optimizer, type) and issubclass(self.optimizer, torch.optim.Optimizer)
        ):
            raise ValueError(
                f"optimizer must be one of {sorted(_OPTIMIZERS)} or a torch.optim.Optimizer "
                f"subclass; got {self.optimizer!r}"
            )
        sizes = self.hidden_layer_sizes
        if not isinstance(sizes, (tuple, list)) or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in sizes
        ):
            raise ValueError(f"hidden_layer_sizes must be a tuple of positive ints; got {sizes!r}")
        if self.callbacks is not None and not isinstance(self.callbacks, (list, tuple)):
            raise TypeError("callbacks must be a list of skorch callbacks or None")
        for cb in self.callbacks or ():
            cb = cb[1] if isinstance(cb, (tuple, list)) and len(cb) == 2 else cb
            monitor = getattr(cb, "monitor", None)
            if isinstance(monitor, str) and monitor.startswith("valid"):
                raise ValueError(
                    f"callback {type(cb).__name__}(monitor={monitor!r}) watches a skorch "
                    "validation split, which these networks do not have (each phase trains "
                    "on all the rows it is given). Use the estimator's own early stopping: "
                    f"{type(self).__name__}(early_stopping=True, n_iter_no_change=..., tol=...)"
                )
        check_n_threads(self.n_threads)
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise ValueError(f"early_stopping must be True or False; got {self.early_stopping!r}")
        _check_int(self.n_iter_no_change, "n_iter_no_change")
        _check_float(self.tol, "tol")
        if not isinstance(self.verbose, numbers.Integral) or self.verbose < 0:
            raise ValueError(f"verbose must be an int >= 0; got {self.verbose!r}")
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N'; got {self.device!r}") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} was requested but CUDA is not available "
                             "on this machine; use device='cpu'")
        if device.type not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda'; got {self.device!r}")
        return device

    def _validate_fit_data(self, X, y, sample_weight, sensitive_features):
        X, y = validate_data(self, X, y, accept_sparse=ACCEPT_SPARSE,
                             dtype=[np.float64, np.float32], y_numeric=False)
        check_classification_targets(y)
        self._label_encoder = LabelEncoder().fit(y)
        self.classes_ = self._label_encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; "
                f"y has one class only: {as_python(self.classes_[0])!r}"
            )
        y_enc = self._label_encoder.transform(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
            negative = np.flatnonzero(sample_weight < 0)
            if len(negative):
                raise ValueError(
                    f"sample_weight must be non-negative; got {len(negative)} negative "
                    f"value(s) (the smallest is {sample_weight.min():g}, at row {negative[0]}). "
                    "A negative weight would make training maximise that sample's loss."
                )
            if not sample_weight.sum() > 0:
                raise ValueError("sample_weight must have a positive sum; all weights are zero")
        groups = None
        if sensitive_features is not None:
            groups, self.groups_ = check_sensitive_features(sensitive_features, X.shape[0])
        return X, y_enc, sample_weight, groups

    # ---------------------------------------------------------------- network
    def _initial_module(self, n_features, n_classes):
        if self.module is None:
            return MLP(n_features, n_classes, tuple(self.hidden_layer_sizes))
        if isinstance(self.module, torch.nn.Module):
            return copy.deepcopy(self.module)
        if isinstance(self.module, type) and issubclass(self.module, torch.nn.Module):
            return self.module(n_features, n_classes)
        raise TypeError("module must be None, a torch.nn.Module instance, or an nn.Module class "
                        f"taking (n_features, n_classes); got {self.module!r}")

    def _make_net(self, criterion, *, max_epochs=None, extra_callbacks=(), progress=None,
                  module=None, net_class=TabularNet, augmentation=None):
        """A fresh skorch net with the initial module weights and ``criterion``.

        ``module``: a module to train instead of a copy of the initial one
        (the search's fold ensemble), with ``net_class`` its skorch net.
        ``augmentation``: the training-batch augmentation (``_augmentation.py``).

        ``progress``: ``(phase_of, keys)`` of :class:`PhaseProgress` (the phase
        name or a function of the epoch; the history keys to show): progress lines
        or a bar at ``verbose == 1``; at ``verbose >= 2`` skorch's epoch table
        instead, with the phase as a column.
        """
        optimizer = _OPTIMIZERS.get(self.optimizer, self.optimizer)
        callbacks = [("epoch_announcer", EpochAnnouncer()), *extra_callbacks]
        if self.verbose and progress is not None:
            phase_of, keys = progress
            callbacks.append(("progress", PhaseProgress(
                f"[{type(self).__name__}]", phase_of, keys, display=self.verbose == 1)))
        for i, cb in enumerate(self.callbacks or ()):
            callbacks.append((f"user_{i}", copy.deepcopy(cb)))
        net = net_class(
            module=copy.deepcopy(self._module_init) if module is None else module,
            criterion=criterion,
            optimizer=optimizer,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs if max_epochs is None else max_epochs,
            batch_size=self.batch_size,
            train_split=None,
            device=self._device,
            callbacks=callbacks,
            predict_nonlinearity=None,
            verbose=int(self.verbose >= 2),
        )
        net.generator = self._generator
        net.augmentation = augmentation
        return net

    def _tensors(self, X, y=None, groups=None, sample_weight=None):
        # Dense X: a float32 copy on the device. Sparse X stays a CSR matrix on
        # the host, densified a batch at a time (_sparse.py).
        data = {"X": as_rows(X, self._device)}
        if groups is not None:
            data["groups"] = torch.as_tensor(groups, dtype=torch.long, device=self._device)
        if sample_weight is not None:
            data["sample_weight"] = torch.as_tensor(
                sample_weight, dtype=torch.float32, device=self._device)
        if y is None:
            return data
        return data, torch.as_tensor(y, dtype=torch.long, device=self._device)

    # -------------------------------------------------------------------- fit
    def fit(self, X, y, *, sensitive_features=None, sample_weight=None):
        """Fit the classifier.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Sparse input (CSR or CSC; other formats are converted to CSR)
            stays sparse: each mini-batch is densified to float32 on its own,
            never the whole matrix.
        y : array-like of shape (n_samples,)
            Class labels (ints or strings).
        sensitive_features : array-like of shape (n_samples,), default=None
            Group of each sample (ints or strings); used in training only,
            never at prediction.
        sample_weight : array-like of shape (n_samples,), default=None
            Multiplies each sample's loss; must be non-negative with a
            positive sum.

        Returns
        -------
        self : object
        """
        self._device = self._check_common_params()
        self._check_params()
        X, y, sample_weight, groups = self._validate_fit_data(X, y, sample_weight,
                                                              sensitive_features)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        # One seed fixes weights, batch order, hyper-batches and the search's
        # random vectors; the caller's global torch RNG is restored afterwards.
        # Only the initial weights come from the shared global generator (under
        # the lock); the rest from the fit's own generators, so that concurrent
        # fits in one process (threaded workers) give the results they give
        # alone. _curvature_generator continues the global CPU stream after the
        # initialisation (on a GPU: the device stream as seeded), the values the
        # global generator would give in a process of its own.
        self._generator = torch.Generator().manual_seed(seed)
        self._seed = seed
        with _GLOBAL_RNG_LOCK:
            restore = _seed_global_rng(seed, self._device)
            try:
                self._module_init = self._initial_module(X.shape[1], len(self.classes_))
            except BaseException:
                restore()
                raise
            if self._device.type == "cuda":
                self._curvature_generator = torch.Generator(self._device).manual_seed(seed)
            else:
                self._curvature_generator = torch.Generator()
                self._curvature_generator.set_state(torch.get_rng_state())
        try:
            self._check_module_output(X[:1], len(self.classes_))
            threads = resolve_n_threads(self.n_threads, self._device, self._module_init,
                                        self.batch_size)
            with torch_threads(threads):
                self.net_ = self._fit_net(X, y, groups, sample_weight, rng)
        finally:
            with _GLOBAL_RNG_LOCK:
                restore()
            del self._generator, self._curvature_generator, self._seed
        return self

    def _check_module_output(self, row, n_classes):
        """One-row forward of the initial module: it must return ``(1, n_classes)`` logits."""
        module = self._module_init
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                out = module(torch.tensor(row.toarray() if sp.issparse(row) else row,
                                          dtype=torch.float32))
        except Exception as exc:
            raise ValueError(
                f"module failed on a one-row input of {row.shape[1]} features "
                f"({type(exc).__name__}: {exc}); it must map (n_samples, n_features) "
                "float32 inputs to (n_samples, n_classes) logits"
            ) from exc
        finally:
            module.train(was_training)
        if not isinstance(out, torch.Tensor) or out.shape != (1, n_classes):
            width = out.shape[-1] if isinstance(out, torch.Tensor) and out.ndim else None
            got = (f"{width} outputs (shape {tuple(out.shape)})" if width is not None
                   else f"a {type(out).__name__}")
            raise ValueError(
                f"module returns {got} for one input row, but y has {n_classes} classes: "
                f"the module must return one logit per class, shape (n_samples, {n_classes})"
            )

    def _check_params(self):
        """Validate the subclass's own parameters (hook)."""

    @abstractmethod
    def _fit_net(self, X, y, groups, sample_weight, rng):
        """Train and return the skorch net (``y`` is label-encoded)."""

    # ---------------------------------------------------------------- predict
    def _logits(self, X, method, params):
        if params:
            names = ", ".join(sorted(params))
            hint = (" Prediction never takes the sensitive attribute: it is used in training "
                    "only, and the network predicts from X alone."
                    if "sensitive_features" in params else "")
            raise TypeError(f"{type(self).__name__}.{method}() got unexpected keyword "
                            f"argument(s): {names}.{hint}")
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=ACCEPT_SPARSE, dtype=[np.float64, np.float32],
                          reset=False)
        device = torch.device(self.net_.device)
        data = {"X": as_rows(X, device)}
        threads = resolve_n_threads(self.n_threads, device, self.net_.module_, self.batch_size)
        with torch_threads(threads), torch.no_grad():
            logits = self.net_.forward(data, training=False, device="cpu").double().numpy()
        # A subclass may train with its outputs in another order than classes_.
        order = getattr(self, "_output_order", None)
        return logits if order is None else logits[:, order]

    def decision_function(self, X, **params):
        """Raw logits ``f(x)`` (binary: ``f_1 - f_0``), with no loss adjustment.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        **params
            None accepted: a TypeError says so (prediction never takes
            ``sensitive_features``).

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        logits = self._logits(X, "decision_function", params)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_proba(self, X, **params):
        """Softmax of the raw logits.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        **params
            None accepted (see :meth:`decision_function`).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        logits = self._logits(X, "predict_proba", params)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X, **params):
        """Class of the largest raw logit.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        **params
            None accepted (see :meth:`decision_function`).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        logits = self._logits(X, "predict", params)  # checks that the estimator is fitted
        return self.classes_[np.argmax(logits, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        tags.non_deterministic = self.device != "cpu"
        return tags

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_generator", None)
        state.pop("_curvature_generator", None)
        state.pop("_seed", None)
        return state
