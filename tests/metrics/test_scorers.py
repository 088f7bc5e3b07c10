"""Tests for sklearn_autobalance.metrics._scorers."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autobalance.metrics import (
    balanced_error,
    balanced_error_scorer,
    difference_of_equal_opportunity,
    group_balanced_error,
    make_fairness_scorer,
    worst_group_error,
)

@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def _data(seed=0, n=120):
    rng = np.random.default_rng(seed)
    groups = rng.choice(np.array(["f", "m", "x"]), n, p=[0.3, 0.5, 0.2])
    X = rng.normal(size=(n, 4))
    X[:, 0] += np.where(groups == "f", 0.8, 0.0)
    y = (X[:, 0] + 0.7 * X[:, 1] + rng.normal(scale=0.8, size=n) > 0.3).astype(int)
    return X, y, groups


def _pipe():
    return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])


# --------------------------------------------------------------------------
# balanced_error_scorer
# --------------------------------------------------------------------------


def test_balanced_error_scorer_in_cross_val_score():
    X, y, _ = _data()
    cv = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)
    scores = cross_val_score(_pipe(), X, y, cv=cv, scoring=balanced_error_scorer)
    expected = []
    for train, test in cv.split(X, y):
        model = clone(_pipe()).fit(X[train], y[train])
        expected.append(-balanced_error(y[test], model.predict(X[test])))
    np.testing.assert_allclose(scores, expected, atol=1e-12)
    assert np.all(scores <= 0) and np.any(scores < 0)
    assert "greater_is_better=False" in repr(balanced_error_scorer)
    assert "response_method='predict'" in repr(balanced_error_scorer)


def test_balanced_error_scorer_works_with_routing_on(routing):
    X, y, _ = _data()
    scores = cross_val_score(_pipe(), X, y, cv=3, scoring=balanced_error_scorer)
    assert scores.shape == (3,) and np.all(scores <= 0)


# --------------------------------------------------------------------------
# make_fairness_scorer: construction
# --------------------------------------------------------------------------


def test_routing_off_raises_with_instructions():
    with sklearn.config_context(enable_metadata_routing=False):
        for metric in ("deo", "worst_group_error", group_balanced_error):
            with pytest.raises(RuntimeError, match="enable_metadata_routing") as info:
                make_fairness_scorer(metric)
            assert "sklearn.set_config(enable_metadata_routing=True)" in str(info.value)
            assert "sklearn.config_context(enable_metadata_routing=True)" in str(
                info.value
            )


def test_unknown_metric_lists_options(routing):
    with pytest.raises(ValueError, match="Unknown fairness metric 'dpd'") as info:
        make_fairness_scorer("dpd")
    for name in ("deo", "group_balanced_error", "worst_group_error"):
        assert name in str(info.value)
    with pytest.raises(ValueError, match="callable"):
        make_fairness_scorer(3)


def test_callable_must_accept_sensitive_features(routing):
    with pytest.raises(ValueError, match="sensitive_features"):
        make_fairness_scorer(balanced_error)
    # **kwargs or a keyword parameter are both fine
    make_fairness_scorer(lambda y_true, y_pred, **kw: 0.0)
    make_fairness_scorer(lambda y_true, y_pred, sensitive_features: 0.0)


@pytest.mark.parametrize(
    "metric, func",
    [
        ("deo", difference_of_equal_opportunity),
        ("difference_of_equal_opportunity", difference_of_equal_opportunity),
        ("group_balanced_error", group_balanced_error),
        ("worst_group_error", worst_group_error),
        (worst_group_error, worst_group_error),
    ],
)
def test_direct_call_is_negative_metric(routing, metric, func):
    X, y, groups = _data()
    model = _pipe().fit(X[:80], y[:80])
    scorer = make_fairness_scorer(metric)
    assert func.__name__ in repr(scorer)
    assert "greater_is_better=False" in repr(scorer)
    got = scorer(model, X[80:], y[80:], sensitive_features=groups[80:])
    expected = func(y[80:], model.predict(X[80:]), sensitive_features=groups[80:])
    assert got == pytest.approx(-expected, abs=1e-12)
    assert got < 0
    # the scorer survives pickling (n_jobs > 1, saved searches)
    clone_scorer = pickle.loads(pickle.dumps(scorer))
    assert clone_scorer(model, X[80:], y[80:], sensitive_features=groups[80:]) == got


def test_each_call_builds_an_independent_scorer(routing):
    assert make_fairness_scorer("deo") is not make_fairness_scorer("deo")


# --------------------------------------------------------------------------
# make_fairness_scorer: routing through GridSearchCV / cross_validate
# --------------------------------------------------------------------------


@pytest.mark.parametrize("as_series", [False, True])
def test_grid_search_scores_each_fold_with_its_own_groups(routing, as_series):
    X, y, groups = _data(seed=1)
    g = pd.Series(groups, index=np.arange(1000, 1000 + len(y))) if as_series else groups
    cv = list(KFold(n_splits=3, shuffle=True, random_state=0).split(X))
    records = []

    def recording_deo(y_true, y_pred, *, sensitive_features):
        assert len(sensitive_features) == len(y_true)
        records.append((np.asarray(y_true).copy(), np.asarray(sensitive_features).copy()))
        return difference_of_equal_opportunity(
            y_true, y_pred, sensitive_features=sensitive_features
        )

    grid = {"clf__C": [0.01, 1.0]}
    search = GridSearchCV(
        _pipe(),
        grid,
        scoring={
            "deo": make_fairness_scorer("deo"),
            "bal": balanced_error_scorer,
            "rec": make_fairness_scorer(recording_deo),
        },
        refit=False,
        cv=cv,
        n_jobs=1,
        error_score="raise",
    )
    search.fit(X, y, sensitive_features=g)

    # One call per (candidate, split), each with exactly one fold's slice.
    assert len(records) == len(grid["clf__C"]) * len(cv)
    for split, (_, test) in enumerate(cv):
        matching = [
            rec
            for rec in records
            if rec[1].shape == groups[test].shape
            and np.array_equal(rec[1], groups[test])
            and np.array_equal(rec[0], y[test])
        ]
        assert len(matching) == len(grid["clf__C"]), f"split {split}"

    # cv_results_ hold -metric computed by hand on each fold.
    for i, params in enumerate(search.cv_results_["params"]):
        for split, (train, test) in enumerate(cv):
            model = clone(_pipe()).set_params(**params).fit(X[train], y[train])
            y_pred = model.predict(X[test])
            deo = difference_of_equal_opportunity(
                y[test], y_pred, sensitive_features=groups[test]
            )
            bal = balanced_error(y[test], y_pred)
            res = search.cv_results_
            assert res[f"split{split}_test_deo"][i] == pytest.approx(-deo, abs=1e-12)
            assert res[f"split{split}_test_rec"][i] == pytest.approx(-deo, abs=1e-12)
            assert res[f"split{split}_test_bal"][i] == pytest.approx(-bal, abs=1e-12)
    assert np.all(search.cv_results_["mean_test_deo"] < 0)


def test_without_a_requesting_scorer_sklearn_rejects_the_metadata(routing):
    # Evidence that it is our scorer's request that lets sensitive_features in:
    # LogisticRegression and the Pipeline do not consume it.
    X, y, groups = _data()
    search = GridSearchCV(
        _pipe(), {"clf__C": [1.0]}, scoring={"bal": balanced_error_scorer}, refit=False
    )
    with pytest.raises(TypeError, match="sensitive_features"):
        search.fit(X, y, sensitive_features=groups)


def test_cross_validate_params(routing):
    X, y, groups = _data(seed=2)
    cv = KFold(n_splits=3)
    result = cross_validate(
        _pipe(),
        X,
        y,
        cv=cv,
        scoring={"worst": make_fairness_scorer("worst_group_error")},
        params={"sensitive_features": groups},
        error_score="raise",
    )
    for split, (train, test) in enumerate(cv.split(X)):
        model = clone(_pipe()).fit(X[train], y[train])
        expected = worst_group_error(
            y[test], model.predict(X[test]), sensitive_features=groups[test]
        )
        assert result["test_worst"][split] == pytest.approx(-expected, abs=1e-12)


def test_missing_sensitive_features_at_score_time_is_explained(routing):
    X, y, groups = _data()
    scorer = make_fairness_scorer("deo")
    model = _pipe().fit(X, y)
    with pytest.raises(ValueError, match="received no sensitive_features") as info:
        scorer(model, X, y)
    assert "enable_metadata_routing=True" in str(info.value)

    search = GridSearchCV(
        _pipe(), {"clf__C": [1.0]}, scoring=scorer, refit=False, error_score="raise"
    )
    with pytest.raises(ValueError, match="received no sensitive_features"):
        search.fit(X, y)

    # With the default error_score=nan, sklearn turns it into NaN plus a warning.
    search.set_params(error_score=np.nan)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    assert np.all(np.isnan(search.cv_results_["mean_test_score"]))
    assert any("received no sensitive_features" in str(w.message) for w in caught)


def test_scorer_built_with_routing_cannot_take_metadata_with_routing_off():
    X, y, groups = _data()
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_fairness_scorer("deo")
    model = _pipe().fit(X, y)
    with sklearn.config_context(enable_metadata_routing=False):
        # scikit-learn itself refuses metadata to a scorer while routing is off
        with pytest.raises(ValueError, match="enable_metadata_routing"):
            scorer(model, X, y, sensitive_features=groups)
