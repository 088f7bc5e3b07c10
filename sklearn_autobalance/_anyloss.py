"""AnyLossClassifier: train the network on a soft version of the metric it is judged by."""

import warnings

import numpy as np
import torch
from skorch.callbacks import Callback

from sklearn.model_selection import train_test_split

from ._base import BaseNeuralClassifier, _check_float, _check_int, as_python
from ._early_stopping import ValidationEarlyStopping
from .losses._anyloss import AnyLoss, amplifier_schedule, check_metric
from .losses._base import BaseLoss
from .losses._parametric import CrossEntropy, WeightedCrossEntropy


class _CountWeights(Callback):
    """Hands each training batch's sample weights to the criterion.

    The net's own ``sample_weight`` path multiplies per-sample losses, which a
    batch-level loss does not have; the weights travel in the batch under
    ``"count_weight"`` instead (the module only reads ``"X"``) and this
    callback gives them to the criterion just before its loss is computed.
    """

    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        net.criterion_.batch_weight = batch[0].get("count_weight")

    def on_batch_end(self, net, **kwargs):
        net.criterion_.batch_weight = None


class _WarmStartAnyLoss(BaseLoss):
    """Cross-entropy for the first ``pretrain_epochs`` epochs, then the AnyLoss objective.

    After pretraining the loss is ``r (1 - metric) + (1 - r) CE_mix`` with
    ``r = metric_weight`` (1: AnyLoss alone, the paper) and ``CE_mix`` the
    plain, class-balanced or F-calibrated cross-entropy (``mix_weighting``): the
    CE term keeps a gradient on samples the saturated amplifier no longer moves.
    The net calls :meth:`set_epoch` at the start of every epoch, so one net and
    one fit run all phases; it also sets the AnyLoss amplifier of the epoch
    (:func:`~sklearn_autobalance.losses._anyloss.amplifier_schedule`, counted
    from the first AnyLoss epoch). ``batch_weight`` (set per batch by
    :class:`_CountWeights`) weights the CE terms and the soft counts.
    """

    def __init__(self, counts, anyloss, pretrain_epochs=0, warmup_epochs=0, *,
                 metric_weight=1.0, mix_weighting="plain", f_beta=None):
        super().__init__(counts)
        self.anyloss = anyloss
        self.cross_entropy = CrossEntropy(counts, reduction="none")
        # The CE term as torch's fused cross-entropy times a class weight: the
        # same values as WeightedCrossEntropy (w_y CE with l = 0, Delta = 0) at
        # a third of its cost per batch, which keeps an epoch near BCE's.
        weight = (torch.ones(len(counts)) if mix_weighting == "plain" else
                  WeightedCrossEntropy(counts).w.detach().clone())
        self.register_buffer("mix_class_weight", weight.float())
        # f_beta (binary F-beta metrics with mix_weighting="calibrated"): the
        # CE term's positive weight follows the running F-beta of the training
        # batches, so that its decision threshold is F / (1 + beta^2), the
        # threshold at which F-beta is optimal, instead of 0.5 (plain CE) or
        # the class prior (balanced CE).
        self.f_beta = f_beta
        prior = torch.as_tensor(np.asarray(counts, dtype=np.float64) / np.sum(counts))
        self.register_buffer("prior", prior.float())
        self.register_buffer("running_f", torch.tensor(0.5 * (1 + (f_beta or 1.0) ** 2)))
        self.pretrain_epochs = pretrain_epochs
        self.warmup_epochs = warmup_epochs
        self.metric_weight = float(metric_weight)
        self.final_amplifier = anyloss.amplifier
        self.epoch = 0
        self.batch_weight = None
        self.set_epoch(0)

    @property
    def pretraining(self):
        return self.epoch < self.pretrain_epochs

    def set_epoch(self, epoch):
        self.epoch = int(epoch)
        self.anyloss.amplifier = amplifier_schedule(
            max(0, self.epoch - self.pretrain_epochs), self.final_amplifier, self.warmup_epochs)

    def _weighted_mean(self, per_sample):
        """Batch mean of per-sample losses, weighted by ``batch_weight`` when set."""
        if self.batch_weight is not None:
            per_sample = per_sample * self.batch_weight.to(per_sample.dtype)
        return per_sample.mean()

    def forward(self, logits, y, groups=None):
        if self.pretraining:
            return self._weighted_mean(self.cross_entropy(logits, y))
        metric_loss = self.anyloss(logits, y, sample_weight=self.batch_weight)
        if self.metric_weight == 1.0:
            return metric_loss
        r = self.metric_weight
        per_sample = torch.nn.functional.cross_entropy(logits, y, reduction="none")
        weight = self.mix_class_weight if self.f_beta is None else self._calibrated_weight(
            logits, y)
        mix = self._weighted_mean(per_sample * weight[y])
        return r * metric_loss + (1.0 - r) * mix.to(metric_loss.dtype)

    @torch.no_grad()
    def _calibrated_weight(self, logits, y):
        """Class weights (1, w+) normalised to mean 1 whose CE threshold is ``F / (1 + beta^2)``.

        ``F`` is a running mean (momentum 0.9, kept on the device: no host
        sync) of the hard F-beta of the training batches; the threshold is
        kept in [0.02, 0.5].
        """
        if self.training:
            pred = logits.argmax(dim=1) == 1
            pos = y == 1
            tp = (pred & pos).sum().to(torch.float32)
            b2 = self.f_beta ** 2
            f = (1 + b2) * tp / ((1 + b2) * tp + b2 * (pos & ~pred).sum() + (pred & ~pos).sum()
                                 + 1e-12)
            self.running_f.mul_(0.9).add_(0.1 * f)
        threshold = (self.running_f / (1 + self.f_beta ** 2)).clamp(0.02, 0.5)
        w_pos = (1 - threshold) / threshold
        weight = torch.stack([torch.ones_like(w_pos), w_pos])
        return weight / (self.prior * weight).sum()

    def extra_repr(self):
        return (f"pretrain_epochs={self.pretrain_epochs}, warmup_epochs={self.warmup_epochs}, "
                f"metric_weight={self.metric_weight}, "
                f"epoch={self.epoch}")


class AnyLossClassifier(BaseNeuralClassifier):
    r"""AnyLoss: train a network on the metric you are judged by.

    For two classes the metric is that of ``pos_label``: by default 1 (or
    True) when the labels are {0, 1}, {-1, 1} or booleans, otherwise the rarer
    class of the training data (e.g. "fraud" among "fraud" / "ok"); the class
    used is ``pos_label_``. Multi-class metrics average over classes.

    Implements AnyLoss (Han, Moniz, Chawla 2024). A network with one logit per
    class is trained on ``1 - metric`` of every mini-batch's *soft* confusion
    matrix: the predicted probability ``p`` goes through the approximation
    function ``A(p) = 1 / (1 + exp(-L (p - 1/2)))``, which pushes it towards 0
    or 1, and

    .. math::

        TP = \sum_i w_i y_i A(p_i),\ FN = \sum_i w_i y_i - TP,\
        FP = \sum_i w_i A(p_i) - TP,\ TN = \sum_i w_i - \sum_i w_i y_i - \sum_i w_i A(p_i) + TP

    over the batch (``w``: sample weights, ones by default). Binary problems
    use ``p`` = the softmax probability of ``pos_label_`` and its metric;
    multi-class problems use one-vs-rest
    matrices per class and ``average`` (our extension). Prediction is the
    argmax of the logits, i.e. ``p > 0.5``, where ``A`` crosses 1/2. See
    :class:`~sklearn_autobalance.losses.AnyLoss` for the formulas.

    One departure from the paper's training, on by default: the amplifier
    ``L`` is warmed up from 1 to ``amplifier`` over the first half of the
    epochs (``amplifier_warmup``), because at ``L = 73`` a sample on the
    wrong side of the boundary by more than ``|p - 1/2| = 0.08`` has
    practically no gradient. ``amplifier_warmup=0`` gives the paper's
    constant ``L``.

    Parameters
    ----------
    metric : str or callable, default="f1"
        The metric to maximise: "f1", "fbeta", "accuracy",
        "balanced_accuracy", "gmean" or "mcc". A callable is ``metric(tp, fn, fp, tn) ->
        score`` made of torch operations on float64 tensors, elementwise (see
        :class:`~sklearn_autobalance.losses.AnyLoss`).
    pos_label : int, str, bool or None, default=None
        Binary only: the class whose metric is optimised (see above); None
        chooses it. A label that is not in ``y`` raises a ValueError.
    beta : float, default=1.0
        ``beta`` of ``metric="fbeta"`` (> 0; the paper uses 0.5 and 2).
    amplifier : float, default=73.0
        ``L`` of the approximation function (> 0); 73, the paper's value, is the
        largest integer for which ``A(1) < 1`` in float64 (the loss computes in
        float64 for this reason). It is the value of the last epochs; see
        ``amplifier_warmup`` for the first ones.
    amplifier_warmup : float in [0, 1], default=0.5
        Share of the ``max_epochs`` AnyLoss epochs during which ``L`` grows
        geometrically from 1 to ``amplifier``
        (``round(amplifier_warmup * max_epochs)`` epochs, at most
        ``max_epochs - 1``, so the last epoch always trains at ``amplifier``;
        see :func:`~sklearn_autobalance.losses._anyloss.amplifier_schedule`);
        0 keeps ``L`` constant, as the paper. Why: at ``L = 73`` the slope of
        ``A`` is below 1/100 of its peak once ``|p - 1/2| > 0.08``, so a sample
        pushed to the wrong side early (the first epochs of F1 training
        predict nearly everything positive) is hardly ever corrected; at
        ``L = 1`` every sample keeps a gradient. On a development collection of
        10 data sets disjoint from the benchmark's, the warm-up acted as a
        regulariser: lower training F1, higher mean test F1, balanced accuracy
        and G-mean; on the 12 reported sets it left F1 where it was. The
        figures and commands are in ``docs/benchmarks.md`` (AnyLoss section).
    metric_weight : float in [0, 1], default=0.5
        ``r`` of the training loss ``r (1 - metric) + (1 - r) CE`` after
        pretraining (the form of the authors' follow-up work): the
        cross-entropy term keeps a gradient on samples the saturated
        amplifier no longer moves (confidently wrong or barely right ones).
        1 is AnyLoss alone, as the paper. 0.5 with a class-balanced CE was the
        only setting, among r in {1, 0.8, 0.5, 0.2} with plain or balanced CE,
        that beat BCE on at least 9 of 10 sets of a development collection
        disjoint from the reported benchmark for each of F1, balanced
        accuracy and G-mean (pure AnyLoss: 5/10 on F1); see
        ``docs/benchmarks.md``.
    mix_weighting : {"balanced", "plain", "calibrated"}, default="balanced"
        The cross-entropy of that term: class-balanced (weights
        ``1 / (K pi_y)``), plain, or, for binary "f1" / "fbeta" only,
        "calibrated": a positive-class weight that puts the CE term's decision
        threshold at ``F / (1 + beta^2)`` (where F-beta is optimal) with ``F`` a
        running mean of the training batches' F-beta. Plain CE pulls towards
        the majority class and lost on all three metrics in that study;
        "calibrated" gave a lower mean F1 than "balanced" there (0.532 against
        0.541), so it is not the default.
    average : {"macro", "micro"}, default="macro"
        Multi-class only: mean of the per-class metric, or the metric of the
        summed per-class counts (degenerate for F1 / accuracy; prefer macro).
    pretrain_epochs : int, default=0
        Epochs of plain cross-entropy before the AnyLoss epochs (a warm start);
        the net then trains ``pretrain_epochs + max_epochs`` epochs in one fit.
        Without the amplifier warm-up a short warm start can be harmful (see
        ``amplifier_warmup``).
    module : None, torch.nn.Module class or instance, default=None
        The network. A class is called as ``module(n_features, n_classes)``;
        an instance is deep-copied; None builds an :class:`MLP` with
        ``hidden_layer_sizes``. It must return raw logits.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Hidden widths of the default MLP.
    max_epochs : int, default=100
        AnyLoss epochs (the paper trains 100).
    batch_size : int, default=256
        The soft metric is computed per batch, so small batches with few
        positives give a noisy loss; the paper uses large batches. In a check
        on four sets (yeast4, ecoli3, abalone9_18, pima; 2 seeds x 3 folds,
        2 x 128 MLP, metric "f1"), batch 256 with 100 epochs had the best mean
        test F1 among batch sizes 64 to 512 and 50 or 100 epochs (0.526 against
        0.497 to 0.524; cross-entropy 0.504), by less than the seed-to-seed
        spread: weak evidence, and a batch larger than the data set is simply
        the whole set. Larger batches for ratio metrics (the full set, or
        about 25 positives per batch) did worse on the development collection
        of ``amplifier_warmup``: fewer optimizer steps cost more than the less
        noisy batch metric gains (``docs/benchmarks.md``).
    lr : float, default=1e-3
        Learning rate (the paper: Adam, 1e-3).
    optimizer : {"adam", "adamw", "sgd"} or torch.optim.Optimizer class, default="adam"
    weight_decay : float, default=0.0
    device : str, default="cpu"
        "cpu" or "cuda".
    n_threads : "auto", int or None, default="auto"
        torch's CPU threads during ``fit`` and ``predict``, restored after the
        call; "auto" uses one thread for small networks on the CPU (see
        :class:`AutoBalanceClassifier`), None leaves torch's setting.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the batch order and the early-stopping split.
    verbose : int, default=0
        1 prints the progress of each phase (pretraining CE, amplifier
        warm-up with its ``L``, AnyLoss) with elapsed time and ETA (a tqdm bar
        on a terminal when tqdm is installed); 2 prints skorch's epoch table
        instead, with the phase as a column.
    callbacks : list of skorch callbacks, default=None
        Added to the network (deep-copied). Callbacks watching a skorch
        validation split (``EarlyStopping``) are refused: use
        ``early_stopping``.
    early_stopping : bool, default=False
        As ``MLPClassifier(early_stopping=True)``: hold out a stratified
        ``validation_fraction`` of the data, score the hard metric of the
        predictions on it after every epoch (``1 - metric``, recorded as
        ``valid_1-<metric>``), stop after ``n_iter_no_change`` epochs without
        an improvement of ``tol`` and keep the weights of the best epoch.
        The network then trains on the rest of the data only.
    validation_fraction : float in (0, 1), default=0.1
        Share held out by ``early_stopping`` (unused without it).
    n_iter_no_change : int, default=10
        Patience of ``early_stopping``, in epochs.
    tol : float, default=1e-4
        Smallest decrease of ``1 - metric`` counted as an improvement.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    pos_label_ : object or None
        Binary: the class whose metric was optimised; None for multi-class.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape ``(n_features_in_,)``
        Defined only when ``X`` has string feature names.
    net_ : skorch.NeuralNet
        The trained network; ``net_.history[:, "train_loss"]`` is the
        per-epoch mean batch loss (cross-entropy during pretraining, then
        ``1 - soft metric`` at that epoch's amplifier).
    criterion_ : sklearn_autobalance.losses.AnyLoss
        The loss the network was trained with (its ``amplifier`` is the final
        one, ``amplifier``).
    best_epoch_ : int or None
        With ``early_stopping``: the epoch (counted from 1, pretraining
        included) whose weights were kept; None otherwise.

    References
    ----------
    D. Han, N. Moniz, N. V. Chawla. AnyLoss: Transforming Classification
    Metrics into Loss Functions. KDD 2024 (arXiv 2405.14745).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_autobalance import AnyLossClassifier
    >>> X, y = make_classification(n_samples=200, weights=[0.9, 0.1], random_state=0)
    >>> clf = AnyLossClassifier(metric="f1", hidden_layer_sizes=(16,), max_epochs=5,
    ...                         random_state=0).fit(X, y)
    >>> clf.predict(X[:4]).shape
    (4,)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> clf.criterion_
    AnyLoss(n_classes=2, metric='f1', amplifier=73.0)
    """

    def __init__(self, *, metric="f1", pos_label=None, beta=1.0, amplifier=73.0,
                 amplifier_warmup=0.5, metric_weight=0.5, mix_weighting="balanced",
                 average="macro", pretrain_epochs=0, module=None,
                 hidden_layer_sizes=(128, 128), max_epochs=100,
                 batch_size=256, lr=1e-3, optimizer="adam", weight_decay=0.0, device="cpu",
                 n_threads="auto", random_state=None, verbose=0, callbacks=None,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 tol=1e-4):
        super().__init__(module=module, hidden_layer_sizes=hidden_layer_sizes,
                         max_epochs=max_epochs, batch_size=batch_size, lr=lr,
                         optimizer=optimizer, weight_decay=weight_decay, device=device,
                         n_threads=n_threads, random_state=random_state, verbose=verbose,
                         callbacks=callbacks, early_stopping=early_stopping,
                         n_iter_no_change=n_iter_no_change, tol=tol)
        self.validation_fraction = validation_fraction
        self.metric = metric
        self.pos_label = pos_label
        self.beta = beta
        self.amplifier = amplifier
        self.amplifier_warmup = amplifier_warmup
        self.metric_weight = metric_weight
        self.mix_weighting = mix_weighting
        self.average = average
        self.pretrain_epochs = pretrain_epochs

    def _check_params(self):
        check_metric(self.metric)
        _check_float(self.beta, "beta", low_open=True)
        _check_float(self.amplifier, "amplifier", low_open=True)
        _check_float(self.amplifier_warmup, "amplifier_warmup", low=0.0, high=1.0)
        if self.average not in ("macro", "micro"):
            raise ValueError(f"average must be 'macro' or 'micro'; got {self.average!r}")
        _check_int(self.pretrain_epochs, "pretrain_epochs", minimum=0)
        _check_float(self.validation_fraction, "validation_fraction", 0.0, 1.0, True, True)
        _check_float(self.metric_weight, "metric_weight", 0.0, 1.0)
        if self.mix_weighting not in ("plain", "balanced", "calibrated"):
            raise ValueError("mix_weighting must be 'balanced', 'plain' or 'calibrated'; "
                             f"got {self.mix_weighting!r}")

    def fit(self, X, y, sample_weight=None):
        """Fit the network on ``1 - soft metric`` (after optional CE epochs).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Sparse input (CSR or CSC; other formats are converted to CSR)
            stays sparse: each mini-batch is densified to float32 on its own,
            never the whole matrix.
        y : array-like of shape (n_samples,)
            Class labels (ints or strings).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the soft confusion counts (``TP = sum w y
            A`` and so on) and in the pretraining cross-entropy. Rescaled to
            mean 1; only ratios matter.

        Returns
        -------
        self : object
        """
        return super().fit(X, y, sample_weight=sample_weight)

    def _warmup_epochs(self):
        """AnyLoss epochs of the amplifier warm-up: ``round(amplifier_warmup * max_epochs)``,
        at most ``max_epochs - 1`` so that the last epoch trains at ``amplifier``."""
        return min(int(round(self.amplifier_warmup * self.max_epochs)), self.max_epochs - 1)

    def _phase(self, epoch):
        """Name of training epoch ``epoch`` (0-based): pretraining, warm-up or AnyLoss."""
        if epoch < self.pretrain_epochs:
            return "pretraining CE"
        epoch -= self.pretrain_epochs
        warmup = self._warmup_epochs()
        if epoch < warmup:
            amplifier = amplifier_schedule(epoch, self.amplifier, warmup)
            return f"amplifier warm-up (L={amplifier:.1f})"
        return f"AnyLoss (L={self.amplifier:g})"

    def _mix_weighting(self):
        """(CE weighting, beta of a calibrated F-beta term or None)."""
        mix = self.mix_weighting
        f_metric = self.metric in ("f1", "fbeta") and len(self.classes_) == 2
        if mix == "calibrated":
            if not f_metric:
                raise ValueError("mix_weighting='calibrated' needs a binary 'f1' or 'fbeta' "
                                 f"metric; got metric={self.metric!r} with "
                                 f"{len(self.classes_)} classes")
            return mix, (1.0 if self.metric == "f1" else float(self.beta))
        return mix, None

    def _resolve_pos_label(self, y):
        """``pos_label_`` and its index in ``classes_`` (binary), or (None, 1)."""
        classes = self.classes_
        if len(classes) != 2:
            if self.pos_label is not None:
                raise ValueError(f"pos_label={self.pos_label!r} applies to binary problems; y "
                                 f"has {len(classes)} classes (the metric is averaged over "
                                 f"classes, average={self.average!r})")
            return None, 1
        if self.pos_label is not None:
            matches = [i for i, c in enumerate(classes) if c == self.pos_label]
            if not matches:
                raise ValueError(f"pos_label={self.pos_label!r} is not one of the classes "
                                 f"{[as_python(c) for c in classes]}")
            return classes[matches[0]], matches[0]
        values = {as_python(c) for c in classes}
        if values in ({0, 1}, {-1, 1}) or classes.dtype == bool:
            return classes[1], 1
        counts = np.bincount(y, minlength=2)
        # The rarer class (the one a metric such as F1 is usually about);
        # with equal counts the later one, as for {0, 1}.
        index = 0 if counts[0] < counts[1] else 1
        return classes[index], index

    def _fit_net(self, X, y, groups, sample_weight, rng):
        self.best_epoch_ = None
        self.pos_label_, positive = self._resolve_pos_label(y)
        # The network's output 1 is always the positive class (the metric's
        # class): with pos_label_ = classes_[0] the labels are mirrored for
        # training and the logits mirrored back at prediction, so the model
        # is the one 0/1 labels with positive 1 give.
        self._output_order = None if positive == 1 else np.array([1, 0])
        if self._output_order is not None:
            y = 1 - y
        if self.early_stopping:
            # As MLPClassifier(early_stopping=True): a stratified held-out
            # share scores every epoch; the best epoch's weights are kept.
            train_idx, val_idx = train_test_split(
                np.arange(len(y)), test_size=self.validation_fraction, stratify=y,
                random_state=rng.randint(np.iinfo(np.int32).max))
        else:
            train_idx = np.arange(len(y))
        y_train = y[train_idx]
        counts = np.bincount(y_train, minlength=len(self.classes_)).astype(np.float64)
        if sample_weight is not None:
            # The class-balanced CE term sees weighted counts, so that an
            # integer weight acts as that many copies of the sample; a class
            # whose weights are all zero keeps its plain count (its samples
            # contribute nothing either way).
            weighted = np.bincount(y_train, weights=sample_weight[train_idx],
                                   minlength=len(self.classes_))
            counts = np.where(weighted > 0, weighted, counts)
        anyloss = AnyLoss(counts, metric=self.metric, beta=self.beta,
                          amplifier=self.amplifier, average=self.average)
        mix, f_beta = self._mix_weighting()
        criterion = _WarmStartAnyLoss(counts, anyloss, self.pretrain_epochs,
                                      self._warmup_epochs(), metric_weight=self.metric_weight,
                                      mix_weighting=mix, f_beta=f_beta)
        data, target = self._tensors(X[train_idx], y_train)
        extra = []
        if sample_weight is not None:
            weight = sample_weight[train_idx]
            total = weight.sum()
            if not total > 0:
                raise ValueError("sample_weight of the training split sums to zero: every "
                                 "sample with a positive weight fell into the validation "
                                 "split; use early_stopping=False or give more samples weight")
            data["count_weight"] = torch.as_tensor(
                weight * (len(weight) / total), dtype=torch.float64, device=self._device)
            extra.append(("count_weights", _CountWeights()))
        stopper = None
        if self.early_stopping:
            name = self.metric if isinstance(self.metric, str) else "metric"
            stopper = ValidationEarlyStopping(
                self._tensors(X[val_idx], y[val_idx]),
                lambda logits, yv, groups: 1.0 - anyloss.hard_score(logits, yv),
                f"1-{name}", self.n_iter_no_change, self.tol)
            extra.append(("early_stopping", stopper))
            if self.verbose:
                print(f"[AnyLossClassifier] early stopping: {len(train_idx)} training / "
                      f"{len(val_idx)} validation samples, validation 1 - {name} watched")
        keys = [] if stopper is None else [(f"valid_{stopper.name}",
                                             f"validation {stopper.name}")]
        net = self._make_net(criterion.to(self._device),
                             max_epochs=self.pretrain_epochs + self.max_epochs,
                             extra_callbacks=extra, progress=(self._phase, keys))
        net.fit(data, target)
        if stopper is not None:
            self.best_epoch_ = stopper.best_epoch_
        self.criterion_ = net.criterion_.anyloss
        self._warn_if_collapsed(net, data, y_train)
        return net

    def _warn_if_collapsed(self, net, data, y_train):
        """Warn when the trained network predicts one class for all its training rows."""
        with torch.no_grad():
            logits = net.forward({"X": data["X"]}, training=False, device=data["X"].device)
        predicted = torch.unique(logits.argmax(dim=1))
        if len(predicted) > 1 or len(np.unique(y_train)) < 2:
            return
        index = int(predicted[0])
        if self._output_order is not None:
            index = int(self._output_order[index])
        label = as_python(self.classes_[index])
        metric = self.metric if isinstance(self.metric, str) else getattr(
            self.metric, "__name__", "metric")
        warnings.warn(
            f"AnyLossClassifier predicts one class ({label!r}) for all {len(y_train)} "
            f"training samples: the {metric!r} loss collapsed onto a constant "
            "prediction. Try more epochs (max_epochs), pretrain_epochs of cross-entropy "
            "first, metric_weight < 1 (a cross-entropy term keeps every sample's gradient), "
            "amplifier_warmup > 0 or a smaller lr.", UserWarning, stacklevel=5)
