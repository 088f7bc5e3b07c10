"""Scikit-learn scorers for the balanced and fairness metrics.

Scorers follow scikit-learn's convention that greater is better, so they
return the *negative* of our error metrics.
"""

import inspect

from sklearn import get_config
from sklearn.metrics import make_scorer

from ._classification import (
    balanced_error,
    difference_of_equal_opportunity,
    group_balanced_error,
    worst_group_error,
)

__all__ = ["balanced_error_scorer", "make_fairness_scorer"]


balanced_error_scorer = make_scorer(
    balanced_error, greater_is_better=False, response_method="predict"
)
balanced_error_scorer.__doc__ = """Scorer for :func:`balanced_error` (returns its negative).

Use it as ``scoring=balanced_error_scorer`` in ``cross_val_score``,
``GridSearchCV`` and friends. It is a shared module-level object: do not
call ``set_score_request`` on it; build your own with ``make_scorer`` instead.
"""

_FAIRNESS_METRICS = {
    "deo": difference_of_equal_opportunity,
    "difference_of_equal_opportunity": difference_of_equal_opportunity,
    "group_balanced_error": group_balanced_error,
    "worst_group_error": worst_group_error,
}

_ROUTING_HINT = (
    "Turn metadata routing on with "
    "`sklearn.set_config(enable_metadata_routing=True)` or inside "
    "`with sklearn.config_context(enable_metadata_routing=True): ...`."
)


class _SensitiveFeaturesMetric:
    """Wrap a metric so a missing ``sensitive_features`` gives a clear error.

    A module-level class (not a closure) keeps the scorer picklable.
    """

    def __init__(self, metric):
        self.metric = metric
        self.__name__ = getattr(metric, "__name__", type(metric).__name__)

    def __call__(self, y_true, y_pred, *, sensitive_features=None, **kwargs):
        if sensitive_features is None:
            raise ValueError(
                f"The fairness scorer for {self.__name__} received no "
                "sensitive_features. Pass them as metadata, e.g. "
                "`search.fit(X, y, sensitive_features=groups)`, "
                "`cross_validate(..., params={'sensitive_features': groups})` "
                "or `scorer(estimator, X, y, sensitive_features=groups)`, with "
                "metadata routing enabled. " + _ROUTING_HINT
            )
        return self.metric(
            y_true, y_pred, sensitive_features=sensitive_features, **kwargs
        )

    def __repr__(self):
        return self.__name__


def _accepts_sensitive_features(metric):
    try:
        parameters = inspect.signature(metric).parameters.values()
    except (TypeError, ValueError):  # no introspectable signature: trust it
        return True
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return True
        if parameter.name == "sensitive_features" and parameter.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        ):
            return True
    return False


def make_fairness_scorer(metric="deo"):
    r"""Build a scorer for a group-fairness metric that routes ``sensitive_features``.

    The scorer computes ``-metric(y_true, estimator.predict(X),
    sensitive_features=...)`` (greater is better, so lower metric is better)
    and requests ``sensitive_features`` through scikit-learn metadata
    routing, so ``GridSearchCV(..., scoring=scorer).fit(X, y,
    sensitive_features=groups)`` scores each fold with that fold's slice of
    ``groups``. The estimator's ``predict`` never sees the sensitive
    attribute.

    Metadata routing must be enabled while building *and* using the scorer:
    ``sklearn.set_config(enable_metadata_routing=True)`` or
    ``with sklearn.config_context(enable_metadata_routing=True): ...``.

    Parameters
    ----------
    metric : str or callable, default="deo"
        The error to minimise:

        - ``"deo"`` / ``"difference_of_equal_opportunity"``:
          :math:`\sum_k (\max_g E_{k,g} - \min_g E_{k,g})`, see
          :func:`difference_of_equal_opportunity`;
        - ``"group_balanced_error"``: mean cell error
          :math:`\operatorname{mean}_{(k,g)} E_{k,g}`;
        - ``"worst_group_error"``: :math:`\max_{(k,g)} E_{k,g}`;
        - a callable ``metric(y_true, y_pred, *, sensitive_features)``
          returning an error (lower is better).

    Returns
    -------
    scorer : callable
        A scikit-learn scorer ``scorer(estimator, X, y, sensitive_features=...)``
        with ``greater_is_better=False`` and
        ``set_score_request(sensitive_features=True)`` applied.

    Raises
    ------
    ValueError
        If ``metric`` is an unknown string, or a callable that does not take
        ``sensitive_features`` by keyword.
    RuntimeError
        If metadata routing is disabled.

    Examples
    --------
    >>> import sklearn
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_autobalance.metrics import make_fairness_scorer
    >>> clf = LogisticRegression().fit([[0], [1], [2], [3]], [0, 0, 1, 1])
    >>> X_test, y_test = [[3], [0], [0], [0]], [1, 1, 0, 0]
    >>> groups = ["a", "b", "a", "b"]
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     scorer = make_fairness_scorer("deo")
    ...     scorer(clf, X_test, y_test, sensitive_features=groups)
    -1.0

    The sample of class 1 in group "b" is misclassified (cell error 1 versus
    0 in group "a"), class 0 is right in both groups: DEO = 1, score = -1.

    In a search, pass the groups to ``fit``; each fold is scored with its
    own slice::

        with sklearn.config_context(enable_metadata_routing=True):
            search = GridSearchCV(
                model, grid,
                scoring={"deo": make_fairness_scorer("deo"),
                         "bal": balanced_error_scorer},
                refit="bal",
            ).fit(X, y, sensitive_features=groups)
    """
    if isinstance(metric, str):
        try:
            func = _FAIRNESS_METRICS[metric]
        except KeyError:
            raise ValueError(
                f"Unknown fairness metric {metric!r}; valid options are "
                f"{sorted(_FAIRNESS_METRICS)} or a callable "
                "metric(y_true, y_pred, *, sensitive_features)."
            ) from None
    elif callable(metric):
        if not _accepts_sensitive_features(metric):
            raise ValueError(
                f"The metric callable {metric!r} must accept `sensitive_features` "
                "as a keyword argument: metric(y_true, y_pred, *, "
                "sensitive_features)."
            )
        func = metric
    else:
        raise ValueError(
            f"metric must be one of {sorted(_FAIRNESS_METRICS)} or a callable; "
            f"got {metric!r} of type {type(metric).__name__}."
        )

    if not get_config().get("enable_metadata_routing", False):
        raise RuntimeError(
            "make_fairness_scorer needs scikit-learn metadata routing to pass "
            "sensitive_features to the scorer, and it is disabled "
            "(enable_metadata_routing=False). " + _ROUTING_HINT
        )

    scorer = make_scorer(
        _SensitiveFeaturesMetric(func),
        greater_is_better=False,
        response_method="predict",
    )
    return scorer.set_score_request(sensitive_features=True)
