"""The parametric family (w, l, Delta) and its fixed members (_parametric.py)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_autobalance.losses import (
    CDTLoss,
    CrossEntropy,
    GroupBalancedCrossEntropy,
    GroupLogitAdjustedLoss,
    LogitAdjustedLoss,
    ParametricCrossEntropy,
    VSLoss,
    WeightedCrossEntropy,
    parametric_cross_entropy,
)
from sklearn_autobalance.losses._parametric import delta_from_multiplier

from ._reference import (
    assert_close,
    effective_weights,
    inverse_weights,
    n_classes_st,
    n_groups_st,
    n_samples_st,
    nll,
    priors,
    random_batch,
    random_cell_counts,
    random_counts,
    reduce,
    reductions,
    seeds,
    sigmoid,
    t64,
    tlong,
)

FAST = settings(max_examples=25, deadline=None)


def parametric_reference(logits, y, w, l, delta, groups=None, delta_scale=2.0):
    """Per-sample w_{y g} CE(delta_scale sigma(Delta_{. g}) f + l_{. g} - mean_k l_{k g}, y)."""
    w, l, delta = (np.asarray(a, dtype=np.float64) for a in (w, l, delta))
    n = len(y)
    if w.ndim == 1:
        mult = np.broadcast_to(delta_scale * sigmoid(delta), (n, len(delta)))
        shift = np.broadcast_to(l - l.mean(), (n, len(l)))
        weight = w[y]
    else:
        centred = l - l.mean(axis=0, keepdims=True)
        mult = (delta_scale * sigmoid(delta))[:, groups].T
        shift = centred[:, groups].T
        weight = w[y, groups]
    return weight * nll(mult * logits + shift, y)


# ----------------------------------------------------------------------------
# 1. Every loss matches a NumPy evaluation of its formula


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, reduction=reductions,
       delta_scale=st.sampled_from([2.0, 1.0, 3.5]))
def test_parametric_1d_matches_formula(seed, n_classes, n, reduction, delta_scale):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    w = rng.uniform(0.1, 3.0, n_classes)
    l = rng.normal(scale=2.0, size=n_classes)
    delta = rng.normal(scale=2.0, size=n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    loss = ParametricCrossEntropy(counts, w=w, l=l, delta=delta, delta_scale=delta_scale,
                                  reduction=reduction)
    out = loss(t64(logits), tlong(y))
    expected = reduce(parametric_reference(logits, y, w, l, delta, delta_scale=delta_scale),
                      reduction)
    assert out.shape == np.shape(expected)
    assert out.dtype == torch.float64
    assert_close(out, expected)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st,
       reduction=reductions)
def test_parametric_2d_matches_formula(seed, n_classes, n_groups, n, reduction):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, n_groups)
    shape = (n_classes, n_groups)
    w = rng.uniform(0.1, 3.0, shape)
    l = rng.normal(scale=2.0, size=shape)
    delta = rng.normal(scale=2.0, size=shape)
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    loss = ParametricCrossEntropy(counts, w=w, l=l, delta=delta, reduction=reduction)
    assert loss.n_groups == n_groups
    out = loss(t64(logits), tlong(y), tlong(groups))
    expected = reduce(parametric_reference(logits, y, w, l, delta, groups), reduction)
    assert_close(out, expected)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=st.integers(2, 4), n=n_samples_st)
def test_parametric_2d_broadcasts_1d_params_over_groups(seed, n_classes, n_groups, n):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, n_groups)
    w = rng.uniform(0.1, 3.0, n_classes)
    l = rng.normal(size=n_classes)
    delta = rng.normal(size=n_classes)
    loss = ParametricCrossEntropy(counts, w=w, l=l, delta=delta, reduction="none")
    assert tuple(loss.w.shape) == (n_classes, n_groups)
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    out = loss(t64(logits), tlong(y), tlong(groups))
    # Same parameters in every group: the group is irrelevant.
    assert_close(out, parametric_reference(logits, y, w, l, delta))


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, reduction=reductions)
def test_functional_matches_module_and_formula(seed, n_classes, n, reduction):
    rng = np.random.default_rng(seed)
    w, l, delta = rng.uniform(0.1, 2, n_classes), rng.normal(size=n_classes), \
        rng.normal(size=n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    out = parametric_cross_entropy(t64(logits), tlong(y), t64(w), t64(l), t64(delta),
                                   reduction=reduction)
    expected = reduce(parametric_reference(logits, y, w, l, delta), reduction)
    # Everything in float64: tight tolerance.
    assert_close(out, expected, rtol=1e-10, atol=1e-10)


def test_parametric_default_is_plain_cross_entropy():
    rng = np.random.default_rng(0)
    logits, y, _ = random_batch(rng, 30, 4)
    loss = ParametricCrossEntropy([5, 6, 7, 8])
    assert_close(loss(t64(logits), tlong(y)), F.cross_entropy(t64(logits), tlong(y)).item(),
                 rtol=1e-12, atol=1e-12)


def test_reduction_mean_is_over_samples_not_weights():
    # sum_i w_{y_i} ce_i / N, not / sum_i w_{y_i}.
    logits = torch.zeros(3, 2, dtype=torch.float64)
    y = torch.tensor([0, 0, 1])
    loss = ParametricCrossEntropy([1, 1], w=[1.0, 4.0])
    assert loss(logits, y).item() == pytest.approx(np.log(2) * (1 + 1 + 4) / 3)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, reduction=reductions)
def test_cross_entropy_matches_formula(seed, n_classes, n, reduction):
    rng = np.random.default_rng(seed)
    logits, y, _ = random_batch(rng, n, n_classes)
    loss = CrossEntropy(random_counts(rng, n_classes), reduction=reduction)
    assert_close(loss(t64(logits), tlong(y)), reduce(nll(logits, y), reduction),
                 rtol=1e-10, atol=1e-10)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st)
def test_cross_entropy_from_cell_counts_ignores_groups(seed, n_classes, n_groups, n):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, n_groups)
    loss = CrossEntropy(counts, reduction="none")
    assert loss.n_groups is None
    np.testing.assert_allclose(loss.counts, counts.sum(axis=1))
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    assert_close(loss(t64(logits), tlong(y), tlong(groups)), nll(logits, y))


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, reduction=reductions)
def test_weighted_ce_inverse_matches_formula(seed, n_classes, n, reduction):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    loss = WeightedCrossEntropy(counts, reduction=reduction)
    w = inverse_weights(counts)
    assert_close(loss.w, w)
    assert np.sum(priors(counts) * loss.w.double().numpy()) == pytest.approx(1.0, rel=1e-6)
    assert_close(loss(t64(logits), tlong(y)), reduce(w[y] * nll(logits, y), reduction))


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, reduction=reductions,
       beta=st.sampled_from([0.0, 0.5, 0.9, 0.99, 0.999, 0.9999]))
def test_weighted_ce_effective_matches_formula(seed, n_classes, n, reduction, beta):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    loss = WeightedCrossEntropy(counts, weighting="effective", beta=beta, reduction=reduction)
    w = effective_weights(counts, beta)
    assert_close(loss.w, w)
    assert np.sum(priors(counts) * loss.w.double().numpy()) == pytest.approx(1.0, rel=1e-6)
    # Rarer classes never get a smaller weight.
    order = np.argsort(counts)
    assert np.all(np.diff(w[order]) <= 1e-12)
    assert_close(loss(t64(logits), tlong(y)), reduce(w[y] * nll(logits, y), reduction))


def test_weighted_ce_docstring_weights():
    assert_close(WeightedCrossEntropy([75, 25]).w, [2 / 3, 2.0])


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, reduction=reductions,
       tau=st.floats(0.0, 3.0))
def test_logit_adjusted_matches_formula(seed, n_classes, n, reduction, tau):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    loss = LogitAdjustedLoss(counts, tau=tau, reduction=reduction)
    z = logits + tau * np.log(priors(counts))
    assert_close(loss(t64(logits), tlong(y)), reduce(nll(z, y), reduction))


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, reduction=reductions,
       gamma=st.floats(0.0, 1.0))
def test_cdt_matches_formula(seed, n_classes, n, reduction, gamma):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    loss = CDTLoss(counts, gamma=gamma, reduction=reduction)
    mult = (counts / counts.max()) ** gamma
    assert_close(loss.effective_params()["delta"], mult)
    assert_close(loss(t64(logits), tlong(y)), reduce(nll(mult * logits, y), reduction))


def test_cdt_docstring_multipliers():
    assert_close(CDTLoss([100, 10], gamma=0.3).effective_params()["delta"],
                 [1.0, 0.1 ** 0.3], atol=1e-6)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, reduction=reductions,
       gamma=st.floats(0.0, 1.0), tau=st.floats(0.0, 3.0))
def test_vs_matches_formula(seed, n_classes, n, reduction, gamma, tau):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    loss = VSLoss(counts, gamma=gamma, tau=tau, reduction=reduction)
    z = (counts / counts.max()) ** gamma * logits + tau * np.log(priors(counts))
    assert_close(loss(t64(logits), tlong(y)), reduce(nll(z, y), reduction))


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st,
       reduction=reductions)
def test_group_balanced_ce_matches_formula(seed, n_classes, n_groups, n, reduction):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, n_groups)
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    loss = GroupBalancedCrossEntropy(counts, reduction=reduction)
    pi = counts / counts.sum()
    n_cells = np.count_nonzero(counts)
    w = np.where(counts > 0, 1.0 / (n_cells * np.where(counts > 0, pi, 1.0)), 0.0)
    assert_close(loss.w, w)
    # Expected weight under the training cell distribution is 1.
    assert np.sum(pi * loss.w.double().numpy()) == pytest.approx(1.0, rel=1e-6)
    expected = reduce(w[y, groups] * nll(logits, y), reduction)
    assert_close(loss(t64(logits), tlong(y), tlong(groups)), expected)


def test_group_balanced_ce_docstring_weights():
    w = GroupBalancedCrossEntropy([[30, 10], [10, 50]]).w
    assert_close(w, [[100 / 120, 100 / 40], [100 / 40, 100 / 200]])


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st,
       reduction=reductions, tau=st.floats(0.0, 2.0))
def test_group_logit_adjusted_matches_formula(seed, n_classes, n_groups, n, reduction, tau):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, n_groups)
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    loss = GroupLogitAdjustedLoss(counts, tau=tau, reduction=reduction)
    filled = np.maximum(counts, 1.0)  # empty cells count as one sample
    log_pi = np.log(filled / filled.sum())
    z = logits + tau * log_pi[:, groups].T
    expected = reduce(nll(z, y), reduction)
    assert_close(loss(t64(logits), tlong(y), tlong(groups)), expected)
    # Within a group, LA with the group's class frequencies P(k | g).
    for g in range(n_groups):
        mask = groups == g
        if mask.any():
            cond = filled[:, g] / filled[:, g].sum()
            la = nll(logits[mask] + tau * np.log(cond), y[mask])
            if reduction == "none":
                assert_close(loss(t64(logits), tlong(y), tlong(groups))[mask], la)


# ----------------------------------------------------------------------------
# 2. Identities


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st)
def test_la_tau_zero_is_ce(seed, n_classes, n):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    x, t = t64(logits), tlong(y)
    assert_close(LogitAdjustedLoss(counts, tau=0.0)(x, t), CrossEntropy(counts)(x, t),
                 rtol=1e-12, atol=1e-12)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, tau=st.floats(0.0, 3.0),
       gamma=st.floats(0.0, 1.0))
def test_vs_reduces_to_la_and_cdt(seed, n_classes, n, tau, gamma):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    x, t = t64(logits), tlong(y)
    kw = dict(reduction="none")
    assert_close(VSLoss(counts, gamma=0.0, tau=tau, **kw)(x, t),
                 LogitAdjustedLoss(counts, tau=tau, **kw)(x, t).detach().numpy(),
                 rtol=1e-12, atol=1e-12)
    assert_close(VSLoss(counts, gamma=gamma, tau=0.0, **kw)(x, t),
                 CDTLoss(counts, gamma=gamma, **kw)(x, t).detach().numpy(),
                 rtol=1e-12, atol=1e-12)


def _named_members(counts, tau, gamma):
    """(named loss, its (w, l, multiplier) written from the documented formulas)."""
    k = len(counts)
    pi = priors(counts)
    mult = (counts / counts.max()) ** gamma
    ones, zeros = np.ones(k), np.zeros(k)
    return [
        (CrossEntropy(counts), ones, zeros, ones),
        (WeightedCrossEntropy(counts), inverse_weights(counts), zeros, ones),
        (LogitAdjustedLoss(counts, tau=tau), ones, tau * np.log(pi), ones),
        (CDTLoss(counts, gamma=gamma), ones, zeros, mult),
        (VSLoss(counts, gamma=gamma, tau=tau), ones, tau * np.log(pi), mult),
    ]


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, tau=st.floats(0.0, 3.0),
       gamma=st.floats(0.0, 1.0))
def test_parametric_family_reproduces_named_losses(seed, n_classes, n, tau, gamma):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    x, t = t64(logits), tlong(y)
    for named, w, l, mult in _named_members(counts, tau, gamma):
        named.reduction = "none"
        expected = named(x, t).detach().numpy()
        # From the documented (w, l, multiplier) ...
        fam = ParametricCrossEntropy(counts, w=w, l=l, delta=delta_from_multiplier(mult),
                                     reduction="none")
        assert_close(fam(x, t), expected, rtol=1e-5, atol=1e-5)
        # ... and from the named loss's own effective parameters.
        eff = named.effective_params()
        assert_close(eff["w"], w)
        assert_close(eff["l"], l - l.mean())
        assert_close(eff["delta"], mult)
        fam = ParametricCrossEntropy(counts, w=eff["w"], l=eff["l"],
                                     delta=delta_from_multiplier(eff["delta"]), reduction="none")
        assert_close(fam(x, t), expected, rtol=1e-5, atol=1e-5)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st,
       tau=st.floats(0.0, 2.0))
def test_parametric_family_reproduces_group_losses(seed, n_classes, n_groups, n, tau):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, n_groups)
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    args = (t64(logits), tlong(y), tlong(groups))
    for named in (GroupBalancedCrossEntropy(counts, reduction="none"),
                  GroupLogitAdjustedLoss(counts, tau=tau, reduction="none")):
        eff = named.effective_params()
        fam = ParametricCrossEntropy(counts, w=eff["w"], l=eff["l"],
                                     delta=delta_from_multiplier(eff["delta"]), reduction="none")
        assert_close(fam(*args), named(*args).detach().numpy())


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, shift=st.floats(-50, 50))
def test_shift_of_l_changes_nothing_1d(seed, n_classes, n, shift):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    w, l, delta = rng.uniform(0.1, 2, n_classes), rng.normal(size=n_classes), \
        rng.normal(size=n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    a = ParametricCrossEntropy(counts, w=w, l=l, delta=delta, reduction="none")
    b = ParametricCrossEntropy(counts, w=w, l=l + shift, delta=delta, reduction="none")
    assert_close(a(t64(logits), tlong(y)), b(t64(logits), tlong(y)).detach().numpy(),
                 rtol=1e-5, atol=1e-4)
    assert_close(a.effective_params()["l"], b.effective_params()["l"], atol=1e-4)
    assert abs(a.effective_params()["l"].sum()) < 1e-4


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=st.integers(2, 4), n=n_samples_st)
def test_per_group_shift_of_l_changes_nothing_2d(seed, n_classes, n_groups, n):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, n_groups)
    shape = (n_classes, n_groups)
    w, l, delta = rng.uniform(0.1, 2, shape), rng.normal(size=shape), rng.normal(size=shape)
    shift = rng.uniform(-20, 20, n_groups)  # a different constant in each group column
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    args = (t64(logits), tlong(y), tlong(groups))
    a = ParametricCrossEntropy(counts, w=w, l=l, delta=delta, reduction="none")
    b = ParametricCrossEntropy(counts, w=w, l=l + shift[None, :], delta=delta, reduction="none")
    assert_close(a(*args), b(*args).detach().numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(a.effective_params()["l"].sum(axis=0), 0.0, atol=1e-5)


def test_functional_shift_invariance_keeps_gradient_of_l_centred():
    # The centring makes grad_l orthogonal to the all-ones direction.
    rng = np.random.default_rng(3)
    logits, y, _ = random_batch(rng, 20, 5)
    l = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    out = parametric_cross_entropy(t64(logits), tlong(y), torch.ones(5, dtype=torch.float64), l,
                                   torch.zeros(5, dtype=torch.float64))
    out.backward()
    assert abs(l.grad.sum().item()) < 1e-12


def test_delta_from_multiplier_inverts_the_squashing():
    mult = np.array([0.01, 0.5, 1.0, 1.5, 1.99])
    delta = delta_from_multiplier(mult)
    np.testing.assert_allclose(2.0 * sigmoid(delta), mult, rtol=1e-12)
    assert delta_from_multiplier(1.0) == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(3.0 * sigmoid(delta_from_multiplier(mult, 3.0)), mult, rtol=1e-12)
    with pytest.raises(ValueError, match="multipliers must lie in"):
        delta_from_multiplier([0.5, 2.0])
    with pytest.raises(ValueError, match="multipliers must lie in"):
        delta_from_multiplier([0.0, 1.0])


# ----------------------------------------------------------------------------
# 3. Finite gradients (parameters included)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st,
       dtype=st.sampled_from([torch.float32, torch.float64]), two_d=st.booleans())
def test_parametric_gradients_finite_for_extreme_logits(seed, n_classes, n, dtype, two_d):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, 3) if two_d else random_counts(rng, n_classes)
    shape = counts.shape
    loss = ParametricCrossEntropy(counts, w=rng.uniform(0.1, 2, shape),
                                  l=rng.normal(scale=5, size=shape),
                                  delta=rng.normal(scale=5, size=shape)).to(dtype)
    for name in ("w", "l", "delta"):
        getattr(loss, name).requires_grad_(True)
    logits = torch.as_tensor(rng.choice([-1e4, 0.0, 1e4], size=(n, n_classes)), dtype=dtype)
    logits.requires_grad_(True)
    y = tlong(rng.integers(0, max(1, n_classes - 1), size=n))  # the last class is absent
    groups = tlong(rng.integers(0, 3, size=n)) if two_d else None
    out = loss(logits, y, groups)
    out.backward()
    assert torch.isfinite(out)
    for g in (logits.grad, loss.w.grad, loss.l.grad, loss.delta.grad):
        assert g is not None and torch.all(torch.isfinite(g))
    # A class absent from the batch gets no weight gradient.
    assert torch.all(loss.w.grad[n_classes - 1] == 0)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st,
       dtype=st.sampled_from([torch.float32, torch.float64]))
def test_functional_gradients_finite_for_extreme_logits(seed, n_classes, n, dtype):
    rng = np.random.default_rng(seed)
    params = [torch.as_tensor(a, dtype=dtype).requires_grad_(True) for a in (
        rng.uniform(0.1, 2, n_classes), rng.normal(scale=5, size=n_classes),
        rng.normal(scale=5, size=n_classes))]
    logits = (torch.as_tensor(rng.choice([-1, 1], size=(n, n_classes)), dtype=dtype)
              * 1e4).requires_grad_(True)
    y = tlong(rng.integers(0, n_classes, size=n))
    out = parametric_cross_entropy(logits, y, *params, reduction="sum")
    out.backward()
    assert torch.isfinite(out)
    assert torch.all(torch.isfinite(logits.grad))
    for p in params:
        assert torch.all(torch.isfinite(p.grad))


def test_parameter_gradients_match_finite_differences():
    rng = np.random.default_rng(7)
    logits, y, groups = random_batch(rng, 8, 3, 2)
    shape = (3, 2)
    params = [torch.as_tensor(a, dtype=torch.float64).requires_grad_(True) for a in (
        rng.uniform(0.5, 2, shape), rng.normal(size=shape), rng.normal(size=shape))]

    def f(*ps):
        return parametric_cross_entropy(t64(logits), tlong(y), *ps, tlong(groups))

    assert torch.autograd.gradcheck(f, params)


# ----------------------------------------------------------------------------
# 4. Bad input


@pytest.mark.parametrize("cls", [ParametricCrossEntropy, CrossEntropy, WeightedCrossEntropy,
                                 LogitAdjustedLoss, CDTLoss, VSLoss])
@pytest.mark.parametrize("counts, match", [
    ([[[1, 2], [3, 4]], [[1, 2], [3, 4]]], "1-D .* or 2-D"),
    ([5], "at least 2 classes"),
    ([5, -1, 3], "finite and non-negative"),
    ([5, np.nan, 3], "finite and non-negative"),
    ([5, np.inf, 3], "finite and non-negative"),
    ([5, 0, 3], r"classes \[1\] have no training samples"),
])
def test_bad_class_counts(cls, counts, match):
    with pytest.raises(ValueError, match=match):
        cls(counts)


@pytest.mark.parametrize("cls", [CrossEntropy, WeightedCrossEntropy, LogitAdjustedLoss, CDTLoss,
                                 VSLoss, ParametricCrossEntropy])
def test_negative_cell_count_rejected_even_when_class_total_positive(cls):
    # A negative (class, group) count is invalid whatever the row sum.
    with pytest.raises(ValueError, match="non-negative"):
        cls([[5, -1], [3, 3]])


def test_non_numeric_counts():
    with pytest.raises(TypeError, match="array of non-negative numbers"):
        ParametricCrossEntropy(["a", "b"])


@pytest.mark.parametrize("cls", [ParametricCrossEntropy, CrossEntropy, WeightedCrossEntropy,
                                 LogitAdjustedLoss, CDTLoss, VSLoss])
def test_unknown_reduction(cls):
    with pytest.raises(ValueError, match="reduction must be one of"):
        cls([3, 4], reduction="average")


@pytest.mark.parametrize("cls", [GroupBalancedCrossEntropy, GroupLogitAdjustedLoss])
def test_group_losses_need_cell_counts_and_groups(cls):
    with pytest.raises(ValueError, match=r"needs \(class, group\) counts"):
        cls([3, 4])
    loss = cls([[3, 4], [5, 0]])
    with pytest.raises(ValueError, match="call loss\\(logits, y, groups\\)"):
        loss(torch.zeros(2, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"classes \[1\] have no training samples"):
        cls([[3, 4], [0, 0]])


def test_parametric_2d_needs_groups():
    loss = ParametricCrossEntropy([[3, 4], [5, 6]])
    with pytest.raises(ValueError, match="call loss\\(logits, y, groups\\)"):
        loss(torch.zeros(2, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="need `groups`"):
        parametric_cross_entropy(torch.zeros(2, 2), torch.tensor([0, 1]), loss.w, loss.l,
                                 loss.delta)


@pytest.mark.parametrize("name", ["w", "l", "delta"])
def test_parametric_bad_param_shapes_and_values(name):
    with pytest.raises(ValueError, match=f"{name} must have shape"):
        ParametricCrossEntropy([3, 4, 5], **{name: [1.0, 2.0]})
    with pytest.raises(ValueError, match=f"{name} must have shape"):
        ParametricCrossEntropy([[3, 4], [5, 6]], **{name: [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        ParametricCrossEntropy([3, 4], **{name: [1.0, np.nan]})


@pytest.mark.parametrize("value, exc, match", [
    (0.0, ValueError, "delta_scale must be > 0"),
    (-1.0, ValueError, "delta_scale must be > 0"),
    (np.inf, ValueError, "delta_scale must be > 0"),
    ("2", TypeError, "delta_scale must be a real number"),
    (True, TypeError, "delta_scale must be a real number"),
])
def test_parametric_bad_delta_scale(value, exc, match):
    with pytest.raises(exc, match=match):
        ParametricCrossEntropy([3, 4], delta_scale=value)


@pytest.mark.parametrize("make, exc, match", [
    (lambda: LogitAdjustedLoss([3, 4], tau=-0.1), ValueError, "tau must be >= 0"),
    (lambda: LogitAdjustedLoss([3, 4], tau=np.nan), ValueError, "tau must be >= 0"),
    (lambda: LogitAdjustedLoss([3, 4], tau="1"), TypeError, "tau must be a real number"),
    (lambda: VSLoss([3, 4], tau=-1.0), ValueError, "tau must be >= 0"),
    (lambda: VSLoss([3, 4], gamma=-0.2), ValueError, "gamma must be >= 0"),
    (lambda: CDTLoss([3, 4], gamma=-0.3), ValueError, "gamma must be >= 0"),
    (lambda: GroupLogitAdjustedLoss([[3, 4], [5, 6]], tau=-1.0), ValueError, "tau must be >= 0"),
    (lambda: WeightedCrossEntropy([3, 4], weighting="sqrt"), ValueError,
     "weighting must be 'inverse' or 'effective'"),
    (lambda: WeightedCrossEntropy([3, 4], weighting="effective", beta=1.0), ValueError,
     "beta must be < 1"),
    (lambda: WeightedCrossEntropy([3, 4], weighting="effective", beta=-0.5), ValueError,
     "beta must be >= 0"),
])
def test_bad_hyper_parameters(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# ----------------------------------------------------------------------------
# 5. Buffers, dtype, requires_grad


def _all_parametric():
    cells = [[30, 10], [10, 50], [5, 0]]
    return [
        ParametricCrossEntropy([30, 10, 5]),
        ParametricCrossEntropy(cells),
        CrossEntropy([30, 10, 5]),
        WeightedCrossEntropy([30, 10, 5]),
        WeightedCrossEntropy([30, 10, 5], weighting="effective"),
        LogitAdjustedLoss([30, 10, 5]),
        CDTLoss([30, 10, 5]),
        VSLoss([30, 10, 5]),
        GroupBalancedCrossEntropy(cells),
        GroupLogitAdjustedLoss(cells),
    ]


@pytest.mark.parametrize("loss", _all_parametric(), ids=lambda m: type(m).__name__)
def test_buffers_follow_dtype_and_no_parameters(loss):
    assert list(loss.parameters()) == []
    names = {name for name, _ in loss.named_buffers()}
    assert {"w", "l", "delta"} <= names
    before = loss(torch.ones(3, 3), torch.tensor([0, 1, 2]), torch.tensor([0, 1, 0]))
    assert before.dtype == torch.float32
    loss64 = loss.to(torch.float64)
    for name in ("w", "l", "delta"):
        assert getattr(loss64, name).dtype == torch.float64
    out = loss64(torch.ones(3, 3, dtype=torch.float64), torch.tensor([0, 1, 2]),
                 torch.tensor([0, 1, 0]))
    assert out.dtype == torch.float64
    assert out.item() == pytest.approx(before.item(), rel=1e-6)
    assert set(loss64.state_dict()) >= {"w", "l", "delta"}


def test_requires_grad_on_buffers_gives_gradients():
    loss = LogitAdjustedLoss([50, 10, 2])
    for name in ("w", "l", "delta"):
        getattr(loss, name).requires_grad_(True)
    assert list(loss.parameters()) == []
    rng = np.random.default_rng(1)
    logits, y, _ = random_batch(rng, 12, 3)
    loss(torch.as_tensor(logits, dtype=torch.float32), tlong(y)).backward()
    for name in ("w", "l", "delta"):
        grad = getattr(loss, name).grad
        assert grad is not None and grad.shape == (3,) and torch.any(grad != 0)
    # d loss / d w_k = mean over samples of class k's CE * (count_k / N) > 0.
    assert torch.all(loss.w.grad[np.unique(y)] > 0)


def test_requires_grad_works_in_float64_module():
    loss = ParametricCrossEntropy([[3, 4], [5, 6]]).to(torch.float64)
    loss.delta.requires_grad_(True)
    out = loss(torch.randn(4, 2, dtype=torch.float64), torch.tensor([0, 1, 1, 0]),
               torch.tensor([0, 0, 1, 1]))
    out.backward()
    assert loss.delta.grad.dtype == torch.float64 and loss.delta.grad.shape == (2, 2)


def _named_factories():
    return [
        lambda c, cg: CrossEntropy(c),
        lambda c, cg: WeightedCrossEntropy(c),
        lambda c, cg: WeightedCrossEntropy(c, weighting="effective"),
        lambda c, cg: LogitAdjustedLoss(c, tau=1.5),
        lambda c, cg: CDTLoss(c, gamma=0.5),
        lambda c, cg: VSLoss(c, gamma=0.3, tau=1.0),
        lambda c, cg: GroupBalancedCrossEntropy(cg),
        lambda c, cg: GroupLogitAdjustedLoss(cg),
        lambda c, cg: ParametricCrossEntropy(cg),
    ]


@FAST
@given(seed=seeds, which=st.integers(0, len(_named_factories()) - 1), n_classes=n_classes_st,
       n=n_samples_st, dtype=st.sampled_from([torch.float32, torch.float64]),
       reduction=reductions, magnitude=st.sampled_from([1e4, 1e3, 50.0]))
def test_named_losses_finite_for_extreme_logits(seed, which, n_classes, n, dtype, reduction,
                                                magnitude):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    cell_counts = random_cell_counts(rng, n_classes, 3)
    loss = _named_factories()[which](counts, cell_counts).to(dtype)
    loss.reduction = reduction
    logits = torch.as_tensor(rng.choice([-1.0, 0.0, 1.0], size=(n, n_classes)) * magnitude,
                             dtype=dtype).requires_grad_(True)
    # Labels from a random subset of the classes: some classes absent from the batch.
    present = rng.choice(n_classes, size=rng.integers(1, n_classes + 1), replace=False)
    y = tlong(rng.choice(present, size=n))
    out = loss(logits, y, tlong(rng.integers(0, 3, size=n)))
    out.sum().backward()
    assert torch.all(torch.isfinite(out))
    assert torch.all(torch.isfinite(logits.grad))
