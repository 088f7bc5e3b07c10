"""AutoBalanceClassifier: choose a training loss on out-of-fold data, then train with it."""

import warnings

import numpy as np
import torch

from ._augmentation import (AUGMENTATIONS, FeatureAugmentation, check_augmentation_params,
                            describe_eps, feature_scale)
from ._base import (_OPTIMIZERS, BaseNeuralClassifier, _check_float, checked_dict,
                    class_counts)
from ._clusters import frequency_clusters
from ._early_stopping import early_stopping_epochs
from ._exceptions import NoGainWarning
from ._heads import HEAD_PARTS
from ._network_search import check_hypergradient_params, fit_network_search
from ._output_layer import check_head_settings, fit_output_heads
from ._search import SEARCH_SPACES
from ._splits import holdout_split, stratified_folds
from ._tournament import Arm, Tournament, arm_loss, check_arms, default_arms
from .losses._objectives import CLASS_OBJECTIVES, GROUP_OBJECTIVES, make_objective
from .losses._parametric import ParametricCrossEntropy
from .losses._registry import GROUP_LOSSES, LOSSES, PARAMETRIC_LOSSES, make_loss


OBJECTIVE_DEFAULTS = {"fairness_weight": 0.9, "error_tolerance": 0.01}
# Share of the data held out to find the epoch count of early_stopping before
# the final fit: the paper's 80/20 split, and 50/50 with groups (the rare
# cells need validation samples of their own).
EARLY_STOPPING_FRACTION = {False: 0.2, True: 0.5}

# What the 0-1 selection metric of each objective is, for messages and history keys.
SELECTION_METRICS = {
    "balanced": ("balanced_error", "validation balanced error"),
    "accuracy": ("error", "validation error"),
    "deo": ("error_deo", "validation error blended with DEO"),
    "group_balanced": ("group_balanced_error", "validation group-balanced error"),
    "worst_group": ("worst_group_error", "validation worst-group error"),
}


class AutoBalanceClassifier(BaseNeuralClassifier):
    r"""AutoBalance: choose an imbalance-aware loss on out-of-fold data, then train with it.

    For class imbalance the default search is a tournament of candidate
    losses ("arms"): LA (the control, ``init``), LA with tau 1.5 and 2, VS, LA
    with feature noise of strength 0.4, 0.8 and 1.6, balanced CE and LDAM. Each
    arm trains ``cv`` fold networks (network ``j`` on every fold but ``j``) from
    the same initial weights, batches and noise draws, as copies of one batched
    module. At 20%, 50% and 70% of the run the arms are scored on the pooled
    out-of-fold predictions, and an arm whose paired gain over LA is below -4
    standard errors (at 20%) or -2 (later) stops; at the end the best survivor
    replaces LA if its gain exceeds 1.5 SEs (chosen on development sets,
    ``docs/studies/tournament.md``).
    The kept arm, loss and noise, is trained on all the data for ``max_epochs``,
    as LA would be; when LA is kept the model is exactly the ``search=None`` one.

    A search space (``search="l+delta"``, ...) runs the paper's Algorithm 1: the
    coordinates of the parametric loss
    :math:`-w_y \log \mathrm{softmax}(2\sigma(\Delta) \odot f(x) + l)_y`
    follow the implicit hyper-gradient of the validation ``objective`` from
    ``init``, cross-fitted, with a control twin per fold network and a paired
    test of every epoch-end loss (``_network_search.py``). A searched group
    objective searches the per-cell loss of a cross-fitted linear output layer
    instead (``_output_layer.py``; for a linear model, the model itself): a
    network that fits its training set exactly makes the same decisions under
    every loss of the family (``docs/studies/group_network_search.md``), and on
    a linear model the convex head's exact hyper-gradient beat the whole-network
    search on the development sets (``docs/studies/group_linear_heads.md``).

    Parameters
    ----------
    module : None, torch.nn.Module class or instance, default=None
        The network. A class is called as ``module(n_features, n_classes)``;
        an instance is deep-copied; None builds an :class:`MLP` with
        ``hidden_layer_sizes``. It must return raw logits.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Hidden widths of the default MLP.
    max_epochs : int, default=50
        Epochs of the search run (of the folds' training rows) and of the final fit.
    batch_size : int, default=128
    lr : float, default=1e-3
        Learning rate of the network's optimiser.
    optimizer : {"adam", "adamw", "sgd"} or torch.optim.Optimizer class, default="adam"
        The fold networks of a search share one element-wise optimiser.
    weight_decay : float, default=0.0
    device : str, default="cpu"
        "cpu" or "cuda"; data, networks and hyper-gradient stay on it.
    n_threads : "auto", int or None, default="auto"
        torch's CPU threads during ``fit`` and ``predict``. "auto": one on the
        CPU for small networks (``batch_size * n_parameters < 2**30``), torch's
        setting otherwise; None: torch's. Why: intra-op threads spin on small
        matmuls; on a busy machine a fit ran 3.5x slower (``docs/benchmarks.md``).
    random_state : int, RandomState instance or None, default=None
        Seeds the folds, the weights, the batch order, the noise and the bootstrap.
    verbose : int, default=0
        1 prints each phase (tournament or search, final fit) with its
        progress, the arms alive at each checkpoint, every arm's out-of-fold
        score and what was kept and why. 2 prints skorch's epoch table of the
        final fit (and of the search run) instead of its progress lines.
    callbacks : list of skorch callbacks, default=None
        Added (deep-copied) to every skorch network of the fit; the tournament's
        batched arms are not one. Callbacks watching a skorch validation split
        (``EarlyStopping``) are refused: use ``early_stopping``.
    early_stopping : bool, default=False
        Find the epoch count of the final fit on a held-out stratified split
        (20% of the data, 50% with ``sensitive_features``), watching the 0-1
        counterpart of ``objective``; with a hyper-gradient search, stop the
        search run instead once its selection metric stalls. Off by default,
        as in ``MLPClassifier``.
    n_iter_no_change : int, default=10
        Patience of ``early_stopping``, in epochs.
    tol : float, default=1e-4
        Smallest decrease of the watched metric counted as an improvement.
    objective : {"balanced", "accuracy", "deo", "group_balanced", "worst_group"}, default="balanced"
        What the search lowers: balanced error (its smooth form, balanced CE,
        drives a hyper-gradient), error, or a group objective (needs
        ``sensitive_features``). The tournament scores arms by the 0-1 form.
    objective_params : dict or None, default=None
        ``"fairness_weight"`` (0.9): weight of CE_deo in ``objective="deo"``.
        ``"error_tolerance"`` (0.01): with the output layer and ``"deo"``, a
        searched loss whose out-of-fold group-balanced error exceeds the
        initial loss's by more than this is not kept (without it the search
        drifted to near-constant predictors); larger values trade error for DEO.
    search : "auto", None, list of dict, or {"tau", "l", "delta", "l+delta", "w+l+delta", "eps"}, default="auto"
        How the loss is chosen.

        - "auto": the tournament of the default arms against ``init`` for a
          class objective; "l" on the output layer for a group objective
          ("l+delta" on a linear model, or with ``sensitive_features`` and a
          class objective).
        - a list of dicts: a tournament of these arms against ``init``; keys
          ``"loss"`` (a loss name, default "la"), ``"loss_params"`` (a dict),
          ``"eps"`` (shared feature-noise strength, default None: none),
          ``"refine"`` (a search space below: the arm's loss, of the
          parametric family, follows the implicit hyper-gradient after the
          warm-up; default None: fixed) and ``"name"``, e.g.
          ``[{"loss": "vs"}, {"eps": 1.6}]``. ``[{"refine": "l+delta"}]``
          is the paper's single-trajectory search as one arm, scored at the
          end against LA.
        - a search space: the paper's hyper-gradient search from ``init``
          ("tau": the scalar of LA along ``log pi``; "l", "delta",
          "l+delta", "w+l+delta": each named part along ``log(pi_k /
          pi_max)``, and with ``augmentation`` the noise strengths jointly;
          "eps": the strengths alone). On our report sets it kept LA on 34 of
          35 runs; it is here for the group setting and for the paper's method.
        - None: train ``init`` once on all the data (how every fixed
          baseline runs; with ``augmentation``, at fixed strengths).
    init : str, default="la"
        The control loss, where every search starts: "ce", "balanced", "la",
        "cdt", "vs" (members of the parametric family, which a hyper-gradient
        search needs), "ldam", "gla", "gca", "focal" (tournament or
        ``search=None``). With ``sensitive_features`` also the group
        baselines of the paper's section 4: "group_balanced" and "group_la"
        (parametric), "group_dro" (``init_params={"eta_q": 0.01}``), "blend"
        (``(1 - lam) CE + lam L_reg``, ``init_params`` ``regularizer`` in
        {"deo", "group_balanced", "group_la"}, ``lam`` in [0, 1],
        ``regularizer_params``) and "deo" (CE_deo alone); the last three with
        ``search=None`` only. "group_dro" and the "deo" blend are batch-level
        losses and refuse ``sample_weight``.
    init_params : dict or None, default=None
        Keyword parameters of the init loss, e.g. ``{"tau": 1.5}`` for LA.
    cv : int >= 2, default=3
        Folds of the tournament, the hyper-gradient search and the output
        layer. Why 3: every sample is scored out of fold once at the lowest
        cost; on our benchmark ``cv=5`` moved no more often at 1.4x the cost.
    refit : bool, default=True
        True: the kept loss trains a fresh network (the initial weights) on
        all the data: for the tournament's arm ``max_epochs`` epochs (as
        ``search=None`` trains LA); for a hyper-gradient search along the
        search's loss schedule up to the kept epoch. False: the model is the
        mean of the kept loss's ``cv`` fold networks' logits (no final fit; on
        the development sets as good as a retrain where an arm moved, 1.2
        points worse for LA). The output layer never retrains.
    augmentation : {None, "shared", "personalized"}, default=None
        Feature noise for ``search=None`` and the hyper-gradient search
        (the tournament tries its own strengths as arms and refuses it): a
        training sample ``x`` of class ``y`` is replaced at every step by
        ``x + eps_y * s * u``, with ``u`` uniform in the unit ball and ``s``
        the per-feature standard deviation times ``sqrt(n_features)`` (about
        ``eps`` standard deviations per feature). "shared": one strength;
        "personalized": one per frequency cluster (one per class up to 10
        classes), or per cell. Searched by the hyper-gradient with the loss,
        fixed with ``search=None``.
    augmentation_params : dict or None, default=None
        ``"eps"``: the fixed strength or the search's start (a number, or
        one per class or cell with "personalized"; default 0.8: noise acts
        at second order in eps, and searches started at 0.1 drifted to 0
        where large noise helped); ``"noise"``: "ball" (default) or "gaussian".
    hypergradient_params : dict or None, default=None
        Settings of the hyper-gradient search (``search`` a search space, or
        arms with ``"refine"``; the tournament's warm-up is a share of its steps), by
        key (defaults in brackets): ``"warmup_fraction"`` (0.4: share of the
        epochs before the first hyper-step; paper 120 of 300),
        ``"hyper_lr"`` (0.01: SGD with momentum 0.9 on the loss coordinates),
        ``"hyper_interval"`` ("auto": about five hyper-steps per epoch),
        ``"neumann_steps"`` (5), ``"damping"`` (0.01), ``"max_grad_norm"``
        (1.0: clipping before the hyper-step), ``"hyper_batch_size"`` (None:
        ``4 * batch_size``) and ``"implicit_params"`` ("last": the implicit
        function over the output layer; "all": every parameter).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    loss_params_ : dict of str to ndarray
        The loss of the final network: ``w``, centred ``l`` and the effective
        multiplier ``delta`` (``2 sigmoid(Delta)``), per class (or per
        (class, group) cell). Empty for losses outside the parametric family
        ("ldam", "focal", "group_dro", "blend", ...).
    kept_arm_ : str or None
        The tournament's kept arm ("la" when LA stayed); None without a tournament.
    groups_ : ndarray
        The distinct values of ``sensitive_features`` (after a fit with them).
    class_counts_ : ndarray of shape (n_classes,) or (n_classes, n_groups)
        Training samples per class (per cell with ``sensitive_features``).
    clusters_ : ndarray of int or None
        Frequency cluster of each class (cell) of a hyper-gradient or head
        search; None otherwise.
    search_history_ : list of dict
        Hyper-gradient search: one record per hyper-step (``scope="batch"``)
        and per epoch-end evaluation (``scope="validation_set"``, with the
        control's error, ``paired_gain``, ``paired_se`` and ``kept``). Output
        layer: one record per head step. Empty for the tournament (its
        scores are in ``selection_report_``) and ``search=None``.
    best_step_ : int or None
        Optimiser step at which the kept loss was scored (tournament: the
        steps of the kept arm; hyper-gradient search: the kept epoch's end).
    best_epoch_ : int or None
        Hyper-gradient search: epochs run when the kept loss was scored;
        otherwise the epochs of the final fit when ``early_stopping`` set
        them; None else.
    augmentation_params_ : dict or None
        ``eps`` (per class, or per cell) and ``noise`` of the final network's
        noise; None without noise.
    selection_report_ : dict or None
        Why the loss was kept. Tournament: ``kind="tournament"``, ``arms``
        (per arm: ``name``, ``loss``, ``loss_params``, ``eps``, out-of-fold
        ``error``, ``gain`` over the control, paired ``se``, ``t``, the
        ``step`` it was last scored at, ``dropped_at``, the checkpoint
        fraction that stopped it, and ``refined``, the loss a refined arm
        reached), ``checkpoints`` (each with the alive arms' t), ``c`` (the
        SEs a move needs), ``best``, ``kept``, ``kept_name``, ``moved``,
        ``steps``, ``hyper_steps``.
        Hyper-gradient and head searches: ``kind="paired"``, ``moved``,
        ``index``, per candidate ``errors``, ``gain``, ``se``, ``threshold``
        (max-t, false-move rate 0.05), ``passing``, ``within_one_se`` (and
        ``admissible`` for the head). None with ``search=None``.
    validation_scores_ : dict or None
        Output layer: the 0-1 figures of the ``"initial"`` and ``"kept"`` heads
        on the pooled out-of-fold predictions (optimistic for the kept loss).
    group_probe_auc_ : float or None
        Output layer: held-out ROC AUC of a linear probe of the group on the
        heads' features (0.5: none; a per-cell ``l`` needs the groups apart).
    head_l2_ : float or None
        Output layer: the L2 penalty of the kept heads.
    net_ : skorch.NeuralNet
        The trained network (with ``refit=False`` or the output layer, the
        mean of the fold networks).

    Warns
    -----
    NoGainWarning
        From ``fit``, when the search of a group objective keeps its initial
        loss: the group figure the user asked to lower did not fall beyond
        noise. Keeping LA for a class objective is a result that
        ``selection_report_`` records and ``verbose=1`` prints.

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
    >>> clf.selection_report_["kind"], clf.kept_arm_ in [a["name"] for a in clf.selection_report_["arms"]]
    ('tournament', True)
    """

    # Whether the head's DEO search tracks its error budget (ErrorGuard); a
    # switch for the development comparison of benchmarks/dev_groups.py.
    _guarded_search = True

    def __init__(self, *, module=None, hidden_layer_sizes=(128, 128), max_epochs=50,
                 batch_size=128, lr=1e-3, optimizer="adam", weight_decay=0.0, device="cpu",
                 n_threads="auto", random_state=None, verbose=0, callbacks=None,
                 early_stopping=False, n_iter_no_change=10, tol=1e-4, objective="balanced",
                 objective_params=None, search="auto", init="la", init_params=None, cv=3,
                 refit=True, augmentation=None, augmentation_params=None,
                 hypergradient_params=None):
        super().__init__(module=module, hidden_layer_sizes=hidden_layer_sizes,
                         max_epochs=max_epochs, batch_size=batch_size, lr=lr,
                         optimizer=optimizer, weight_decay=weight_decay, device=device,
                         n_threads=n_threads, random_state=random_state, verbose=verbose,
                         callbacks=callbacks, early_stopping=early_stopping,
                         n_iter_no_change=n_iter_no_change, tol=tol)
        self.objective = objective
        self.objective_params = objective_params
        self.search = search
        self.init = init
        self.init_params = init_params
        self.cv = cv
        self.refit = refit
        self.augmentation = augmentation
        self.augmentation_params = augmentation_params
        self.hypergradient_params = hypergradient_params

    # ------------------------------------------------------------- validate
    def _check_params(self):
        objectives = CLASS_OBJECTIVES + GROUP_OBJECTIVES
        if self.objective not in objectives:
            raise ValueError(f"objective must be one of {objectives}; got {self.objective!r}")
        params = checked_dict(self.objective_params, OBJECTIVE_DEFAULTS, "objective_params")
        _check_float(params["fairness_weight"], "objective_params['fairness_weight']", 0.0, 1.0)
        _check_float(params["error_tolerance"], "objective_params['error_tolerance']")
        self._fairness_weight = params["fairness_weight"]
        self._error_tolerance = params["error_tolerance"]
        if isinstance(self.search, (list, tuple)):
            self._arm_list = check_arms(self.search, LOSSES, GROUP_LOSSES)
        elif self.search is not None and self.search not in ("auto", *SEARCH_SPACES):
            raise ValueError(f"search must be 'auto', None, a list of arms (dicts) or one of "
                             f"{SEARCH_SPACES}; got {self.search!r}")
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
        if self.init_params is not None and not isinstance(self.init_params, dict):
            raise TypeError(f"init_params must be a dict or None; got {self.init_params!r}")
        if isinstance(self.cv, bool) or not isinstance(self.cv, (int, np.integer)):
            raise TypeError(f"cv must be an int >= 2; got {self.cv!r}")
        if self.cv < 2:
            raise ValueError(f"cv must be an int >= 2; got {self.cv!r}")
        if not isinstance(self.refit, (bool, np.bool_)):
            raise ValueError(f"refit must be True (train the kept loss on all the data) or "
                             f"False (the fold networks' mean); got {self.refit!r}")
        self._hypergradient = check_hypergradient_params(self.hypergradient_params)

    def _path(self, groups):
        """Which fit runs: "fixed", "tournament", "network" (hyper-gradient) or "heads"."""
        if self.search is None:
            return "fixed"
        tournament = self.search == "auto" or isinstance(self.search, (list, tuple))
        if self.objective in GROUP_OBJECTIVES:
            if isinstance(self.search, (list, tuple)):
                raise ValueError("a tournament of arms serves the class objectives; for a group "
                                 "objective use search='auto' or a search space")
            self._search = "l" if self.search == "auto" else self.search
            if self._search not in HEAD_PARTS:
                raise ValueError(
                    f"search={self.search!r}: a searched group objective searches the loss of "
                    "a cross-fitted output layer (a linear model's whole layer), which learns "
                    f"one of {tuple(HEAD_PARTS)}")
            check_head_settings(self)
            return "heads"
        if tournament and groups is not None:
            if isinstance(self.search, (list, tuple)):
                raise ValueError("the tournament of arms compares class losses: fit it without "
                                 "sensitive_features, or use a search space")
            self._search = "l+delta"
            return self._network_path()
        if tournament:
            if self.augmentation is not None:
                raise ValueError(
                    "search='auto' runs a tournament that tries feature noise as arms (eps 0.4, "
                    "0.8, 1.6); augmentation sets noise for search=None (fixed strengths) or a "
                    "search space such as 'eps' (learned strengths): set one of them, or drop "
                    "augmentation")
            return "tournament"
        self._search = self.search
        return self._network_path()

    def _network_path(self):
        """The hyper-gradient search on the whole network: it needs a parametric init."""
        if self.init not in PARAMETRIC_LOSSES:
            raise ValueError(
                f"init={self.init!r} is not a member of the parametric family, so the "
                f"hyper-gradient search (search={self._search!r}) cannot start from it; use "
                f"one of {PARAMETRIC_LOSSES} or search=None")
        return "network"

    def _split(self, y, groups, rng):
        """Stratified train / held-out split of ``early_stopping``."""
        return holdout_split(y, groups, EARLY_STOPPING_FRACTION[groups is not None], rng,
                             self.classes_, getattr(self, "groups_", None))

    def _folds(self, y, groups, rng):
        """``cv`` stratified folds on the label, or on (label, group): (train, valid) rows."""
        return stratified_folds(y, groups, self.cv, rng, self.classes_,
                                getattr(self, "groups_", None))

    # ------------------------------------------------------------------ fit
    def _fit_net(self, X, y, groups, sample_weight, rng):
        n_classes = len(self.classes_)
        n_groups = None if groups is None else len(self.groups_)
        self.class_counts_ = class_counts(y, groups, n_classes, n_groups)
        if groups is None:
            self.__dict__.pop("groups_", None)  # from an earlier fit with groups
            if self.init in GROUP_LOSSES:
                raise ValueError(
                    f"init={self.init!r} is a (class, group) loss: pass sensitive_features to "
                    "fit (or use a class loss such as 'ce', 'balanced' or 'la')")
        self.clusters_, self.search_history_, self.best_step_ = None, [], None
        self.best_epoch_ = self.selection_report_ = self.kept_arm_ = None
        self.head_l2_ = self.validation_scores_ = self.group_probe_auc_ = None
        self._search = None
        path = self._path(groups)
        self.augmentation_params_ = None
        if self.augmentation is not None:
            eps0, noise = check_augmentation_params(
                self.augmentation_params, self.augmentation, self.class_counts_.shape)
            if path == "network" and np.any(eps0 <= 0):
                raise ValueError(
                    "a searched augmentation strength must start above 0 (the hyper-gradient "
                    "at exactly zero noise carries no sign information): use "
                    "augmentation_params={'eps': <positive>}, or search=None for eps = 0")
            self.augmentation_params_ = {"eps": eps0, "noise": noise}
        objective = make_objective(self.objective, n_classes, n_groups,
                                   fairness_weight=self._fairness_weight)
        error = make_objective(self.objective, n_classes, n_groups,
                               fairness_weight=self._fairness_weight, kind="error")
        # One float32 copy of the data on the device (sparse: a CSR view);
        # every phase indexes it.
        full_X, full_y = self._tensors(X, y, groups, sample_weight)
        if path == "heads":
            return fit_output_heads(self, full_X, full_y, y, groups, rng, objective)
        if path == "fixed":
            return self._fit_fixed(full_X, full_y, y, groups, rng, error)
        if path == "network":
            self.clusters_ = frequency_clusters(self.class_counts_, "auto")
            return fit_network_search(self, full_X, full_y, y, groups, rng, objective, error,
                                      SELECTION_METRICS[self.objective])
        return self._fit_tournament(full_X, full_y, y, rng, objective, error)

    def _arms(self):
        """The control (``init``) first, then the challengers (``search`` or the default arms)."""
        control = Arm(self.init, self.init, self.init_params or None)
        arms = self._arm_list if isinstance(self.search, (list, tuple)) else default_arms()
        return [control] + [a for a in arms if (a.loss, a.loss_params or None, a.eps, a.refine)
                            != (control.loss, control.loss_params, control.eps, None)]

    def _fit_tournament(self, full_X, full_y, y, rng, objective, error):
        """Train every arm on the folds; keep the best beyond noise; train it on all the data."""
        arms = self._arms()
        # The tournament draws from generators of its own (folds, batches,
        # noise, bootstrap) and leaves the global RNG as it found it, so a fit
        # that keeps the control is exactly the search=None fit.
        own = np.random.RandomState(self._seed % (2 ** 31 - 2) + 1)
        folds = self._folds(y, None, own)
        tournament = Tournament(
            arms, max_epochs=self.max_epochs, batch_size=self.batch_size,
            optimizer=_OPTIMIZERS.get(self.optimizer, self.optimizer), lr=self.lr,
            weight_decay=self.weight_decay, objective=objective,
            hypergradient=self._hypergradient, random_state=int(own.randint(2 ** 31 - 2)),
            log=self._say if self.verbose else None)
        self._say(f"tournament: {len(arms)} arms ({', '.join(a.name for a in arms)}; "
                  f"{arms[0].name!r} is the control) x {self.cv} fold networks, trained side "
                  "by side from the same weights on the same batches; scored on the pooled "
                  f"out-of-fold predictions of all {len(y)} samples")
        with torch.random.fork_rng(devices=[self._device] if self._device.type == "cuda" else []):
            tournament.fit(self._module_init, full_X["X"], full_y, folds,
                           sample_weight=full_X.get("sample_weight"),
                           counts=self.class_counts_)
        report = tournament.report_
        self.selection_report_ = {"kind": "tournament", **report}
        kept = arms[report["kept"]]
        refined = report["arms"][report["kept"]]["refined"]
        self.kept_arm_ = kept.name
        self.best_step_ = report["steps"]
        eps = None if kept.eps is None else np.full(len(self.classes_), kept.eps)
        if eps is not None:
            self.augmentation_params_ = {"eps": eps, "noise": "ball"}
        if not self.refit:
            loss = arm_loss(kept.loss, self.class_counts_, kept.loss_params, refined)
            self.loss_params_ = (loss.effective_params()
                                 if isinstance(loss, ParametricCrossEntropy) else {})
            return self._make_net(loss.to(self._device),
                                  module=tournament.arm_model(report["kept"])).initialize()
        del tournament
        # The kept arm trains as the control would have: max_epochs on all rows
        # (the arms were compared at equal training on the folds); a refined
        # arm with the loss it reached.
        return self._fit_fixed(full_X, full_y, y, None, rng, error, loss=kept.loss,
                               loss_params=kept.loss_params, eps=eps, refined=refined)

    def _fit_fixed(self, full_X, full_y, y, groups, rng, error, *, loss=None, loss_params=None,
                   eps="init", refined=None):
        """One loss on all data (after an early-stopping run): ``init`` unless given;
        ``refined``: the ``{"w", "l", "delta"}`` a refined arm reached."""
        if loss is None:
            loss, loss_params = self.init, self.init_params
        if isinstance(eps, str):
            eps = self._kept_eps()
        criterion = arm_loss(loss, self.class_counts_, loss_params, refined)
        if "sample_weight" in full_X and getattr(criterion, "batch_level", False):
            raise ValueError(
                f"init={loss!r} (init_params={loss_params!r}) is a batch-level loss (group DRO, "
                "CE_deo) with no per-sample loss to weight: drop sample_weight or use a "
                "per-sample loss ('group_balanced', or 'blend' with 'group_balanced'/'group_la')")
        self.loss_params_ = (criterion.effective_params()
                             if isinstance(criterion, ParametricCrossEntropy) else {})
        epochs = self.max_epochs
        if self.early_stopping:  # the epoch count, found on a held-out split
            epochs = self.best_epoch_ = early_stopping_epochs(
                self, full_X, full_y, y, groups, rng, error, SELECTION_METRICS[self.objective],
                lambda counts: arm_loss(loss, counts, loss_params, refined),
                self._augmenter(full_X, eps))
        self._say(f"train: loss {loss!r} on all {len(y)} samples for {epochs} epochs"
                  + ("" if eps is None else f", feature noise "
                     f"({self.augmentation_params_['noise']}) with eps {describe_eps(eps)}"))
        return self._make_net(criterion, max_epochs=epochs, progress=("train", ()),
                              augmentation=self._augmenter(full_X, eps)).fit(full_X, full_y)

    # -------------------------------------------------------------- helpers
    def _kept_eps(self):
        """The noise strengths of the final network (None without noise)."""
        return None if self.augmentation_params_ is None else self.augmentation_params_["eps"]

    def _augmenter(self, X, eps, control=None):
        """The training noise at strengths ``eps`` (a table per class or cell), or None.

        Its draws are seeded by the fit's seed, so every phase sees the same
        stream of noise directions; ``control``: the control networks' strengths.
        """
        if eps is None:
            return None

        def tensor(values):
            return torch.tensor(np.asarray(values), dtype=torch.float32, device=self._device)

        return FeatureAugmentation(feature_scale(X["X"]), tensor(eps),
                                   self.augmentation_params_["noise"], self._seed + 1,
                                   control_eps=None if control is None else tensor(control))

    def _subset(self, X, y, rows, keys=None):
        rows = torch.as_tensor(rows, device=y.device)
        return {k: v[rows] for k, v in X.items() if keys is None or k in keys}, y[rows]

    def _initial_parametric_loss(self):
        """The initial loss on all the data's counts, as a member of the parametric family."""
        init = make_loss(self.init, self.class_counts_, self.init_params)
        return ParametricCrossEntropy(self.class_counts_, w=init.w, l=init.l, delta=init.delta,
                                      delta_scale=init.delta_scale)

    def _warn_no_gain(self, reason, stacklevel=4):
        """A search kept the initial loss: a ``NoGainWarning`` for a group objective (a
        target the user asked for), a verbose line for a class objective (a result)."""
        hint = (f"a larger objective_params['error_tolerance'] (now "
                f"{self._error_tolerance:g}) lets the DEO fall further at more group-balanced "
                "error" if self.objective == "deo" else
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
