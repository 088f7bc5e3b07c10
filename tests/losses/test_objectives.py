"""Validation objectives (_objectives.py)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_autobalance.losses import (
    GroupBalancedCrossEntropy,
    WeightedCrossEntropy,
    balanced_cross_entropy,
    deo_objective,
    group_balanced_cross_entropy,
    make_objective,
    worst_group_cross_entropy,
)

from ._reference import (
    assert_close,
    cell_ce,
    deo,
    n_classes_st,
    n_groups_st,
    n_samples_st,
    nll,
    random_batch,
    seeds,
    t64,
    tlong,
)

FAST = settings(max_examples=25, deadline=None)
TIGHT = dict(rtol=1e-10, atol=1e-10)


def class_ce(logits, y, n_classes):
    ce = nll(logits, y)
    return np.array([ce[y == k].mean() for k in range(n_classes) if np.any(y == k)])


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st)
def test_balanced_ce_matches_formula(seed, n_classes, n):
    rng = np.random.default_rng(seed)
    logits, y, _ = random_batch(rng, n, n_classes)
    out = balanced_cross_entropy(t64(logits), tlong(y), n_classes)
    assert_close(out, class_ce(logits, y, n_classes).mean(), **TIGHT)


@FAST
@given(seed=seeds, proportions=st.lists(st.integers(1, 6), min_size=2, max_size=5),
       repeat=st.integers(1, 3))
def test_balanced_ce_equals_inverse_weighted_ce_at_training_proportions(seed, proportions,
                                                                        repeat):
    rng = np.random.default_rng(seed)
    n_classes = len(proportions)
    counts = np.array(proportions, dtype=float) * 37  # training counts
    y = rng.permutation(np.repeat(np.arange(n_classes), np.array(proportions) * repeat))
    logits = rng.normal(scale=2.0, size=(len(y), n_classes))
    x, t = t64(logits), tlong(y)
    assert_close(balanced_cross_entropy(x, t, n_classes),
                 WeightedCrossEntropy(counts)(x, t).item(), rtol=1e-6, atol=1e-7)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st)
def test_group_balanced_ce_matches_formula(seed, n_classes, n_groups, n):
    rng = np.random.default_rng(seed)
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    out = group_balanced_cross_entropy(t64(logits), tlong(y), tlong(groups), n_classes, n_groups)
    table, present = cell_ce(logits, y, groups, n_classes, n_groups)
    assert_close(out, table[present].mean(), **TIGHT)


@FAST
@given(seed=seeds, cells=st.lists(st.integers(1, 4), min_size=4, max_size=4))
def test_group_balanced_ce_equals_group_balanced_loss_at_training_proportions(seed, cells):
    rng = np.random.default_rng(seed)
    per_cell = np.array(cells).reshape(2, 2)
    y = np.repeat([0, 0, 1, 1], per_cell.reshape(-1))
    groups = np.repeat([0, 1, 0, 1], per_cell.reshape(-1))
    perm = rng.permutation(len(y))
    y, groups = y[perm], groups[perm]
    logits = rng.normal(size=(len(y), 2))
    args = (t64(logits), tlong(y), tlong(groups))
    assert_close(group_balanced_cross_entropy(*args, 2, 2),
                 GroupBalancedCrossEntropy(per_cell * 11.0)(*args).item(), rtol=1e-6, atol=1e-7)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st,
       temperature=st.floats(0.01, 10.0))
def test_worst_group_matches_formula_and_bounds(seed, n_classes, n_groups, n, temperature):
    rng = np.random.default_rng(seed)
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    args = (t64(logits), tlong(y), tlong(groups), n_classes, n_groups)
    out = worst_group_cross_entropy(*args, temperature=temperature).item()
    table, present = cell_ce(logits, y, groups, n_classes, n_groups)
    cells = table[present]
    scaled = cells / temperature
    m = scaled.max()
    expected = temperature * (m + np.log(np.mean(np.exp(scaled - m))))
    assert out == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert cells.mean() - 1e-9 <= out <= cells.max() + 1e-9


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st)
def test_worst_group_tends_to_max_as_temperature_vanishes(seed, n_classes, n_groups, n):
    rng = np.random.default_rng(seed)
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    args = (t64(logits), tlong(y), tlong(groups), n_classes, n_groups)
    table, present = cell_ce(logits, y, groups, n_classes, n_groups)
    worst, n_cells = table[present].max(), present.sum()
    values = [worst_group_cross_entropy(*args, temperature=t).item()
              for t in (10.0, 1.0, 0.1, 1e-2, 1e-4)]
    assert all(a <= b + 1e-12 for a, b in zip(values, values[1:]))  # monotone in 1/t
    # t log(1/C sum_c exp(L_c/t)) >= max - t log C.
    assert worst - 1e-4 * np.log(n_cells) - 1e-9 <= values[-1] <= worst + 1e-9


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st,
       weight=st.floats(0.0, 1.0))
def test_deo_objective_matches_formula(seed, n_classes, n_groups, n, weight):
    rng = np.random.default_rng(seed)
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    args = (t64(logits), tlong(y), tlong(groups), n_classes, n_groups)
    table, present = cell_ce(logits, y, groups, n_classes, n_groups)
    expected = (1 - weight) * nll(logits, y).mean() + weight * deo(table, present)
    assert_close(deo_objective(*args, fairness_weight=weight), expected, **TIGHT)
    default = 0.1 * nll(logits, y).mean() + 0.9 * deo(table, present)
    assert_close(deo_objective(*args), default, **TIGHT)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st)
def test_make_objective_dispatch(seed, n_classes, n_groups, n):
    rng = np.random.default_rng(seed)
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    x, t, g = t64(logits), tlong(y), tlong(groups)
    k, gg = n_classes, n_groups
    assert_close(make_objective("accuracy", k)(x, t), F.cross_entropy(x, t).item(), **TIGHT)
    assert_close(make_objective("balanced", k)(x, t), balanced_cross_entropy(x, t, k).item(),
                 **TIGHT)
    assert_close(make_objective("group_balanced", k, gg)(x, t, g),
                 group_balanced_cross_entropy(x, t, g, k, gg).item(), **TIGHT)
    assert_close(make_objective("worst_group", k, gg, temperature=0.3)(x, t, g),
                 worst_group_cross_entropy(x, t, g, k, gg, 0.3).item(), **TIGHT)
    assert_close(make_objective("deo", k, gg, fairness_weight=0.4)(x, t, g),
                 deo_objective(x, t, g, k, gg, 0.4).item(), **TIGHT)
    assert_close(make_objective("deo", k, gg)(x, t, g),
                 deo_objective(x, t, g, k, gg).item(), **TIGHT)


# ----------------------------------------------------------------------------
# Finite gradients


OBJECTIVES = ["accuracy", "balanced", "group_balanced", "worst_group", "deo"]


@FAST
@given(seed=seeds, name=st.sampled_from(OBJECTIVES), n_classes=n_classes_st,
       n_groups=n_groups_st, n=n_samples_st,
       dtype=st.sampled_from([torch.float32, torch.float64]),
       magnitude=st.sampled_from([1e4, 1e3, 50.0]), temperature=st.sampled_from([1e-3, 0.1, 5.0]))
def test_objective_gradients_finite_for_extreme_logits(seed, name, n_classes, n_groups, n, dtype,
                                                       magnitude, temperature):
    rng = np.random.default_rng(seed)
    objective = make_objective(name, n_classes, n_groups, temperature=temperature)
    logits = torch.as_tensor(rng.choice([-1.0, 0.0, 1.0], size=(n, n_classes)) * magnitude,
                             dtype=dtype).requires_grad_(True)
    present = rng.choice(n_classes, size=rng.integers(1, n_classes + 1), replace=False)
    y = tlong(rng.choice(present, size=n))
    groups = tlong(rng.integers(0, n_groups, size=n))
    out = objective(logits, y, groups)
    out.backward()
    assert out.dtype == dtype
    assert torch.isfinite(out)
    assert torch.all(torch.isfinite(logits.grad))


def test_objectives_ignore_absent_classes_and_cells():
    # A class with no sample in the batch contributes nothing (not a zero CE).
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    y, groups = torch.tensor([0, 1]), torch.tensor([0, 1])
    ce = F.cross_entropy(logits, y, reduction="none")
    assert balanced_cross_entropy(logits, y, 3).item() == pytest.approx(ce.mean().item())
    assert group_balanced_cross_entropy(logits, y, groups, 3, 2).item() == pytest.approx(
        ce.mean().item())
    assert worst_group_cross_entropy(logits, y, groups, 3, 2, 1e-4).item() == pytest.approx(
        ce.max().item(), abs=1e-3)


# ----------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(name="f1", n_classes=2), ValueError, "objective must be one of"),
    (dict(name="deo", n_classes=2), ValueError, "is a group objective"),
    (dict(name="worst_group", n_classes=2), ValueError, "is a group objective"),
    (dict(name="group_balanced", n_classes=2), ValueError, "is a group objective"),
    (dict(name="worst_group", n_classes=2, n_groups=2, temperature=0.0), ValueError,
     "temperature must be > 0"),
    (dict(name="worst_group", n_classes=2, n_groups=2, temperature=-1.0), ValueError,
     "temperature must be > 0"),
    (dict(name="deo", n_classes=2, n_groups=2, fairness_weight=1.5), ValueError,
     "fairness_weight must be <= 1"),
    (dict(name="deo", n_classes=2, n_groups=2, fairness_weight=-0.5), ValueError,
     "fairness_weight must be >= 0"),
    (dict(name="deo", n_classes=2, n_groups=2, fairness_weight="0.9"), TypeError,
     "fairness_weight must be a real number"),
])
def test_make_objective_bad_input(kwargs, exc, match):
    kwargs = dict(kwargs)
    name = kwargs.pop("name")
    with pytest.raises(exc, match=match):
        make_objective(name, **kwargs)
