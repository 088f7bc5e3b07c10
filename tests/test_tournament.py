"""The tournament of fixed-loss arms: exact against separate fits, halving, selection, report."""

import copy
import math

import numpy as np
import pytest
import torch
from sklearn.model_selection import StratifiedKFold

from sklearn_autobalance._augmentation import FeatureAugmentation, feature_scale
from sklearn_autobalance._crossfit import FoldBatches
from sklearn_autobalance._network import MLP
from sklearn_autobalance._tournament import (
    Arm, Tournament, arm_inputs, default_arms, halve, select_arm)
from sklearn_autobalance.losses._registry import make_loss

BATCH, LR, SEED = 16, 1e-2, 3


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [50, 28, 12])
    X = rng.normal(size=(len(y), 6)) + y[:, None] * 0.7
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    return (torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y), folds)


def _module():
    torch.manual_seed(1)
    return MLP(6, 3, (8,))


def _reference(module0, X, y, folds, arm, j, n_steps, sample_weight=None):
    """Arm ``arm`` trained alone on fold ``j``: same start, batches, noise draws, Adam."""
    net = copy.deepcopy(module0)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    loss = make_loss(arm.loss, np.bincount(y.numpy()), arm.loss_params)
    loss.reduction = "none"
    data = {"X": X} if sample_weight is None else {"X": X, "sample_weight": sample_weight}
    batches = FoldBatches(data, y, [f[0] for f in folds], BATCH,
                          generator=torch.Generator().manual_seed(SEED))
    aug = FeatureAugmentation(feature_scale(X), torch.ones(3), "ball", SEED + 1)
    aug.reset()
    step = 0
    while True:
        for Xb, yb in batches:
            # The tournament draws one noise for the whole (k, batch) input.
            noise = aug.draw_parts(Xb["X"])
            x = Xb["X"][j]
            if arm.eps is not None:
                x = x + arm.eps * (noise[0] * noise[1])[j]
            per_sample = loss(net(x), yb[j])
            if sample_weight is not None:
                per_sample = per_sample * Xb["sample_weight"][j]
            opt.zero_grad()
            per_sample.mean().backward()
            opt.step()
            step += 1
            if step == n_steps:
                return net


def _fit(data, arms, module0=None, **params):
    X, y, folds = data
    params = {"batch_size": BATCH, "lr": LR, "random_state": SEED, "checkpoints": (),
              "t_drop": 2.0, **params}
    weight = params.pop("sample_weight", None)
    return Tournament(arms, **params).fit(module0 or _module(), X, y, folds, sample_weight=weight)


def _assert_arm_matches(data, tour, module0, a, n_steps, sample_weight=None):
    X, y, folds = data
    for j in range(len(folds)):
        ref = _reference(module0, X, y, folds, tour.arms[a], j, n_steps, sample_weight)
        got = tour.ensembles_[a].fold_module(module0, j)
        torch.testing.assert_close(got(X), ref(X), rtol=1e-5, atol=1e-5)


ARMS = [Arm("la"), Arm("vs", "vs"), Arm("noise0.8", eps=0.8), Arm("balanced", "balanced")]


@pytest.mark.parametrize("n_steps", [1, 9])
def test_arm_copies_equal_separate_fits(data, n_steps):
    module0 = _module()
    tour = _fit(data, ARMS, module0, max_steps=n_steps)
    assert tour.report_["steps"] == n_steps
    for a in range(len(ARMS)):
        _assert_arm_matches(data, tour, module0, a, n_steps)
    # The arms do differ: a test that compared equal copies would prove nothing.
    X = data[0]
    assert not torch.allclose(tour.arm_model(0)(X), tour.arm_model(1)(X))


def test_sample_weight_matches_separate_fit(data):
    module0 = _module()
    weight = torch.as_tensor(np.random.default_rng(1).uniform(0.2, 2.0, len(data[1])),
                             dtype=torch.float32)
    tour = _fit(data, ARMS[:2], module0, max_steps=5, sample_weight=weight)
    _assert_arm_matches(data, tour, module0, 1, 5, sample_weight=weight)


def test_survivors_and_dropped_arms_stay_exact_through_halving(data):
    # 3 challengers; at step 4 the one with the lowest t leaves the ensemble and
    # the optimiser; the survivors' Adam state must be carried over exactly.
    module0 = _module()
    arms = [Arm("la"), Arm("la_tau2", "la", {"tau": 2.0}), Arm("vs", "vs"), Arm("ldam", "ldam")]
    # The t of every challenger at step 4 (the same run up to there), then a
    # threshold between the lowest two.
    probe = _fit(data, arms, module0, max_steps=8, checkpoints=(0.5,), t_drop=np.inf)
    (entry,) = probe.report_["checkpoints"]
    assert entry["alive"] == [0, 1, 2, 3] and entry["dropped"] == []
    t = np.array(entry["t"])
    low, second = np.sort(t[1:])[:2]
    assert low < second
    tour = _fit(data, arms, module0, max_steps=8, checkpoints=(0.5,),
                t_drop=-(low + second) / 2)
    (entry,) = tour.report_["checkpoints"]
    assert entry["step"] == 4 and entry["dropped"] == [1 + int(np.argmin(t[1:]))]
    for a in range(len(arms)):
        steps = 4 if a in entry["dropped"] else 8
        assert tour.report_["arms"][a]["step"] == steps
        _assert_arm_matches(data, tour, module0, a, steps)


def test_each_checkpoint_has_its_own_t_drop(data):
    arms = [Arm("la"), Arm("la_tau2", "la", {"tau": 2.0}), Arm("vs", "vs")]
    # No challenger stops at the first checkpoint (t < -inf never holds); every one at
    # the second (t < +inf always does).
    tour = _fit(data, arms, max_steps=8, checkpoints=(0.25, 0.5), t_drop=(np.inf, -np.inf))
    first, second = tour.report_["checkpoints"]
    assert (first["step"], first["dropped"]) == (2, [])
    assert (second["step"], second["dropped"]) == (4, [1, 2])
    assert [a["dropped_at"] for a in tour.report_["arms"]] == [None, 0.5, 0.5]
    assert not tour.report_["moved"]
    with pytest.raises(ValueError, match="t_drop has 3 values for 2 checkpoints"):
        _fit(data, arms, max_steps=8, checkpoints=(0.25, 0.5), t_drop=(4.0, 2.0, 2.0))


def test_noise_arms_share_one_draw(data):
    X = data[0][:30].view(3, 10, 6)
    y = data[1][:30].view(3, 10)

    def augmentation():
        aug = FeatureAugmentation(feature_scale(data[0]), torch.ones(3), "ball", 7)
        aug.reset()
        return aug

    inputs = arm_inputs(X, y, [None, 0.5, 2.0], augmentation())
    direction, radial = augmentation().draw_parts(X)
    draw = direction * radial
    assert torch.equal(inputs[:3], X)
    torch.testing.assert_close(inputs[3:6] - X, 0.5 * draw)
    torch.testing.assert_close(inputs[6:] - X, 2.0 * draw)
    # No noise arm alive: no draw at all, the input repeated.
    assert torch.equal(arm_inputs(X, y, [None, None], None), X.repeat(2, 1, 1))


def test_halving_keeps_control_and_respects_threshold():
    t = np.array([-10.0, 3.0, -2.5, 1.0, 0.5, np.nan, 2.0])
    # Only arm 2 falls (below -2); the control, with a bad t, stays; NaN stays.
    assert halve(t, list(range(7))) == ([0, 1, 3, 4, 5, 6], [2])
    assert halve(t, [0, 2, 3, 4], t_drop=0.0) == ([0, 3, 4], [2])
    assert halve(t, list(range(7)), t_drop=-np.inf) == ([0, 5], [1, 2, 3, 4, 6])
    assert halve({0: 0.0, 4: -2.0}, [0, 4]) == ([0, 4], [])  # t = -2 is not below -2
    assert halve({0: 0.0, 4: -2.1}, [0, 4]) == ([0], [4])
    assert halve({0: 0.0}, [0]) == ([0], [])


def test_selection():
    # No arm passes: the control is kept (the best is still named).
    assert select_arm([0, 0.01, -0.02], [0, 0.02, 0.01], [0, 1, 2]) == (0, 1)
    # The best arm's gain exceeds c SEs.
    assert select_arm([0, 0.03, 0.05], [0, 0.01, 0.02], [0, 1, 2]) == (2, 2)
    # Only the best arm is tested: arm 1 has t = 3 but arm 2 is best and fails c = 3.
    assert select_arm([0, 0.03, 0.05], [0, 0.01, 0.02], [0, 1, 2], c=3.0) == (0, 2)
    # A gain of exactly c SEs does not move.
    assert select_arm([0, 0.04], [0, 0.02], [0, 1], c=2.0) == (0, 1)
    # Ties: equal gains go to the larger t, then to the earlier arm.
    assert select_arm([0, 0.04, 0.04], [0, 0.02, 0.01], [0, 1, 2]) == (2, 2)
    assert select_arm([0, 0.04, 0.04], [0, 0.01, 0.01], [0, 1, 2]) == (1, 1)
    # NaN: never best; a NaN SE never moves; nothing left keeps the control.
    assert select_arm([0, np.nan, 0.02], [0, np.nan, 0.01], [0, 1, 2]) == (2, 2)
    assert select_arm([0, 0.02], [0, np.nan], [0, 1]) == (0, 1)
    assert select_arm([0, np.nan], [0, np.nan], [0, 1]) == (0, None)
    # Arms outside the candidates (dropped) are ignored.
    assert select_arm([0, 0.5, 0.01], [0, 0.01, 0.1], [0, 2]) == (0, 2)


def test_report_accounts_for_every_arm(data):
    arms = default_arms()
    assert arms[0] == Arm("la") and len({a.name for a in arms}) == len(arms)
    # At 0.4 the challengers with t < 0 stop, at 0.7 every one left.
    tour = _fit(data, arms, max_epochs=3, checkpoints=(0.4, 0.7), t_drop=(0.0, -np.inf))
    report = tour.report_
    total = 3 * report["steps_per_epoch"]
    assert report["steps"] == total
    assert [r["name"] for r in report["arms"]] == [a.name for a in arms]
    log = report["checkpoints"]
    assert [e["step"] for e in log] == [round(0.4 * total), round(0.7 * total)]
    first, second = log
    assert first["alive"] == list(range(9)) and len(first["t"]) == 9
    assert first["dropped"] == [a for a, t in zip(first["alive"], first["t"]) if a and t < 0]
    assert second["alive"] == [a for a in range(9) if a not in first["dropped"]]
    assert second["dropped"] == [a for a in second["alive"] if a and not np.isnan(
        second["t"][second["alive"].index(a)])]
    dropped = {a: e for e in log for a in e["dropped"]}
    assert 0 not in dropped and len(dropped) >= 1
    for a, record in enumerate(report["arms"]):
        assert set(record) >= {"error", "gain", "se", "t", "step", "dropped_at"}
        assert 0 <= record["error"] <= 1
        if a in dropped:
            assert record["dropped_at"] == dropped[a]["fraction"]
            assert record["step"] == dropped[a]["step"]
        else:
            assert record["dropped_at"] is None and record["step"] == total
    assert report["arms"][0]["gain"] == 0 and report["arms"][0]["t"] == 0
    assert report["kept"] not in dropped and report["c"] == 1.5
    assert report["moved"] == (report["kept"] != 0)
    assert report["kept_name"] == arms[report["kept"]].name
    assert all(e is not None for e in tour.ensembles_)


def test_same_seed_same_result(data):
    arms = [Arm("la"), Arm("vs", "vs"), Arm("noise0.4", eps=0.4),
            Arm("noise0.4+r", eps=0.4, refine="l+delta")]
    first = _fit(data, arms, max_epochs=2, checkpoints=(0.5,), t_drop=0.0)
    second = _fit(data, arms, max_epochs=2, checkpoints=(0.5,), t_drop=0.0)
    assert first.report_ == second.report_ and first.report_["hyper_steps"] > 0
    X = data[0]
    for a in range(len(arms)):
        assert torch.equal(first.arm_model(a)(X), second.arm_model(a)(X))
    other = _fit(data, arms, max_epochs=2, checkpoints=(0.5,), random_state=SEED + 1)
    assert not torch.equal(other.arm_model(0)(X), first.arm_model(0)(X))
    assert math.isfinite(first.report_["arms"][0]["error"])
