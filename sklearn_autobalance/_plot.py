"""LearnedLossDisplay: the learned loss against class frequency, and the search trajectory.

Matplotlib is optional: it is imported inside the plotting methods only.
"""

import copy

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._autobalance import SELECTION_METRICS, AutoBalanceClassifier
from .losses._registry import PARAMETRIC_LOSSES

KINDS = ("loss", "trajectory", "both")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
_MAX_ANNOTATED = 20  # points per panel labelled with their class
_L_LABEL = "logit adjustment l (logits)"
_MULTIPLIER_LABEL = "multiplier 2σ(Δ) (factor on the logits)"
_INIT_NAMES = {"ce": "CE", "balanced": "balanced CE", "la": "LA", "cdt": "CDT", "vs": "VS",
               "group_balanced": "group-balanced CE", "group_la": "Group-LA"}


def _check_matplotlib_support(caller_name):
    """Raise an ImportError telling how to install matplotlib when it is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller_name} requires matplotlib. You can install it with "
            "`pip install matplotlib`, or with the project's plot extra: "
            "`pip install \"sklearn-autobalance[plot]\"`"
        ) from exc


def _check_kind(kind):
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")


def _validation_records(search_history):
    """The records of ``search_history`` scored on the whole validation set, in order."""
    return [r for r in (search_history or []) if r.get("scope") == "validation_set"]


def _log_frequency_axis(ax, frequency):
    """Log x axis with decimal tick labels; 2 and 5 times powers of ten labelled too
    when the frequencies span under two decades (else the axis may show no label)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    positive = frequency[frequency > 0]
    if positive.size and np.log10(positive.max() / positive.min()) < 2:
        def minor(v, _):
            mantissa = v / 10 ** np.floor(np.log10(v) + 1e-9)
            return f"{v:g}" if np.isclose(mantissa, 2) or np.isclose(mantissa, 5) else ""
        ax.xaxis.set_minor_formatter(FuncFormatter(minor))
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())


class LearnedLossDisplay:
    """Learned loss and loss-search trajectory of an :class:`AutoBalanceClassifier`.

    Two views of what :class:`AutoBalanceClassifier` learned:

    - the loss: the learned (centred) logit adjustment ``l`` and the effective
      logit multiplier ``2 sigmoid(Delta)`` of each class (of each (class,
      group) cell with ``sensitive_features``), against the class (cell)
      frequency on a log axis;
    - the trajectory of the search: the validation objective, and the
      selection metric (e.g. the balanced error) when there is one, scored on
      the whole validation set at the end of the warm-up and of every later
      epoch, with the epoch whose loss was kept marked.

    It is recommended to use :meth:`from_estimator` to create a
    :class:`LearnedLossDisplay`. All parameters are stored as attributes; the
    constructor does no computation.

    Parameters
    ----------
    class_frequency : ndarray of shape (n_classes,) or (n_classes, n_groups)
        Share of the training samples in each class (in each (class, group)
        cell); the x coordinate of the loss panels.
    loss_params : dict of str to ndarray
        The loss: ``"w"``, ``"l"`` (centred logit adjustment) and ``"delta"``
        (the effective multiplier ``2 sigmoid(Delta)``, not the raw
        ``Delta``), each of the shape of ``class_frequency``, as
        :attr:`AutoBalanceClassifier.loss_params_`. May be empty (a loss
        outside the parametric family): only the trajectory can be plotted.
    classes : array-like of shape (n_classes,), default=None
        Class labels, used to annotate the points; None uses ``0 ..
        n_classes - 1``.
    search_history : list of dict, default=None
        Records of the search, as :attr:`AutoBalanceClassifier.search_history_`:
        each with ``epoch`` (0-based), ``step``, ``validation_objective``,
        ``scope`` (``"batch"`` or ``"validation_set"``), ``params`` and, with
        a selection metric, ``validation_selection``. Only the
        ``"validation_set"`` records are plotted. None or empty: no search.
    best_step : int, default=None
        Training step whose loss was kept (:attr:`AutoBalanceClassifier.best_step_`);
        the ``"validation_set"`` record of that step is marked.
    groups : array-like of shape (n_groups,), default=None
        Labels of the groups (columns of a 2-D ``class_frequency``); None uses
        ``0 .. n_groups - 1``.
    estimator_name : str, default=None
        Name of the estimator, used as the legend label of the loss points
        (without groups). None: no label.
    selection_name : str, default=None
        What the selection metric is, for its axis label (e.g. "validation
        balanced error"); None: "validation selection metric (error)".
    initial_params : dict of str to ndarray, default=None
        The loss the search started from, as ``loss_params`` (``"l"`` and
        ``"delta"``, the multiplier, of the shape of ``class_frequency``);
        drawn as black crosses above the learned points. None: not drawn.
    initial_name : str, default=None
        Name of the initial loss (e.g. "LA"), for the legend, the kept-loss
        marker and the trajectory's title; None: "the initial loss".
    selection_report : dict, default=None
        How the kept loss was chosen, as
        :attr:`AutoBalanceClassifier.selection_report_` (``moved``, ``gain``,
        ``se``, ``threshold``, ``best``, ``index``): the trajectory's title
        then says why the kept loss was kept (e.g. that no searched loss beat
        the initial one beyond the paired sampling noise). None: the title
        says only which loss was kept.

    Attributes
    ----------
    ax_ : matplotlib Axes or ndarray of matplotlib Axes
        The panels drawn on, in the order l, multiplier, trajectory (those
        of ``kind``); a single Axes when there is one panel. Twin axes (the
        selection metric's, or the multiplier's when the loss shares one
        Axes) are not part of it.
    figure_ : matplotlib Figure
        Figure containing the panels.
    l_scatter_ : list of matplotlib PathCollection or None
        Points ``(class_frequency, l)``, one collection per group (one without
        groups); None when the loss was not plotted.
    multiplier_scatter_ : list of matplotlib PathCollection or None
        Points ``(class_frequency, 2 sigmoid(Delta))``, as ``l_scatter_``.
    initial_scatter_ : list of matplotlib PathCollection or None
        The initial loss's points (crosses, drawn above the learned points):
        ``l`` on the l panel, then the multiplier on the multiplier panel,
        one of each per group; None when ``initial_params`` is None or the
        loss was not plotted.
    objective_line_ : matplotlib Line2D or None
        Validation objective against the epoch (1-based: record ``epoch + 1``);
        None when the trajectory was not plotted.
    selection_line_ : matplotlib Line2D or None
        Validation selection metric against the epoch, on a twin y axis; None
        when the records have no ``validation_selection`` or the trajectory was
        not plotted.
    control_line_ : matplotlib Line2D or None
        With ``selection="paired"``: the control twin's selection metric
        (the initial loss trained on the same batches) against the epoch, on
        the selection metric's axis; None when the records have no
        ``control_selection``.
    kept_line_ : matplotlib Line2D or None
        Vertical line at the epoch (1-based) whose end scored the kept loss;
        None when ``best_step`` is None or matches no ``"validation_set"``
        record.
    kept_reason_ : str or None
        Which loss was kept and why, as the trajectory panel's title says it
        (e.g. "kept the initial loss (LA): no searched loss beat its control
        twin beyond paired noise ..."); None when the trajectory was not
        plotted or no record was kept.

    See Also
    --------
    AutoBalanceClassifier : The estimator whose learned loss is displayed.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_autobalance import AutoBalanceClassifier, LearnedLossDisplay
    >>> X, y = make_classification(n_samples=200, weights=[0.8, 0.2], random_state=0)
    >>> clf = AutoBalanceClassifier(hidden_layer_sizes=(8,), max_epochs=4, search="l+delta",
    ...                             random_state=0).fit(X, y)
    >>> disp = LearnedLossDisplay.from_estimator(clf)
    >>> disp.ax_.shape
    (3,)
    >>> disp = LearnedLossDisplay.from_estimator(clf, kind="trajectory")
    >>> disp.objective_line_.get_xdata()  # the epochs scored on the validation set
    array([2, 3, 4])
    """

    def __init__(self, class_frequency, loss_params, *, classes=None, search_history=None,
                 best_step=None, groups=None, estimator_name=None, selection_name=None,
                 initial_params=None, initial_name=None, selection_report=None):
        self.class_frequency = class_frequency
        self.loss_params = loss_params
        self.classes = classes
        self.search_history = search_history
        self.best_step = best_step
        self.groups = groups
        self.estimator_name = estimator_name
        self.selection_name = selection_name
        self.initial_params = initial_params
        self.initial_name = initial_name
        self.selection_report = selection_report

    # -- validation ---------------------------------------------------------

    def _loss_data(self):
        """``(frequency, l, multiplier, classes, groups)`` as 2-D (n_classes, n_groups)."""
        frequency = np.asarray(self.class_frequency, dtype=np.float64)
        if frequency.ndim not in (1, 2):
            raise ValueError("class_frequency must have shape (n_classes,) or (n_classes, "
                             f"n_groups); got shape {frequency.shape}")
        values = {}
        for name in ("l", "delta"):
            if name not in self.loss_params:
                raise ValueError(f"loss_params must have an entry {name!r}; got the keys "
                                 f"{sorted(self.loss_params)}")
            values[name] = np.asarray(self.loss_params[name], dtype=np.float64)
            if values[name].shape != frequency.shape:
                raise ValueError(
                    f"loss_params[{name!r}] has shape {values[name].shape} but class_frequency "
                    f"has shape {frequency.shape}; they must match")
        n_classes = frequency.shape[0]
        classes = np.arange(n_classes) if self.classes is None else np.asarray(self.classes)
        if len(classes) != n_classes:
            raise ValueError(f"classes has {len(classes)} entries but class_frequency has "
                             f"{n_classes} rows")
        if frequency.ndim == 1:
            return (frequency[:, None], values["l"][:, None], values["delta"][:, None],
                    classes, None)
        n_groups = frequency.shape[1]
        groups = np.arange(n_groups) if self.groups is None else np.asarray(self.groups)
        if len(groups) != n_groups:
            raise ValueError(f"groups has {len(groups)} entries but class_frequency has "
                             f"{n_groups} columns")
        return frequency, values["l"], values["delta"], classes, groups

    def _panels(self, kind):
        """Which of the loss and the trajectory ``kind`` plots, given the data."""
        _check_kind(kind)
        has_loss = bool(self.loss_params)
        has_trajectory = bool(_validation_records(self.search_history))
        no_loss = (
            "loss_params is empty: the loss lies outside the parametric cross-entropy "
            "family (e.g. init='ldam', 'gla', 'gca', 'focal', 'group_dro' or 'blend'), so it "
            "has no per-class logit adjustment or multiplier to plot"
        )
        no_search = (
            "there is no search trajectory: search_history has no 'validation_set' record "
            "(the estimator was fitted with search=None, which trains once with the init loss, "
            "or with the tournament of search='auto', whose scores are in selection_report_)"
        )
        if kind == "loss" and not has_loss:
            raise ValueError(no_loss + "; use kind='trajectory' if there was a search")
        if kind == "trajectory" and not has_trajectory:
            raise ValueError(no_search + "; use kind='loss' to plot the loss")
        if kind == "both" and not (has_loss or has_trajectory):
            raise ValueError(no_loss + ", and " + no_search + ": nothing to plot")
        return kind != "trajectory" and has_loss, kind != "loss" and has_trajectory

    @staticmethod
    def _axes(ax, n_loss, n_trajectory):
        """The axes of the loss (1 or 2: shared via a twin axis, or two panels) and trajectory."""
        import matplotlib.pyplot as plt

        needed = n_loss + n_trajectory
        if ax is None:
            height = 5.0 if n_trajectory else 3.8  # room for the trajectory's legend
            _, axes = plt.subplots(1, needed, figsize=(4.5 * needed, height), layout="constrained",
                                   squeeze=False)
            return list(axes.ravel())
        axes = list(np.ravel(np.asarray(ax, dtype=object)))
        allowed = (needed, needed - 1) if n_loss else (needed,)
        if len(axes) not in allowed:
            panels = (["l", "multiplier"] if n_loss else []) + (["trajectory"] if n_trajectory
                                                               else [])
            raise ValueError(
                f"ax must hold one matplotlib Axes per panel ({', '.join(panels)})"
                + (", or one fewer: the loss on a single Axes, the multiplier on a twin y axis"
                   if n_loss else "")
                + f"; got {len(axes)} Axes")
        return axes

    # -- plotting ---------------------------------------------------------------

    def plot(self, *, ax=None, kind="both"):
        """Plot the learned loss, the search trajectory, or both.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw. None creates a figure with one panel per view:
            ``l`` and the multiplier (``kind="loss"``), the trajectory
            (``kind="trajectory"``), or the three (``kind="both"``). Otherwise
            one Axes per panel, in that order; the loss may also be given a
            single Axes, the multiplier then going on a twin y axis (so
            ``kind="loss"`` accepts one Axes, ``kind="both"`` two).
        kind : {"both", "loss", "trajectory"}, default="both"
            What to plot. "loss": ``l`` and the multiplier ``2 sigmoid(Delta)``
            of each class against its frequency (log x axis), one marker and
            colour per group with groups. "trajectory": the validation
            objective and selection metric per epoch, with the kept epoch
            marked. "both": both, or the loss only when there was no search.

        Returns
        -------
        display : LearnedLossDisplay
            Object that stores the computed values (``ax_``, ``figure_`` and
            the artists).
        """
        _check_matplotlib_support(f"{self.__class__.__name__}.plot")
        plot_loss, plot_trajectory = self._panels(kind)
        loss_data = self._loss_data() if plot_loss else None
        n_loss = 2 if plot_loss else 0
        axes = self._axes(ax, n_loss, int(plot_trajectory))
        panels = list(axes)

        self.l_scatter_ = self.multiplier_scatter_ = self.initial_scatter_ = None
        self.objective_line_ = self.selection_line_ = self.kept_line_ = None
        self.control_line_ = self.kept_reason_ = None
        if plot_loss:
            shared = len(axes) == n_loss - 1 + int(plot_trajectory)
            if shared:
                l_ax, multiplier_ax = axes[0], axes[0].twinx()
                rest = axes[1:]
            else:
                l_ax, multiplier_ax = axes[0], axes[1]
                rest = axes[2:]
            self._plot_loss(l_ax, multiplier_ax, shared, *loss_data)
        else:
            rest = axes
        if plot_trajectory:
            self._plot_trajectory(rest[0])

        self.ax_ = panels[0] if len(panels) == 1 else np.asarray(panels, dtype=object)
        self.figure_ = panels[0].figure
        return self

    def _initial_data(self, shape):
        """The initial loss's ``(l, multiplier)`` as 2-D arrays, or None when not given."""
        if self.initial_params is None:
            return None
        values = []
        for name in ("l", "delta"):
            if name not in self.initial_params:
                raise ValueError(f"initial_params must have an entry {name!r}; got the keys "
                                 f"{sorted(self.initial_params)}")
            value = np.asarray(self.initial_params[name], dtype=np.float64)
            value = value[:, None] if value.ndim == 1 else value
            if value.shape != shape:
                raise ValueError(f"initial_params[{name!r}] has shape {value.shape} but the "
                                 f"loss has shape {shape}; they must match")
            values.append(value)
        return values

    def _plot_loss(self, l_ax, multiplier_ax, shared, frequency, l, multiplier, classes, groups):
        n_classes, n_groups = frequency.shape
        initial = self._initial_data(frequency.shape)
        annotate = n_classes * n_groups <= _MAX_ANNOTATED
        self.l_scatter_, self.multiplier_scatter_ = [], []
        self.initial_scatter_ = [] if initial is not None else None
        initial_label = (f"initial loss ({self.initial_name}): start of the search"
                         if self.initial_name else "initial loss: start of the search")
        for g in range(n_groups):
            color = f"C{g % 10}"
            marker = _MARKERS[g % len(_MARKERS)]
            label = self.estimator_name if groups is None else f"group {groups[g]}"
            for ax, y, store, quantity, hollow in (
                (l_ax, l[:, g], self.l_scatter_, "l", False),
                (multiplier_ax, multiplier[:, g], self.multiplier_scatter_, "2σ(Δ)", shared),
            ):
                if shared:  # one legend for both quantities: say which is which
                    label_g = quantity if label is None else f"{quantity}, {label}"
                else:
                    label_g = label
                style = ({"facecolors": "none", "edgecolors": color} if hollow
                         else {"color": color})
                store.append(ax.scatter(frequency[:, g], y, marker=marker, label=label_g,
                                        s=45, zorder=3, **style))
                if annotate:
                    for k in range(n_classes):
                        ax.annotate(str(classes[k]), (frequency[k, g], y[k]),
                                    xytext=(4, 4), textcoords="offset points", fontsize=8)
        if initial is not None:
            # Crosses above the learned points (zorder): visible where the
            # search kept, or barely moved, the initial loss.
            for ax, values in ((l_ax, initial[0]), (multiplier_ax, initial[1])):
                for g in range(n_groups):
                    self.initial_scatter_.append(ax.scatter(
                        frequency[:, g], values[:, g], marker="x", color="k", s=28,
                        linewidths=1.1, zorder=4,
                        label=initial_label if g == 0 and (ax is l_ax or not shared)
                        else "_nolegend_"))
        # Reference values of the plain cross-entropy: l = 0, multiplier = 1.
        l_ref = l_ax.axhline(0.0, color="0.7", linewidth=0.8, zorder=1,
                             label="plain CE: l = 0")
        m_ref = multiplier_ax.axhline(1.0, color="0.7", linewidth=0.8, linestyle=":", zorder=1,
                                      label="plain CE: multiplier 1")
        xlabel = ("class frequency (share of training samples)" if groups is None
                  else "(class, group) cell frequency (share of training samples)")
        for ax in (l_ax, multiplier_ax):
            _log_frequency_axis(ax, frequency)
            ax.margins(x=0.08, y=0.1)  # room for the class labels
        l_ax.set_xlabel(xlabel)
        l_ax.set_ylabel(_L_LABEL)
        multiplier_ax.set_ylabel(_MULTIPLIER_LABEL)
        numbers = "\n(numbers: class labels)" if annotate else ""
        if shared:
            l_ax.set_title("learned loss per " + ("class" if groups is None else "cell")
                           + numbers, fontsize=10)
            handles = self.l_scatter_ + self.multiplier_scatter_
            handles = [h for h in handles if not h.get_label().startswith("_")]
            if self.initial_scatter_:
                handles.append(self.initial_scatter_[0])
            l_ax.legend(handles=handles + [l_ref, m_ref], loc="best", fontsize=7)
        else:
            multiplier_ax.set_xlabel(xlabel)
            unit = "class" if groups is None else "cell"
            l_ax.set_title(f"learned logit adjustment per {unit}" + numbers, fontsize=10)
            multiplier_ax.set_title(f"learned logit multiplier per {unit}" + numbers,
                                    fontsize=10)
            l_ax.legend(loc="best", fontsize=7)
            multiplier_ax.legend(loc="best", fontsize=7)

    def _kept_reason(self, records, kept_index, metric):
        """Which loss was kept and why, in words (the trajectory panel's title)."""
        name = self.initial_name or "the initial loss"
        the_initial = f"the initial loss ({self.initial_name})" if self.initial_name else name
        report = self.selection_report
        if kept_index == 0:
            line = f"kept {the_initial}"
            if report is not None and not report.get("moved", True):
                best = report.get("best")
                gain = se = threshold = np.nan
                if best is not None:
                    gain = float(np.asarray(report["gain"])[best])
                    se = float(np.asarray(report["se"])[best])
                threshold = float(report.get("threshold", np.nan))
                control = "its control twin" if any("control_selection" in r
                                                    for r in records) else name
                line += f": no searched loss beat {control} beyond paired noise"
                if np.isfinite(gain) and np.isfinite(threshold):
                    line += (f" (best gain {100 * gain:+.2f} ± {100 * se:.2f} points of "
                             f"{metric}, needed {threshold:.2f} SE)")
            elif report is None:
                line += f": no searched loss scored a lower {metric}"
            return line
        position = records[kept_index]
        where = (f"step {position['step']}" if position.get("epoch") is None
                 else f"epoch {int(position['epoch']) + 1}")
        line = f"kept the searched loss of {where}"
        if report is not None and report.get("moved"):
            index = report.get("index")
            gain = float(np.asarray(report["gain"])[index]) if index is not None else np.nan
            se = float(np.asarray(report["se"])[index]) if index is not None else np.nan
            if np.isfinite(gain):
                line += (f": it beat {name} by {100 * gain:+.2f} ± {100 * se:.2f} points of "
                         f"{metric} (needed {float(report['threshold']):.2f} SE)")
        return line

    def _plot_trajectory(self, ax):
        import textwrap

        from matplotlib.ticker import MaxNLocator, PercentFormatter

        records = _validation_records(self.search_history)
        # The cross-fitted head's search has hyper-steps, not epochs.
        by_step = any(r.get("epoch") is None for r in records)
        unit = "head search step" if by_step else "epoch"

        def position(r):
            return int(r["step"]) if by_step else int(r["epoch"]) + 1

        epochs = np.array([position(r) for r in records])
        objective = np.array([float(r["validation_objective"]) for r in records])
        handles = []
        warmup = None if by_step else int(records[0]["epoch"]) + 1
        if warmup is not None:
            # The records start at the end of the warm-up (the initial loss,
            # no hyper-step yet): show what came before.
            handles.append(ax.axvspan(0, warmup, color="0.93", zorder=0,
                                      label=f"warm-up ({warmup} epochs): initial loss, "
                                            "no hyper-step yet"))
            ax.set_xlim(0, epochs.max() + 1)
        (self.objective_line_,) = ax.plot(epochs, objective, marker="o", markersize=4,
                                          color="C0", label="validation objective")
        handles.insert(0, self.objective_line_)
        ax.set_xlabel(f"{unit} (search after the warm-up)" if warmup is not None else unit)
        ax.set_ylabel("validation objective (loss; lower is better)")
        legend_ax = ax
        metric = self.selection_name or "validation selection metric (error)"
        if all("validation_selection" in r for r in records):
            selection = np.array([float(r["validation_selection"]) for r in records])
            twin = ax.twinx()
            (self.selection_line_,) = twin.plot(
                epochs, selection, marker="s", markersize=4, color="C1", linestyle="--",
                label=metric)
            twin.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=1))
            twin.set_ylabel(f"{metric} (%; lower is better)")
            handles.insert(1, self.selection_line_)
            if all("control_selection" in r for r in records):
                control = np.array([float(r["control_selection"]) for r in records])
                initial = self.initial_name or "initial loss"
                (self.control_line_,) = twin.plot(
                    epochs, control, marker="v", markersize=3, color="0.45", linestyle=":",
                    label=f"{metric} of the control twin ({initial}, same batches)")
                handles.insert(2, self.control_line_)
            legend_ax = twin  # drawn above ax: its legend must be too
        title = "loss search"
        if self.best_step is not None:
            kept = [i for i, r in enumerate(records) if r["step"] == self.best_step]
            if kept:
                epoch = position(records[kept[0]])
                if kept[0] == 0:
                    what = (f"kept: initial loss ({self.initial_name})" if self.initial_name
                            else "kept: initial loss")
                    label = f"{what}, scored at {unit} {epoch}"
                else:
                    label = f"kept loss ({unit} {epoch})"
                self.kept_line_ = ax.axvline(epoch, color="k", linestyle="-.", linewidth=1.2,
                                             label=label)
                handles.append(self.kept_line_)
                self.kept_reason_ = self._kept_reason(records, kept[0], metric)
                title = textwrap.fill("loss search: " + self.kept_reason_, 52)
        ax.set_title(title, fontsize=9 if "\n" in title else 10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        # Below the panel: inside, it would hide the curves.
        legend_ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2),
                         fontsize=7, frameon=False)

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, kind="both", name=None):
        """Plot the loss learned by a fitted :class:`AutoBalanceClassifier`.

        The estimator is read, never modified: the display holds copies of
        its fitted attributes.

        Parameters
        ----------
        estimator : AutoBalanceClassifier or Pipeline
            A fitted :class:`AutoBalanceClassifier`, or a fitted
            :class:`~sklearn.pipeline.Pipeline` whose last step is one.
        ax : matplotlib Axes or array-like of Axes, default=None
            See :meth:`plot`.
        kind : {"both", "loss", "trajectory"}, default="both"
            See :meth:`plot`. With ``search=None`` there is no trajectory:
            "trajectory" raises a ValueError and "both" plots the loss only.
        name : str, default=None
            Legend label of the loss points; None uses the estimator's class
            name.

        Returns
        -------
        display : LearnedLossDisplay

        Raises
        ------
        TypeError
            If ``estimator`` is neither an :class:`AutoBalanceClassifier` nor a
            Pipeline ending with one.
        sklearn.exceptions.NotFittedError
            If it is not fitted.
        ValueError
            If ``kind`` is not valid, or asks for what the fit did not
            produce: the loss of a loss outside the parametric family (empty
            ``loss_params_``, e.g. ``init="ldam"``), the trajectory of a fit
            with ``search=None``.
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        _check_kind(kind)
        final = estimator
        if isinstance(estimator, Pipeline):
            final = estimator.steps[-1][1] if estimator.steps else None
        if not isinstance(final, AutoBalanceClassifier):
            where = ("a Pipeline whose last step is " + type(final).__name__
                     if isinstance(estimator, Pipeline) else type(estimator).__name__)
            raise TypeError(
                f"{cls.__name__}.from_estimator needs a fitted AutoBalanceClassifier or a "
                f"Pipeline whose last step is one; got {where}. (For a search such as "
                "GridSearchCV, pass its best_estimator_.)")
        check_is_fitted(final, ["loss_params_", "class_counts_", "classes_"])

        counts = np.array(final.class_counts_, dtype=np.float64)
        loss_params = {k: np.array(v, dtype=np.float64) for k, v in final.loss_params_.items()}
        groups = getattr(final, "groups_", None)
        if counts.ndim == 2 and loss_params and np.ndim(loss_params["l"]) == 1:
            # A class loss ("ce") fitted with sensitive_features: one value per
            # class, so plot it against the class frequency.
            counts, groups = counts.sum(axis=1), None
        best_step = final.best_step_
        init = getattr(final, "init", None)
        initial_params = initial_name = None
        if isinstance(init, str) and init in PARAMETRIC_LOSSES:
            initial_name = _INIT_NAMES.get(init, init)
            if loss_params and _validation_records(final.search_history_):
                initial_params = _initial_loss(final, loss_params)
        report = getattr(final, "selection_report_", None)
        return cls(
            class_frequency=counts / counts.sum(),
            loss_params=loss_params,
            classes=np.array(final.classes_),
            search_history=copy.deepcopy(final.search_history_),
            best_step=None if best_step is None else int(best_step),
            groups=None if groups is None or counts.ndim == 1 else np.array(groups),
            estimator_name=type(final).__name__ if name is None else name,
            selection_name=SELECTION_METRICS.get(final.objective, (None, None))[1],
            initial_params=initial_params,
            initial_name=initial_name,
            selection_report=None if report is None else copy.deepcopy(report),
        ).plot(ax=ax, kind=kind)


def _initial_loss(estimator, loss_params):
    """The effective ``l`` and multiplier of the loss the search started from, as the
    estimator builds it; None when it does not match the learned loss's shape."""
    params = estimator._initial_parametric_loss().effective_params()
    if any(np.shape(params[k]) != np.shape(loss_params[k]) for k in ("l", "delta")):
        return None
    return {k: np.asarray(params[k], dtype=np.float64) for k in ("l", "delta")}
