"""AutoBalanceClassifier: bilevel search of a parametric cross-entropy, then retraining."""

import copy
import math

import numpy as np
import torch
import warnings

from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from ._augmentation import (AUGMENTATIONS, FeatureAugmentation, check_augmentation_params,
                            feature_scale)
from ._base import BaseNeuralClassifier, _check_float, _check_int, as_python
from ._clusters import frequency_clusters
from ._crossfit import CrossFit, FoldAverage, FoldNet, SingleSplit
from ._early_stopping import ValidationEarlyStopping
from ._exceptions import NoGainWarning
from ._heads import (HEAD_PARTS, HEAD_STEPS, SCREEN_STEPS, CrossFittedEnsemble, ErrorGuard,
                     HeadData, HeadLossSearch, group_probe_auc, has_feature_layers,
                     penultimate_features, soft_errors, validation_scores, with_head)
from ._selection import bootstrap_errors, paired_selection
from ._search import SEARCH_SPACES, LossSchedule, LossSearch, LossSearchSpace
from .losses._objectives import CLASS_OBJECTIVES, GROUP_OBJECTIVES, make_objective
from .losses._parametric import ParametricCrossEntropy
from .losses._registry import GROUP_LOSSES, LOSSES, PARAMETRIC_LOSSES, make_loss


SELECTIONS = ("paired", "paired_soft", "error", "objective")
HYPERGRADIENT_DEFAULTS = {"neumann_steps": 5, "damping": 0.01, "max_grad_norm": 1.0,
                          "hyper_batch_size": None, "implicit_params": "last"}
OUTPUT_LAYERS = ("auto", "network", "crossfit")

# What the 0-1 selection metric of each objective is, for messages and history keys.
SELECTION_METRICS = {
    "balanced": ("balanced_error", "validation balanced error"),
    "accuracy": ("error", "validation error"),
    "deo": ("error_deo", "validation error blended with DEO"),
    "group_balanced": ("group_balanced_error", "validation group-balanced error"),
    "worst_group": ("worst_group_error", "validation worst-group error"),
}


def _counts(y, groups, n_classes, n_groups):
    if groups is None:
        return np.bincount(y, minlength=n_classes).astype(np.float64)
    cells = np.bincount(y * n_groups + groups, minlength=n_classes * n_groups)
    return cells.reshape(n_classes, n_groups).astype(np.float64)


class AutoBalanceClassifier(BaseNeuralClassifier):
    r"""AutoBalance: learn an imbalance-aware loss on validation data, then retrain.

    Implements Algorithm 1 of Li et al. (2021), cross-fitted. The training
    data are split into ``cv`` stratified folds (or one S_T / S_V split with
    ``cv=None``); one network per fold trains on the other folds with the
    parametric cross-entropy

    .. math::

        \ell(x, y) = - w_y \log \mathrm{softmax}\bigl(2\sigma(\Delta) \odot f(x) + l\bigr)_y

    starting from the ``init`` loss, all networks at once and sharing the loss.
    After a warm-up, every ``hyper_interval`` steps the loss coordinates take a
    step along the mean over the networks of the implicit hyper-gradient of the
    validation ``objective`` on each network's own fold (Neumann series of
    Hessian-vector products). At the end of the warm-up and of every later
    epoch the candidate loss is scored on the pooled out-of-fold predictions.
    A searched loss is kept only if it beats the initial loss, trained as long
    by control twins on the same batches, beyond sampling noise (see
    ``selection``); a fresh network (same initial weights) is then retrained
    on all the data with the kept loss. Prediction is the argmax of the raw
    logits.

    With a searched group objective (``sensitive_features`` and ``objective``
    "deo", "group_balanced" or "worst_group"), the search moves to a
    cross-fitted output layer (``output_layer``): network ``j`` trains with the
    ``init`` loss on every fold but ``j``, and on fold ``j`` a linear head is fit
    on its penultimate features (rows it never trained on, where the head does
    not interpolate) with a per-cell loss searched by the exact hyper-gradient
    of that convex problem; the model is the mean of the ``cv`` networks, each
    with its head. Why: a network that fits its training set exactly makes the
    same decisions under every loss of the family, so a loss searched on it
    cannot lower the DEO (``docs/benchmarks.md``, "Group DEO").

    Parameters
    ----------
    module : None, torch.nn.Module class or instance, default=None
        The network. A class is called as ``module(n_features, n_classes)``;
        an instance is deep-copied; None builds an :class:`MLP` with
        ``hidden_layer_sizes``. It must return raw logits.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Hidden widths of the default MLP.
    max_epochs : int, default=50
        Epochs of the search run and of the retraining each.
    batch_size : int, default=128
    lr : float, default=1e-3
        Learning rate of the network's optimiser.
    optimizer : {"adam", "adamw", "sgd"} or torch.optim.Optimizer class, default="adam"
    weight_decay : float, default=0.0
    device : str, default="cpu"
        "cpu" or "cuda"; data, network and hyper-gradient stay on it.
    n_threads : "auto", int or None, default="auto"
        torch's CPU threads during ``fit`` and ``predict``, set for the call
        and restored after it. "auto": one thread on the CPU for networks
        whose training step is small (``batch_size * n_parameters < 2**30``,
        which the default MLP is by far), torch's own setting otherwise and on
        a GPU; None: torch's setting. Why: torch's intra-op threads spin on the
        small matmuls of tabular networks, and on a shared machine (another
        job, ``GridSearchCV(n_jobs=2)``, a Dask worker) that made a fit 3.5x
        slower than with one thread beside two CPU-bound processes on 2 cores
        (``docs/benchmarks.md``, "Threads").
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the weights, the batch order and the hyper-batches.
    verbose : int, default=0
        1 prints each phase (warm-up, search, retrain), its progress with
        elapsed time and ETA (a tqdm bar on a terminal when tqdm is
        installed), the validation objective and selection metric per search
        epoch, what was kept and why, and a warning when the validation
        objective rises through most of the search. 2 prints skorch's epoch
        table instead of the progress lines, with the phase as a column.
    callbacks : list of skorch callbacks, default=None
        Added to the network of every phase (deep-copied). skorch's
        ``ProgressBar`` works; callbacks watching a skorch validation split
        (``EarlyStopping``) are refused: use ``early_stopping``.
    early_stopping : bool, default=False
        Stop the search run once its selection metric (see ``selection``) on
        S_V has not improved by ``tol`` for ``n_iter_no_change`` epoch-end
        evaluations; the retraining then runs for the epoch count at which the
        kept loss was scored (``best_epoch_``) instead of ``max_epochs``. With
        ``search=None`` a held-out run on S_T finds that epoch count, then the
        network trains on all data for it. Off by default, as in
        ``MLPClassifier``: the search's selection already guards the loss.
    n_iter_no_change : int, default=10
        Patience of ``early_stopping``, in epochs.
    tol : float, default=1e-4
        Smallest decrease of the selection metric counted as an improvement.
    objective : {"balanced", "accuracy", "deo", "group_balanced", "worst_group"}, default="balanced"
        Validation (upper-level) objective: balanced CE (the paper's choice for
        balanced error), CE, or a group objective (needs ``sensitive_features``).
    search : {"auto", None, "tau", "l", "delta", "l+delta", "w+l+delta", "eps"}, default="auto"
        Which part of the loss is learned. "auto": "l" (one additive offset per
        (class, group) cell) on the cross-fitted output layer, "l+delta"
        otherwise; on a head that does not interpolate, the per-cell ``l`` acts
        like a per-group decision threshold learned into the weights, and a
        searched Delta made the head's search unstable on our development
        data. None trains once, on all data, with
        the ``init`` loss (how every fixed baseline runs; with
        ``augmentation``, at the fixed strengths). "tau" learns the scalar of
        LA along ``log pi``; the others learn each named part along
        ``dictionary`` (paper Table 1), and, with ``augmentation``, the
        augmentation strengths jointly. "eps" learns the strengths alone, the
        loss staying at ``init`` (needs ``augmentation``).
    init : str, default="la"
        Starting loss: "ce", "balanced", "la", "cdt", "vs" (members of the
        parametric family; the search starts from them), or, with
        ``search=None`` only, "ldam", "gla", "gca", "focal". With
        ``sensitive_features`` (the group baselines of the paper's section 4):

        - "group_balanced" (CE weighted by inverse (class, group) frequency)
          and "group_la" (logit adjustment by ``tau log pi_{yg}``): parametric,
          so the search can start from them too;
        - "group_dro": online group DRO over cells (``search=None`` only;
          ``init_params={"eta_q": 0.01}`` sets its step size);
        - "blend": the training-loss blend ``(1 - lam) CE + lam L_reg``
          (``search=None`` only), with ``init_params`` ``regularizer`` in
          {"deo" (CE_deo), "group_balanced", "group_la"} (default "deo"),
          ``lam`` in [0, 1] (default 0.5) and ``regularizer_params`` (a dict,
          e.g. ``{"tau": 1.0}`` for Group-LA), e.g.
          ``init="blend", init_params={"regularizer": "deo", "lam": 0.5}``;
        - "deo": CE_deo alone (degenerate: a constant prediction minimises it).

        These group losses raise a ValueError without ``sensitive_features``.
        "group_dro" and the "deo" blend are batch-level losses (functions of the
        batch's cell means): they have no per-sample loss, so ``fit`` refuses
        ``sample_weight`` with them; the other blends weight each sample's
        blended loss.
    init_params : dict or None, default=None
        Keyword parameters of the init loss, e.g. ``{"tau": 1.5}`` for LA.
    validation_fraction : float in (0, 1) or "auto", default="auto"
        Share of the data in S_V, with ``cv=None`` (and for the held-out run
        of ``early_stopping`` with ``search=None``). "auto": 0.2 without groups (the paper's
        class-imbalance setting) and 0.5 with ``sensitive_features`` (the
        paper's 50/50 split for the group setting: the rare cells, e.g.
        1.2% of Waterbirds, need validation samples of their own for the
        group objectives to be estimated).
    warmup_fraction : float in [0, 1), default=0.4
        Share of the search epochs before the first hyper-step (paper: 120
        of 300 epochs), at least one epoch. The hyper-gradient is only meaningful near a minimum
        of the training loss.
    hyper_lr : float, default=0.01
        Step size of the hyper-optimiser (SGD with momentum 0.9, as the
        paper) on the loss coordinates, after clipping the hyper-gradient.
    hyper_interval : int or "auto", default="auto"
        Training steps between hyper-steps. "auto" takes about five
        hyper-steps per epoch (at least one step apart), so that small data
        sets get as many hyper-steps per epoch as large ones.
    hypergradient_params : dict or None, default=None
        Rarely touched settings of the implicit hyper-gradient, by key (the
        defaults in brackets): ``"neumann_steps"`` (5, the paper code's terms
        of the Neumann series), ``"damping"`` (0.01, Hessian damping that keeps
        the inverse bounded on flat directions), ``"max_grad_norm"`` (1.0,
        clipping of the hyper-gradient norm before the hyper-step),
        ``"hyper_batch_size"`` (None: ``4 * batch_size`` validation samples
        per hyper-step) and ``"implicit_params"`` (``"last"``: the implicit
        function over the output layer, exact for a linear model and cheap;
        ``"all"``: over every network parameter).
    dictionary : {"log_prior", "clusters"}, default="log_prior"
        How each searched part is parametrised (paper 2.2, dictionary
        ``D_pi``): "log_prior" moves it along ``log(pi_k / pi_max)``, one scalar
        per part (``l``: a learned LA tau; Delta: a learned CDT power; ``w``: a
        learned power of the frequency); "clusters" learns one value per
        frequency cluster and part (the paper's CIFAR space, more freedom,
        needs a larger validation set).
    cluster_size : int or "auto", default="auto"
        Classes per frequency cluster ("auto": 1 up to 10 classes, about ten
        clusters up to 100, at most 20 per cluster beyond; paper 2.2).
    cv : "auto", int >= 2 or None, default="auto"
        "auto": 3, except for the network search with ``sensitive_features``
        (``output_layer="network"``), where it is None (the 50/50 split of
        ``validation_fraction="auto"``, its benchmarked behaviour); the
        cross-fitted output layer always uses folds. Cross-fitting of the
        network search: ``cv`` networks, network ``j`` trained
        on every stratified fold but ``j`` (on (class, group) cells with
        ``sensitive_features``), all in one batched module and one optimiser
        step. Each hyper-step averages their hyper-gradients (each network's
        validation batch from its own fold), and every epoch-end candidate is
        scored on the pooled out-of-fold predictions of all samples, so the
        selection sees n validation samples instead of a 20% split. None:
        one S_T / S_V split (``validation_fraction``). Why 3: every sample
        still validates once at the lowest cost; on our benchmark ``cv=5``
        kept the initial loss on all 35 runs (``cv=3`` on 34) at 1.4x the
        cost. On the CPU a default fit takes about
        2.3x a plain skorch fit of the same network (``cv=None``: 1.7x), because
        the fold networks and their control twins are real work
        (``docs/benchmarks.md``, "Cost of cross-fitting").
    selection : {"auto", "paired", "paired_soft", "error", "objective"}, default="auto"
        How the loss to keep is chosen among the epoch-end candidates.
        "auto": "paired", except for the network search with
        ``sensitive_features``, where it is "error" (with "paired" and
        ``cv=3`` the test DEO of ``objective="deo"`` on a
        ``make_waterbirds_like`` check was worse: ``docs/benchmarks.md``).

        - "paired": beside every searched network a control twin trains
          with the initial loss on the same batches. A searched candidate
          replaces the initial loss only if its validation error (the 0-1
          counterpart of the objective) beats the control's at the end of the
          run by more than the paired sampling noise (a paired bootstrap over
          the validation samples; the threshold is the max-t quantile over
          all candidates, so ``significance`` is the false-move rate however
          many candidates there are). Among the passing candidates within one
          standard error of the best, the one closest to the initial loss is
          kept, and the retraining runs for the epochs at which it was
          scored. Otherwise the initial loss is kept, and the final network is
          exactly the one ``search=None`` trains. ``selection_report_`` and
          ``search_history_`` say what was kept and why.
        - "paired_soft": the same test on each sample's expected 0-1 error
          ``1 - p(y | x)`` (5-10x smaller standard errors, but it favours
          confident networks; on our benchmark it moved on 6 of 35 runs and
          was worse on average);
        - "error": the lowest 0-1 error on the validation samples, ties
          broken by the smooth objective (the previous default; it moves on
          noise);
        - "objective": the smooth objective alone.
    significance : float in (0, 1), default=0.05
        False-move rate of ``selection="paired"``: the chance of leaving the
        initial loss when no searched candidate is better.
    refit : bool, default=True
        How the final network is trained once the search has chosen its loss:

        - True: a fresh network (the search's initial weights)
          trains on all the data and follows the loss of the search run epoch
          by epoch (the initial loss through the warm-up, then the searched
          loss each epoch started with) up to the epoch whose end scored the
          kept loss, then keeps that loss. The search network reached the kept
          loss gradually; a network trained on it from the first step can end
          far from where the search network was scored when the kept loss lies
          far from the initial one (the group objectives on
          ``make_waterbirds_like``: see ``docs/studies/group_network_search.md``);
        - False: no retraining; the search network (trained on S_T only) is
          kept.
    fairness_weight : float in [0, 1], default=0.9
        Weight of CE_deo in ``objective="deo"``.
    augmentation : {None, "shared", "personalized"}, default=None
        Training-time augmentation of the feature vectors (paper section 2,
        Lemma 2): a training sample ``x`` of class ``y`` (cell ``(y, g)``
        with ``sensitive_features``) is replaced at every step by
        ``x + eps_y * s * u``, with ``u`` uniform in the unit ball and ``s``
        the per-feature standard deviation of the training data times
        ``sqrt(n_features)``, so that ``eps`` is free of units and of the
        dimension: about ``eps`` standard deviations of noise per feature.
        Prediction never augments. "shared": one
        strength for all classes; "personalized": one per frequency cluster
        (``cluster_size``; one per class up to 10 classes), or per cell. With
        a search the strengths are learned by the same implicit
        hyper-gradient as the loss (``eps = softplus(.)``, starting from
        ``augmentation_params["eps"]``), are selected with it, and the
        retraining follows their schedule; with ``search=None`` they stay
        fixed. Off by default: on our benchmark noise cut the balanced error
        by 3-7 points on two synthetic long-tailed sets (32 and 384 features;
        the default MLP fits the 384-d one exactly; 5/5 seeds) and raised it
        by up to 2 points on two small 8-feature tables; learned per-class strengths did not beat one
        shared strength (``docs/benchmarks.md``, "Personalized augmentation").
    augmentation_params : dict or None, default=None
        ``"eps"``: the fixed strength (``search=None``) or the search's start,
        a number >= 0 (> 0 when searched) or, with "personalized", one per
        class (or per (class, group) cell); default 0.8. Not small: the
        noise acts on the loss at second order in eps, and searches started
        at 0.1 drifted towards 0 on a development set where large noise
        helped, while from 0.8 they went up (``docs/benchmarks.md``).
        ``"noise"``: "ball" (default, Lemma 2) or "gaussian" (standard
        normal divided by ``sqrt(n_features)``, the same expected squared norm).
    output_layer : {"auto", "network", "crossfit"}, default="auto"
        Where the loss is searched. "network": the bilevel search on the whole
        network, then retraining (the algorithm above). "crossfit": ``cv``
        networks (``cv="auto"``: 3) train with ``init`` on all folds but their
        own; a linear output layer (L2-penalised softmax regression on
        standardised features) is fit on each network's penultimate features of
        its own fold, and its loss (``search``, one coordinate per cell and part;
        ``dictionary`` does not apply) follows Adam along the exact implicit
        hyper-gradient of the validation ``objective``, pooled over inner
        out-of-fold heads so that every sample validates: 10 steps at each L2
        penalty of the head, then 30 more at the one that reached the lowest
        validation error. The kept loss is chosen by ``selection`` ("auto":
        "paired") among those 40 steps against the initial loss's heads, and
        the final heads are refit on their whole folds with it. The search-run
        parameters (``warmup_fraction``, ``hyper_lr``, ``hyper_interval``,
        ``hypergradient_params``, ``validation_fraction``) do not apply;
        ``augmentation``, ``early_stopping``, ``cv=None`` and ``refit=False``
        are refused. The module's output must be its last
        ``nn.Linear``. "auto": "crossfit" for a searched group objective on a
        module with layers before its output layer, "network" otherwise (a
        linear model does not interpolate, and on two development copies the
        cross-fitted layer tied with the network search at 5x its cost). A fit costs about ``cv - 1`` plain fits of the
        network plus the head search (``docs/benchmarks.md``).
    error_tolerance : float >= 0, default=0.01
        With ``output_layer="crossfit"`` and ``objective="deo"``: a searched
        loss whose group-balanced error on the pooled out-of-fold validation
        predictions exceeds the initial loss's by more than this is not kept.
        The DEO's cost in error is then bounded and stated: without it, the
        search drifted towards near-constant predictors, whose DEO is small
        (on a development table the group-balanced error rose by 6.6 points).
        The search itself tracks this budget (a Lagrange multiplier on the
        group-balanced cross-entropy rises while a step is outside it), so
        its path stays where candidates can be kept. Larger values trade
        more error for a lower DEO (``docs/benchmarks.md`` has the fronts).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    loss_params_ : dict of str to ndarray
        The loss the final network was trained with: ``w``, centred ``l`` and
        the effective multiplier ``delta`` (``2 sigmoid(Delta)``), per class
        (or per (class, group) cell, shape ``(n_classes, n_groups)``). Empty
        for losses outside the parametric family ("ldam", ..., "group_dro",
        "blend"); "ce" has per-class entries even with groups.
    groups_ : ndarray
        The distinct values of ``sensitive_features`` (only after a fit with
        them); column ``g`` of the cell parameters belongs to ``groups_[g]``.
    class_counts_ : ndarray of shape (n_classes,) or (n_classes, n_groups)
        Training samples per class (per (class, group) cell with
        ``sensitive_features``) in the data passed to ``fit``.
    clusters_ : ndarray of int or None
        Frequency cluster of each class (cell); None without a search.
    search_history_ : list of dict
        One record per hyper-step (``scope="batch"``, objective on that
        hyper-batch) and per epoch-end evaluation (``scope="validation_set"``):
        ``epoch``, ``step``, ``validation_objective``, ``params``; with
        ``selection="paired"`` the epoch-end records also carry
        ``control_selection`` (the control twin's error at that epoch),
        ``paired_gain``, ``paired_se`` and ``kept``. With the cross-fitted
        output layer: one ``"validation_set"`` record per head hyper-step
        (``step``; ``epoch`` None), with ``validation_objective``,
        ``validation_selection`` (the 0-1 metric) and ``validation_scores``
        (as in ``validation_scores_``: the trade-off each step reached) on
        the pooled out-of-fold head predictions; step 0 is the initial loss.
    best_step_ : int or None
        Training step whose loss coordinates were kept; the last step of the
        warm-up means the initial loss was kept.
    best_epoch_ : int or None
        Number of search epochs run when the kept loss was scored (with
        ``search=None`` and ``early_stopping``: the epoch count found best);
        None without either.
    augmentation_params_ : dict or None
        With ``augmentation``: ``eps``, the strengths the final network was
        trained with, per class (shape ``(n_classes,)``, or
        ``(n_classes, n_groups)`` with ``sensitive_features``), and
        ``noise``; None without. ``search_history_`` records the strengths
        of every step under ``params["eps"]``.
    selection_report_ : dict or None
        With ``selection="paired"``: ``moved`` (whether a searched loss was
        kept), ``index`` (the kept candidate, 0 the initial loss), per
        candidate ``errors`` (validation error), ``gain`` (the control's
        error at the end of the run minus the candidate's) and ``se`` (its
        paired bootstrap standard error), ``threshold`` (in SEs),
        ``passing`` and ``within_one_se`` (candidate indices). With the
        cross-fitted output layer the baseline is step 0 (the same heads with
        the initial loss), and ``admissible`` lists the steps within
        ``error_tolerance`` (``gain`` and ``se`` are NaN outside it). None
        otherwise.
    validation_scores_ : dict or None
        With the cross-fitted output layer: ``"initial"`` and ``"kept"``, the
        0-1 figures of the initial loss's heads and of the kept ones on the
        pooled out-of-fold head predictions (what the search gained, and at
        what cost): ``error``, ``balanced_error``, and with
        ``sensitive_features`` ``group_balanced_error``,
        ``worst_group_error`` and ``deo``. These are the figures the selection
        saw, so they are optimistic for the kept loss; a held-out set gives
        the honest ones. When a group objective's search keeps the initial
        loss, fit warns (:class:`NoGainWarning`). None otherwise.
    group_probe_auc_ : float or None
        With the cross-fitted output layer and ``sensitive_features``: how
        well the heads' features tell the groups apart, the held-out ROC AUC
        of a linear probe of the group on each fold's features (mean over the
        folds; 0.5: no information). A per-cell ``l`` acts as a per-group
        threshold only as far as the head can tell the groups apart; on our
        benchmark sets ``objective="deo"`` met its DEO target wherever a probe
        of the inputs reached 0.98-1.0, and on neither set at 0.59 and 0.75.
        NaN when no fold has two groups with enough rows; None otherwise.
    head_l2_ : float or None
        With the cross-fitted output layer: the L2 penalty of the kept heads,
        one of ``(1e-3, 1e-2, 0.1, 1)``: for the initial loss the one with the
        lowest pooled validation cell-balanced cross-entropy, for a searched
        loss the screened one; None otherwise.
    net_ : skorch.NeuralNet
        The trained network; with the cross-fitted output layer its module is
        the ensemble of the ``cv`` fold networks with their heads.

    Warns
    -----
    NoGainWarning
        From ``fit``, when the search of a group objective (``"deo"``,
        ``"group_balanced"``, ``"worst_group"``) keeps its initial loss: the
        group figure the user asked to lower did not fall beyond noise. With a
        class objective, keeping the initial loss is a result that
        ``selection_report_`` records and ``verbose=1`` prints, not a warning.

    References
    ----------
    M. Li, X. Zhang, C. Thrampoulidis, J. Chen, S. Oymak. AutoBalance: Optimized
    Loss Functions for Imbalanced Data. NeurIPS 2021.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_autobalance import AutoBalanceClassifier
    >>> X, y = make_classification(n_samples=300, weights=[0.8, 0.2], random_state=0)
    >>> clf = AutoBalanceClassifier(hidden_layer_sizes=(16,), max_epochs=5, random_state=0)
    >>> clf.fit(X, y).predict(X[:3]).shape
    (3,)
    >>> sorted(clf.loss_params_)
    ['delta', 'l', 'w']
    """

    # Whether the head's DEO search tracks its error budget (ErrorGuard); a
    # switch for the development comparison of benchmarks/dev_groups.py.
    _guarded_search = True

    def __init__(self, *, module=None, hidden_layer_sizes=(128, 128), max_epochs=50,
                 batch_size=128, lr=1e-3, optimizer="adam", weight_decay=0.0, device="cpu",
                 n_threads="auto", random_state=None, verbose=0, callbacks=None,
                 early_stopping=False, n_iter_no_change=10, tol=1e-4, objective="balanced",
                 search="auto", init="la", init_params=None, validation_fraction="auto",
                 warmup_fraction=0.4, hyper_lr=0.01, hyper_interval="auto", hypergradient_params=None,
                 dictionary="log_prior", cluster_size="auto", cv="auto", selection="auto", significance=0.05,
                 refit=True, fairness_weight=0.9, augmentation=None, augmentation_params=None,
                 output_layer="auto", error_tolerance=0.01):
        super().__init__(module=module, hidden_layer_sizes=hidden_layer_sizes,
                         max_epochs=max_epochs, batch_size=batch_size, lr=lr,
                         optimizer=optimizer, weight_decay=weight_decay, device=device,
                         n_threads=n_threads, random_state=random_state, verbose=verbose,
                         callbacks=callbacks, early_stopping=early_stopping,
                         n_iter_no_change=n_iter_no_change, tol=tol)
        self.objective = objective
        self.search = search
        self.init = init
        self.init_params = init_params
        self.validation_fraction = validation_fraction
        self.warmup_fraction = warmup_fraction
        self.hyper_lr = hyper_lr
        self.hyper_interval = hyper_interval
        self.hypergradient_params = hypergradient_params
        self.dictionary = dictionary
        self.cluster_size = cluster_size
        self.cv = cv
        self.selection = selection
        self.significance = significance
        self.refit = refit
        self.fairness_weight = fairness_weight
        self.augmentation = augmentation
        self.augmentation_params = augmentation_params
        self.output_layer = output_layer
        self.error_tolerance = error_tolerance

    def _check_hypergradient_params(self):
        """``hypergradient_params`` with its defaults filled in, each value checked."""
        params = self.hypergradient_params
        if params is not None and not isinstance(params, dict):
            raise TypeError(f"hypergradient_params must be a dict or None; got {params!r}")
        unknown = sorted(set(params or {}) - set(HYPERGRADIENT_DEFAULTS))
        if unknown:
            raise ValueError(f"hypergradient_params has unknown keys {unknown}; the keys are "
                             f"{sorted(HYPERGRADIENT_DEFAULTS)}")
        out = {**HYPERGRADIENT_DEFAULTS, **(params or {})}
        _check_int(out["neumann_steps"], "hypergradient_params['neumann_steps']", minimum=0)
        _check_float(out["damping"], "hypergradient_params['damping']")
        _check_float(out["max_grad_norm"], "hypergradient_params['max_grad_norm']",
                     low_open=True)
        if out["hyper_batch_size"] is not None:
            _check_int(out["hyper_batch_size"], "hypergradient_params['hyper_batch_size']")
        if out["implicit_params"] not in ("last", "all"):
            raise ValueError("hypergradient_params['implicit_params'] must be 'last' or 'all'; "
                             f"got {out['implicit_params']!r}")
        return out

    def _check_params(self):
        objectives = CLASS_OBJECTIVES + GROUP_OBJECTIVES
        if self.objective not in objectives:
            raise ValueError(f"objective must be one of {objectives}; got {self.objective!r}")
        if self.search is not None and self.search not in ("auto", *SEARCH_SPACES):
            raise ValueError(f"search must be None, 'auto' or one of {SEARCH_SPACES}; "
                             f"got {self.search!r}")
        if self.augmentation is not None and self.augmentation not in AUGMENTATIONS:
            raise ValueError(f"augmentation must be None or one of {AUGMENTATIONS}; "
                             f"got {self.augmentation!r}")
        if self.search == "eps" and self.augmentation is None:
            raise ValueError("search='eps' searches the augmentation strengths: set "
                             "augmentation='shared' or 'personalized'")
        if self.augmentation is None and self.augmentation_params is not None:
            raise ValueError("augmentation_params is set but augmentation=None: set "
                             "augmentation='shared' or 'personalized', or drop augmentation_params")
        if self.init not in LOSSES:
            raise ValueError(f"init must be one of {sorted(LOSSES)}; got {self.init!r}")
        if self.search is not None and self.init not in PARAMETRIC_LOSSES:
            raise ValueError(
                f"init={self.init!r} is not a member of the parametric family, so the search "
                f"cannot start from it; use one of {PARAMETRIC_LOSSES} or search=None"
            )
        if self.init_params is not None and not isinstance(self.init_params, dict):
            raise TypeError(f"init_params must be a dict or None; got {self.init_params!r}")
        if not (isinstance(self.validation_fraction, str) and self.validation_fraction == "auto"):
            _check_float(self.validation_fraction, "validation_fraction", 0.0, 1.0, True, True)
        _check_float(self.warmup_fraction, "warmup_fraction", 0.0, 1.0, high_open=True)
        _check_float(self.hyper_lr, "hyper_lr", low_open=True)
        if self.hyper_interval != "auto":
            _check_int(self.hyper_interval, "hyper_interval")
        self._hypergradient = self._check_hypergradient_params()
        _check_float(self.fairness_weight, "fairness_weight", 0.0, 1.0)
        if self.dictionary not in ("log_prior", "clusters"):
            raise ValueError(
                f"dictionary must be 'log_prior' or 'clusters'; got {self.dictionary!r}")
        if self.cluster_size != "auto":
            _check_int(self.cluster_size, "cluster_size")
        if not isinstance(self.refit, (bool, np.bool_)):
            raise ValueError(
                f"refit must be True (retrain along the search's loss schedule) or False; "
                f"got {self.refit!r}")
        if self.selection != "auto" and self.selection not in SELECTIONS:
            raise ValueError(
                f"selection must be 'auto' or one of {SELECTIONS}; got {self.selection!r}")
        _check_float(self.significance, "significance", 0.0, 1.0, True, True)
        _check_float(self.error_tolerance, "error_tolerance")
        if self.output_layer not in OUTPUT_LAYERS:
            raise ValueError(f"output_layer must be one of {OUTPUT_LAYERS}; "
                             f"got {self.output_layer!r}")
        if self.cv is not None and not (isinstance(self.cv, str) and self.cv == "auto"):
            if isinstance(self.cv, bool) or not isinstance(self.cv, (int, np.integer)):
                raise TypeError(f"cv must be 'auto', None or an int >= 2; got {self.cv!r}")
            if self.cv < 2:
                raise ValueError(f"cv must be 'auto', None or an int >= 2; got {self.cv!r}")

    def _validation_fraction(self, groups):
        """``validation_fraction`` with "auto" resolved: 0.2, or 0.5 with groups."""
        if isinstance(self.validation_fraction, str):
            return 0.2 if groups is None else 0.5
        return self.validation_fraction

    def _strata(self, y, groups, why):
        """Stratum of each sample (label, or (label, group)) and the distinct strata.

        Every stratum needs 2 samples, so that it lands on both sides of a
        split; ``why`` names the split in the error.
        """
        n_groups = 1 if groups is None else len(self.groups_)
        strata = y * n_groups + (0 if groups is None else groups)
        values, counts = np.unique(strata, return_counts=True)
        for value, count in zip(values, counts):
            if count < 2:
                k, g = divmod(int(value), n_groups)
                what = f"class {as_python(self.classes_[k])!r}" + (
                    "" if groups is None else f" in group {as_python(self.groups_[g])!r}")
                raise ValueError(
                    f"{what} has {count} sample(s): {why} needs at least 2 of each; "
                    "gather more samples or use search=None")
        return strata, values

    def _split(self, y, groups, rng):
        """Stratified S_T / S_V split on the label, or on (label, group)."""
        fraction = self._validation_fraction(groups)
        strata, values = self._strata(
            y, groups, f"the stratified validation split (validation_fraction={fraction}), "
            "so that it appears on both sides,")
        n_val = math.ceil(fraction * len(y))
        if n_val < len(values) or len(y) - n_val < len(values):
            raise ValueError(
                f"{len(y)} samples are too few for a stratified split over {len(values)} "
                f"strata with validation_fraction={fraction}"
            )
        splitter = StratifiedShuffleSplit(
            n_splits=1, test_size=n_val, random_state=rng.randint(np.iinfo(np.int32).max))
        return next(splitter.split(np.zeros((len(y), 1)), strata))

    def _folds(self, y, groups, rng):
        """``cv`` stratified folds on the label, or on (label, group): (train, valid) rows."""
        if len(y) < 2 * self._cv:
            raise ValueError(f"{len(y)} samples are too few for cv={self._cv} folds")
        strata, _ = self._strata(
            y, groups, f"cross-fitting (cv={self._cv}), so that every fold network trains on it,")
        splitter = StratifiedKFold(n_splits=self._cv, shuffle=True,
                                   random_state=rng.randint(np.iinfo(np.int32).max))
        with warnings.catch_warnings():
            # Strata smaller than cv leave some folds without a validation
            # sample of theirs; the pooled out-of-fold score still has them all.
            warnings.filterwarnings("ignore", message="The least populated class")
            return list(splitter.split(np.zeros((len(y), 1)), strata))

    def _resolve_search(self, groups):
        """``cv`` and ``selection`` with "auto" resolved (see their docs)."""
        cv = self.cv
        if isinstance(cv, str):
            cv = 3 if groups is None else None
        selection = self.selection
        if selection == "auto":
            selection = "paired" if groups is None else "error"
        return cv, selection

    def _resolve_output_layer(self, groups):
        """``output_layer`` with "auto" resolved; refuses what the cross-fitted head cannot do."""
        layer = self.output_layer
        if layer == "auto":
            layer = ("crossfit" if groups is not None and self.search is not None
                     and self.objective in GROUP_OBJECTIVES
                     and has_feature_layers(self._module_init) else "network")
        if layer == "network":
            return layer
        refused = {
            "search": (self.search not in (None, "auto", *HEAD_PARTS),
                       f"search={self.search!r}; use None or one of {tuple(HEAD_PARTS)}"),
            "init": (self.init not in PARAMETRIC_LOSSES,
                     f"init={self.init!r}, outside the parametric family; use one of "
                     f"{PARAMETRIC_LOSSES}"),
            "cv": (self.cv is None, "cv=None; the heads need folds: use cv='auto' or an int"),
            "augmentation": (self.augmentation is not None,
                             f"augmentation={self.augmentation!r}; use augmentation=None"),
            "early_stopping": (self.early_stopping, "early_stopping=True"),
            "refit": (not self.refit, f"refit={self.refit!r}; the final model "
                      "is the ensemble of the fold networks with their heads, never retrained"),
        }
        chosen = (", which output_layer='auto' chooses for a searched group objective"
                  if self.output_layer == "auto" else "")
        for bad, what in refused.values():
            if bad:
                raise ValueError(f"output_layer='crossfit' (the cross-fitted output layer"
                                 f"{chosen}) does not support {what}; or set "
                                 "output_layer='network'")
        return layer

    def _fit_net(self, X, y, groups, sample_weight, rng):
        self._cv, self._selection = self._resolve_search(groups)
        n_classes = len(self.classes_)
        n_groups = None if groups is None else len(self.groups_)
        objective = make_objective(self.objective, n_classes, n_groups,
                                   fairness_weight=self.fairness_weight)
        error = make_objective(self.objective, n_classes, n_groups,
                               fairness_weight=self.fairness_weight, kind="error")
        selection_metric = None if self._selection == "objective" else error
        self.clusters_, self.search_history_, self.best_step_ = None, [], None
        self.best_epoch_ = None
        self.class_counts_ = _counts(y, groups, n_classes, n_groups)
        if groups is None:
            self.__dict__.pop("groups_", None)  # from an earlier fit with groups
        if groups is None and self.init in GROUP_LOSSES:
            raise ValueError(
                f"init={self.init!r} is a (class, group) loss: pass sensitive_features to fit "
                "(or use a class loss such as 'ce', 'balanced' or 'la')"
            )
        self.selection_report_ = None
        self.head_l2_ = None
        self.validation_scores_ = None
        self.group_probe_auc_ = None
        layer = self._resolve_output_layer(groups)
        self._search = self.search
        if self.search == "auto":
            self._search = "l" if layer == "crossfit" else "l+delta"
        self.augmentation_params_ = None
        if self.augmentation is not None:
            eps0, noise = check_augmentation_params(
                self.augmentation_params, self.augmentation, self.class_counts_.shape)
            if self._search is not None and np.any(eps0 <= 0):
                raise ValueError(
                    "a searched augmentation strength must start above 0 (the hyper-gradient "
                    "at exactly zero noise carries no sign information): use "
                    "augmentation_params={'eps': <positive>}, or search=None for eps = 0")
            self.augmentation_params_ = {"eps": eps0, "noise": noise}
        if layer == "crossfit":
            return self._fit_crossfit(X, y, groups, sample_weight, rng, objective)
        if self._search is None:
            return self._fit_fixed(X, y, groups, sample_weight, rng, error)

        # One float32 copy of the data on the device; the search's samples are
        # indexed from it, and the retraining reuses it.
        full_X, full_y = self._tensors(X, y, groups, sample_weight)
        paired = self._selection in ("paired", "paired_soft")
        fresh_generator = self._generator.get_state()  # the retrain may start from it
        names = [n for n, _ in self._module_init.named_parameters()]
        if self._cv is None:
            train_idx, val_idx = self._split(y, groups, rng)
            counts = _counts(y[train_idx], None if groups is None else groups[train_idx],
                             n_classes, n_groups)
            if paired:  # one fold network and its control twin
                design = CrossFit((full_X, full_y), [(train_idx, val_idx)],
                                  self._hypergradient["implicit_params"], names, control=True)
            else:
                design = SingleSplit(self._subset(full_X, full_y, train_idx),
                                     self._subset(full_X, full_y, val_idx,
                                                  keys=("X", "groups")),
                                     self._hypergradient["implicit_params"])
            steps_per_epoch = math.ceil(len(train_idx) / self.batch_size)
            where = f"{len(train_idx)} training / {len(val_idx)} validation samples"
        else:
            folds = self._folds(y, groups, rng)
            counts = self.class_counts_  # each fold network sees (k-1)/k of them
            design = CrossFit((full_X, full_y), folds, self._hypergradient["implicit_params"],
                              names, control=paired)
            steps_per_epoch = math.ceil(max(len(f[0]) for f in folds) / self.batch_size)
            where = (f"{self._cv} fold networks, each validated on its own fold; all "
                     f"{len(y)} samples scored out of fold")
        if paired:
            where += ("; beside each network a control twin trains with the initial loss "
                      "on the same batches")
        augmentation = None
        if self.augmentation is not None:
            eps0 = self.augmentation_params_["eps"]
            augmentation = self._augmenter(full_X, eps0, control=eps0 if paired else None)
            where += (f"; {self.augmentation} augmentation "
                      f"({self.augmentation_params_['noise']} noise) from "
                      f"eps {self._describe_eps(eps0)}, searched")
        init = make_loss(self.init, counts, self.init_params)
        criterion = ParametricCrossEntropy(counts, w=init.w, l=init.l, delta=init.delta,
                                           delta_scale=init.delta_scale)
        criterion = criterion.to(self._device)
        self.clusters_ = frequency_clusters(counts, self.cluster_size)
        space = LossSearchSpace(criterion, self._search, self.clusters_, self.dictionary,
                                augmentation=augmentation, augmentation_mode=self.augmentation)
        # At least one warm-up epoch: its end scores the initial loss, so the
        # search can always fall back on it.
        warmup = max(1, int(round(self.warmup_fraction * self.max_epochs)))
        interval = self.hyper_interval
        if interval == "auto":
            interval = max(1, steps_per_epoch // 5)
        metric_key, metric_name = SELECTION_METRICS[self.objective]
        search = LossSearch(
            space, objective, design,
            start_epoch=warmup, hyper_interval=interval, hyper_lr=self.hyper_lr,
            neumann_steps=self._hypergradient["neumann_steps"],
            damping=self._hypergradient["damping"],
            max_grad_norm=self._hypergradient["max_grad_norm"],
            hyper_batch_size=self._hypergradient["hyper_batch_size"] or 4 * self.batch_size,
            generator=self._generator,
            selection_metric=selection_metric, curvature_generator=self._curvature_generator,
            selection_key=metric_key,
            patience=(self.n_iter_no_change, self.tol) if self.early_stopping else None,
            watch_warmup=bool(self.verbose),
            soft_selection=self._selection == "paired_soft",
        )
        rule = {"paired": f"{metric_name}, paired against the initial loss",
                "paired_soft": (f"{metric_name} of the predicted probabilities, paired "
                                "against the initial loss"),
                "error": metric_name, "objective": "validation objective"}[self._selection]
        self._say(f"search: {where}; warm-up {warmup} epoch(s), then hyper-steps every "
                  f"{interval} steps; the loss is chosen by {rule}")
        progress = (lambda e: "warm-up" if e < warmup else "search",
                    [("valid_objective", "validation objective"),
                     (f"valid_{metric_key}", metric_name)])
        callbacks = [("loss_search", search)]
        if isinstance(design, SingleSplit):
            net = self._make_net(criterion, extra_callbacks=callbacks, progress=progress,
                                 augmentation=augmentation)
        else:
            net = self._make_net(criterion, extra_callbacks=callbacks,
                                 progress=progress, net_class=FoldNet,
                                 module=design.make_module(self._module_init),
                                 augmentation=augmentation)
        design.fit_net(net, control_loss=copy.deepcopy(criterion))
        self.selection_report_ = None
        if paired:
            self.selection_report_ = search.select_paired(
                self.objective, n_groups=n_groups, fairness_weight=self.fairness_weight,
                significance=self.significance, random_state=rng.randint(np.iinfo(np.int32).max))
        self.search_history_ = search.history()
        self.best_step_, self.best_epoch_ = search.best_step_, search.best_epoch_
        space.load_state(search.best_state_)
        w, l, delta = (t.detach() for t in space.tensors())
        final = ParametricCrossEntropy(counts, w=w, l=l, delta=delta, delta_scale=space.delta_scale)
        kept_initial = paired and self.selection_report_ is not None and (
            not self.selection_report_["moved"])
        if augmentation is not None and not kept_initial:
            self.augmentation_params_["eps"] = (
                space.strengths().detach().cpu().double().numpy())
        if kept_initial:
            # The fit search=None would make: the initial loss from all the
            # data's counts, and the batch order it would draw.
            final = self._initial_parametric_loss()
        self.loss_params_ = final.effective_params()
        self._report_search(search, warmup, metric_name, len(net.history))
        if kept_initial:
            self._warn_no_gain("no searched loss beat it beyond sampling noise on the "
                               "validation predictions")
        elif not paired and self.best_epoch_ <= warmup:
            self._warn_no_gain("no searched loss scored lower on the validation split")
        if self.augmentation is not None:
            self._say(f"augmentation strengths kept: eps "
                      f"{self._describe_eps(self.augmentation_params_['eps'])}")
        if not self.refit:
            if not isinstance(design, SingleSplit):
                # The searched copy as a plain network; with cv, the mean of the
                # fold networks' logits.
                module = (net.module_.fold_module(self._module_init, 0)
                          if design.n_searched == 1 else
                          FoldAverage(net.module_, design.n_searched))
                search_net = net
                net = self._make_net(final.to(self._device), module=module).initialize()
                net.history_ = search_net.history_
            return net
        replay = not kept_initial
        schedule = search.loss_schedule() if replay else []
        if paired and not kept_initial:
            # The kept candidate beat the initial loss trained for the whole
            # run as it was scored: after best_epoch_ epochs.
            epochs = self.best_epoch_
        else:
            epochs = self.best_epoch_ if self.early_stopping else self.max_epochs
        self._say(f"retrain: the kept loss on all {len(y)} samples for {epochs} epochs"
                  + (f", following the search's loss for the first {len(schedule)}"
                     if replay else "")
                  + (" (the search's best epoch count: early_stopping=True)"
                     if self.early_stopping else ""))
        # Free the search network and the S_T / S_V tensors before the full
        # copy is made, so that the two phases' memory does not add up.
        del net, search, space, design
        if paired:
            self._generator.set_state(fresh_generator)
        callbacks = [("loss_schedule", LossSchedule(schedule))] if replay else []
        return self._make_net(final.to(self._device), max_epochs=epochs,
                              extra_callbacks=callbacks, progress=("retrain", ()),
                              augmentation=self._augmenter(full_X, self._kept_eps())
                              ).fit(full_X, full_y)

    def _fit_crossfit(self, X, y, groups, sample_weight, rng, objective):
        """``output_layer="crossfit"``: ``cv`` bodies, the head's loss search, the fold ensemble.

        Body ``j`` trains with the ``init`` loss on every fold but ``j``; its
        penultimate features of fold ``j`` feed a linear head whose per-cell
        loss is searched on inner out-of-fold predictions (``_heads.py``).
        """
        n_classes = len(self.classes_)
        n_groups = None if groups is None else len(self.groups_)
        self._cv = 3 if isinstance(self.cv, str) else self.cv
        if self.selection == "auto":
            self._selection = "paired"
        folds = self._folds(y, groups, rng)
        full_X, full_y = self._tensors(X, y, groups, sample_weight)
        codes = torch.as_tensor(np.zeros(len(y), np.int64) if groups is None else groups,
                                device=self._device)
        weights = full_X.get("sample_weight")
        self._say(f"cross-fitted output layer: {self._cv} fold networks trained with "
                  f"{self.init!r}; on each fold, a linear head on the features of the network "
                  "that did not train on it")
        bodies, parts = [], []
        for j, (train_rows, head_rows) in enumerate(folds):
            counts = _counts(y[train_rows], None if groups is None else groups[train_rows],
                             n_classes, n_groups)
            body = self._make_net(make_loss(self.init, counts, self.init_params),
                                  progress=(f"fold network {j + 1}/{self._cv}", ()))
            body.fit(*self._subset(full_X, full_y, train_rows))
            rows = torch.as_tensor(head_rows, device=self._device)
            bodies.append(body.module_)
            parts.append(HeadData(penultimate_features(body.module_, full_X["X"][rows]),
                                  full_y[rows], codes[rows],
                                  None if weights is None else weights[rows].double()))
        counts = self.class_counts_.reshape(n_classes, -1)
        init = make_loss(self.init, self.class_counts_, self.init_params)
        start = ParametricCrossEntropy(counts, w=init.w, l=init.l, delta=init.delta)
        w, l, delta = (getattr(start, k).to(self._device, torch.float64)
                       for k in ("w", "l", "delta"))
        parts_searched = () if self._search is None else HEAD_PARTS[self._search]
        guard = (ErrorGuard(n_classes, n_groups, self.error_tolerance)
                 if self.objective == "deo" else None)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        search = HeadLossSearch(parts, w, l, delta, parts_searched, objective,
                                random_state=seed, guard=guard,
                                track_budget=self._guarded_search)
        self.group_probe_auc_ = (None if groups is None else
                                 group_probe_auc(parts, n_groups, seed + len(parts)))
        baseline = search.initial_[search.calibrated_alpha_]
        self._say(f"initial head: L2 penalty {search.calibrated_alpha_:g}, the lowest pooled "
                  "validation cell-balanced cross-entropy of " + ", ".join(
                      f"{a:g}: {v:.4f}" for a, v in search.alpha_scores_.items()))
        candidates = [baseline]
        if parts_searched:
            def lowest_error(searched):
                full, _, admissible = self._head_errors([baseline] + searched, search,
                                                        n_groups, n_boot=2)
                return min((full[i] for i in admissible[1:]), default=np.inf)

            alpha, searched, screened = search.screened_run(lowest_error)
            candidates += searched
            self._say(f"head search: {', '.join(parts_searched)} per cell, "
                      f"{len(search.splits)} inner heads validated out of fold on all "
                      f"{len(y)} samples; {SCREEN_STEPS} steps at each L2 penalty (lowest "
                      "validation error " + ", ".join(
                          f"{a:g}: {v:.4f}" for a, v in screened.items())
                      + f"), then {HEAD_STEPS - SCREEN_STEPS} more at {alpha:g}")
        index, errors = self._select_head(candidates, search, n_groups, rng)
        self.clusters_ = np.arange(counts.size).reshape(counts.shape)
        if groups is None:
            self.clusters_ = self.clusters_[:, 0]
        kept = candidates[index]
        scores = [validation_scores(c["logits"], search.y, search.groups, n_classes, n_groups)
                  for c in candidates]
        self.validation_scores_ = {"initial": scores[0], "kept": scores[index]}
        if parts_searched and index == 0:
            self._warn_no_gain(self._head_no_gain_reason(search), stacklevel=5)
        self.best_step_ = kept["step"]
        self.head_l2_ = kept["alpha"]
        heads = search.final_heads(kept["theta"], kept["alpha"])
        kept_loss = search.loss_of(kept["theta"])
        final = ParametricCrossEntropy(counts, w=kept_loss[0], l=kept_loss[1], delta=kept_loss[2])
        params = final.effective_params()
        self.loss_params_ = params if groups is not None else {k: v[:, 0] for k, v in params.items()}
        self.search_history_ = [
            {"step": c["step"], "epoch": None, "scope": "validation_set",
             "validation_objective": c["objective"], "validation_selection": e,
             "validation_scores": score, "head_l2": c["alpha"],
             "params": {k: v.cpu().numpy() for k, v in zip(
                 ("w", "l", "delta"), search.loss_of(c["theta"]))}}
            for c, e, score in zip(candidates, errors, scores)]
        self._say(f"kept: {'the initial loss' if index == 0 else 'the searched loss of step %d' % index}"
                  f" (validation objective {kept['objective']:.4f}, initial "
                  f"{candidates[0]['objective']:.4f})")
        modules = [with_head(body, data, W) for body, data, W in zip(bodies, parts, heads)]
        if groups is None:
            final = ParametricCrossEntropy(self.class_counts_, w=final.w[:, 0], l=final.l[:, 0],
                                           delta=final.delta[:, 0])
        return self._make_net(final.to(self._device),
                              module=CrossFittedEnsemble(modules)).initialize()

    def _head_errors(self, candidates, search, n_groups, n_boot, random_state=None):
        """The candidates' 0-1 selection errors on the pooled out-of-fold head predictions.

        Returns the errors, their paired bootstrap replicates and the indices
        of the admissible candidates: with ``objective="deo"``, those within
        the search's error budget, the group-balanced error of candidate 0
        (the initial loss's heads) plus ``error_tolerance`` (a near-constant
        predictor has a small DEO); all of them otherwise.
        """
        y = search.y.cpu().numpy()
        groups = search.groups.cpu().numpy() if n_groups is not None else None
        if self._selection == "paired_soft":
            predictions = np.stack([soft_errors(c["logits"], search.y).cpu().numpy()
                                    for c in candidates])
        else:
            predictions = np.stack([c["logits"].argmax(1).cpu().numpy() for c in candidates])
        full, replicates = bootstrap_errors(
            predictions, y, groups, name=self.objective, n_groups=n_groups,
            fairness_weight=self.fairness_weight, n_boot=n_boot, random_state=random_state)
        return full, replicates, search.admissible(candidates)

    def _select_head(self, candidates, search, n_groups, rng):
        """The kept head loss (index among the candidates, 0: the initial one) and their errors."""
        paired = self._selection in ("paired", "paired_soft") and len(candidates) > 1
        full, replicates, admissible = self._head_errors(
            candidates, search, n_groups, n_boot=500 if paired else 2,
            random_state=rng.randint(np.iinfo(np.int32).max))
        errors = [float(e) for e in full]
        objectives = np.array([c["objective"] for c in candidates])
        if self.objective == "deo" and len(candidates) > 1:
            self._say(f"{len(admissible) - 1} of {len(candidates) - 1} searched head losses "
                      f"within error_tolerance={self.error_tolerance:g} of the initial loss's "
                      f"validation group-balanced error (budget {search.budget_:.4f})")
        if not paired:
            key = objectives if self._selection == "objective" else full
            order = np.lexsort((objectives[admissible], key[admissible]))
            return int(admissible[order[0]]), errors
        distances = np.array([float(torch.sqrt(sum((v ** 2).sum() for v in c["theta"].values())))
                              for c in candidates])
        sub, report = paired_selection(full[admissible], replicates[admissible],
                                       distances[admissible], significance=self.significance)
        index = int(admissible[sub])
        # The report in the candidates' own indices (NaN: outside error_tolerance).
        for key in ("gain", "se"):
            values = np.full(len(candidates), np.nan)
            values[admissible] = report[key]
            report[key] = values
        for key in ("passing", "within_one_se"):
            report[key] = [int(admissible[i]) for i in report[key]]
        report["best"] = int(admissible[report["best"]])
        report["admissible"] = [int(i) for i in admissible]
        self.selection_report_ = {**report, "moved": bool(report["moved"]), "index": index,
                                  "errors": full, "baseline_errors": None}
        self._say("paired selection on the pooled out-of-fold head predictions: "
                  + (f"step {index} kept, gain {report['gain'][index]:+.4f} "
                     f"(paired SE {report['se'][index]:.4f}, needed {report['threshold']:.2f} SE)"
                     if report["moved"] else "no searched loss beats the initial one beyond "
                     "sampling noise; the initial loss is kept"))
        return index, errors

    def _fit_fixed(self, X, y, groups, sample_weight, rng, error):
        """``search=None``: the ``init`` loss on all data (after an early-stopping run)."""
        n_classes = len(self.classes_)
        n_groups = None if groups is None else len(self.groups_)
        criterion = make_loss(self.init, _counts(y, groups, n_classes, n_groups),
                              self.init_params)
        if sample_weight is not None and getattr(criterion, "batch_level", False):
            raise ValueError(
                f"init={self.init!r} (with init_params={self.init_params!r}) is a "
                "batch-level loss (group DRO, CE_deo): it has no per-sample loss to weight, "
                "so sample_weight is not supported; drop sample_weight or use a per-sample "
                "loss (e.g. 'group_balanced', or 'blend' with regularizer 'group_balanced' "
                "or 'group_la')"
            )
        self.loss_params_ = (criterion.effective_params()
                             if isinstance(criterion, ParametricCrossEntropy) else {})
        full_X, full_y = self._tensors(X, y, groups, sample_weight)
        eps = self._kept_eps()
        epochs = self.max_epochs
        if self.early_stopping:
            # Find the epoch count on a held-out split (the loss built from the
            # training part's counts), then train on all data for that long.
            train_idx, val_idx = self._split(y, groups, rng)
            counts = _counts(y[train_idx], None if groups is None else groups[train_idx],
                             n_classes, n_groups)
            metric_key, metric_name = SELECTION_METRICS[self.objective]
            stopper = ValidationEarlyStopping(
                self._subset(full_X, full_y, val_idx, keys=("X", "groups")), error,
                metric_key, self.n_iter_no_change, self.tol, restore_best=False)
            self._say(f"early stopping: {len(train_idx)} training / {len(val_idx)} validation "
                      f"samples, {metric_name} watched")
            net = self._make_net(make_loss(self.init, counts, self.init_params),
                                 extra_callbacks=[("early_stopping", stopper)],
                                 progress=("early-stopping run",
                                           [(f"valid_{metric_key}", metric_name)]),
                                 augmentation=self._augmenter(full_X, eps))
            net.fit(*self._subset(full_X, full_y, train_idx))
            epochs = self.best_epoch_ = stopper.best_epoch_
            del net, stopper
        self._say(f"train: fixed loss {self.init!r} on all {len(y)} samples for {epochs} epochs"
                  + ("" if eps is None else f", {self.augmentation} augmentation "
                     f"({self.augmentation_params_['noise']} noise) with fixed eps "
                     f"{self._describe_eps(eps)}"))
        return self._make_net(criterion, max_epochs=epochs, progress=("train", ()),
                              augmentation=self._augmenter(full_X, eps)).fit(full_X, full_y)

    def _kept_eps(self):
        """The augmentation strengths of the final network (None without augmentation)."""
        return None if self.augmentation_params_ is None else self.augmentation_params_["eps"]

    def _augmenter(self, X, eps, control=None):
        """The training augmentation at strengths ``eps`` (a table per class or cell), or None.

        Its draws are seeded by the fit's seed, so every phase (search,
        retrain, a ``search=None`` fit) sees the same stream of noise
        directions; ``control``: the control networks' strengths.
        """
        if self.augmentation is None:
            return None

        def tensor(values):
            return torch.tensor(np.asarray(values), dtype=torch.float32, device=self._device)

        return FeatureAugmentation(feature_scale(X["X"]), tensor(eps),
                                   self.augmentation_params_["noise"],
                                   self._seed + 1,
                                   control_eps=None if control is None else tensor(control))

    def _describe_eps(self, eps):
        """Strengths for messages: one value, or per class (cell)."""
        eps = np.asarray(eps, dtype=float)
        if np.allclose(eps, eps.flat[0]):
            return f"{eps.flat[0]:.3g} (every class)"
        return np.array2string(eps, precision=3, separator=", ") + " per class" + (
            " (rows) and group (columns)" if eps.ndim == 2 else "")

    def _report_search(self, search, warmup, metric_name, epochs_run):
        """Verbose summary: what was kept and why, early stop, over-fitting of S_T."""
        if not self.verbose:
            return
        kept = ("the initial loss" if self.best_epoch_ <= warmup
                else "the searched loss")
        value = search.best_key_[0]
        initial = search.initial_key_[0] if search.initial_key_ is not None else None
        what = metric_name if self._selection != "objective" else "validation objective"
        line = (f"kept: {kept}, scored at the end of epoch {self.best_epoch_} "
                f"(step {self.best_step_}): {what} {value:.4f}")
        if initial is not None and self.best_epoch_ > warmup:
            line += f" against {initial:.4f} for the initial loss"
        self._say(line)
        report = self.selection_report_
        if report is not None:
            b = report["best"]
            best = search.candidates_[b]
            against = ("the initial loss trained for the whole run (control network)"
                       if report["baseline_errors"] is not None else "the initial loss")
            verdict = "beats" if report["moved"] else "does not beat"
            if not np.isfinite(report["threshold"]):
                self._say(f"paired selection: no searched loss changed a validation prediction "
                          f"against {against}; the initial loss is kept")
            else:
                self._say(
                    f"paired selection: the {'best passing' if report['moved'] else 'lowest-error'} "
                    f"searched loss (epoch {best['epoch']}, {what} {report['errors'][b]:.4f}) "
                    f"{verdict} {against} beyond sampling noise: gain {report['gain'][b]:+.4f}, "
                    f"paired SE {report['se'][b]:.4f}, needed {report['threshold']:.2f} SE "
                    f"(max-t, false-move rate {self.significance:g})"
                    + (f"; of the {len(report['within_one_se'])} passing candidate(s) within one "
                       "SE of it, the one closest to the initial loss is kept"
                       if report["moved"] else "; the initial loss is kept"))
        if epochs_run < self.max_epochs:
            self._say(f"search stopped early after epoch {epochs_run}: {what} did not improve "
                      f"by more than tol={self.tol:g} for {self.n_iter_no_change} epochs")
        rises, changes, first, last = search.objective_trend()
        if changes >= 4 and rises >= 2 * changes / 3 and last > first:
            self._say(f"warning: the validation objective rose in {rises} of {changes} search "
                      f"epochs ({first:.4f} -> {last:.4f}): the network over-fits its training "
                      "split; early_stopping=True, fewer max_epochs or weight_decay may help")

    def _subset(self, X, y, rows, keys=None):
        rows = torch.as_tensor(rows, device=y.device)
        return {k: v[rows] for k, v in X.items() if keys is None or k in keys}, y[rows]

    def _head_no_gain_reason(self, search):
        """Why the head search kept the initial loss, with the figures that say so."""
        rule = ("beat it beyond sampling noise" if self._selection in ("paired", "paired_soft")
                else "scored lower")
        reason = f"no searched loss {rule} on the pooled out-of-fold head predictions"
        if self.objective == "deo":
            initial = self.validation_scores_["initial"]
            reason += (f" within the error budget (validation DEO {initial['deo']:.3f} at "
                       f"group-balanced error {initial['group_balanced_error']:.3f}; budget "
                       f"{search.budget_:.3f})")
        if self.group_probe_auc_ is not None and np.isfinite(self.group_probe_auc_):
            reason += (f"; the heads' features tell the groups apart with a held-out ROC AUC "
                       f"of {self.group_probe_auc_:.2f} (1: separable, 0.5: not at all; a "
                       "per-group threshold needs the former)")
        return reason

    def _initial_parametric_loss(self):
        """The initial loss on all the data's counts, as a member of the parametric family."""
        init = make_loss(self.init, self.class_counts_, self.init_params)
        return ParametricCrossEntropy(self.class_counts_, w=init.w, l=init.l, delta=init.delta,
                                      delta_scale=init.delta_scale)

    def _warn_no_gain(self, reason, stacklevel=4):
        """The search kept the initial loss: say so, with what would help.

        A group objective is a target the user asked for: not reaching it is a
        ``NoGainWarning``. For a class objective, keeping the initial loss because it
        was the best candidate is a result, reported by ``selection_report_`` and
        ``verbose``, not a warning. ``stacklevel``: 4 from ``_fit_net`` (the warning
        points at the call of fit).
        """
        hint = (f"a larger error_tolerance (now {self.error_tolerance:g}) lets the DEO fall "
                "further at more group-balanced error" if self.objective == "deo" else
                "search=None trains the same loss at a fraction of the cost")
        message = (f"kept its initial loss (init={self.init!r}): {reason}. The model is that "
                   f"loss's, not a learned one; {hint}.")
        if self.objective in GROUP_OBJECTIVES:
            warnings.warn(f"AutoBalanceClassifier {message}", NoGainWarning,
                          stacklevel=stacklevel)
        else:
            self._say(message)

    def _say(self, message):
        if self.verbose:
            print(f"[AutoBalanceClassifier] {message}")
