r"""AnyLoss: a confusion-matrix metric as a loss (Han, Moniz, Chawla 2024).

The predicted probability ``p`` of a class is pushed towards 0 or 1 by the
*approximation function*

.. math::

    A(p) = \frac{1}{1 + e^{-L (p - 1/2)}},

with amplifier ``L`` (73 by default). The soft confusion matrix of a batch of
``N`` samples with labels ``y`` in {0, 1} (and optional sample weights ``w``,
all ones by default) is

.. math::

    TP = \sum_i w_i y_i A_i, \quad FN = \sum_i w_i y_i - TP, \quad
    FP = \sum_i w_i A_i - TP, \quad TN = \sum_i w_i - \sum_i w_i y_i - \sum_i w_i A_i + TP,

using the batch's *own* size ``N = \sum_i w_i`` (the reference code mixes the
full-set ``N`` with batch sums, which makes ``TN`` wrong on mini-batches). Any
function ``metric(TP, FN, FP, TN)`` that is differentiable in the four counts
then gives the loss ``1 - metric``.

Binary classification (two logits): ``p = softmax(logits)[:, 1]`` and the
metric is that of the positive class (label 1), as in the paper.

Multi-class (the paper names it future work; this is our extension): every
class ``k`` gets a one-vs-rest soft confusion matrix from ``p_{ik} =
softmax(logits_i)_k`` and ``y_{ik} = [y_i = k]``. ``average="macro"`` takes
the mean over classes of the per-class metric (classes absent from the batch
included: their metric is what the formula gives with zero positives, e.g. 0
for F1); ``average="micro"`` sums the per-class soft counts, then computes the
metric once.

Why float64. With ``L = 73`` and ``p = 1``, ``A(1) = 1 / (1 + e^{-36.5})`` and
``e^{-36.5} = 1.4e-16`` is just above float64's half-ulp at 1 (1.1e-16), so
``A(1) < 1`` stays representable (73 is the largest integer amplifier for
which this holds). In float32 the half-ulp at 1 is 6e-8 and ``A(1)`` already
rounds to exactly 1 from ``L = 34``: the soft counts would stop being soft (and
``A``'s gradient would underflow) on confident samples. The module therefore
computes the probabilities, ``A``, the counts and the metric in float64, and
casts the loss back to the dtype of the logits.

Amplifier warm-up. :func:`amplifier_schedule` gives the ``L`` of each epoch
when ``L`` grows geometrically from 1 to its final value (what
:class:`~sklearn_autobalance.AnyLossClassifier` does by default over the first
half of its epochs). :class:`AnyLoss` itself uses whatever ``amplifier`` it
holds; the classifier updates it at the start of every epoch.
"""

import functools
import types

import torch

from ._base import BaseLoss, check_positive

#: Added to denominators (in units of soft samples) so that empty rows or
#: columns of the confusion matrix give a finite value and gradient.
EPS = 1e-7


def amplified_sigmoid(p, amplifier=73.0):
    r"""The approximation function ``A(p) = 1 / (1 + exp(-L (p - 0.5)))``.

    Parameters
    ----------
    p : torch.Tensor
        Probabilities (any shape). Use float64: in float32 ``A(1)`` rounds to
        exactly 1 from ``L = 34``.
    amplifier : float, default=73.0
        ``L``; larger values bring ``A`` closer to the 0/1 step at 0.5.

    Returns
    -------
    torch.Tensor of the shape and dtype of ``p``.
    """
    return torch.sigmoid(amplifier * (p - 0.5))


def amplifier_schedule(epoch, amplifier=73.0, warmup_epochs=0, start=1.0):
    r"""Amplifier ``L`` of an epoch when ``L`` is warmed up geometrically.

    .. math::

        L_e = L_0 \left(\frac{L}{L_0}\right)^{e / E} \ (e < E), \qquad L_e = L \ (e \ge E),

    with ``L_0 = min(start, amplifier)`` and ``E = warmup_epochs``. With a
    small ``L`` the approximation function is nearly affine in ``p`` (for
    ``L = 1``, ``A`` maps [0, 1] to [0.38, 0.62] and its slope is at least
    0.23 everywhere), so every sample has a gradient; with ``L = 73`` the
    slope ``L A (1 - A)`` is below 1/100 of its peak once ``|p - 1/2| > 0.08``,
    so a sample that lands on the wrong side beyond that is hardly ever
    corrected. Growing ``L`` by a constant factor per
    epoch shrinks that window gradually instead of starting in it (a
    continuation method). The loss matches the hard metric only at the end.

    Parameters
    ----------
    epoch : int
        0-based index among the AnyLoss epochs (pretraining epochs excluded).
    amplifier : float, default=73.0
        The final ``L`` (> 0).
    warmup_epochs : int, default=0
        ``E``; 0 gives ``amplifier`` at every epoch (the paper).
    start : float, default=1.0
        ``L_0`` (> 0), capped at ``amplifier``.

    Returns
    -------
    float

    Examples
    --------
    >>> from sklearn_autobalance.losses._anyloss import amplifier_schedule
    >>> [round(amplifier_schedule(e, 73.0, warmup_epochs=2), 2) for e in range(4)]
    [1.0, 8.54, 73.0, 73.0]
    >>> amplifier_schedule(0, 73.0, warmup_epochs=0)
    73.0
    """
    epoch, warmup_epochs = int(epoch), int(warmup_epochs)
    if epoch < 0 or warmup_epochs < 0:
        raise ValueError(f"epoch and warmup_epochs must be >= 0; got {epoch}, {warmup_epochs}")
    amplifier = float(check_positive(amplifier, "amplifier"))
    start = min(float(check_positive(start, "start")), amplifier)
    if epoch >= warmup_epochs:
        return amplifier
    return start * (amplifier / start) ** (epoch / warmup_epochs)


def soft_confusion_matrix(proba, y, *, amplifier=73.0, sample_weight=None):
    """Soft confusion matrix ``(TP, FN, FP, TN)`` of a batch.

    Parameters
    ----------
    proba : torch.Tensor of shape (n_samples,) or (n_samples, n_classes)
        Binary: probability of the positive class. Multi-class: class
        probabilities (rows summing to 1); each column gives that class's
        one-vs-rest matrix.
    y : torch.Tensor of shape (n_samples,)
        Binary: labels in {0, 1}. Multi-class: class indices in
        ``[0, n_classes)``.
    amplifier : float, default=73.0
        ``L`` of :func:`amplified_sigmoid`.
    sample_weight : torch.Tensor of shape (n_samples,) or None
        Weight of each sample in the counts (None: all ones).

    Returns
    -------
    tp, fn, fp, tn : torch.Tensor
        Scalars (binary) or tensors of shape (n_classes,) (per class), in the
        dtype of ``proba``. Without weights they sum to ``n_samples`` (per
        class).
    """
    a = amplified_sigmoid(proba, amplifier)
    if proba.ndim == 1:
        t = y.to(proba.dtype)
    elif proba.ndim == 2:
        t = torch.nn.functional.one_hot(y, proba.shape[1]).to(proba.dtype)
    else:
        raise ValueError(f"proba must be 1-D or 2-D; got shape {tuple(proba.shape)}")
    if sample_weight is None:
        n = proba.new_tensor(float(proba.shape[0]))
        positives = t.sum(dim=0)
        predicted = a.sum(dim=0)
    else:
        w = sample_weight.to(proba.dtype)
        if proba.ndim == 2:
            w = w.unsqueeze(1)
        n = w.sum()
        positives = (w * t).sum(dim=0)
        predicted = (w * a).sum(dim=0)
        t = w * t
    tp = (t * a).sum(dim=0)
    fn = positives - tp
    fp = predicted - tp
    tn = n - positives - predicted + tp
    return tp, fn, fp, tn


# --------------------------------------------------------------------- metrics
# Each takes soft counts (tensors of one shape) and returns the score, elementwise.


def soft_accuracy(tp, fn, fp, tn):
    """``(TP + TN) / (TP + FN + FP + TN)``."""
    return (tp + tn) / (tp + fn + fp + tn + EPS)


def soft_fbeta(tp, fn, fp, tn, beta=1.0):
    """``(1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP)`` (0 when there is nothing to find or flag)."""
    b2 = beta * beta
    return (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp + EPS)


def soft_f1(tp, fn, fp, tn):
    """``2 TP / (2 TP + FN + FP)``."""
    return soft_fbeta(tp, fn, fp, tn, beta=1.0)


def _rates(tp, fn, fp, tn):
    return tp / (tp + fn + EPS), tn / (tn + fp + EPS)


def soft_balanced_accuracy(tp, fn, fp, tn):
    """``(TPR + TNR) / 2``."""
    tpr, tnr = _rates(tp, fn, fp, tn)
    return 0.5 * (tpr + tnr)


def soft_gmean(tp, fn, fp, tn):
    """``sqrt(TPR * TNR)``; ``EPS**2`` under the root keeps the gradient finite at 0."""
    tpr, tnr = _rates(tp, fn, fp, tn)
    return torch.sqrt(tpr * tnr + EPS * EPS)


def soft_mcc(tp, fn, fp, tn):
    """Matthews correlation ``(TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))``.

    The counts are first divided by their total (the metric is scale-free), so
    that the stabilising ``EPS**2`` under the root means the same at any batch
    size. It is 0 when a row or column of the matrix is empty, as scikit-learn.
    """
    total = tp + fn + fp + tn + EPS
    tp, fn, fp, tn = tp / total, fn / total, fp / total, tn / total
    denominator = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return (tp * tn - fp * fn) / torch.sqrt(denominator + EPS * EPS)


#: Built-in metrics by name (``"fbeta"`` takes ``beta``).
ANYLOSS_METRICS = types.MappingProxyType({
    "accuracy": soft_accuracy,
    "balanced_accuracy": soft_balanced_accuracy,
    "f1": soft_f1,
    "fbeta": soft_fbeta,
    "gmean": soft_gmean,
    "mcc": soft_mcc,
})

_AVERAGES = ("macro", "micro")


def check_metric(metric):
    """Raise a ValueError unless ``metric`` is a built-in name or a callable."""
    if isinstance(metric, str):
        if metric not in ANYLOSS_METRICS:
            raise ValueError(
                f"unknown metric {metric!r}; choose one of {sorted(ANYLOSS_METRICS)} "
                "or pass a callable metric(tp, fn, fp, tn)")
        return metric
    if not callable(metric):
        raise ValueError(
            f"metric must be one of {sorted(ANYLOSS_METRICS)} or a callable "
            f"metric(tp, fn, fp, tn); got {metric!r}")
    return metric


def _probe_callable(metric):
    """Call a user metric on a small soft matrix: it must give a finite, differentiable scalar."""
    counts = [torch.tensor(v, dtype=torch.float64, requires_grad=True)
              for v in (3.2, 0.8, 1.1, 4.9)]
    name = getattr(metric, "__name__", repr(metric))
    try:
        score = metric(*counts)
    except Exception as exc:  # the user's code: say where it failed
        raise ValueError(
            f"metric callable {name} failed on scalar tensors (tp, fn, fp, tn) = "
            f"(3.2, 0.8, 1.1, 4.9): {type(exc).__name__}: {exc}") from exc
    _check_score(score, name, ())
    if not torch.isfinite(score).all():
        raise ValueError(f"metric callable {name} returned a non-finite value "
                         f"({score.item()}) on (tp, fn, fp, tn) = (3.2, 0.8, 1.1, 4.9)")
    if not score.requires_grad:
        raise ValueError(
            f"metric callable {name} returned a tensor that does not depend on its inputs "
            "through torch operations (no gradient): build it from the tp, fn, fp, tn tensors "
            "with torch operations only (no .item(), float() or NumPy)")


def _check_score(score, name, shape):
    if not isinstance(score, torch.Tensor):
        raise ValueError(
            f"metric callable {name} must return a torch.Tensor; got {type(score).__name__}")
    if tuple(score.shape) != tuple(shape):
        want = "a scalar (0-d) tensor" if shape == () else f"a tensor of shape {tuple(shape)}"
        raise ValueError(
            f"metric callable {name} must return {want} for inputs of shape {tuple(shape)} "
            f"(elementwise in the counts); got shape {tuple(score.shape)}")


class AnyLoss(BaseLoss):
    r"""AnyLoss: ``1 - metric`` of the batch's soft confusion matrix.

    .. math::

        \mathcal{L} = 1 - M(TP, FN, FP, TN), \qquad
        TP = \sum_i w_i y_i A(p_i), \ \ldots

    with ``A(p) = 1 / (1 + exp(-L (p - 1/2)))`` (see the module docstring for
    all four counts). It is a loss of the whole batch, not a mean of
    per-sample losses.

    - Binary (``n_classes = 2``): ``p = softmax(logits)[:, 1]``; the metric of
      the positive class (label 1), as in the paper. ``average`` is unused.
    - Multi-class (our extension): one-vs-rest soft matrices from the softmax
      probabilities. ``average="macro"``: mean over classes of the per-class
      metric (macro F1, macro G-mean, ...). ``average="micro"``: the metric of
      the summed per-class counts. Micro averaging is degenerate for several
      metrics in single-label one-vs-rest: on hard predictions micro F1 (and
      every micro F-beta) equals accuracy, and micro accuracy is
      ``1 - 2 error / K``, an affine map of accuracy (so is macro accuracy);
      micro balanced accuracy, G-mean and MCC mix the recall with a
      true-negative rate inflated by the ``K - 1`` negative roles of every
      sample. Micro is mostly useful for MCC-like or custom metrics; prefer
      macro.

    Built-in metrics (score to maximise, computed in float64 with ``EPS = 1e-7``
    added to denominators): ``"accuracy"``, ``"f1"``, ``"fbeta"`` (with
    ``beta``), ``"gmean"`` (``sqrt(TPR * TNR)``), ``"balanced_accuracy"``
    (``(TPR + TNR) / 2``), ``"mcc"`` (Matthews correlation; the loss is then
    in [0, 2]).

    Parameters
    ----------
    counts : array-like of shape (n_classes,) or (n_classes, n_groups)
        Training counts; only the number of classes is used (groups are
        ignored).
    metric : str or callable, default="f1"
        A name above, or ``metric(tp, fn, fp, tn) -> score`` built from torch
        operations on float64 tensors: elementwise, returning a tensor of the
        inputs' shape (0-d for binary and micro, ``(n_classes,)`` for macro).
        A callable is checked once on a probe matrix (finite, differentiable
        0-d result) and its output is checked to be finite at every call.
    beta : float, default=1.0
        ``beta`` of ``"fbeta"`` (> 0; > 1 favours recall).
    amplifier : float, default=73.0
        ``L`` (> 0). 73 is the largest integer with ``A(1) < 1`` in float64.
    average : {"macro", "micro"}, default="macro"
        Multi-class averaging (ignored for two classes).
    reduction : {"mean"}, default="mean"
        Only ``"mean"``: the loss belongs to the batch, so per-sample values
        (``"none"``) do not exist. Weight samples with ``sample_weight``.

    Attributes
    ----------
    n_classes : int
    metric_fn : callable
        The metric actually used (``beta`` bound for ``"fbeta"``).

    References
    ----------
    D. Han, N. Moniz, N. V. Chawla. AnyLoss: Transforming Classification
    Metrics into Loss Functions. KDD 2024 (arXiv 2405.14745).

    Examples
    --------
    >>> import torch
    >>> from sklearn_autobalance.losses import AnyLoss
    >>> loss = AnyLoss([6, 2], metric="f1")
    >>> logits = torch.tensor([[4.0, -4.0]] * 6 + [[-4.0, 4.0]] * 2)
    >>> y = torch.tensor([0] * 6 + [1] * 2)
    >>> round(loss(logits, y).item(), 6)  # perfect predictions: F1 = 1
    0.0
    >>> round(loss(logits, 1 - y).item(), 6)  # all wrong: F1 = 0
    1.0
    """

    def __init__(self, counts, *, metric="f1", beta=1.0, amplifier=73.0, average="macro",
                 reduction="mean"):
        if reduction != "mean":
            raise ValueError(_REDUCTION_MESSAGE.format(reduction=reduction))
        super().__init__(counts, reduction=reduction)
        self.metric = check_metric(metric)
        self.beta = check_positive(beta, "beta")
        self.amplifier = check_positive(amplifier, "amplifier")
        if average not in _AVERAGES:
            raise ValueError(f"average must be one of {_AVERAGES}; got {average!r}")
        self.average = average
        self._user_metric = not isinstance(metric, str)
        if self._user_metric:
            _probe_callable(metric)
            self.metric_fn = metric
        elif metric == "fbeta":
            self.metric_fn = functools.partial(soft_fbeta, beta=self.beta)
        else:
            self.metric_fn = ANYLOSS_METRICS[metric]

    def soft_counts(self, logits, y, sample_weight=None):
        """Float64 soft confusion matrix of a batch (scalars binary, per class otherwise)."""
        proba = torch.softmax(logits.to(torch.float64), dim=1)
        if self.n_classes == 2:
            proba = proba[:, 1]
        return soft_confusion_matrix(proba, y, amplifier=self.amplifier,
                                     sample_weight=sample_weight)

    def score(self, logits, y, sample_weight=None):
        """The soft metric of the batch (float64 scalar tensor)."""
        tp, fn, fp, tn = self.soft_counts(logits, y, sample_weight)
        if self.n_classes > 2 and self.average == "micro":
            tp, fn, fp, tn = tp.sum(), fn.sum(), fp.sum(), tn.sum()
        score = self.metric_fn(tp, fn, fp, tn)
        if self._user_metric:
            name = getattr(self.metric_fn, "__name__", repr(self.metric_fn))
            _check_score(score, name, tuple(tp.shape))
            if not torch.isfinite(score).all():
                raise ValueError(f"metric callable {name} returned a non-finite value on the "
                                 "soft confusion matrix of this batch")
        return score.mean() if score.ndim else score

    @torch.no_grad()
    def hard_score(self, logits, y):
        """The metric of the argmax predictions (what ``predict`` returns), as a float.

        The confusion counts are those of the hard decisions, so the value is
        the metric scikit-learn would report (up to the stabilising ``EPS``).
        """
        pred = logits.argmax(dim=1)
        if self.n_classes == 2:
            a, t = (pred == 1).to(torch.float64), (y == 1).to(torch.float64)
        else:
            a = torch.nn.functional.one_hot(pred, self.n_classes).to(torch.float64)
            t = torch.nn.functional.one_hot(y, self.n_classes).to(torch.float64)
        tp, positives, predicted = (t * a).sum(dim=0), t.sum(dim=0), a.sum(dim=0)
        fn, fp = positives - tp, predicted - tp
        tn = float(len(y)) - positives - predicted + tp
        if self.n_classes > 2 and self.average == "micro":
            tp, fn, fp, tn = tp.sum(), fn.sum(), fp.sum(), tn.sum()
        score = torch.nan_to_num(self.metric_fn(tp, fn, fp, tn), nan=0.0)
        return float(score.mean())

    def forward(self, logits, y, groups=None, sample_weight=None):
        """Loss ``1 - metric`` of the batch, in the dtype of ``logits``.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_samples, n_classes)
        y : torch.Tensor of shape (n_samples,)
        groups : ignored
            Accepted for the library's calling convention.
        sample_weight : torch.Tensor of shape (n_samples,) or None
            Weights of the samples in the soft counts.
        """
        if self.reduction != "mean":
            raise ValueError(_REDUCTION_MESSAGE.format(reduction=self.reduction))
        if logits.ndim != 2 or logits.shape[1] != self.n_classes:
            raise ValueError(f"logits must have shape (n_samples, {self.n_classes}); "
                             f"got {tuple(logits.shape)}")
        if y.shape != logits.shape[:1]:
            raise ValueError(f"y must have shape ({logits.shape[0]},); got {tuple(y.shape)}")
        if sample_weight is not None and sample_weight.shape != y.shape:
            raise ValueError(f"sample_weight must have shape ({logits.shape[0]},); "
                             f"got {tuple(sample_weight.shape)}")
        return (1.0 - self.score(logits, y, sample_weight)).to(logits.dtype)

    def extra_repr(self):
        metric = self.metric if isinstance(self.metric, str) else getattr(
            self.metric, "__name__", "callable")
        extra = f"n_classes={self.n_classes}, metric={metric!r}"
        if self.metric == "fbeta":
            extra += f", beta={self.beta}"
        extra += f", amplifier={self.amplifier}"
        if self.n_classes > 2:
            extra += f", average={self.average!r}"
        return extra


_REDUCTION_MESSAGE = (
    "AnyLoss is a loss of the whole batch (a metric of its soft confusion matrix): it has no "
    "per-sample values, so reduction must be 'mean'; got {reduction!r}. To weight samples, "
    "pass sample_weight to the loss (AnyLossClassifier.fit does this for you).")

__all__ = [
    "ANYLOSS_METRICS",
    "AnyLoss",
    "amplified_sigmoid",
    "amplifier_schedule",
    "check_metric",
    "soft_confusion_matrix",
]
