"""Group-sensitive AutoBalance: group objectives, group baselines, routing, bad input."""

import inspect

import numpy as np
import pytest
import sklearn
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autobalance import AutoBalanceClassifier
from sklearn_autobalance.losses import BlendedLoss, CrossEntropy, DEOCrossEntropy
from sklearn_autobalance.losses._registry import GROUP_LOSSES, make_loss
from sklearn_autobalance.metrics import make_fairness_scorer

# imbalanced-learn appends "fit_resample" to scikit-learn's routing methods when
# imported; estimators whose metadata request was built before that cannot be
# routed through its Pipeline, so import it before any estimator is made.
imblearn_pipeline = pytest.importorskip("imblearn.pipeline")
SMOTE = pytest.importorskip("imblearn.over_sampling").SMOTE

FAST = dict(hidden_layer_sizes=(8,), max_epochs=2, batch_size=64, random_state=0)

BASELINES = [
    ("ce", None),
    ("group_balanced", None),
    ("group_la", None),
    ("group_la", {"tau": 0.5}),
    ("group_dro", {"eta_q": 0.1}),
    ("blend", {"regularizer": "deo", "lam": 0.5}),
    ("blend", {"regularizer": "group_balanced", "lam": 0.5}),
    ("blend", {"regularizer": "group_la", "lam": 0.3, "regularizer_params": {"tau": 0.5}}),
]


def _data(n=240, n_groups=2, seed=0):
    """Small binary data with a spurious group: every (class, group) cell has >= 8 rows."""
    rng = np.random.RandomState(seed)
    y = (rng.rand(n) < 0.3).astype(int)
    agree = rng.rand(n) < 0.8
    g = np.where(agree, y, rng.randint(0, n_groups, n)) % n_groups
    # make sure every cell is populated
    for k in range(2):
        for j in range(n_groups):
            idx = rng.choice(n, 8, replace=False)
            y[idx], g[idx] = k, j
    X = rng.randn(n, 5)
    X[:, 0] += 1.5 * (2 * y - 1)
    X[:, 1] += 2.0 * (2 * g / max(n_groups - 1, 1) - 1)
    return X, y, g


# Tiny data: whether the group search moves is not what this test checks.
@pytest.mark.filterwarnings("ignore::sklearn_autobalance.NoGainWarning")
@pytest.mark.parametrize("objective", ["deo", "group_balanced", "worst_group"])
def test_group_objectives_learn_cell_parameters(objective):
    X, y, g = _data()
    clf = AutoBalanceClassifier(objective=objective, init="la", **FAST)
    clf.fit(X, y, sensitive_features=g)
    for name in ("w", "l", "delta"):
        assert clf.loss_params_[name].shape == (2, 2)
        assert np.all(np.isfinite(clf.loss_params_[name]))
    assert clf.predict(X).shape == (len(y),)
    np.testing.assert_array_equal(clf.groups_, [0, 1])


# Tiny data: whether the group search moves is not what this test checks.
@pytest.mark.filterwarnings("ignore::sklearn_autobalance.NoGainWarning")
@pytest.mark.parametrize("init", ["group_balanced", "group_la"])
def test_search_starts_from_group_losses(init):
    X, y, g = _data()
    clf = AutoBalanceClassifier(objective="deo", init=init, **FAST).fit(X, y, sensitive_features=g)
    assert clf.loss_params_["l"].shape == (2, 2)
    first = clf.search_history_[0]["params"]
    assert first is not None
    assert clf.best_step_ is not None


# Tiny data: whether the group search moves is not what this test checks.
@pytest.mark.filterwarnings("ignore::sklearn_autobalance.NoGainWarning")
def test_string_groups_and_three_groups():
    X, y, g = _data(n_groups=3)
    names = np.array(["north", "south", "west"])[g]
    clf = AutoBalanceClassifier(objective="group_balanced", **FAST)
    clf.fit(X, y.astype(str), sensitive_features=names)
    np.testing.assert_array_equal(clf.groups_, ["north", "south", "west"])
    assert clf.loss_params_["w"].shape == (2, 3)
    assert set(clf.predict(X)) <= {"0", "1"}


def test_predict_needs_only_X():
    X, y, g = _data()
    clf = AutoBalanceClassifier(search=None, init="group_la", **FAST).fit(
        X, y, sensitive_features=g)
    for method in ("predict", "predict_proba", "decision_function"):
        params = inspect.signature(getattr(clf, method)).parameters
        # X only; **params exists to refuse extra arguments with a clear message.
        assert [p for p in params if params[p].kind != params[p].VAR_KEYWORD] == ["X"]
        with pytest.raises(TypeError, match=rf"AutoBalanceClassifier\.{method}\(\).*"
                           "never takes the sensitive attribute") as info:
            getattr(clf, method)(X, sensitive_features=g)
        assert "Base" not in str(info.value)
        with pytest.raises(TypeError, match="unexpected keyword argument.*: foo"):
            getattr(clf, method)(X, foo=1)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("init, init_params", BASELINES)
def test_every_group_baseline_trains(init, init_params):
    X, y, g = _data()
    clf = AutoBalanceClassifier(search=None, init=init, init_params=init_params, **FAST)
    clf.fit(X, y, sensitive_features=g)
    assert set(clf.predict(X)) <= {0, 1}
    if init in ("group_balanced", "group_la"):
        assert clf.loss_params_["w"].shape == (2, 2)
    elif init in ("group_dro", "blend"):
        assert clf.loss_params_ == {}
    if init == "blend":
        assert isinstance(clf.net_.criterion_, BlendedLoss)
        assert clf.net_.criterion_.lam == init_params["lam"]
    if init == "group_dro":
        q = clf.net_.criterion_.q.numpy()
        assert q.shape == (4,) and np.isclose(q.sum(), 1.0)
        assert not np.allclose(q, 0.25)  # the cell distribution moved


@pytest.mark.parametrize("init", sorted(GROUP_LOSSES))
def test_group_init_without_sensitive_features(init):
    X, y, _ = _data()
    with pytest.raises(ValueError, match="pass sensitive_features"):
        AutoBalanceClassifier(search=None, init=init, **FAST).fit(X, y)


@pytest.mark.parametrize("objective", ["deo", "group_balanced", "worst_group"])
def test_group_objective_without_sensitive_features(objective):
    X, y, _ = _data()
    with pytest.raises(ValueError, match="group objective: pass sensitive_features"):
        AutoBalanceClassifier(objective=objective, **FAST).fit(X, y)


@pytest.mark.parametrize("init, init_params", [("group_dro", None),
                                               ("blend", {"regularizer": "deo"})])
def test_batch_level_losses_refuse_sample_weight(init, init_params):
    X, y, g = _data()
    clf = AutoBalanceClassifier(search=None, init=init, init_params=init_params, **FAST)
    with pytest.raises(ValueError, match="batch-level loss.*sample_weight"):
        clf.fit(X, y, sensitive_features=g, sample_weight=np.ones(len(y)))


def test_per_sample_blend_supports_sample_weight():
    X, y, g = _data()
    params = {"regularizer": "group_la", "lam": 0.5}
    plain = AutoBalanceClassifier(search=None, init="blend", init_params=params, **FAST)
    plain.fit(X, y, sensitive_features=g)
    ones = AutoBalanceClassifier(search=None, init="blend", init_params=params, **FAST)
    ones.fit(X, y, sensitive_features=g, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(plain.predict_proba(X), ones.predict_proba(X), atol=1e-5)
    assert ones.net_.criterion_.reduction == "mean"  # restored after each weighted step


def test_make_loss_blend_api():
    counts = [[30, 10], [10, 50]]
    blend = make_loss("blend", counts, {"regularizer": "deo", "lam": 0.0})
    logits, y, g = torch.randn(6, 2), torch.tensor([0, 0, 1, 1, 0, 1]), torch.tensor([0, 1] * 3)
    torch.testing.assert_close(blend(logits, y, g), CrossEntropy(counts)(logits, y, g))
    assert isinstance(blend.regularizer, DEOCrossEntropy) and blend.batch_level
    assert not make_loss("blend", counts, {"regularizer": "group_balanced"}).batch_level
    with pytest.raises(ValueError, match="regularizer must be one of"):
        make_loss("blend", counts, {"regularizer": "focal"})
    with pytest.raises(ValueError, match="lam"):
        make_loss("blend", counts, {"lam": 1.5})
    with pytest.raises(ValueError, match="does not take"):
        make_loss("blend", counts, {"tau": 1.0})
    with pytest.raises(ValueError, match="class, group"):
        make_loss("blend", [40, 60])
    with pytest.raises(ValueError, match="does not take"):
        make_loss("blend", counts, {"regularizer": "group_balanced",
                                    "regularizer_params": {"tau": 1.0}})


def test_search_refuses_non_parametric_group_inits():
    X, y, g = _data()
    for init in ("group_dro", "blend"):
        with pytest.raises(ValueError, match="not a member of the parametric family"):
            AutoBalanceClassifier(init=init, **FAST).fit(X, y, sensitive_features=g)


@pytest.mark.parametrize("groups, n_val", [(False, 48), (True, 120)])
def test_early_stopping_holds_out_a_fifth_or_half_with_groups(capsys, groups, n_val):
    # The rare (class, group) cells need validation samples of their own.
    X, y, g = _data()
    clf = AutoBalanceClassifier(verbose=1, search=None, early_stopping=True,
                                **dict(FAST, max_epochs=1))
    clf.fit(X, y, sensitive_features=g if groups else None)
    assert f"/ {n_val} held-out samples" in capsys.readouterr().out


# ------------------------------------------------------------------ bad input
def test_nan_in_sensitive_features():
    X, y, g = _data()
    g = g.astype(float)
    g[3] = np.nan
    with pytest.raises(ValueError, match="missing values.*rows \\[3\\]"):
        AutoBalanceClassifier(**FAST).fit(X, y, sensitive_features=g)


def test_wrong_length_sensitive_features():
    X, y, g = _data()
    with pytest.raises(ValueError, match="sensitive_features has 239 entries but X has 240"):
        AutoBalanceClassifier(**FAST).fit(X, y, sensitive_features=g[:-1])


def test_too_small_cell_is_named():
    X, y, g = _data()
    names = np.array(["land", "water"])[g]
    cell = np.flatnonzero((y == 1) & (names == "water"))
    keep = np.setdiff1d(np.arange(len(y)), cell[1:])  # one sample left in that cell
    with pytest.raises(ValueError, match="class 1 in group 'water' has 1 sample"):
        AutoBalanceClassifier(objective="deo", **FAST).fit(
            X[keep], y[keep], sensitive_features=names[keep])
    # without a search no split is made, so the same data trains
    AutoBalanceClassifier(search=None, init="group_balanced", **FAST).fit(
        X[keep], y[keep], sensitive_features=names[keep])


def test_single_group():
    X, y, _ = _data()
    with pytest.raises(ValueError, match="single group"):
        AutoBalanceClassifier(**FAST).fit(X, y, sensitive_features=np.full(len(y), "a"))


@pytest.mark.parametrize("search, init", [(None, "group_dro"), ("l+delta", "group_la")])
def test_inputs_are_not_modified(search, init):
    X, y, g = _data()
    names = np.array(["a", "b"], dtype=object)[g]
    sw = np.linspace(0.5, 1.5, len(y))
    copies = [a.copy() for a in (X, y, names, sw)]
    clf = AutoBalanceClassifier(search=search, init=init, objective="deo", **FAST)
    clf.fit(X, y, sensitive_features=names, sample_weight=None if init == "group_dro" else sw)
    for before, after in zip(copies, (X, y, names, sw)):
        np.testing.assert_array_equal(before, after)


# ----------------------------------------------------------- metadata routing
_SEEN = []


class _RecordingClassifier(AutoBalanceClassifier):
    """Records the (scaled) group column of X next to the routed groups."""

    def fit(self, X, y, *, sensitive_features=None, sample_weight=None):
        _SEEN.append((np.asarray(X)[:, 0] > 0, np.asarray(sensitive_features)))
        return super().fit(X, y, sensitive_features=sensitive_features,
                           sample_weight=sample_weight)


def test_routing_through_pipeline_and_grid_search():
    X, y, g = _data()
    X = np.column_stack([g, X])  # column 0 carries the group, to check each fold's slice
    _SEEN.clear()
    with sklearn.config_context(enable_metadata_routing=True):
        clf = _RecordingClassifier(search=None, init="group_balanced", **FAST)
        clf.set_fit_request(sensitive_features=True)
        search = GridSearchCV(
            make_pipeline(StandardScaler(), clf),
            {"_recordingclassifier__lr": [1e-3, 1e-2]},
            cv=StratifiedKFold(3), refit=False,
            scoring={"deo": make_fairness_scorer("deo"),
                     "worst": make_fairness_scorer("worst_group_error")},
        ).fit(X, y, sensitive_features=g)
    assert len(_SEEN) == 6  # 2 candidates x 3 folds
    for from_X, routed in _SEEN:
        assert len(routed) == 160
        np.testing.assert_array_equal(from_X, routed == 1)
    for key in ("mean_test_deo", "mean_test_worst"):
        scores = search.cv_results_[key]
        assert np.all(np.isfinite(scores)) and np.all(scores <= 0)


def test_imblearn_resampler_with_routed_groups_stops():
    X, y, g = _data()
    with sklearn.config_context(enable_metadata_routing=True):
        clf = AutoBalanceClassifier(search=None, init="group_balanced", **FAST)
        clf.set_fit_request(sensitive_features=True)
        pipe = imblearn_pipeline.Pipeline([("smote", SMOTE(random_state=0)), ("clf", clf)])
        with pytest.raises(ValueError, match="entries but X has .* rows.*resampl"):
            pipe.fit(X, y, sensitive_features=g)


def test_imblearn_resampler_with_step_params_stops():
    X, y, g = _data()
    clf = AutoBalanceClassifier(search=None, init="group_balanced", **FAST)
    pipe = imblearn_pipeline.Pipeline([("smote", SMOTE(random_state=0)), ("clf", clf)])
    with pytest.raises(ValueError, match="entries but X has .* rows.*resampl"):
        pipe.fit(X, y, clf__sensitive_features=g)
