"""Refined tournament arms: pairing with the fixed arms, the hyper-step schedule, direction."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import StratifiedKFold

from sklearn_autobalance._network import MLP
from sklearn_autobalance._tournament import Arm, Tournament, check_arms
from sklearn_autobalance.losses._registry import GROUP_LOSSES, LOSSES, make_loss


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [120, 40, 14])
    X = rng.normal(size=(len(y), 6)) + y[:, None] * 0.6
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    return torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y), folds


def _module():
    torch.manual_seed(1)
    return MLP(6, 3, (8,))


def _fit(data, arms, hyper=None, **params):
    X, y, folds = data
    params = {"batch_size": 16, "lr": 1e-2, "random_state": 3, "checkpoints": (), "t_drop": 2.0,
              "max_epochs": 4, **params}
    return Tournament(arms, hypergradient=hyper, **params).fit(_module(), X, y, folds)


def _outputs(tour, a, X):
    with torch.no_grad():
        return tour.arm_model(a)(X)


def test_fixed_arms_train_exactly_as_without_refined_arms(data):
    X = data[0]
    arms = [Arm("la"), Arm("noise", eps=0.8), Arm("vs", "vs")]
    plain = _fit(data, arms)
    mixed = _fit(data, arms + [Arm("vs+r", "vs", refine="l+delta"),
                               Arm("noise+r", eps=0.8, refine="l")])
    assert mixed.report_["hyper_steps"] > 0
    for a in range(3):
        torch.testing.assert_close(_outputs(mixed, a, X), _outputs(plain, a, X), rtol=0, atol=0)
        assert mixed.report_["arms"][a]["refined"] is None
    # The refined twins moved their loss, so they are other models.
    for a in (3, 4):
        assert not torch.equal(_outputs(mixed, a, X), _outputs(mixed, a - 2, X))


def test_before_the_warm_up_a_refined_arm_is_its_fixed_twin(data):
    X, y, _ = data
    tour = _fit(data, [Arm("la"), Arm("vs", "vs"), Arm("vs+r", "vs", refine="l+delta")],
                hyper={"warmup_fraction": 0.99}, max_steps=10)
    assert tour.report_["hyper_steps"] == 0
    torch.testing.assert_close(_outputs(tour, 2, X), _outputs(tour, 1, X), rtol=0, atol=0)
    vs = make_loss("vs", np.bincount(y.numpy()))
    for key, value in tour.report_["arms"][2]["refined"].items():
        np.testing.assert_allclose(value, getattr(vs, key).numpy(), rtol=1e-6)


@pytest.mark.parametrize("warmup, interval", [(0.5, 2), (0.25, 5), (0.0, 3)])
def test_hyper_steps_follow_the_warm_up_and_interval(data, warmup, interval):
    total = 4 * 8  # 4 epochs of ceil(116 / 16) = 8 steps
    tour = _fit(data, [Arm("la"), Arm("la+r", refine="l")],
                hyper={"warmup_fraction": warmup, "hyper_interval": interval})
    assert tour.report_["steps"] == total
    start = max(1, round(warmup * total))
    assert tour.report_["hyper_steps"] == len(range(start, total, interval))


def test_refining_ce_moves_towards_logit_adjustment(data):
    # Training CE on imbalanced data against a balanced validation objective:
    # the learned tau (l = tau * log(pi / pi_max)) must become positive, i.e.
    # the rare classes' logits are pushed down in training, as LA does.
    counts = np.bincount(data[1].numpy())
    tour = _fit(data, [Arm("la"), Arm("ce+r", "ce", refine="tau")],
                hyper={"warmup_fraction": 0.25, "hyper_lr": 0.1}, max_epochs=8)
    l = np.asarray(tour.report_["arms"][1]["refined"]["l"])
    tau = np.polyfit(np.log(counts / counts.max()), l - l.mean(), 1)[0]
    assert tau > 0.05


def test_a_dropped_refined_arm_stops_refining(data):
    # An infinite first drop threshold stops every challenger at the first checkpoint.
    tour = _fit(data, [Arm("la"), Arm("la+r", refine="l")], checkpoints=(0.5,),
                t_drop=-np.inf, hyper={"warmup_fraction": 0.25, "hyper_interval": 1})
    report = tour.report_
    assert report["arms"][1]["dropped_at"] == 0.5
    # After steps 8 .. 15; scored and dropped at step 16, before its hyper-step.
    assert report["hyper_steps"] == 16 - 8


def test_the_control_and_non_parametric_arms_cannot_refine(data):
    with pytest.raises(ValueError, match="control arm 'la' cannot be refined"):
        _fit(data, [Arm("la", refine="l"), Arm("vs", "vs")])
    with pytest.raises(ValueError, match="parametric family"):
        _fit(data, [Arm("la"), Arm("ldam", "ldam", refine="l")])


@pytest.mark.parametrize("arm, message", [
    ({"refine": "eps"}, "must be None or one of"),
    ({"refine": "w"}, "must be None or one of"),
    ({"loss": "ldam", "refine": "l"}, "needs a loss of the parametric family"),
])
def test_check_arms_refuses_bad_refinement(arm, message):
    with pytest.raises(ValueError, match=message):
        check_arms([arm], LOSSES, GROUP_LOSSES)


def test_check_arms_names_a_refined_arm():
    arms = check_arms([{"refine": "l+delta"}, {"loss": "vs", "refine": "l"}], LOSSES,
                      GROUP_LOSSES)
    assert [(a.name, a.refine) for a in arms] == [("la+refine_l+delta", "l+delta"),
                                                 ("vs+refine_l", "l")]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_refined_arms():
    # Everything of a hyper-step (rows, noise, power iteration) is drawn on the device.
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [120, 40, 14])
    X = rng.normal(size=(len(y), 6)) + y[:, None] * 0.6
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    arms = [Arm("la"), Arm("vs+r", "vs", refine="l+delta"), Arm("noise+r", eps=0.8, refine="l")]
    tour = Tournament(arms, batch_size=16, lr=1e-2, max_epochs=4, checkpoints=(), t_drop=2.0,
                      random_state=3).fit(
        _module().cuda(), torch.as_tensor(X, dtype=torch.float32).cuda(),
        torch.as_tensor(y).cuda(), folds)
    assert tour.report_["hyper_steps"] > 0
    for arm in tour.report_["arms"][1:]:
        assert np.all(np.isfinite(np.concatenate([arm["refined"][k] for k in "w l delta".split()])))
