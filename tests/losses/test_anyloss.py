"""AnyLoss: soft confusion matrix, metric losses, gradients, errors (losses/_anyloss.py).

The metric values are checked against scikit-learn / imbalanced-learn on hard
predictions: logits with a margin of 80 give softmax probabilities of exactly 0
or 1 in float64, where ``A`` is within 1.4e-16 of the 0/1 step.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    fbeta_score,
    matthews_corrcoef,
)

from sklearn_autobalance.losses import (
    ANYLOSS_METRICS,
    AnyLoss,
    amplified_sigmoid,
    soft_confusion_matrix,
)

FAST = settings(max_examples=30, deadline=None)
MARGIN = 40.0


def hard_logits(pred, n_classes=2):
    """Logits whose softmax is exactly one-hot on ``pred`` in float64."""
    logits = np.full((len(pred), n_classes), -MARGIN)
    logits[np.arange(len(pred)), pred] = MARGIN
    return torch.tensor(logits, dtype=torch.float64)


def random_hard_problem(seed, n=40, n_classes=2):
    """Labels and predictions with every class present in both."""
    rng = np.random.default_rng(seed)
    while True:
        y = rng.integers(0, n_classes, n)
        pred = np.where(rng.random(n) < 0.7, y, rng.integers(0, n_classes, n))
        if len(np.unique(y)) == n_classes and len(np.unique(pred)) == n_classes:
            return y, pred


def sk_gmean(y, pred):
    return geometric_mean_score(y, pred)


SKLEARN_BINARY = {
    "accuracy": accuracy_score,
    "f1": f1_score,
    "balanced_accuracy": balanced_accuracy_score,
    "gmean": sk_gmean,
    "mcc": matthews_corrcoef,
}


# ------------------------------------------------------------ approximation
def test_amplified_sigmoid_crosses_half_and_float_limits():
    p = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    a = amplified_sigmoid(p, 73.0)
    assert a[1].item() == 0.5
    assert 0.0 < a[0].item() < 1e-15
    # The docstring's claims: 73 is the largest integer with A(1) < 1 in float64 ...
    assert amplified_sigmoid(torch.tensor(1.0, dtype=torch.float64), 73.0).item() < 1.0
    assert amplified_sigmoid(torch.tensor(1.0, dtype=torch.float64), 74.0).item() == 1.0
    # ... and float32 saturates from L = 34.
    assert amplified_sigmoid(torch.tensor(1.0), 33.0).item() < 1.0
    assert amplified_sigmoid(torch.tensor(1.0), 34.0).item() == 1.0


def test_loss_stays_soft_on_confident_float32_logits():
    # float32 logits with p = 1 - 1e-7 still give a strictly soft count and a
    # nonzero gradient, because the module computes A in float64.
    loss = AnyLoss([1, 1], metric="f1")
    logits = torch.tensor([[0.0, 16.0], [0.0, -16.0]], requires_grad=True)
    tp, fn, fp, tn = loss.soft_counts(logits, torch.tensor([1, 0]))
    assert 0.0 < fn.item() < 1e-12
    out = loss(logits, torch.tensor([1, 0]))
    assert out.dtype == torch.float32
    out.backward()
    assert torch.all(torch.isfinite(logits.grad))


# ------------------------------------------------------- soft confusion matrix
def test_soft_counts_tend_to_hard_counts_as_amplifier_grows():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = rng.uniform(0, 1, 200)
    p = np.where(np.abs(p - 0.5) < 0.05, p + 0.1, p).clip(0, 1)
    pred = (p > 0.5).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred).ravel()
    hard = np.array([tp, fn, fp, tn], dtype=float)
    errors = []
    for amplifier in (5.0, 20.0, 73.0, 500.0):
        soft = soft_confusion_matrix(torch.tensor(p), torch.tensor(y), amplifier=amplifier)
        soft = np.array([c.item() for c in soft])
        assert soft.sum() == pytest.approx(200.0)  # the batch's own N
        errors.append(np.abs(soft - hard).max())
    assert all(a > b for a, b in zip(errors, errors[1:]))
    assert errors[-1] < 1e-6


def test_soft_counts_definitions_with_weights():
    rng = np.random.default_rng(1)
    p, y, w = rng.uniform(size=30), rng.integers(0, 2, 30), rng.uniform(0.1, 3, 30)
    a = 1.0 / (1.0 + np.exp(-73.0 * (p - 0.5)))
    tp, fn, fp, tn = (c.item() for c in soft_confusion_matrix(
        torch.tensor(p), torch.tensor(y), sample_weight=torch.tensor(w)))
    assert tp == pytest.approx(np.sum(w * y * a))
    assert fn == pytest.approx(np.sum(w * y) - np.sum(w * y * a))
    assert fp == pytest.approx(np.sum(w * a) - np.sum(w * y * a))
    assert tn == pytest.approx(np.sum(w) - np.sum(w * y) - np.sum(w * a) + np.sum(w * y * a))


def test_weighted_hard_counts_match_sklearn():
    y, pred = random_hard_problem(2)
    w = np.random.default_rng(2).uniform(0.2, 2.0, len(y))
    proba = torch.softmax(hard_logits(pred), 1)[:, 1]
    soft = soft_confusion_matrix(proba, torch.tensor(y), sample_weight=torch.tensor(w))
    tn, fp, fn, tp = confusion_matrix(y, pred, sample_weight=w).ravel()
    np.testing.assert_allclose([c.item() for c in soft], [tp, fn, fp, tn], atol=1e-12)


def test_multiclass_soft_counts_are_one_vs_rest():
    y, pred = random_hard_problem(3, n=60, n_classes=4)
    proba = torch.softmax(hard_logits(pred, 4), 1)
    tp, fn, fp, tn = (c.numpy() for c in soft_confusion_matrix(proba, torch.tensor(y)))
    cm = confusion_matrix(y, pred)
    np.testing.assert_allclose(tp, np.diag(cm), atol=1e-12)
    np.testing.assert_allclose(fn, cm.sum(1) - np.diag(cm), atol=1e-12)
    np.testing.assert_allclose(fp, cm.sum(0) - np.diag(cm), atol=1e-12)
    np.testing.assert_allclose(tp + fn + fp + tn, 60.0)


# ------------------------------------------------------ metrics vs sklearn
@pytest.mark.parametrize("metric", sorted(SKLEARN_BINARY))
@pytest.mark.parametrize("seed", range(4))
def test_binary_loss_is_one_minus_sklearn_metric(metric, seed):
    y, pred = random_hard_problem(seed)
    loss = AnyLoss(np.bincount(y), metric=metric)(hard_logits(pred), torch.tensor(y))
    assert loss.item() == pytest.approx(1.0 - SKLEARN_BINARY[metric](y, pred), abs=1e-6)


@pytest.mark.parametrize("beta", [0.5, 2.0, 3.0])
def test_fbeta_loss_is_one_minus_sklearn_fbeta(beta):
    y, pred = random_hard_problem(7)
    loss = AnyLoss(np.bincount(y), metric="fbeta", beta=beta)(hard_logits(pred), torch.tensor(y))
    assert loss.item() == pytest.approx(1.0 - fbeta_score(y, pred, beta=beta), abs=1e-6)


def test_f1_and_mcc_are_zero_when_nothing_is_predicted_positive():
    y = np.array([0, 0, 1, 0, 1, 0])
    pred = np.zeros(6, dtype=int)
    for metric, expected in (("f1", f1_score(y, pred, zero_division=0)),
                             ("mcc", matthews_corrcoef(y, pred)),
                             ("gmean", sk_gmean(y, pred))):
        loss = AnyLoss([4, 2], metric=metric)(hard_logits(pred), torch.tensor(y))
        assert expected == 0.0
        assert loss.item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_multiclass_macro_f1_matches_sklearn(seed):
    y, pred = random_hard_problem(seed, n=80, n_classes=4)
    loss = AnyLoss(np.bincount(y), metric="f1")(hard_logits(pred, 4), torch.tensor(y))
    assert loss.item() == pytest.approx(1.0 - f1_score(y, pred, average="macro"), abs=1e-6)


def test_multiclass_macro_counts_absent_classes_as_zero_f1():
    y = np.array([0, 1, 1, 0, 1, 0])  # class 2 absent from the batch and never predicted
    pred = np.array([0, 1, 0, 0, 1, 1])
    loss = AnyLoss([3, 3, 1], metric="f1")(hard_logits(pred, 3), torch.tensor(y))
    expected = f1_score(y, pred, average="macro", labels=[0, 1, 2], zero_division=0)
    assert loss.item() == pytest.approx(1.0 - expected, abs=1e-6)


def test_multiclass_micro_f1_is_accuracy_and_macro_recall_is_balanced_accuracy():
    y, pred = random_hard_problem(5, n=90, n_classes=3)
    logits, yt = hard_logits(pred, 3), torch.tensor(y)
    micro = AnyLoss([30, 30, 30], metric="f1", average="micro")(logits, yt)
    assert micro.item() == pytest.approx(1.0 - accuracy_score(y, pred), abs=1e-6)
    micro_acc = AnyLoss([30, 30, 30], metric="accuracy", average="micro")(logits, yt)
    assert micro_acc.item() == pytest.approx(2 * (1 - accuracy_score(y, pred)) / 3, abs=1e-6)

    def recall(tp, fn, fp, tn):
        return tp / (tp + fn)

    macro_recall = AnyLoss([30, 30, 30], metric=recall)(logits, yt)
    assert macro_recall.item() == pytest.approx(1.0 - balanced_accuracy_score(y, pred), abs=1e-6)


def test_callable_metric_equals_builtin():
    rng = np.random.default_rng(4)
    logits, y = torch.tensor(rng.normal(scale=0.05, size=(50, 2))), torch.tensor(
        rng.integers(0, 2, 50))

    def my_f1(tp, fn, fp, tn):
        return 2 * tp / (2 * tp + fn + fp + 1e-7)

    builtin = AnyLoss([25, 25], metric="f1")(logits, y)
    assert AnyLoss([25, 25], metric=my_f1)(logits, y).item() == pytest.approx(builtin.item())
    assert ANYLOSS_METRICS["f1"] is not None and "gmean" in ANYLOSS_METRICS


def test_sample_weights_equal_repeated_samples():
    rng = np.random.default_rng(6)
    logits = torch.tensor(rng.normal(scale=0.02, size=(20, 2)))
    y = torch.tensor(rng.integers(0, 2, 20))
    w = torch.tensor(rng.integers(1, 4, 20), dtype=torch.float64)
    rep = torch.repeat_interleave(torch.arange(20), w.long())
    for metric in ANYLOSS_METRICS:
        loss = AnyLoss([10, 10], metric=metric)
        assert loss(logits, y, sample_weight=w).item() == pytest.approx(
            loss(logits[rep], y[rep]).item(), rel=1e-10)


def test_gradient_pushes_positive_towards_positive():
    loss = AnyLoss([2, 2], metric="f1")
    logits = torch.zeros(4, 2, dtype=torch.float64, requires_grad=True)
    loss(logits, torch.tensor([1, 1, 0, 0])).backward()
    assert logits.grad[0, 1] < 0 < logits.grad[0, 0]  # raise the positive logit
    assert logits.grad[2, 1] > 0 > logits.grad[2, 0]  # lower it for a negative


# ---------------------------------------------------------------- gradients
extreme = st.one_of(st.floats(-1e4, 1e4), st.sampled_from([-1e4, 1e4, 0.0, 1e-8]))


@FAST
@given(data=st.data(), n_classes=st.integers(2, 4), n=st.integers(1, 24),
       metric=st.sampled_from(sorted(ANYLOSS_METRICS)), average=st.sampled_from(["macro", "micro"]),
       no_positives=st.booleans(), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_loss_and_gradient_are_finite(data, n_classes, n, metric, average, no_positives, dtype):
    values = data.draw(st.lists(extreme, min_size=n * n_classes, max_size=n * n_classes))
    logits = torch.tensor(values, dtype=dtype).reshape(n, n_classes).requires_grad_(True)
    if no_positives:
        y = torch.zeros(n, dtype=torch.long)
    else:
        y = torch.tensor(data.draw(st.lists(st.integers(0, n_classes - 1), min_size=n,
                                            max_size=n)))
    loss = AnyLoss(np.ones(n_classes), metric=metric, beta=2.0, average=average)
    out = loss(logits, y)
    assert out.dtype == dtype
    assert math.isfinite(out.item())
    low = -1.0 if metric == "mcc" else 0.0
    assert low - 1e-6 <= 1.0 - out.item() <= 1.0 + 1e-6
    out.backward()
    assert torch.all(torch.isfinite(logits.grad))


# ------------------------------------------------------------------- errors
def test_unknown_metric_lists_options():
    with pytest.raises(ValueError, match="unknown metric 'auc'.*balanced_accuracy.*f1.*gmean"):
        AnyLoss([5, 5], metric="auc")
    with pytest.raises(ValueError, match="callable"):
        AnyLoss([5, 5], metric=3)


@pytest.mark.parametrize("name", ["beta", "amplifier"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan")])
def test_non_positive_beta_and_amplifier(name, value):
    with pytest.raises(ValueError, match=name):
        AnyLoss([5, 5], **{name: value})


def test_reduction_must_be_mean():
    with pytest.raises(ValueError, match="whole batch.*reduction must be 'mean'"):
        AnyLoss([5, 5], reduction="none")
    loss = AnyLoss([5, 5])
    loss.reduction = "none"  # what a per-sample weighting net would do
    with pytest.raises(ValueError, match="sample_weight"):
        loss(torch.zeros(2, 2), torch.tensor([0, 1]))


def test_bad_average_and_shapes():
    with pytest.raises(ValueError, match="average"):
        AnyLoss([5, 5, 5], average="weighted")
    loss = AnyLoss([5, 5])
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        loss(torch.zeros(3, 3), torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="y must have shape"):
        loss(torch.zeros(3, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        loss(torch.zeros(3, 2), torch.tensor([0, 1, 0]), sample_weight=torch.ones(2))


@pytest.mark.parametrize("bad, match", [
    (lambda tp, fn, fp, tn: 0.5, "must return a torch.Tensor"),
    (lambda tp, fn, fp, tn: torch.stack([tp, fn]), "scalar"),
    (lambda tp, fn, fp, tn: tp / (tp - tp), "non-finite"),
    (lambda tp, fn, fp, tn: torch.tensor(tp.detach().item()), "does not depend"),
    (lambda tp, fn, fp, tn: tp.numpy(), "failed on scalar tensors|torch.Tensor"),
    (lambda tp, fn: tp, "failed on scalar tensors"),
])
def test_bad_metric_callables(bad, match):
    with pytest.raises(ValueError, match=match):
        AnyLoss([5, 5], metric=bad)


def test_callable_that_is_not_elementwise_fails_in_macro_mode():
    # Passes the scalar probe, but reduces the per-class vector itself.
    loss = AnyLoss([5, 5, 5], metric=lambda tp, fn, fp, tn: (tp / (tp + fn + 1)).sum())
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        loss(torch.zeros(4, 3), torch.tensor([0, 1, 2, 0]))


def test_callable_non_finite_on_a_batch_is_reported():
    loss = AnyLoss([5, 5], metric=lambda tp, fn, fp, tn: tp / fp)
    with pytest.raises(ValueError, match="non-finite"):
        loss(hard_logits(np.array([1, 1])), torch.tensor([1, 1]))


def test_repr_names_the_metric():
    assert repr(AnyLoss([3, 1], metric="fbeta", beta=2.0)) == (
        "AnyLoss(n_classes=2, metric='fbeta', beta=2.0, amplifier=73.0)")


# ------------------------------------------------------------ amplifier warm-up
def test_amplifier_schedule_is_geometric_and_ends_at_the_amplifier():
    from sklearn_autobalance.losses._anyloss import amplifier_schedule

    values = [amplifier_schedule(e, 73.0, warmup_epochs=10) for e in range(15)]
    assert values[0] == 1.0
    assert values[10:] == [73.0] * 5
    ratios = np.array(values[1:11]) / np.array(values[:10])
    np.testing.assert_allclose(ratios, 73.0 ** 0.1)  # constant factor per epoch
    assert amplifier_schedule(0, 73.0, warmup_epochs=0) == 73.0  # no warm-up: the paper
    # An amplifier below the start value is never exceeded.
    assert [amplifier_schedule(e, 0.5, warmup_epochs=3) for e in range(4)] == [0.5] * 4


def test_small_amplifier_keeps_every_sample_in_the_gradient():
    # The reason for the warm-up: at L = 73 a sample far on the wrong side has a
    # vanishing gradient; at L = 1 (the warm-up's start) it keeps a sizeable one.
    p = torch.tensor([0.02, 0.3, 0.5], dtype=torch.float64, requires_grad=True)
    for amplifier, low in ((73.0, None), (1.0, 0.23)):
        grad, = torch.autograd.grad(amplified_sigmoid(p, amplifier).sum(), p)
        if low is None:
            assert grad[0] < 1e-12 * grad[2] and grad[1] < 1e-4 * grad[2]
        else:
            assert grad.min() > low


@pytest.mark.parametrize("kwargs", [dict(epoch=-1), dict(warmup_epochs=-2),
                                    dict(amplifier=0.0), dict(start=-1.0)])
def test_amplifier_schedule_bad_values(kwargs):
    from sklearn_autobalance.losses._anyloss import amplifier_schedule

    params = dict(epoch=0, amplifier=73.0, warmup_epochs=5, start=1.0)
    params.update(kwargs)
    with pytest.raises(ValueError):
        amplifier_schedule(**params)
