"""Group losses (_groups.py): CE_deo, online group DRO, blends."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_autobalance.losses import (
    BlendedLoss,
    CrossEntropy,
    DEOCrossEntropy,
    GroupBalancedCrossEntropy,
    GroupDROLoss,
    GroupLogitAdjustedLoss,
    LDAMLoss,
    WeightedCrossEntropy,
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
    random_cell_counts,
    seeds,
    t64,
    tlong,
)

FAST = settings(max_examples=25, deadline=None)


# ----------------------------------------------------------------------------
# CE_deo


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st)
def test_deo_matches_formula(seed, n_classes, n_groups, n):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, n_groups)
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    out = DEOCrossEntropy(counts)(t64(logits), tlong(y), tlong(groups))
    table, present = cell_ce(logits, y, groups, n_classes, n_groups)
    assert out.dim() == 0
    assert_close(out, deo(table, present), rtol=1e-9, atol=1e-9)


@FAST
@given(seed=seeds, n_per_cell=st.integers(1, 8))
def test_deo_two_by_two_is_symmetric_deo(seed, n_per_cell):
    # Li et al. eq. 4.1: |L_{+,1} - L_{+,2}| + |L_{-,1} - L_{-,2}|.
    rng = np.random.default_rng(seed)
    y = tlong(np.repeat([0, 0, 1, 1], n_per_cell))
    groups = tlong(np.repeat([0, 1, 0, 1], n_per_cell))
    perm = torch.as_tensor(rng.permutation(len(y)))
    y, groups = y[perm], groups[perm]
    logits = t64(rng.normal(scale=2.0, size=(len(y), 2)))
    ce = F.cross_entropy(logits, y, reduction="none")

    def cell(k, g):
        return ce[(y == k) & (groups == g)].mean()

    expected = (cell(1, 0) - cell(1, 1)).abs() + (cell(0, 0) - cell(0, 1)).abs()
    out = DEOCrossEntropy([[10, 10], [10, 10]])(logits, y, groups)
    assert_close(out, expected.item(), rtol=1e-12, atol=1e-12)


def test_deo_docstring_value():
    loss = DEOCrossEntropy([[10, 10], [10, 10]])
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    out = loss(logits, torch.tensor([0, 0]), torch.tensor([0, 1]))
    assert out.item() == pytest.approx(np.log(2) - np.log1p(np.exp(-2.0)), rel=1e-6)


def test_deo_ignores_classes_seen_in_one_group():
    loss = DEOCrossEntropy([[10, 10], [10, 10]])
    logits = torch.tensor([[3.0, 0.0], [-1.0, 2.0], [0.0, 5.0]], dtype=torch.float64,
                          requires_grad=True)
    out = loss(logits, torch.tensor([0, 0, 1]), torch.tensor([0, 0, 1]))
    assert out.item() == 0.0  # class 0 only in group 0, class 1 only in group 1
    out.backward()
    assert torch.all(logits.grad == 0)


def test_deo_is_zero_for_group_independent_predictions():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4, 3))
    logits = t64(np.concatenate([base, base]))
    y = tlong([0, 1, 2, 0, 0, 1, 2, 0])
    groups = tlong([0, 0, 0, 0, 1, 1, 1, 1])
    assert DEOCrossEntropy(np.full((3, 2), 5.0))(logits, y, groups).item() == pytest.approx(
        0.0, abs=1e-12)


# ----------------------------------------------------------------------------
# Group DRO


def _dro_reference_step(q, table, present, eta):
    """q_c <- q_c exp(eta L_c) for present cells, renormalised; loss = sum_c q_c L_c."""
    step = np.where(present.reshape(-1), eta * table.reshape(-1), 0.0)
    new = q * np.exp(step)
    new = new / new.sum()
    return new, float(np.sum(new * table.reshape(-1)))


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st,
       eta=st.sampled_from([0.0, 0.01, 0.1, 1.0]))
def test_group_dro_update_rule_two_steps(seed, n_classes, n_groups, n, eta):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, n_groups)
    loss = GroupDROLoss(counts, eta_q=eta)
    assert loss.training
    nonempty = (counts.reshape(-1) > 0).astype(float)
    q = nonempty / nonempty.sum()
    assert_close(loss.q, q, rtol=1e-6, atol=1e-7)
    for _ in range(2):
        logits, y, groups = random_batch(rng, n, n_classes, n_groups)
        table, present = cell_ce(logits, y, groups, n_classes, n_groups)
        q, expected = _dro_reference_step(q, table, present, eta)
        out = loss(t64(logits), tlong(y), tlong(groups))
        assert_close(loss.q, q, rtol=1e-5, atol=1e-7)
        assert_close(out, expected, rtol=1e-5, atol=1e-6)
        assert loss.q.sum().item() == pytest.approx(1.0, abs=1e-6)
        # Cells empty in the training data keep zero mass.
        assert torch.all(loss.q[torch.as_tensor(counts.reshape(-1) == 0)] == 0)


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st)
def test_group_dro_q_frozen_in_eval_mode(seed, n_classes, n_groups, n):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, n_groups)
    loss = GroupDROLoss(counts, eta_q=0.5)
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    loss(t64(logits), tlong(y), tlong(groups))  # one training step moves q
    q_before = loss.q.clone()
    loss.eval()
    for _ in range(2):
        logits, y, groups = random_batch(rng, n, n_classes, n_groups)
        out = loss(t64(logits), tlong(y), tlong(groups))
        assert torch.equal(loss.q, q_before)
        table, present = cell_ce(logits, y, groups, n_classes, n_groups)
        assert_close(out, float(np.sum(q_before.double().numpy() * table.reshape(-1))),
                     rtol=1e-6, atol=1e-7)
    # Back in training mode the update rule applies again.
    loss.train()
    loss(t64(logits), tlong(y), tlong(groups))
    expected_q, _ = _dro_reference_step(q_before.double().numpy(), table, present, 0.5)
    assert_close(loss.q, expected_q, rtol=1e-5, atol=1e-7)


def test_group_dro_moves_mass_to_the_worst_cell():
    loss = GroupDROLoss([[10, 10], [10, 10]], eta_q=1.0)
    y = torch.tensor([0, 0, 1, 1])
    groups = torch.tensor([0, 1, 0, 1])
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    for _ in range(20):
        loss(logits, y, groups)
    # Cell (1, 0) is misclassified: it has the largest loss.
    assert int(loss.q.argmax()) == 2 and loss.q[2] > 0.9


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_group_dro_q_survives_large_loss_gaps(dtype):
    # Exponentiated-gradient step in exact arithmetic: after a cell-0 batch with loss 150
    # q ~ [e^150, 1, 1, 1]; after a cell-1 batch with the same loss q ~ [e^150, e^150, 1, 1],
    # i.e. [0.5, 0.5, ~0, ~0]. q must stay a finite probability vector (no 0/0).
    loss = GroupDROLoss([[10, 10], [10, 10]], eta_q=1.0).to(dtype)
    y = torch.tensor([0])
    logits = torch.tensor([[-150.0, 0.0]], dtype=dtype)
    first = loss(logits, y, torch.tensor([0]))
    assert first.item() == pytest.approx(150.0, rel=1e-6)
    second = loss(logits, y, torch.tensor([1]))
    assert torch.all(torch.isfinite(loss.q)), loss.q
    assert torch.isfinite(second)
    assert_close(loss.q, [0.5, 0.5, 0.0, 0.0], rtol=1e-5, atol=1e-6)
    assert second.item() == pytest.approx(75.0, rel=1e-5)


def test_group_dro_docstring_q():
    assert_close(GroupDROLoss([[10, 10], [10, 0]]).q, [1 / 3, 1 / 3, 1 / 3, 0.0],
                 rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------
# Blends


@FAST
@given(seed=seeds, n_classes=n_classes_st, n_groups=n_groups_st, n=n_samples_st,
       lam=st.floats(0.0, 1.0))
def test_blended_loss_is_convex_combination(seed, n_classes, n_groups, n, lam):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, n_groups)
    logits, y, groups = random_batch(rng, n, n_classes, n_groups)
    args = (t64(logits), tlong(y), tlong(groups))
    for reg in (DEOCrossEntropy(counts), GroupBalancedCrossEntropy(counts),
                GroupLogitAdjustedLoss(counts)):
        blend = BlendedLoss(CrossEntropy(counts), reg, lam=lam)
        expected = (1 - lam) * nll(logits, y).mean() + lam * reg(*args).item()
        assert_close(blend(*args), expected, rtol=1e-5, atol=1e-6)


def test_blended_loss_endpoints_and_docstring():
    counts = [[10, 10], [10, 10]]
    args = (torch.zeros(2, 2), torch.tensor([0, 1]), torch.tensor([0, 1]))
    blend = BlendedLoss(CrossEntropy(counts), DEOCrossEntropy(counts), lam=0.0)
    assert blend(*args).item() == pytest.approx(np.log(2), rel=1e-6)
    blend = BlendedLoss(CrossEntropy(counts), DEOCrossEntropy(counts), lam=1.0)
    assert blend(*args).item() == pytest.approx(0.0, abs=1e-7)


def test_blended_loss_set_epoch_reaches_components():
    counts = [[10, 10], [10, 1]]
    ldam = LDAMLoss(counts, drw_epoch=2)
    blend = BlendedLoss(ldam, DEOCrossEntropy(counts), lam=0.5)
    blend.set_epoch(1)
    assert not bool(ldam.weights_on)
    blend.set_epoch(2)
    assert bool(ldam.weights_on)


def test_blended_loss_dtype_and_no_parameters():
    counts = [[10, 10], [10, 1]]
    blend = BlendedLoss(WeightedCrossEntropy(counts), GroupDROLoss(counts), lam=0.3)
    assert list(blend.parameters()) == []
    blend = blend.to(torch.float64)
    assert blend.base.w.dtype == torch.float64 and blend.regularizer.q.dtype == torch.float64
    out = blend(torch.randn(5, 2, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 0]),
                torch.tensor([0, 0, 1, 1, 1]))
    assert out.dtype == torch.float64


# ----------------------------------------------------------------------------
# Finite gradients


def _factories():
    return [
        lambda c: DEOCrossEntropy(c),
        lambda c: GroupDROLoss(c),
        lambda c: GroupDROLoss(c, eta_q=1.0),
        lambda c: BlendedLoss(CrossEntropy(c), DEOCrossEntropy(c), lam=0.9),
        lambda c: BlendedLoss(LDAMLoss(c, drw_epoch=0), GroupDROLoss(c), lam=0.5),
    ]


@FAST
@given(seed=seeds, which=st.integers(0, len(_factories()) - 1), n_classes=n_classes_st,
       n_groups=n_groups_st, n=n_samples_st, dtype=st.sampled_from([torch.float32,
                                                                     torch.float64]),
       magnitude=st.sampled_from([1e4, 1e3, 50.0]))
def test_gradients_finite_for_extreme_logits(seed, which, n_classes, n_groups, n, dtype,
                                             magnitude):
    rng = np.random.default_rng(seed)
    counts = random_cell_counts(rng, n_classes, n_groups, p_empty=0.0)
    loss = _factories()[which](counts).to(dtype)
    present = rng.choice(n_classes, size=rng.integers(1, n_classes + 1), replace=False)
    for _ in range(2):  # twice: GroupDRO's q after an extreme update
        logits = torch.as_tensor(rng.choice([-1.0, 0.0, 1.0], size=(n, n_classes)) * magnitude,
                                 dtype=dtype).requires_grad_(True)
        y = tlong(rng.choice(present, size=n))
        groups = tlong(rng.integers(0, n_groups, size=n))
        out = loss(logits, y, groups)
        out.backward()
        assert torch.isfinite(out)
        assert torch.all(torch.isfinite(logits.grad))
        for buf in loss.buffers():
            if buf.is_floating_point():
                assert torch.all(torch.isfinite(buf))


# ----------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("cls", [DEOCrossEntropy, GroupDROLoss])
def test_group_losses_need_cell_counts_and_groups(cls):
    with pytest.raises(ValueError, match=r"needs \(class, group\) counts"):
        cls([10, 10])
    with pytest.raises(ValueError, match="finite and non-negative"):
        cls([[10, -1], [10, 10]])
    with pytest.raises(ValueError, match=r"classes \[0\] have no training samples"):
        cls([[0, 0], [10, 10]])
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        cls(np.ones((2, 2, 2)))
    loss = cls([[10, 10], [10, 10]])
    with pytest.raises(ValueError, match="needs `groups`"):
        loss(torch.zeros(2, 2), torch.tensor([0, 1]))


def test_blended_loss_passes_missing_groups_error_through():
    counts = [[10, 10], [10, 10]]
    blend = BlendedLoss(CrossEntropy(counts), DEOCrossEntropy(counts), lam=0.5)
    with pytest.raises(ValueError, match="needs `groups`"):
        blend(torch.zeros(2, 2), torch.tensor([0, 1]))


@pytest.mark.parametrize("make, exc, match", [
    (lambda c: GroupDROLoss(c, eta_q=-0.01), ValueError, "eta_q must be >= 0"),
    (lambda c: GroupDROLoss(c, eta_q=np.inf), ValueError, "eta_q must be >= 0"),
    (lambda c: GroupDROLoss(c, eta_q="0.1"), TypeError, "eta_q must be a real number"),
    (lambda c: BlendedLoss(CrossEntropy(c), DEOCrossEntropy(c), lam=1.5), ValueError,
     "lam must be <= 1"),
    (lambda c: BlendedLoss(CrossEntropy(c), DEOCrossEntropy(c), lam=-0.1), ValueError,
     "lam must be >= 0"),
    (lambda c: BlendedLoss(CrossEntropy(c), DEOCrossEntropy(c), lam=None), TypeError,
     "lam must be a real number"),
])
def test_bad_hyper_parameters(make, exc, match):
    with pytest.raises(exc, match=match):
        make([[10, 10], [10, 10]])


@pytest.mark.parametrize("make", [lambda c: DEOCrossEntropy(c), lambda c: GroupDROLoss(c)],
                         ids=["deo", "dro"])
def test_no_parameters_and_dtype(make):
    loss = make([[10, 10], [10, 3]])
    assert list(loss.parameters()) == []
    loss = loss.to(torch.float64)
    for buf in loss.buffers():
        assert buf.dtype == torch.float64
    out = loss(torch.randn(4, 2, dtype=torch.float64), torch.tensor([0, 1, 1, 0]),
               torch.tensor([0, 0, 1, 1]))
    assert out.dtype == torch.float64
