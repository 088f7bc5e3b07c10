"""Losses outside the parametric family (_fixed.py): LDAM(-DRW), focal, GLA, GCA."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_autobalance.losses import (
    CrossEntropy,
    FocalLoss,
    GCALoss,
    GLALoss,
    LDAMLoss,
    LogitAdjustedLoss,
    WeightedCrossEntropy,
)

from ._reference import (
    assert_close,
    comp_sum,
    effective_weights,
    inverse_weights,
    log_softmax,
    n_classes_st,
    n_samples_st,
    nll,
    others_sum,
    priors,
    random_batch,
    random_cell_counts,
    random_counts,
    reduce,
    reductions,
    seeds,
    t64,
    tlong,
)

FAST = settings(max_examples=25, deadline=None)
qs = st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.9, 0.999])


def ldam_reference(logits, y, counts, max_margin, scale, weights=None):
    """-w_y log softmax(s (f - m_y e_y))_y with m_y = C / n_y^(1/4), max_y m_y = max_margin."""
    counts = np.asarray(counts, dtype=np.float64)
    c = max_margin / (1.0 / counts.min() ** 0.25)  # the rarest class has the largest margin
    margins = c / counts ** 0.25
    z = logits.copy()
    z[np.arange(len(y)), y] -= margins[y]
    w = np.ones(len(counts)) if weights is None else weights
    return w[y] * nll(scale * z, y)


# ----------------------------------------------------------------------------
# LDAM


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, reduction=reductions,
       max_margin=st.floats(0.0, 2.0), scale=st.sampled_from([1.0, 5.0, 30.0]))
def test_ldam_matches_formula(seed, n_classes, n, reduction, max_margin, scale):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes, scale=1.0)
    loss = LDAMLoss(counts, max_margin=max_margin, scale=scale, reduction=reduction)
    expected = reduce(ldam_reference(logits, y, counts, max_margin, scale), reduction)
    assert_close(loss(t64(logits), tlong(y)), expected, rtol=1e-9, atol=1e-9)
    margins = loss.margins.double().numpy()
    assert margins.max() == pytest.approx(max_margin)
    # Rarer classes get larger margins.
    order = np.argsort(counts)
    assert np.all(np.diff(margins[order]) <= 1e-12)


def test_ldam_docstring_margins():
    assert_close(LDAMLoss([625, 16]).margins, [0.2, 0.5], rtol=1e-12, atol=1e-12)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, drw_epoch=st.integers(0, 5),
       drw_beta=st.sampled_from([0.9, 0.999, 0.9999]), reduction=reductions)
def test_ldam_drw_switches_weights_on_at_drw_epoch(seed, n_classes, n, drw_epoch, drw_beta,
                                                   reduction):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes, scale=1.0)
    loss = LDAMLoss(counts, drw_epoch=drw_epoch, drw_beta=drw_beta, reduction=reduction)
    plain = reduce(ldam_reference(logits, y, counts, 0.5, 1.0), reduction)
    weighted = reduce(ldam_reference(logits, y, counts, 0.5, 1.0,
                                     effective_weights(counts, drw_beta)), reduction)
    x, t = t64(logits), tlong(y)
    # Before any set_epoch call: on only when drw_epoch == 0.
    assert_close(loss(x, t), weighted if drw_epoch == 0 else plain, rtol=1e-9, atol=1e-9)
    for epoch in range(drw_epoch + 3):
        loss.set_epoch(epoch)
        expected = weighted if epoch >= drw_epoch else plain
        assert_close(loss(x, t), expected, rtol=1e-9, atol=1e-9)
    # The schedule is a function of the epoch, not a latch.
    loss.set_epoch(0)
    assert_close(loss(x, t), weighted if drw_epoch == 0 else plain, rtol=1e-9, atol=1e-9)


def test_ldam_without_drw_never_weights():
    counts = [500, 50, 5]
    loss = LDAMLoss(counts, reduction="none")
    rng = np.random.default_rng(0)
    logits, y, _ = random_batch(rng, 10, 3)
    before = loss(t64(logits), tlong(y))
    loss.set_epoch(10_000)
    assert torch.equal(loss(t64(logits), tlong(y)), before)
    assert_close(before, ldam_reference(logits, y, counts, 0.5, 1.0), rtol=1e-9, atol=1e-9)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, scale=st.floats(0.1, 30.0))
def test_ldam_zero_margin_is_scaled_ce(seed, n_classes, n, scale):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes, scale=1.0)
    x, t = t64(logits), tlong(y)
    out = LDAMLoss(counts, max_margin=0.0, scale=scale)(x, t)
    assert_close(out, F.cross_entropy(scale * x, t).item(), rtol=1e-10, atol=1e-10)
    if scale == 1.0:
        assert_close(out, CrossEntropy(counts)(x, t).item(), rtol=1e-10, atol=1e-10)


def test_ldam_margin_increases_loss():
    # A margin on the true logit can only increase the loss.
    rng = np.random.default_rng(2)
    logits, y, _ = random_batch(rng, 30, 4)
    counts = [400, 100, 20, 5]
    a = LDAMLoss(counts, max_margin=0.0, reduction="none")(t64(logits), tlong(y))
    b = LDAMLoss(counts, max_margin=0.5, reduction="none")(t64(logits), tlong(y))
    assert torch.all(b > a)


# ----------------------------------------------------------------------------
# Focal


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, reduction=reductions,
       gamma=st.floats(0.0, 5.0), weighting=st.sampled_from([None, "inverse", "effective"]))
def test_focal_matches_formula(seed, n_classes, n, reduction, gamma, weighting):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    loss = FocalLoss(counts, gamma=gamma, weighting=weighting, reduction=reduction)
    w = {None: np.ones(n_classes), "inverse": inverse_weights(counts),
         "effective": effective_weights(counts, 0.9999)}[weighting]
    log_p = log_softmax(logits)[np.arange(n), y]
    p = np.exp(log_p)
    expected = reduce(-w[y] * (1.0 - p) ** gamma * log_p, reduction)
    assert_close(loss(t64(logits), tlong(y)), expected, rtol=1e-8, atol=1e-10)


def test_focal_docstring_value():
    out = FocalLoss([5, 5], gamma=2.0)(torch.zeros(1, 2), torch.tensor([0]))
    assert out.item() == pytest.approx(0.25 * np.log(2), rel=1e-6)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st)
def test_focal_gamma_zero_is_ce_and_weighted_ce(seed, n_classes, n):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    x, t = t64(logits), tlong(y)
    assert_close(FocalLoss(counts, gamma=0.0)(x, t), CrossEntropy(counts)(x, t).item(),
                 rtol=1e-10, atol=1e-10)
    assert_close(FocalLoss(counts, gamma=0.0, weighting="inverse")(x, t),
                 WeightedCrossEntropy(counts)(x, t).item())


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, gamma=st.floats(0.1, 5.0))
def test_focal_down_weights_easy_examples(seed, n_classes, n, gamma):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    x, t = t64(logits), tlong(y)
    ce = CrossEntropy(counts, reduction="none")(x, t)
    focal = FocalLoss(counts, gamma=gamma, reduction="none")(x, t)
    assert torch.all(focal <= ce + 1e-12) and torch.all(focal >= 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("gamma", [0.01, 0.25, 0.5, 0.9])
def test_focal_gradient_finite_when_true_class_is_certain(gamma, dtype):
    # With gamma in (0, 1) the focus term (1 - p)^gamma has an infinite derivative at
    # p = 1; at a saturated logit (p_y == 1 exactly) the backward pass must not give NaN.
    loss = FocalLoss([5, 5], gamma=gamma)
    logits = torch.tensor([[1e4, -1e4], [0.0, 1.0]], dtype=dtype, requires_grad=True)
    out = loss(logits, torch.tensor([0, 1]))
    out.backward()
    assert torch.isfinite(out)
    assert torch.all(torch.isfinite(logits.grad)), logits.grad


# ----------------------------------------------------------------------------
# GLA and GCA


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, reduction=reductions, q=qs,
       tau=st.floats(0.0, 2.0))
def test_gla_matches_formula(seed, n_classes, n, reduction, q, tau):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    loss = GLALoss(counts, q=q, tau=tau, reduction=reduction)
    h = logits + tau * np.log(priors(counts))
    # Comp-sum form of METHOD.md ...
    expected = comp_sum(others_sum(h, y), q)
    # ... equals the docstring's (1 - p_y^q) / q form.
    p = np.exp(log_softmax(h)[np.arange(n), y])
    docstring = -np.log(p) if q == 0 else (1.0 - p ** q) / q
    np.testing.assert_allclose(expected, docstring, rtol=1e-8, atol=1e-10)
    assert_close(loss(t64(logits), tlong(y)), reduce(expected, reduction), rtol=1e-8,
                 atol=1e-10)


def test_gla_docstring_value():
    out = GLALoss([90, 10], q=0.5)(torch.zeros(1, 2), torch.tensor([1]))
    assert out.item() == pytest.approx((1 - 0.1 ** 0.5) / 0.5, rel=1e-6)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, tau=st.floats(0.0, 2.0))
def test_gla_q_zero_is_la(seed, n_classes, n, tau):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    x, t = t64(logits), tlong(y)
    assert_close(GLALoss(counts, q=0.0, tau=tau, reduction="none")(x, t),
                 LogitAdjustedLoss(counts, tau=tau, reduction="none")(x, t).detach().numpy())


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, q=st.floats(0.05, 0.99))
def test_gla_bounded_by_one_over_q(seed, n_classes, n, q):
    # The MAE-like members are bounded: (1 - p^q) / q <= 1 / q, even for wrong,
    # confident predictions.
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes, scale=100.0)
    out = GLALoss(counts, q=q, reduction="none")(t64(logits), tlong(y))
    assert torch.all(out >= 0) and torch.all(out <= 1.0 / q + 1e-12)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st, reduction=reductions, q=qs,
       margin_power=st.floats(0.0, 1.5))
def test_gca_matches_formula(seed, n_classes, n, reduction, q, margin_power):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    loss = GCALoss(counts, q=q, margin_power=margin_power, reduction=reduction)
    rho = (counts.max() / counts) ** margin_power
    assert_close(loss.rho, rho, rtol=1e-12, atol=0)
    assert np.all(loss.rho.numpy() >= 1.0)
    w = inverse_weights(counts)
    u = others_sum(logits / rho[y][:, None], y)
    expected = reduce(w[y] * comp_sum(u, q), reduction)
    assert_close(loss(t64(logits), tlong(y)), expected, rtol=1e-8, atol=1e-10)


def test_gca_docstring_rho():
    assert_close(GCALoss([800, 100]).rho, [1.0, 2.0], rtol=1e-12, atol=1e-12)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n=n_samples_st)
def test_gca_q_zero_no_margin_is_inverse_weighted_ce(seed, n_classes, n):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_classes)
    logits, y, _ = random_batch(rng, n, n_classes)
    x, t = t64(logits), tlong(y)
    gca = GCALoss(counts, q=0.0, margin_power=0.0, reduction="none")(x, t)
    wce = WeightedCrossEntropy(counts, reduction="none")(x, t)
    assert_close(gca, wce.detach().numpy())


# ----------------------------------------------------------------------------
# Finite gradients


def _factories():
    return [
        lambda c: LDAMLoss(c),
        lambda c: LDAMLoss(c, scale=30.0, drw_epoch=0),
        lambda c: FocalLoss(c),
        lambda c: FocalLoss(c, gamma=0.0, weighting="inverse"),
        lambda c: FocalLoss(c, gamma=1.0, weighting="effective"),
        lambda c: FocalLoss(c, gamma=3.0),
        lambda c: GLALoss(c),
        lambda c: GLALoss(c, q=0.0),
        lambda c: GLALoss(c, q=0.9, tau=2.0),
        lambda c: GCALoss(c),
        lambda c: GCALoss(c, q=0.0, margin_power=1.0),
    ]


@FAST
@given(seed=seeds, which=st.integers(0, len(_factories()) - 1), n_classes=n_classes_st,
       n=n_samples_st, dtype=st.sampled_from([torch.float32, torch.float64]),
       reduction=reductions, magnitude=st.sampled_from([1e4, 1e3, 50.0]),
       two_d=st.booleans())
def test_gradients_finite_for_extreme_logits(seed, which, n_classes, n, dtype, reduction,
                                             magnitude, two_d):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, 2) if two_d else random_counts(rng, n_classes)
    loss = _factories()[which](counts).to(dtype)
    loss.reduction = reduction
    logits = torch.as_tensor(rng.choice([-1.0, 0.0, 1.0], size=(n, n_classes)) * magnitude,
                             dtype=dtype).requires_grad_(True)
    present = rng.choice(n_classes, size=rng.integers(1, n_classes + 1), replace=False)
    y = tlong(rng.choice(present, size=n))
    out = loss(logits, y)
    assert out.dtype == dtype
    out.sum().backward()
    assert torch.all(torch.isfinite(out))
    assert torch.all(torch.isfinite(logits.grad))


# ----------------------------------------------------------------------------
# Bad input

CLASSES = [LDAMLoss, FocalLoss, GLALoss, GCALoss]


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("counts, match", [
    (np.ones((2, 2, 2)), "1-D .* or 2-D"),
    ([5], "at least 2 classes"),
    ([5, -1, 3], "finite and non-negative"),
    ([5, np.nan, 3], "finite and non-negative"),
    ([5, 0, 3], r"classes \[1\] have no training samples"),
    ([[5, 0], [0, 0]], r"classes \[1\] have no training samples"),
])
def test_bad_counts(cls, counts, match):
    with pytest.raises(ValueError, match=match):
        cls(counts)


@pytest.mark.parametrize("cls", CLASSES)
def test_negative_cell_count_rejected_even_when_class_total_positive(cls):
    with pytest.raises(ValueError, match="non-negative"):
        cls([[5, -1], [3, 3]])


@pytest.mark.parametrize("cls", CLASSES)
def test_unknown_reduction(cls):
    with pytest.raises(ValueError, match="reduction must be one of"):
        cls([3, 4], reduction="max")


@pytest.mark.parametrize("make, exc, match", [
    (lambda: LDAMLoss([3, 4], max_margin=-0.1), ValueError, "max_margin must be >= 0"),
    (lambda: LDAMLoss([3, 4], scale=0.0), ValueError, "scale must be > 0"),
    (lambda: LDAMLoss([3, 4], scale="30"), TypeError, "scale must be a real number"),
    (lambda: LDAMLoss([3, 4], drw_epoch=-1), ValueError, "drw_epoch must be a non-negative int"),
    (lambda: LDAMLoss([3, 4], drw_epoch=1.5), ValueError, "drw_epoch must be a non-negative int"),
    (lambda: LDAMLoss([3, 4], drw_epoch=True), ValueError, "drw_epoch must be a non-negative int"),
    (lambda: LDAMLoss([3, 4], drw_epoch=2, drw_beta=1.0), ValueError, "beta must be < 1"),
    (lambda: LDAMLoss([3, 4], drw_epoch=2, drw_beta=-0.1), ValueError, "beta must be >= 0"),
    (lambda: FocalLoss([3, 4], gamma=-1.0), ValueError, "gamma must be >= 0"),
    (lambda: FocalLoss([3, 4], gamma=np.nan), ValueError, "gamma must be >= 0"),
    (lambda: FocalLoss([3, 4], weighting="balanced"), ValueError,
     "weighting must be 'inverse' or 'effective'"),
    (lambda: GLALoss([3, 4], q=1.0), ValueError, "q must be < 1"),
    (lambda: GLALoss([3, 4], q=1.5), ValueError, "q must be < 1"),
    (lambda: GLALoss([3, 4], q=-0.1), ValueError, "q must be >= 0"),
    (lambda: GLALoss([3, 4], tau=-1.0), ValueError, "tau must be >= 0"),
    (lambda: GCALoss([3, 4], q=1.0), ValueError, "q must be < 1"),
    (lambda: GCALoss([3, 4], margin_power=-0.5), ValueError, "margin_power must be >= 0"),
    (lambda: GCALoss([3, 4], q=None), TypeError, "q must be a real number"),
])
def test_bad_hyper_parameters(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# ----------------------------------------------------------------------------
# Buffers and dtype


@pytest.mark.parametrize("make, buffers", [
    (lambda: LDAMLoss([30, 10, 5], drw_epoch=1), ("margins", "drw_weights")),
    (lambda: FocalLoss([30, 10, 5], weighting="inverse"), ("w",)),
    (lambda: GLALoss([30, 10, 5]), ("l",)),
    (lambda: GCALoss([30, 10, 5]), ("w", "rho")),
], ids=["ldam", "focal", "gla", "gca"])
def test_buffers_follow_dtype_and_no_parameters(make, buffers):
    loss = make()
    assert list(loss.parameters()) == []
    names = dict(loss.named_buffers())
    assert set(buffers) <= set(names)
    x32 = torch.tensor([[1.0, -1.0, 0.5], [0.2, 0.3, -2.0]])
    y = torch.tensor([0, 2])
    loss.set_epoch(3)
    base = loss.to(torch.float64)(x32.double(), y)
    assert base.dtype == torch.float64
    for name in buffers:
        assert getattr(loss, name).dtype == torch.float64
    loss.to(torch.float32)
    for name in buffers:
        assert getattr(loss, name).dtype == torch.float32
    out = loss(x32, y)
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(base.item(), rel=1e-6)


def test_ldam_drw_flag_is_a_buffer_that_survives_dtype_moves():
    loss = LDAMLoss([30, 10], drw_epoch=1)
    assert "weights_on" in dict(loss.named_buffers())
    loss.set_epoch(1)
    loss = loss.to(torch.float64)
    assert loss.weights_on.dtype == torch.bool and bool(loss.weights_on)
    state = loss.state_dict()
    fresh = LDAMLoss([30, 10], drw_epoch=1)
    fresh.load_state_dict(state)
    assert bool(fresh.weights_on)
