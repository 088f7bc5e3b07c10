"""LearnedLossDisplay: plotted data equal the fitted attributes, axes handling, errors."""

import copy
import sys

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autobalance import AutoBalanceClassifier, LearnedLossDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FAST = dict(hidden_layer_sizes=(8,), max_epochs=5, batch_size=64, random_state=0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=200, n_classes=3, n_informative=4,
                               weights=[0.6, 0.3, 0.1], random_state=0)
    groups = np.random.RandomState(0).choice(["a", "b"], size=len(y))
    return X, y, groups


@pytest.fixture(scope="module")
def clf(data):
    X, y, _ = data
    return AutoBalanceClassifier(search="l+delta", **FAST).fit(X, y)


@pytest.fixture(scope="module")
def group_clf(data):
    X, y, groups = data
    return AutoBalanceClassifier(objective="group_balanced", **FAST).fit(
        X, y, sensitive_features=groups)


def _validation_records(estimator):
    return [r for r in estimator.search_history_ if r["scope"] == "validation_set"]


_PLAIN = (np.ndarray, np.generic, dict, list, tuple, int, float, str, bool, type(None))


def _snapshot(estimator):
    """Copies of the plain-data attributes; other objects (net, encoders) by reference."""
    return {k: copy.deepcopy(v) if isinstance(v, _PLAIN) else v
            for k, v in vars(estimator).items()}


def _assert_same(a, b):
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for u, v in zip(a, b):
            _assert_same(u, v)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    elif isinstance(a, _PLAIN):
        assert a == b or (a != a and b != b)  # NaN-safe
    else:
        assert a is b


def test_loss_points_are_the_fitted_frequencies_and_params(clf):
    disp = LearnedLossDisplay.from_estimator(clf, kind="loss")
    frequency = clf.class_counts_ / clf.class_counts_.sum()
    assert disp.ax_.shape == (2,)
    assert len(disp.l_scatter_) == len(disp.multiplier_scatter_) == 1
    np.testing.assert_array_equal(disp.l_scatter_[0].get_offsets(),
                                  np.column_stack([frequency, clf.loss_params_["l"]]))
    np.testing.assert_array_equal(disp.multiplier_scatter_[0].get_offsets(),
                                  np.column_stack([frequency, clf.loss_params_["delta"]]))
    l_ax, multiplier_ax = disp.ax_
    assert l_ax.get_xscale() == multiplier_ax.get_xscale() == "log"
    assert multiplier_ax.get_ylabel() == "multiplier 2σ(Δ) (factor on the logits)"
    assert disp.l_scatter_[0].axes is l_ax and disp.multiplier_scatter_[0].axes is multiplier_ax
    assert disp.l_scatter_[0].get_label() == "AutoBalanceClassifier"
    assert disp.objective_line_ is None and disp.kept_line_ is None
    assert disp.figure_ is l_ax.figure


def test_trajectory_is_the_validation_set_records(clf):
    disp = LearnedLossDisplay.from_estimator(clf, kind="trajectory")
    records = _validation_records(clf)
    assert len(records) >= 2  # the warm-up's end and later epochs
    assert disp.ax_ is disp.objective_line_.axes
    epochs = [r["epoch"] + 1 for r in records]
    np.testing.assert_array_equal(disp.objective_line_.get_xdata(), epochs)
    np.testing.assert_array_equal(disp.objective_line_.get_ydata(),
                                  [r["validation_objective"] for r in records])
    np.testing.assert_array_equal(disp.selection_line_.get_xdata(), epochs)
    np.testing.assert_array_equal(disp.selection_line_.get_ydata(),
                                  [r["validation_selection"] for r in records])
    assert disp.selection_line_.axes is not disp.ax_  # on a twin y axis
    # Named for what it is: the selection metric of objective="balanced".
    assert disp.selection_line_.get_label() == "validation balanced error"
    assert disp.selection_line_.axes.get_ylabel() == (
        "validation balanced error (%; lower is better)")
    assert disp.l_scatter_ is None


def test_kept_epoch_is_marked(clf):
    disp = LearnedLossDisplay.from_estimator(clf, kind="trajectory")
    records = _validation_records(clf)
    (kept,) = [r for r in records if r["step"] == clf.best_step_]
    np.testing.assert_array_equal(disp.kept_line_.get_xdata(), [kept["epoch"] + 1] * 2)
    # Independently: the paired selection flags the record it kept.
    (flagged,) = [r for r in records if r["kept"]]
    assert disp.kept_line_.get_xdata()[0] == flagged["epoch"] + 1
    assert disp.kept_line_.axes is disp.ax_


def test_both_draws_loss_and_trajectory(clf):
    disp = LearnedLossDisplay.from_estimator(clf, name="mine")
    assert isinstance(disp, LearnedLossDisplay)
    assert disp.ax_.shape == (3,)
    assert {ax.figure for ax in disp.ax_} == {disp.figure_}
    assert disp.l_scatter_[0].axes is disp.ax_[0]
    assert disp.multiplier_scatter_[0].axes is disp.ax_[1]
    assert disp.objective_line_.axes is disp.ax_[2]
    assert disp.l_scatter_[0].get_label() == "mine"


def test_pipeline(data, clf):
    X, y, _ = data
    pipe = make_pipeline(StandardScaler(), AutoBalanceClassifier(search="l+delta", **FAST)
                         ).fit(X, y)
    final = pipe[-1]
    disp = LearnedLossDisplay.from_estimator(pipe)
    frequency = final.class_counts_ / final.class_counts_.sum()
    np.testing.assert_array_equal(disp.l_scatter_[0].get_offsets(),
                                  np.column_stack([frequency, final.loss_params_["l"]]))
    np.testing.assert_array_equal(disp.objective_line_.get_ydata(),
                                  [r["validation_objective"] for r in _validation_records(final)])
    assert disp.estimator_name == "AutoBalanceClassifier"


def test_groups_one_series_per_group(group_clf):
    disp = LearnedLossDisplay.from_estimator(group_clf, kind="loss")
    counts = group_clf.class_counts_
    assert counts.shape == (3, 2) and group_clf.loss_params_["l"].shape == (3, 2)
    frequency = counts / counts.sum()
    assert len(disp.l_scatter_) == len(disp.multiplier_scatter_) == 2
    for g, group in enumerate(group_clf.groups_):
        np.testing.assert_array_equal(
            disp.l_scatter_[g].get_offsets(),
            np.column_stack([frequency[:, g], group_clf.loss_params_["l"][:, g]]))
        np.testing.assert_array_equal(
            disp.multiplier_scatter_[g].get_offsets(),
            np.column_stack([frequency[:, g], group_clf.loss_params_["delta"][:, g]]))
        assert disp.l_scatter_[g].get_label() == f"group {group}"
    # one colour and one marker per group
    colours = [tuple(s.get_facecolor()[0]) for s in disp.l_scatter_]
    assert len(set(colours)) == 2
    assert disp.l_scatter_[0].get_paths()[0] != disp.l_scatter_[1].get_paths()[0]
    legend = [t.get_text() for t in disp.ax_[0].get_legend().get_texts()]
    assert legend == ["group a", "group b", "initial loss (LA): start of the search",
                      "plain CE: l = 0"]


def test_class_loss_fitted_with_groups_is_plotted_per_class(data):
    X, y, groups = data
    est = AutoBalanceClassifier(search=None, init="ce", **{**FAST, "max_epochs": 1}).fit(
        X, y, sensitive_features=groups)
    disp = LearnedLossDisplay.from_estimator(est)
    counts = est.class_counts_.sum(axis=1)
    np.testing.assert_array_equal(disp.l_scatter_[0].get_offsets(),
                                  np.column_stack([counts / counts.sum(), est.loss_params_["l"]]))
    assert disp.groups is None and len(disp.l_scatter_) == 1


def test_no_search(data):
    X, y, _ = data
    est = AutoBalanceClassifier(search=None, init="la", **{**FAST, "max_epochs": 1}).fit(X, y)
    assert est.search_history_ == [] and est.best_step_ is None
    with pytest.raises(ValueError, match="no search trajectory.*search=None"):
        LearnedLossDisplay.from_estimator(est, kind="trajectory")
    disp = LearnedLossDisplay.from_estimator(est, kind="both")  # the loss only
    assert disp.ax_.shape == (2,)
    assert disp.objective_line_ is None and disp.kept_line_ is None
    np.testing.assert_array_equal(disp.l_scatter_[0].get_offsets()[:, 1], est.loss_params_["l"])


def test_loss_outside_the_parametric_family(data):
    X, y, _ = data
    est = AutoBalanceClassifier(search=None, init="ldam", **{**FAST, "max_epochs": 1}).fit(X, y)
    assert est.loss_params_ == {}
    for kind in ("loss", "both"):
        with pytest.raises(ValueError, match="loss_params is empty.*parametric"):
            LearnedLossDisplay.from_estimator(est, kind=kind)


def test_wrong_estimator_type(data):
    X, y, _ = data
    logistic = LogisticRegression().fit(X, y)
    with pytest.raises(TypeError, match="AutoBalanceClassifier.*got LogisticRegression"):
        LearnedLossDisplay.from_estimator(logistic)
    with pytest.raises(TypeError, match="last step is LogisticRegression"):
        LearnedLossDisplay.from_estimator(make_pipeline(StandardScaler(), logistic))
    with pytest.raises(TypeError, match="AutoBalanceClassifier"):
        LearnedLossDisplay.from_estimator("not an estimator")


def test_unfitted():
    with pytest.raises(NotFittedError):
        LearnedLossDisplay.from_estimator(AutoBalanceClassifier())
    with pytest.raises(NotFittedError):
        LearnedLossDisplay.from_estimator(make_pipeline(StandardScaler(), AutoBalanceClassifier()))


@pytest.mark.parametrize("kind", ["losses", "", None, "LOSS"])
def test_bad_kind(clf, kind):
    with pytest.raises(ValueError, match="kind must be one of"):
        LearnedLossDisplay.from_estimator(clf, kind=kind)
    disp = LearnedLossDisplay(np.array([0.5, 0.5]), {"l": np.zeros(2), "delta": np.ones(2)})
    with pytest.raises(ValueError, match="kind must be one of"):
        disp.plot(kind=kind)


def test_user_axes(clf):
    fig, ax = plt.subplots()
    disp = LearnedLossDisplay.from_estimator(clf, kind="trajectory", ax=ax)
    assert disp.ax_ is ax and disp.figure_ is fig
    assert disp.objective_line_ in ax.lines and disp.kept_line_ in ax.lines

    fig, axes = plt.subplots(1, 3)
    disp = LearnedLossDisplay.from_estimator(clf, ax=axes)
    assert list(disp.ax_) == list(axes) and disp.figure_ is fig
    assert disp.l_scatter_[0] in axes[0].collections
    assert disp.multiplier_scatter_[0] in axes[1].collections
    assert disp.objective_line_ in axes[2].lines

    # one Axes for the loss: the multiplier goes on a twin y axis of it
    fig, ax = plt.subplots()
    disp = LearnedLossDisplay.from_estimator(clf, kind="loss", ax=ax)
    assert disp.ax_ is ax and disp.l_scatter_[0] in ax.collections
    twin = disp.multiplier_scatter_[0].axes
    assert twin is not ax and twin.figure is fig and twin.get_ylabel().startswith("multiplier 2σ(Δ)")
    fig, axes = plt.subplots(1, 2)
    disp = LearnedLossDisplay.from_estimator(clf, ax=axes)  # both: loss shared + trajectory
    assert disp.objective_line_ in axes[1].lines

    with pytest.raises(ValueError, match="one matplotlib Axes per panel"):
        LearnedLossDisplay.from_estimator(clf, kind="trajectory", ax=axes)


def test_estimator_is_not_mutated(clf, group_clf):
    for est in (clf, group_clf):
        before = _snapshot(est)
        displays = [LearnedLossDisplay.from_estimator(est, kind=k)
                    for k in ("loss", "trajectory", "both")]
        _assert_same(before, _snapshot(est))
        # the display holds copies: changing them leaves the estimator alone
        disp = displays[-1]
        disp.loss_params["l"][:] = 99.0
        disp.class_frequency[:] = 0.0
        disp.search_history[0]["params"]["l"][:] = 99.0
        _assert_same(before, _snapshot(est))


def test_constructor_data_and_validation():
    frequency = np.array([0.7, 0.2, 0.1])
    params = {"w": np.ones(3), "l": np.log(frequency) - np.log(frequency).mean(),
              "delta": np.array([1.0, 1.1, 1.2])}
    disp = LearnedLossDisplay(frequency, params, classes=["x", "y", "z"]).plot()
    assert disp.ax_.shape == (2,)  # no search history: the loss only
    np.testing.assert_array_equal(disp.multiplier_scatter_[0].get_offsets()[:, 1],
                                  params["delta"])
    with pytest.raises(ValueError, match="no search trajectory"):
        LearnedLossDisplay(frequency, params).plot(kind="trajectory")
    with pytest.raises(ValueError, match="shape"):
        LearnedLossDisplay(frequency, {**params, "l": np.zeros(2)}).plot(kind="loss")
    with pytest.raises(ValueError, match="classes has 2 entries"):
        LearnedLossDisplay(frequency, params, classes=[0, 1]).plot(kind="loss")
    history = [{"epoch": 0, "step": 3, "validation_objective": 0.9, "scope": "validation_set",
                "params": params},
               {"epoch": 1, "step": 4, "validation_objective": 0.8, "scope": "batch",
                "params": params},
               {"epoch": 1, "step": 6, "validation_objective": 0.7, "scope": "validation_set",
                "params": params}]
    disp = LearnedLossDisplay(frequency, params, search_history=history, best_step=6).plot(
        kind="trajectory")
    np.testing.assert_array_equal(disp.objective_line_.get_xdata(), [1, 2])
    np.testing.assert_array_equal(disp.objective_line_.get_ydata(), [0.9, 0.7])
    assert disp.selection_line_ is None  # no validation_selection in the records
    np.testing.assert_array_equal(disp.kept_line_.get_xdata(), [2, 2])


def test_matplotlib_missing(clf, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    with pytest.raises(ImportError, match=r"pip install matplotlib.*\[plot\]"):
        LearnedLossDisplay.from_estimator(clf)
    disp = LearnedLossDisplay(np.array([0.5, 0.5]), {"l": np.zeros(2), "delta": np.ones(2)})
    with pytest.raises(ImportError, match="LearnedLossDisplay.plot requires matplotlib"):
        disp.plot()


def test_initial_loss_crosses_are_drawn_above_the_learned_points(clf):
    disp = LearnedLossDisplay.from_estimator(clf, kind="loss")
    assert disp.initial_name == "LA"  # the default init
    # LA: l = log pi, centred, and multiplier 1, as the search started.
    frequency = clf.class_counts_ / clf.class_counts_.sum()
    l_initial, m_initial = disp.initial_scatter_
    np.testing.assert_allclose(l_initial.get_offsets()[:, 1],
                               np.log(frequency) - np.log(frequency).mean(), atol=1e-6)
    np.testing.assert_allclose(m_initial.get_offsets()[:, 1], 1.0)
    assert l_initial.axes is disp.ax_[0] and m_initial.axes is disp.ax_[1]
    # Above the learned points, so they stay visible where the two coincide.
    assert l_initial.get_zorder() > disp.l_scatter_[0].get_zorder()
    assert m_initial.get_zorder() > disp.multiplier_scatter_[0].get_zorder()
    legend = [t.get_text() for t in disp.ax_[0].get_legend().get_texts()]
    assert "initial loss (LA): start of the search" in legend
    assert "plain CE: l = 0" in legend  # every mark has a legend entry


def test_axis_labels_carry_units_and_direction(clf):
    disp = LearnedLossDisplay.from_estimator(clf)
    l_ax, multiplier_ax, trajectory_ax = disp.ax_
    assert l_ax.get_ylabel() == "logit adjustment l (logits)"
    assert "share of training samples" in l_ax.get_xlabel()
    assert "share of training samples" in multiplier_ax.get_xlabel()
    assert trajectory_ax.get_ylabel() == "validation objective (loss; lower is better)"
    assert trajectory_ax.get_xlabel().startswith("epoch")
    assert "lower is better" in disp.selection_line_.axes.get_ylabel()
    # Every panel says what it shows.
    assert all(ax.get_title() for ax in disp.ax_)


def test_trajectory_explains_the_kept_loss(clf):
    disp = LearnedLossDisplay.from_estimator(clf, kind="trajectory")
    records = _validation_records(clf)
    report = clf.selection_report_
    # The warm-up, before the first record, is shaded and the axis starts at 0.
    assert disp.ax_.get_xlim()[0] == 0
    labels = [t.get_text() for t in disp.selection_line_.axes.get_legend().get_texts()]
    assert any(t.startswith(f"warm-up ({records[0]['epoch'] + 1} epochs)") for t in labels)
    # The control twin's curve, from the records.
    np.testing.assert_array_equal(disp.control_line_.get_ydata(),
                                  [r["control_selection"] for r in records])
    assert disp.control_line_.axes is disp.selection_line_.axes
    if report["moved"]:
        assert disp.kept_reason_.startswith("kept the searched loss")
    else:
        assert disp.kept_line_.get_xdata()[0] == records[0]["epoch"] + 1
        assert disp.kept_reason_.startswith("kept the initial loss (LA): no searched loss "
                                            "beat its control twin beyond paired noise")
        assert f"needed {report['threshold']:.2f} SE" in disp.kept_reason_
    title = " ".join(disp.ax_.get_title().split())
    assert " ".join(("loss search: " + disp.kept_reason_).split()) == title


def test_kept_reason_from_the_constructor():
    frequency = np.array([0.7, 0.3])
    params = {"l": np.zeros(2), "delta": np.ones(2)}
    history = [{"epoch": e, "step": 10 * e, "validation_objective": 1.0 / (e + 1),
                "validation_selection": 0.2, "scope": "validation_set", "params": params}
               for e in (2, 3, 4)]
    report = {"moved": True, "index": 2, "best": 2, "gain": np.array([0.0, 0.01, 0.03]),
              "se": np.array([0.0, 0.01, 0.01]), "threshold": 2.5}
    disp = LearnedLossDisplay(frequency, params, search_history=history, best_step=40,
                              selection_report=report, initial_name="CE",
                              initial_params=params).plot()
    assert disp.kept_reason_ == ("kept the searched loss of epoch 5: it beat CE by +3.00 ± "
                                 "1.00 points of validation selection metric (error) "
                                 "(needed 2.50 SE)")
    assert disp.control_line_ is None  # no control_selection in the records
    assert len(disp.initial_scatter_) == 2
    disp = LearnedLossDisplay(frequency, params, search_history=history, best_step=20).plot(
        kind="trajectory")
    assert disp.kept_reason_ == ("kept the initial loss: no searched loss scored a lower "
                                 "validation selection metric (error)")
    with pytest.raises(ValueError, match="initial_params"):
        LearnedLossDisplay(frequency, params, initial_params={"l": np.zeros(3),
                                                              "delta": np.ones(3)}).plot()


def test_a_tournament_fit_draws_the_kept_loss_only(data):
    # The tournament has no trajectory: its arms' scores are in selection_report_.
    X, y, _ = data
    est = AutoBalanceClassifier(**FAST).fit(X, y)
    disp = LearnedLossDisplay.from_estimator(est)
    np.testing.assert_allclose(disp.loss_params["l"], est.loss_params_["l"])
    assert disp.objective_line_ is None
    with pytest.raises(ValueError, match="tournament of search='auto'"):
        LearnedLossDisplay.from_estimator(est, kind="trajectory")
