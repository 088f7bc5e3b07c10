"""Model selection beyond one process: pickling, threads, joblib's Dask backend.

The Dask test runs a ``GridSearchCV`` with ``sensitive_features`` routed to the
estimator and to a fairness scorer on a ``distributed.LocalCluster`` (two
single-threaded workers in this process, so two fits run side by side in one
process and share torch's global generator), and checks that every fold score
is the one computed by hand on that fold's own slice of the groups, and that
``cv_results_`` equal those of the same search run without Dask.
"""

import pickle
from concurrent.futures import ThreadPoolExecutor

import cloudpickle  # a joblib dependency; Dask serialises tasks with it
import joblib
import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autobalance import AnyLossClassifier, AutoBalanceClassifier
from sklearn_autobalance.metrics import (
    balanced_error,
    balanced_error_scorer,
    difference_of_equal_opportunity,
    make_fairness_scorer,
)

FAST = dict(hidden_layer_sizes=(8,), max_epochs=2, batch_size=64)


def _data(n=240, seed=0):
    """Binary data with a spurious group; every (class, group) cell has >= 8 rows."""
    rng = np.random.RandomState(seed)
    y = (rng.rand(n) < 0.3).astype(int)
    g = np.where(rng.rand(n) < 0.8, y, rng.randint(0, 2, n))
    for k in range(2):
        for j in range(2):
            idx = rng.choice(n, 8, replace=False)
            y[idx], g[idx] = k, j
    X = rng.randn(n, 5)
    X[:, 0] += 1.5 * (2 * y - 1)
    X[:, 1] += 2.0 * (2 * g - 1)
    return X, y, np.array(["land", "water"])[g]


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    # Threads, not processes: starts in well under a second (worker processes
    # each import torch), and two fits then share one process.
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _search(cv):
    # The network search with groups (a class objective): this checks Dask's routing and
    # scores, not the loss search, and the cross-fitted output layer of a group objective
    # would cost most of the suite's time here.
    clf = AutoBalanceClassifier(random_state=0, **{**FAST, "hidden_layer_sizes": ()})
    clf.set_fit_request(sensitive_features=True)
    grid = {"clf__search": [None, "l+delta"], "clf__lr": [1e-3, 1e-2]}
    return GridSearchCV(
        Pipeline([("scale", StandardScaler()), ("clf", clf)]), grid, cv=cv,
        scoring={"deo": make_fairness_scorer("deo"), "bal": balanced_error_scorer},
        refit="bal", error_score="raise",
    )


# Tiny data: whether the group search moves is not what this test checks.
@pytest.mark.filterwarnings("ignore::sklearn_autobalance.NoGainWarning")
def test_grid_search_under_dask_backend(dask_client):
    distributed = pytest.importorskip("distributed")
    X, y, groups = _data()
    cv = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    with sklearn.config_context(enable_metadata_routing=True):
        with distributed.get_task_stream(dask_client) as tasks:
            with joblib.parallel_backend("dask"):
                on_dask = _search(cv).fit(X, y, sensitive_features=groups)
        reference = _search(cv).fit(X, y, sensitive_features=groups)  # default backend
        pipe = _search(cv).estimator

    assert len(tasks.data) > 0, "nothing ran on the Dask workers"
    n_candidates = len(on_dask.cv_results_["params"])
    assert n_candidates == 4
    for key in ("deo", "bal"):
        for split in range(len(cv)):
            name = f"split{split}_test_{key}"
            np.testing.assert_array_equal(on_dask.cv_results_[name], reference.cv_results_[name])
    assert on_dask.best_index_ == reference.best_index_
    np.testing.assert_array_equal(on_dask.predict(X), reference.predict(X))

    # Each fold was scored with its own slice of the groups: refit by hand.
    for i, params in enumerate(on_dask.cv_results_["params"]):
        for split, (train, test) in enumerate(cv):
            model = clone(pipe).set_params(**params)
            y_pred = model.fit(X[train], y[train], clf__sensitive_features=groups[train]
                               ).predict(X[test])
            deo = difference_of_equal_opportunity(y[test], y_pred,
                                                  sensitive_features=groups[test])
            res = on_dask.cv_results_
            assert res[f"split{split}_test_deo"][i] == pytest.approx(-deo, abs=1e-12)
            assert res[f"split{split}_test_bal"][i] == pytest.approx(
                -balanced_error(y[test], y_pred), abs=1e-12)


def test_estimator_swapping_grid_under_dask_backend(dask_client):
    # One grid whose estimator step is swapped (as in
    # examples/compare_with_resamplers.py), without routing.
    X, y, _ = _data(seed=3)
    pipe = Pipeline([("scale", StandardScaler()),
                     ("clf", AutoBalanceClassifier(random_state=0, **FAST))])
    grid = [{"clf__search": [None, "l+delta"]},
            {"clf": [AnyLossClassifier(metric="gmean", random_state=0, **FAST)]}]
    cv = StratifiedKFold(3, shuffle=True, random_state=1)
    searches = [GridSearchCV(pipe, grid, cv=cv, scoring=balanced_error_scorer) for _ in "ab"]
    with joblib.parallel_backend("dask"):
        searches[0].fit(X, y)
    searches[1].fit(X, y)
    for split in range(3):
        key = f"split{split}_test_score"
        np.testing.assert_array_equal(searches[0].cv_results_[key], searches[1].cv_results_[key])
    assert np.all(searches[0].cv_results_["mean_test_score"] < 0)


# Tiny data: whether the group search moves is not what this test checks.
@pytest.mark.filterwarnings("ignore::sklearn_autobalance.NoGainWarning")
@pytest.mark.parametrize("module", [pickle, cloudpickle])
def test_fitted_estimators_and_scorers_round_trip(module):
    X, y, groups = _data(seed=1)
    fitted = [
        AutoBalanceClassifier(random_state=0, **FAST).fit(X, y),
        AutoBalanceClassifier(search="l+delta", refit=False, random_state=0,
                              **{**FAST, "hidden_layer_sizes": ()}).fit(
            X, y, sensitive_features=groups),
        AnyLossClassifier(random_state=0, **FAST).fit(X, y, sample_weight=np.ones(len(y))),
    ]
    for est in fitted:
        copy = module.loads(module.dumps(est))
        np.testing.assert_array_equal(copy.predict_proba(X), est.predict_proba(X))
        assert not any(key.endswith("generator") for key in vars(copy))
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_fairness_scorer("deo")
        copy = module.loads(module.dumps(scorer))
        assert copy(fitted[0], X, y, sensitive_features=groups) == scorer(
            fitted[0], X, y, sensitive_features=groups)
    assert module.loads(module.dumps(balanced_error_scorer))(fitted[0], X, y) == \
        balanced_error_scorer(fitted[0], X, y)


# Tiny data: whether the group search moves is not what this test checks.
@pytest.mark.filterwarnings("ignore::sklearn_autobalance.NoGainWarning")
def test_concurrent_fits_in_threads_equal_fits_alone():
    # torch's global generator is shared by threads: the networks' initial
    # weights and the search's random vectors must not depend on other fits.
    X, y, groups = _data(seed=2)
    # The network search with groups (a class objective) and the cross-fitted output
    # layer (a group objective).
    estimators = [AutoBalanceClassifier(objective=objective, random_state=s,
                                        **{**FAST, "hidden_layer_sizes": layers})
                  for s, (objective, layers) in enumerate(
                      [("balanced", ()), ("balanced", ()), ("deo", (8,)), ("deo", (8,))])]
    alone = [clone(e).fit(X, y, sensitive_features=groups).predict_proba(X) for e in estimators]
    with ThreadPoolExecutor(4) as pool:
        side_by_side = list(pool.map(
            lambda e: clone(e).fit(X, y, sensitive_features=groups).predict_proba(X),
            estimators + estimators[:2]))
    for i, proba in enumerate(side_by_side):
        np.testing.assert_array_equal(proba, alone[i % 4])
