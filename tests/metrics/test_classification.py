"""Tests for sklearn_autobalance.metrics._classification."""

import warnings
import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    equal_opportunity_difference,
    equalized_odds_difference,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import balanced_accuracy_score, recall_score

from sklearn_autobalance.metrics import (
    CellErrors,
    balanced_error,
    cell_errors,
    difference_of_equal_opportunity,
    group_balanced_error,
    worst_group_error,
)

GROUP_METRICS = [
    difference_of_equal_opportunity,
    group_balanced_error,
    worst_group_error,
    cell_errors,
]
ALL_METRICS = GROUP_METRICS + [balanced_error]

FAST = settings(max_examples=40, deadline=None)


def _call(metric, y_true, y_pred, groups):
    if metric is balanced_error:
        return metric(y_true, y_pred)
    return metric(y_true, y_pred, sensitive_features=groups)


def _cell_loop(y_true, y_pred, groups):
    """Independent per-cell error computation with plain Python loops."""
    cells = {}
    for k in sorted(set(y_true)):
        for g in sorted(set(groups)):
            idx = [i for i in range(len(y_true)) if y_true[i] == k and groups[i] == g]
            if idx:
                cells[k, g] = sum(y_pred[i] != k for i in idx) / len(idx)
    return cells


def _deo_loop(y_true, y_pred, groups):
    total = 0.0
    cells = _cell_loop(y_true, y_pred, groups)
    for k in sorted(set(y_true)):
        errs = [e for (kk, _), e in cells.items() if kk == k]
        if len(errs) >= 2:
            total += max(errs) - min(errs)
    return total


# --------------------------------------------------------------------------
# balanced_error versus scikit-learn
# --------------------------------------------------------------------------

labels_int = st.sampled_from([0, 1, 2, 7])
labels_str = st.sampled_from(["ant", "bee", "cat", "dog"])


@st.composite
def label_pairs(draw, labels):
    n = draw(st.integers(1, 40))
    y_true = draw(st.lists(labels, min_size=n, max_size=n))
    y_pred = draw(st.lists(labels, min_size=n, max_size=n))
    return y_true, y_pred


@FAST
@given(st.one_of(label_pairs(labels_int), label_pairs(labels_str)))
def test_balanced_error_is_one_minus_balanced_accuracy(pair):
    y_true, y_pred = pair
    with warnings.catch_warnings():
        # sklearn warns when y_pred holds classes absent from y_true
        warnings.simplefilter("ignore")
        expected = 1.0 - balanced_accuracy_score(y_true, y_pred)
    assert balanced_error(y_true, y_pred) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("kind", ["int", "str"])
def test_balanced_error_random_arrays(seed, kind):
    rng = np.random.default_rng(seed)
    n_classes = rng.integers(2, 6)
    y_true = rng.integers(0, n_classes, 300)
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.integers(0, n_classes, 300))
    if kind == "str":
        y_true = np.array([f"c{v}" for v in y_true])
        y_pred = np.array([f"c{v}" for v in y_pred])
    expected = 1.0 - balanced_accuracy_score(y_true, y_pred)
    assert balanced_error(y_true, y_pred) == pytest.approx(expected, abs=1e-12)


def test_balanced_error_label_only_in_y_pred_counts_as_error():
    assert balanced_error([0, 0, 1, 1], [0, 2, 1, 1]) == 0.25


# --------------------------------------------------------------------------
# Group metrics versus fairlearn and direct loops
# --------------------------------------------------------------------------


def _binary_two_group_data(seed, n=200):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, n)
    groups = rng.choice(np.array(["f", "m"]), n, p=[0.3, 0.7])
    flip = rng.random(n) < np.where(groups == "f", 0.35, 0.15)
    y_pred = np.where(flip, 1 - y_true, y_true)
    return y_true, y_pred, groups


@pytest.mark.parametrize("seed", range(5))
def test_deo_binary_matches_fairlearn(seed):
    y_true, y_pred, groups = _binary_two_group_data(seed)
    gaps = []
    for pos_label in (1, 0):
        def recall(y_t, y_p, pos_label=pos_label):
            return recall_score(y_t, y_p, pos_label=pos_label, zero_division=0)

        frame = MetricFrame(
            metrics=recall,
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=groups,
        )
        # error gap == recall gap, since E_{k,g} = 1 - recall_{k,g}
        gaps.append(frame.difference(method="between_groups"))
    deo = difference_of_equal_opportunity(y_true, y_pred, sensitive_features=groups)
    assert deo == pytest.approx(sum(gaps), abs=1e-12)
    # The positive-class term is fairlearn's equal_opportunity_difference ...
    eod = equal_opportunity_difference(y_true, y_pred, sensitive_features=groups)
    assert gaps[0] == pytest.approx(eod, abs=1e-12)
    # ... and TPR gap + FPR gap = 2 * mean of the two equalized-odds gaps.
    eqodds_mean = equalized_odds_difference(
        y_true, y_pred, sensitive_features=groups, agg="mean"
    )
    assert deo == pytest.approx(2 * eqodds_mean, abs=1e-12)
    assert deo > 0


def _error_rate(y_true, y_pred):
    return float(np.mean(np.asarray(y_true) != np.asarray(y_pred)))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_classes, n_groups", [(2, 2), (3, 3), (4, 2)])
def test_group_metrics_match_fairlearn_cells(seed, n_classes, n_groups):
    rng = np.random.default_rng(seed)
    n = 150
    y_true = rng.integers(0, n_classes, n)
    groups = rng.integers(10, 10 + n_groups, n)
    y_pred = np.where(rng.random(n) < 0.5, y_true, rng.integers(0, n_classes, n))
    # Independent per-(class, group) errors: fairlearn intersectional groups.
    frame = MetricFrame(
        metrics=_error_rate,
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=pd.DataFrame({"cls": y_true, "grp": groups}),
    )
    by_cell = frame.by_group.dropna()
    assert group_balanced_error(
        y_true, y_pred, sensitive_features=groups
    ) == pytest.approx(by_cell.mean(), abs=1e-12)
    assert worst_group_error(
        y_true, y_pred, sensitive_features=groups
    ) == pytest.approx(by_cell.max(), abs=1e-12)
    table = cell_errors(y_true, y_pred, sensitive_features=groups)
    for (k, g), err in by_cell.items():
        i = int(np.flatnonzero(table.classes == k)[0])
        j = int(np.flatnonzero(table.groups == g)[0])
        assert table.errors[i, j] == pytest.approx(err, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_three_classes_three_groups_against_loop(seed):
    rng = np.random.default_rng(seed)
    n = 90
    classes = np.array(["low", "mid", "high"])
    y_true = rng.choice(classes, n)
    # y_pred may hold a label that never occurs in y_true
    y_pred = np.where(rng.random(n) < 0.5, y_true, rng.choice(np.append(classes, "??"), n))
    groups = rng.choice(np.array([1, 2, 3]), n)
    yt, yp, gs = y_true.tolist(), y_pred.tolist(), groups.tolist()
    cells = _cell_loop(yt, yp, gs)
    assert difference_of_equal_opportunity(
        y_true, y_pred, sensitive_features=groups
    ) == pytest.approx(_deo_loop(yt, yp, gs), abs=1e-12)
    assert group_balanced_error(
        y_true, y_pred, sensitive_features=groups
    ) == pytest.approx(np.mean(list(cells.values())), abs=1e-12)
    assert worst_group_error(
        y_true, y_pred, sensitive_features=groups
    ) == pytest.approx(max(cells.values()), abs=1e-12)


@st.composite
def grouped_data(draw):
    n = draw(st.integers(2, 40))
    labels = st.sampled_from(["x", "y", "z"])
    y_true = draw(st.lists(labels, min_size=n, max_size=n))
    y_pred = draw(st.lists(labels, min_size=n, max_size=n))
    groups = draw(st.lists(st.sampled_from([0, 1, 2]), min_size=n, max_size=n))
    return y_true, y_pred, groups


@FAST
@given(grouped_data(), st.randoms(use_true_random=False))
def test_group_metrics_loop_bounds_and_permutation_invariance(data, rnd):
    y_true, y_pred, groups = data
    cells = _cell_loop(y_true, y_pred, groups)
    gbe = group_balanced_error(y_true, y_pred, sensitive_features=groups)
    worst = worst_group_error(y_true, y_pred, sensitive_features=groups)
    assert gbe == pytest.approx(np.mean(list(cells.values())), abs=1e-12)
    assert worst == pytest.approx(max(cells.values()), abs=1e-12)
    assert 0.0 <= gbe <= worst <= 1.0

    order = list(range(len(y_true)))
    rnd.shuffle(order)
    shuffled = [[seq[i] for i in order] for seq in (y_true, y_pred, groups)]
    # renaming the groups must not matter either
    shuffled[2] = [f"group-{g}" for g in shuffled[2]]
    assert group_balanced_error(
        shuffled[0], shuffled[1], sensitive_features=shuffled[2]
    ) == pytest.approx(gbe, abs=1e-12)

    expected_deo = _deo_loop(y_true, y_pred, groups)
    try:
        deo = difference_of_equal_opportunity(y_true, y_pred, sensitive_features=groups)
    except ValueError:
        # undefined: no class has samples in two groups
        assert all(
            len({g for t, g in zip(y_true, groups) if t == k}) < 2 for k in set(y_true)
        )
        return
    assert deo == pytest.approx(expected_deo, abs=1e-12)
    assert 0.0 <= deo <= len(set(y_true))
    assert difference_of_equal_opportunity(
        shuffled[0], shuffled[1], sensitive_features=shuffled[2]
    ) == pytest.approx(deo, abs=1e-12)


# --------------------------------------------------------------------------
# Empty cells
# --------------------------------------------------------------------------


def test_empty_cells_are_skipped():
    # class 2 appears only in group "a"; cell (1, "b") is empty.
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 0, 0, 1, 0, 0, 2])
    groups = np.array(["a", "a", "b", "b", "a", "a", "a", "a"])
    table = cell_errors(y_true, y_pred, sensitive_features=groups)
    assert isinstance(table, CellErrors)
    assert table.classes.tolist() == [0, 1, 2]
    assert table.groups.tolist() == ["a", "b"]
    assert table.counts.tolist() == [[2, 2], [2, 0], [2, 0]]
    np.testing.assert_array_equal(
        table.errors, [[0.5, 0.0], [0.5, np.nan], [0.5, np.nan]]
    )
    assert not table.errors.flags.writeable
    # mean / max over the 4 non-empty cells only
    assert group_balanced_error(y_true, y_pred, sensitive_features=groups) == 0.375
    assert worst_group_error(y_true, y_pred, sensitive_features=groups) == 0.5
    # only class 0 has two groups: DEO = 0.5 - 0.0
    assert difference_of_equal_opportunity(
        y_true, y_pred, sensitive_features=groups
    ) == 0.5


def test_paper_binary_formula():
    # E_{+,1}=1/4, E_{+,2}=3/4, E_{-,1}=0, E_{-,2}=1/2 -> DEO = 0.5 + 0.5
    y_true = [1] * 8 + [0] * 4
    groups = [1] * 4 + [2] * 4 + [1, 1, 2, 2]
    y_pred = [1, 1, 1, 0] + [0, 0, 0, 1] + [0, 0, 1, 0]
    assert difference_of_equal_opportunity(y_true, y_pred, sensitive_features=groups) == 1.0


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------


def test_accepts_lists_series_and_single_columns():
    y_true, y_pred, groups = _binary_two_group_data(0, n=60)
    expected = difference_of_equal_opportunity(y_true, y_pred, sensitive_features=groups)
    variants = [
        groups.tolist(),
        pd.Series(groups, index=np.arange(100, 160)),
        pd.Series(groups, dtype="category"),
        pd.DataFrame({"sex": groups}),
        groups.reshape(-1, 1),
        np.where(groups == "f", 0, 1),
    ]
    for variant in variants:
        got = difference_of_equal_opportunity(
            pd.Series(y_true), y_pred.tolist(), sensitive_features=variant
        )
        assert got == pytest.approx(expected, abs=1e-12)
    assert balanced_error(y_true.reshape(-1, 1), y_pred) == balanced_error(y_true, y_pred)


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_returns_python_float_and_does_not_modify_inputs(metric):
    y_true, y_pred, groups = _binary_two_group_data(1, n=50)
    y_true_obj = np.array(["neg", "pos"], dtype=object)[y_true]
    y_pred_obj = np.array(["neg", "pos"], dtype=object)[y_pred]
    copies = [y_true.copy(), y_pred.copy(), groups.copy()]
    series = pd.Series(groups)
    result = _call(metric, y_true, y_pred, series)
    if metric is not cell_errors:
        assert type(result) is float
    _call(metric, y_true_obj, y_pred_obj, groups)
    np.testing.assert_array_equal(y_true, copies[0])
    np.testing.assert_array_equal(y_pred, copies[1])
    np.testing.assert_array_equal(groups, copies[2])
    assert y_true.flags.writeable and groups.flags.writeable
    pd.testing.assert_series_equal(series, pd.Series(copies[2]))


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_length_mismatch_names_lengths(metric):
    with pytest.raises(ValueError, match=r"y_true has 4.*y_pred has 3"):
        _call(metric, [0, 1, 0, 1], [0, 1, 0], [0, 1, 0, 1])


@pytest.mark.parametrize("metric", GROUP_METRICS)
def test_sensitive_features_length_mismatch(metric):
    with pytest.raises(ValueError, match=r"sensitive_features has 3"):
        metric([0, 1, 0, 1], [0, 1, 0, 1], sensitive_features=["a", "b", "a"])


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_empty_input(metric):
    with pytest.raises(ValueError, match="Empty input"):
        _call(metric, [], [], [])


@pytest.mark.parametrize("metric", GROUP_METRICS)
@pytest.mark.parametrize(
    "groups",
    [
        np.array([0.0, np.nan, 1.0, 1.0]),
        ["a", None, "b", "b"],
        np.array(["a", np.nan, "b", "b"], dtype=object),
        pd.Series([1, None, 2, 2], dtype="Int64"),
        pd.Series(["a", None, "b", "b"], dtype="string"),
        pd.Series(["a", None, "b", "b"], dtype="category"),
    ],
    ids=["float-nan", "none", "object-nan", "Int64-NA", "string-NA", "category-NaN"],
)
def test_missing_sensitive_features_values(metric, groups):
    with pytest.raises(ValueError, match="sensitive_features contains 1 missing"):
        metric([0, 1, 0, 1], [0, 1, 1, 1], sensitive_features=groups)


@pytest.mark.parametrize("metric", GROUP_METRICS)
def test_sensitive_features_required(metric):
    with pytest.raises(TypeError, match="sensitive_features"):
        metric([0, 1], [0, 1])
    with pytest.raises(ValueError, match="sensitive_features is required"):
        metric([0, 1], [0, 1], sensitive_features=None)


@pytest.mark.parametrize("metric", GROUP_METRICS)
def test_wrong_dimensions(metric):
    with pytest.raises(ValueError, match=r"sensitive_features must be a 1-D.*\(4, 2\)"):
        metric([0, 1, 0, 1], [0, 1, 0, 1], sensitive_features=np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"sensitive_features must be a 1-D"):
        metric([0, 1, 0, 1], [0, 1, 0, 1], sensitive_features=np.zeros((4, 1, 1)))
    with pytest.raises(ValueError, match=r"y_true must be a 1-D.*\(2, 2\)"):
        metric([[0, 1], [0, 1]], [0, 1], sensitive_features=[0, 1])
    with pytest.raises(ValueError, match=r"y_pred must be a 1-D.*\(\)"):
        metric([0, 1], 1, sensitive_features=[0, 1])


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("metric", ALL_METRICS)
def test_bad_labels(metric):
    with pytest.raises(ValueError, match="continuous"):
        _call(metric, [0.5, 1.5, 2.5], [0.5, 1.5, 2.5], [0, 1, 1])
    with pytest.raises(ValueError, match="Mix of label input types"):
        _call(metric, [0, 1, 1], ["0", "1", "1"], [0, 1, 1])
    with pytest.raises(ValueError, match="y_true contains NaN"):
        _call(metric, [0.0, np.nan, 1.0], [0, 1, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="y_true must hold class labels"):
        _call(metric, ["a", None, "b"], ["a", "b", "b"], [0, 1, 1])
    with pytest.raises(ValueError, match=r"'unknown'.*astype\(int\)"):
        _call(metric, np.array([0, 1, 1], dtype=object), [0, 1, 1], [0, 1, 1])


def test_mixed_type_groups():
    mixed = np.array(["a", 1, 2], dtype=object)
    with pytest.raises(ValueError, match="mutually comparable"):
        group_balanced_error([0, 1, 1], [0, 1, 1], sensitive_features=mixed)
    # numpy turns a plain mixed list into strings: "a", "1", "2"
    table = cell_errors([0, 1, 1], [0, 1, 0], sensitive_features=["a", 1, 2])
    assert table.groups.tolist() == ["1", "2", "a"]


def test_deo_needs_two_groups():
    with pytest.raises(ValueError, match="at least two groups.*'only'"):
        difference_of_equal_opportunity(
            [0, 1, 1], [0, 1, 0], sensitive_features=["only"] * 3
        )
    # the other group metrics are fine with one group
    assert group_balanced_error([0, 1, 1], [0, 1, 0], sensitive_features=[7] * 3) == 0.25
    # groups coincide with classes: no class is seen in two groups
    with pytest.raises(ValueError, match="no class has samples in two or more groups"):
        difference_of_equal_opportunity(
            [0, 0, 1, 1], [0, 1, 1, 1], sensitive_features=["a", "a", "b", "b"]
        )
