"""The cross-fitted output layer: convex head fit, exact hyper-gradient, folding, estimator path."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_autobalance import AutoBalanceClassifier, NoGainWarning
from sklearn_autobalance import _heads, _output_layer
from sklearn_autobalance._heads import (
    HEAD_L2_GRID, CrossFittedEnsemble, ErrorGuard, HeadData, HeadLossSearch, HeadSystem, fit_head,
    group_probe_auc, has_feature_layers, head_gradient,
    head_hessian, head_loss, output_layer, penultimate_features, validation_scores, with_head)
from sklearn_autobalance.losses._objectives import make_objective
from sklearn_autobalance.losses._objectives import group_balanced_cross_entropy
from sklearn_autobalance.metrics import (balanced_error, difference_of_equal_opportunity,
                                         group_balanced_error, worst_group_error)


def _fold_data(n=300, d=6, seed=0, weights=False):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64) * 3 + 1
    groups = (torch.rand(n, generator=g) < 0.3).long()
    y = ((X[:, 0] + 2.0 * groups + torch.randn(n, generator=g, dtype=torch.float64)) > 1.5).long()
    sw = torch.rand(n, generator=g, dtype=torch.float64) + 0.5 if weights else None
    return HeadData(X, y, groups, sw)


def _loss(seed=1, K=2, G=2):
    g = torch.Generator().manual_seed(seed)
    return (torch.exp(0.3 * torch.randn(K, G, generator=g, dtype=torch.float64)),
            0.5 * torch.randn(K, G, generator=g, dtype=torch.float64),
            0.3 * torch.randn(K, G, generator=g, dtype=torch.float64))


def test_head_data_standardises_and_adds_a_bias_column():
    data = _fold_data()
    np.testing.assert_allclose(data.F[:, :-1].mean(0).numpy(), 0.0, atol=1e-12)
    np.testing.assert_allclose(data.F[:, :-1].std(0, unbiased=False).numpy(), 1.0, atol=1e-12)
    np.testing.assert_array_equal(data.F[:, -1].numpy(), 1.0)


@pytest.mark.parametrize("weights, n_classes", [(False, 2), (True, 2), (True, 3)])
def test_closed_form_gradient_and_hessian_match_autograd(weights, n_classes):
    data = _fold_data(weights=weights)
    if n_classes == 3:  # the general path (K^2 blocks)
        data.y = torch.remainder(data.y + (data.F[:, 1] > 0.5).long(), 3)
    w, l, delta = _loss(K=n_classes)
    W = 0.2 * torch.randn(data.F.shape[1], n_classes, dtype=torch.float64)
    auto_grad = torch.func.grad(lambda V: head_loss(V, data, w, l, delta, 0.05))(W)
    np.testing.assert_allclose(head_gradient(W, data, w, l, delta, 0.05).numpy(),
                               auto_grad.numpy(), rtol=1e-10, atol=1e-12)
    flat = lambda v: head_loss(v.reshape(W.shape), data, w, l, delta, 0.05)  # noqa: E731
    auto_hessian = torch.autograd.functional.hessian(flat, W.reshape(-1))
    H = head_hessian(W, data, w, l, delta, 0.05)
    # The closed form carries a 1e-8 ridge on the (unpenalised) bias row.
    ridge = torch.zeros_like(W)
    ridge[-1] = 1e-8
    np.testing.assert_allclose(H.numpy(), (auto_hessian + torch.diag(ridge.reshape(-1))).numpy(),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n_classes, uniform", [(2, True), (2, False), (3, True)])
def test_head_system_solves_with_the_hessian(n_classes, uniform):
    data = _fold_data(weights=True)
    w, l, delta = _loss(K=n_classes)
    if uniform:  # one multiplier for every cell: the reduced two-class path
        delta = torch.full_like(delta, 0.4)
    W = 0.2 * torch.randn(data.F.shape[1], n_classes, dtype=torch.float64)
    system = HeadSystem(W, data, w, l, delta, 0.05)
    assert system.reduced == (n_classes == 2 and uniform)
    G = torch.randn_like(W)
    expected = torch.linalg.solve(head_hessian(W, data, w, l, delta, 0.05), G.reshape(-1))
    np.testing.assert_allclose(system.solve(G).reshape(-1).numpy(), expected.numpy(),
                               rtol=1e-6, atol=1e-6)


def test_fit_head_reaches_the_minimum_from_any_start():
    data = _fold_data()
    w, l, delta = _loss()
    cold = fit_head(data, w, l, delta, 0.01)
    assert float(head_gradient(cold, data, w, l, delta, 0.01).abs().max()) < 1e-8
    warm = fit_head(data, w, l, delta, 0.01, start=torch.randn_like(cold))
    np.testing.assert_allclose(warm.numpy(), cold.numpy(), atol=1e-7)
    # A larger penalty shrinks the weights (the bias row is not penalised).
    strong = fit_head(data, w, l, delta, 1.0)
    assert float((strong[:-1] ** 2).sum()) < float((cold[:-1] ** 2).sum())


def test_hypergradient_matches_finite_differences_of_the_pooled_objective():
    folds = [_fold_data(seed=s) for s in range(3)]
    objective = make_objective("deo", 2, 2, fairness_weight=0.9)
    ones, zeros = torch.ones(2, 2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)
    search = HeadLossSearch(folds, ones, zeros, zeros.clone(), ("w", "l", "delta"), objective,
                            random_state=0)
    theta = {k: v for k, v in zip(("w", "l", "delta"), _loss(seed=3))}
    theta["w"] = torch.log(theta["w"])
    heads, _ = search.validation_logits(theta, 0.05)
    _, grads, _ = search.hypergradient(theta, heads, 0.05)

    def value(t):
        _, logits = search.validation_logits(t, 0.05)
        return float(objective(torch.cat(logits), search.y, search.groups))

    for part in theta:
        for idx in np.ndindex(2, 2):
            up = {k: v.clone() for k, v in theta.items()}
            down = {k: v.clone() for k, v in theta.items()}
            up[part][idx] += 1e-5
            down[part][idx] -= 1e-5
            fd = (value(up) - value(down)) / 2e-5
            assert abs(float(grads[part][idx]) - fd) < 1e-4 + 1e-3 * abs(fd), (part, idx)


def test_initial_head_penalty_is_chosen_on_the_pooled_validation_cross_entropy():
    folds = [_fold_data(n=90, seed=s) for s in range(3)]
    ones, zeros = torch.ones(2, 2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)
    search = HeadLossSearch(folds, ones, zeros, zeros, ("l",), make_objective("deo", 2, 2),
                            random_state=0)
    assert set(search.alpha_scores_) == set(search.initial_) == set(HEAD_L2_GRID)
    assert search.calibrated_alpha_ == min(search.alpha_scores_, key=search.alpha_scores_.get)
    for alpha, candidate in search.initial_.items():
        assert candidate["step"] == 0 and candidate["alpha"] == alpha
        assert float(candidate["theta"]["l"].abs().max()) == 0.0


def test_inner_splits_validate_every_sample_once():
    folds = [_fold_data(seed=s) for s in range(3)]
    ones, zeros = torch.ones(2, 2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)
    search = HeadLossSearch(folds, ones, zeros, zeros, ("l",),
                            make_objective("deo", 2, 2), random_state=0)
    assert len(search.y) == sum(len(f.y) for f in folds)
    for j, fold in enumerate(folds):
        parts = search.splits[3 * j:3 * j + 3]
        rows = torch.cat([valid.F for _, valid in parts])
        assert len(rows) == len(fold.F)
        assert len({tuple(r.tolist()) for r in rows}) == len(fold.F)


def test_search_lowers_the_validation_objective():
    folds = [_fold_data(n=400, seed=s) for s in range(3)]
    for fold in folds:  # the group recoverable from the features: per-cell l can act
        fold.F[:, 1] = fold.F[:, 1] + 2.0 * fold.groups
    ones, zeros = torch.ones(2, 2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)
    search = HeadLossSearch(folds, ones, zeros, zeros, ("l",),
                            make_objective("deo", 2, 2), random_state=0)
    run = search.trajectory(0.01).advance(10)
    candidates = run.advance(5).candidates  # resumable: 15 steps in all
    assert [c["step"] for c in candidates] == list(range(16))
    assert candidates[0] is search.initial_[0.01]
    assert min(c["objective"] for c in candidates[1:]) < 0.9 * candidates[0]["objective"]
    # A candidate's logits are those of heads refit at its coordinates.
    c = candidates[7]
    _, logits = search.validation_logits(c["theta"], 0.01)
    np.testing.assert_allclose(torch.cat(logits).numpy(), c["logits"].numpy(), atol=1e-6)


def test_error_guard_error_is_the_group_balanced_error():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (200,), generator=g)
    groups = torch.randint(0, 2, (200,), generator=g)
    logits = torch.randn(200, 3, generator=g, dtype=torch.float64)
    guard = ErrorGuard(3, 2, 0.01)
    expected = group_balanced_error(y.numpy(), logits.argmax(1).numpy(),
                                    sensitive_features=groups.numpy())
    assert guard.error(logits, y, groups) == pytest.approx(expected)
    assert float(guard.smooth(logits, y, groups)) == pytest.approx(
        float(group_balanced_cross_entropy(logits, y, groups, 3, 2)))


def test_error_guard_multiplier_rises_outside_the_budget_and_falls_inside():
    guard = ErrorGuard(2, 2, tolerance=0.02)
    assert guard.update(0.0, 0.30, 0.30) == 0.0
    assert guard.update(0.0, 0.34, 0.30) == pytest.approx(2.0)  # two tolerances over
    assert guard.update(2.0, 0.29, 0.30) == pytest.approx(1.5)
    assert guard.update(0.1, 0.20, 0.30) == 0.0  # never negative
    # A zero tolerance still gives finite steps (units of at least 0.01).
    assert np.isfinite(ErrorGuard(2, 2, 0.0).update(0.0, 0.31, 0.30))


def test_guarded_hypergradient_is_the_lagrangians():
    folds = [_fold_data(seed=s) for s in range(3)]
    objective = make_objective("deo", 2, 2, fairness_weight=0.9)
    ones, zeros = torch.ones(2, 2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)
    guard = ErrorGuard(2, 2, 0.01)
    search = HeadLossSearch(folds, ones, zeros, zeros, ("l",), objective, random_state=0,
                            guard=guard)
    theta = {"l": 0.3 * torch.randn(2, 2, generator=torch.Generator().manual_seed(4),
                                    dtype=torch.float64)}
    heads, _ = search.validation_logits(theta, 0.05)
    _, plain, _ = search.hypergradient(theta, heads, 0.05)
    _, guarded, _ = search.hypergradient(theta, heads, 0.05, multiplier=2.5)
    bare = HeadLossSearch(folds, ones, zeros, zeros, ("l",), guard.smooth, random_state=0)
    _, penalty, _ = bare.hypergradient(theta, heads, 0.05)
    np.testing.assert_allclose(guarded["l"].numpy(), (plain["l"] + 2.5 * penalty["l"]).numpy(),
                               atol=1e-10)


def test_guarded_trajectory_tracks_the_budget():
    folds = [_fold_data(n=400, seed=s) for s in range(3)]
    for fold in folds:
        fold.F[:, 1] = fold.F[:, 1] + 2.0 * fold.groups
    ones, zeros = torch.ones(2, 2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)
    guard = ErrorGuard(2, 2, 0.0)
    search = HeadLossSearch(folds, ones, zeros, zeros, ("l",), make_objective("deo", 2, 2),
                            random_state=0, guard=guard)
    assert search.budget_ == pytest.approx(guard.error(
        search.initial_[search.calibrated_alpha_]["logits"], search.y, search.groups))
    run = search.trajectory(0.01)
    multipliers = []
    for _ in range(12):
        before = run.multiplier
        run.advance(1)
        error = guard.error(run.candidates[-1]["logits"], search.y, search.groups)
        assert run.multiplier == pytest.approx(guard.update(before, error, search.budget_))
        multipliers.append(run.multiplier)
    assert max(multipliers) > 0.0  # the DEO search left the budget and was pulled back
    candidates = [search.initial_[search.calibrated_alpha_]] + run.candidates[1:]
    errors = [guard.error(c["logits"], search.y, search.groups) for c in candidates]
    expected = [i for i, e in enumerate(errors) if e <= search.budget_]
    assert search.admissible(candidates).tolist() == expected and expected[0] == 0
    assert len(expected) < len(candidates)  # the zero budget excludes some steps
    unguarded = HeadLossSearch(folds, ones, zeros, zeros, ("l",), make_objective("deo", 2, 2),
                               random_state=0)
    assert not hasattr(unguarded, "budget_")
    assert unguarded.trajectory(0.01).advance(2).multiplier == 0.0


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 5), nn.ReLU())
        self.out = nn.Linear(5, 2)

    def forward(self, X):
        return self.out(self.body(X))


class _Softmaxed(_Net):
    def forward(self, X):
        return torch.log_softmax(self.out(self.body(X)), 1)


@pytest.mark.parametrize("with_groups", [True, False])
def test_validation_scores_are_the_metrics_of_the_argmax(with_groups):
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(200, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (200,), generator=g)
    groups = torch.randint(0, 2, (200,), generator=g)
    scores = validation_scores(logits, y, groups, 3, 2 if with_groups else None)
    pred, yn, gn = logits.argmax(1).numpy(), y.numpy(), groups.numpy()
    expected = {"error": np.mean(pred != yn), "balanced_error": balanced_error(yn, pred)}
    if with_groups:
        expected.update(
            group_balanced_error=group_balanced_error(yn, pred, sensitive_features=gn),
            worst_group_error=worst_group_error(yn, pred, sensitive_features=gn),
            deo=difference_of_equal_opportunity(yn, pred, sensitive_features=gn))
    assert scores.keys() == expected.keys()
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value, abs=1e-12), key


def test_group_probe_auc_reads_how_much_of_the_group_the_features_carry():
    rng = np.random.RandomState(0)

    def folds(shift, n_groups=2, n=300):
        out = []
        for j in range(3):
            g = torch.as_tensor(rng.randint(0, n_groups, n))
            X = torch.as_tensor(rng.randn(n, 5)) + shift * g[:, None].double()
            out.append(HeadData(X, torch.zeros(n, dtype=torch.long), g))
        return out

    assert group_probe_auc(folds(4.0), 2, 0) > 0.99      # separable
    assert abs(group_probe_auc(folds(0.0), 2, 0) - 0.5) < 0.06  # no information
    assert 0.6 < group_probe_auc(folds(0.4), 2, 0) < 0.9
    assert group_probe_auc(folds(4.0, n_groups=3), 3, 0) > 0.99
    one_group = [HeadData(torch.randn(50, 3, dtype=torch.float64),
                          torch.zeros(50, dtype=torch.long), torch.zeros(50, dtype=torch.long))]
    assert np.isnan(group_probe_auc(one_group, 2, 0))
    # Deterministic for a seed.
    same = folds(0.4)
    assert group_probe_auc(same, 2, 3) == group_probe_auc(same, 2, 3)


def test_penultimate_features_and_folded_head_give_the_head_logits():
    torch.manual_seed(0)
    net = _Net()
    X = torch.randn(50, 4)
    F_ = penultimate_features(net, X)
    np.testing.assert_allclose(F_.numpy(), net.body(X).double().detach().numpy(), rtol=1e-6)
    data = HeadData(F_, torch.randint(0, 2, (50,)), torch.zeros(50, dtype=torch.long))
    W = torch.randn(6, 2, dtype=torch.float64)
    folded = with_head(net, data, W)
    assert folded is not net and output_layer(folded) is folded.out
    with torch.no_grad():
        np.testing.assert_allclose(folded(X).double().numpy(), (data.F @ W).numpy(),
                                   rtol=1e-4, atol=1e-4)
        ensemble = CrossFittedEnsemble([folded, with_head(net, data, 3 * W)])
        np.testing.assert_allclose(ensemble(X).double().numpy(), (2 * data.F @ W).numpy(),
                                   rtol=1e-4, atol=1e-4)


def test_penultimate_features_refuse_a_module_whose_output_is_not_its_last_linear():
    with pytest.raises(ValueError, match="not that layer's output"):
        penultimate_features(_Softmaxed(), torch.randn(3, 4))
    with pytest.raises(ValueError, match="no nn.Linear"):
        penultimate_features(nn.Sequential(nn.ReLU()), torch.randn(3, 4))


# ------------------------------------------------------------------ estimator
def _interpolating_groups(n=240, d=40, seed=0):
    """High-dimensional features: a spurious group signal the small MLP fits exactly."""
    rng = np.random.RandomState(seed)
    y = (rng.rand(n) < 0.5).astype(int)
    agree = rng.rand(n) < 0.9
    g = np.where(agree, y, 1 - y)
    X = rng.randn(n, d)
    X[:, 0] += 1.0 * (2 * y - 1)
    X[:, 1] += 2.5 * (2 * g - 1)
    return X, y, g


FAST = dict(hidden_layer_sizes=(16,), max_epochs=8, batch_size=32, random_state=0)


# The linear model's search (the last fit) on tiny data: whether it moves is not checked.
@pytest.mark.filterwarnings("ignore::sklearn_autobalance.NoGainWarning")
def test_auto_chooses_the_crossfit_head_for_searched_group_objectives(capsys):
    X, y, g = _interpolating_groups()
    clf = AutoBalanceClassifier(objective="deo", verbose=1, **FAST).fit(X, y, sensitive_features=g)
    out = capsys.readouterr().out
    assert "cross-fitted output layer: 3 fold networks" in out
    assert "head search: l per cell" in out
    assert isinstance(clf.net_.module_, CrossFittedEnsemble)
    assert len(clf.net_.module_.folds) == 3
    assert clf.loss_params_["l"].shape == (2, 2)
    assert clf.clusters_.shape == (2, 2)
    records = clf.search_history_
    assert [r["step"] for r in records] == list(range(len(records)))
    assert all(r["scope"] == "validation_set" and r["params"]["l"].shape == (2, 2)
               for r in records)
    assert clf.selection_report_ is not None
    assert clf.best_step_ == clf.selection_report_["index"]
    assert "steps at each L2 penalty" in out
    # Step 0: the initial loss at its calibrated penalty; steps 1-40 at one screened penalty.
    assert len({r["head_l2"] for r in records[1:]}) == 1
    assert clf.head_l2_ == records[clf.best_step_]["head_l2"] and clf.head_l2_ in HEAD_L2_GRID
    # Prediction takes X alone and is the mean of the fold networks' logits.
    module = clf.net_.module_
    with torch.no_grad():
        Xt = torch.tensor(X[:7], dtype=torch.float32)
        mean = torch.stack([m(Xt) for m in module.folds]).mean(0).double().numpy()
    np.testing.assert_allclose(clf.decision_function(X[:7]), mean[:, 1] - mean[:, 0], rtol=1e-5)
    # Without a search, the network path of search=None runs (the fixed baselines).
    fixed = AutoBalanceClassifier(objective="deo", search=None, init="ce", **FAST).fit(
        X, y, sensitive_features=g)
    assert not isinstance(fixed.net_.module_, CrossFittedEnsemble)
    # Class objectives keep the network search.
    plain = AutoBalanceClassifier(**FAST).fit(X, y)
    assert not isinstance(plain.net_.module_, CrossFittedEnsemble)


@pytest.mark.filterwarnings("ignore::sklearn_autobalance.NoGainWarning")
def test_a_linear_model_is_its_own_output_layer(capsys, monkeypatch):
    X, y, g = _interpolating_groups()
    params = {**FAST, "hidden_layer_sizes": (), "verbose": 1}
    # The same heads as a network whose feature layers are the identity: the
    # fold networks' training is skipped (their features are the inputs).
    heads = []
    original = _heads.with_head

    def spy(module, data, W):
        heads.append((data, W))
        return original(module, data, W)

    monkeypatch.setattr(_output_layer, "with_head", spy)
    linear = AutoBalanceClassifier(objective="deo", **params).fit(X, y, sensitive_features=g)
    out = capsys.readouterr().out
    assert "cross-fitted output layer of a linear model" in out
    assert "fold network 1/3" not in out  # no fold network trains
    assert linear.head_l2_ in HEAD_L2_GRID and linear.loss_params_["l"].shape == (2, 2)
    # One linear model: the mean of the 3 fold heads (exactly the mean of their logits).
    module = linear.net_.module_
    assert not isinstance(module, CrossFittedEnsemble)
    assert [type(m) for m in module.modules() if list(m.parameters(recurse=False))] == [nn.Linear]
    assert len(heads) == 3
    Xt = torch.tensor(X[:9], dtype=torch.float64)
    logits = torch.stack([
        (((Xt - data.mean) / data.scale) @ W[:-1] + W[-1]) for data, W in heads]).mean(0)
    np.testing.assert_allclose(linear.decision_function(X[:9]),
                               (logits[:, 1] - logits[:, 0]).numpy(), rtol=1e-4, atol=1e-4)


def test_has_feature_layers():
    assert has_feature_layers(_Net())
    assert not has_feature_layers(nn.Sequential(nn.Linear(3, 2)))
    assert not has_feature_layers(nn.Sequential(nn.ReLU(), nn.Linear(3, 2)))


def test_kept_head_loss_is_what_the_final_heads_were_trained_with():
    X, y, g = _interpolating_groups()
    clf = AutoBalanceClassifier(objective="deo", **FAST).fit(X, y, sensitive_features=g)
    kept = clf.search_history_[clf.best_step_]["params"]
    l = kept["l"] - kept["l"].mean(0, keepdims=True)
    np.testing.assert_allclose(clf.loss_params_["l"], l, atol=1e-6)
    np.testing.assert_allclose(clf.net_.criterion_.effective_params()["l"], clf.loss_params_["l"],
                               atol=1e-6)


def test_crossfit_head_lowers_the_deo_of_an_interpolating_network():
    X, y, g = _interpolating_groups(n=600, seed=1)
    Xt, yt, gt = _interpolating_groups(n=2000, seed=2)
    # A balanced test set breaks the spurious agreement.
    flip = np.random.RandomState(3).rand(len(yt)) < 0.5
    gt = np.where(flip, 1 - gt, gt)
    Xt[:, 1] = np.random.RandomState(4).randn(len(yt)) + 2.5 * (2 * gt - 1)
    params = dict(hidden_layer_sizes=(64,), max_epochs=30, random_state=0)
    ce = AutoBalanceClassifier(search=None, init="ce", **params).fit(X, y)
    ab = AutoBalanceClassifier(objective="deo", **params).fit(X, y, sensitive_features=g)
    deo_ce = difference_of_equal_opportunity(yt, ce.predict(Xt), sensitive_features=gt)
    deo_ab = difference_of_equal_opportunity(yt, ab.predict(Xt), sensitive_features=gt)
    assert deo_ab < 0.75 * deo_ce, (deo_ab, deo_ce)


# Tiny data: whether the group search moves is not what this test checks.
@pytest.mark.filterwarnings("ignore::sklearn_autobalance.NoGainWarning")
def test_same_seed_same_model_and_pickling():
    X, y, g = _interpolating_groups()
    a = AutoBalanceClassifier(objective="group_balanced", **FAST).fit(X, y, sensitive_features=g)
    b = AutoBalanceClassifier(objective="group_balanced", **FAST).fit(X, y, sensitive_features=g)
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(c.decision_function(X), a.decision_function(X))


def test_error_tolerance_bounds_the_kept_losses_validation_error(capsys):
    X, y, g = _interpolating_groups()
    clf = AutoBalanceClassifier(objective="deo", objective_params={"error_tolerance": 0.0},
                                verbose=1, **FAST)
    clf.fit(X, y, sensitive_features=g)
    assert "within error_tolerance=0" in capsys.readouterr().out
    report = clf.selection_report_
    errors = np.array([r["validation_selection"] for r in clf.search_history_])
    assert clf.best_step_ in report["admissible"]
    # Outside the admissible set no candidate was tested.
    outside = np.setdiff1d(np.arange(len(errors)), report["admissible"])
    assert np.all(np.isnan(report["gain"][outside]))


def test_validation_scores_are_what_the_selection_saw():
    X, y, g = _interpolating_groups()
    fw = 0.7
    clf = AutoBalanceClassifier(objective="deo", objective_params={"fairness_weight": fw},
                                **FAST)
    clf.fit(X, y, sensitive_features=g)
    history = clf.search_history_
    for name, step in (("initial", 0), ("kept", clf.best_step_)):
        scores = clf.validation_scores_[name]
        # The deo selection error is the error blended with the DEO of the same predictions.
        assert ((1 - fw) * scores["error"] + fw * scores["deo"]
                == pytest.approx(history[step]["validation_selection"], abs=1e-9))
        assert 0.0 <= scores["group_balanced_error"] <= scores["worst_group_error"] <= 1.0
        assert history[step]["validation_scores"] == scores
    for record in history:  # every step's trade-off, in the same terms
        s = record["validation_scores"]
        assert (1 - fw) * s["error"] + fw * s["deo"] == pytest.approx(
            record["validation_selection"], abs=1e-9)
    plain = AutoBalanceClassifier(search=None, **FAST).fit(X, y, sensitive_features=g)
    assert plain.validation_scores_ is None and plain.group_probe_auc_ is None
    # The group is the spurious feature the network fits: its features carry it.
    assert clf.group_probe_auc_ > 0.9


def test_a_group_search_that_keeps_its_initial_loss_warns(capsys, monkeypatch):
    from sklearn_autobalance import _selection

    # Labels and groups independent of the features, and a false-move rate of 1e-9:
    # no loss passes, the initial one is kept.
    monkeypatch.setattr(_selection, "SIGNIFICANCE", 1e-9)
    rng = np.random.RandomState(0)
    X, y, g = rng.randn(240, 10), (rng.rand(240) < 0.4).astype(int), (rng.rand(240) < 0.3)
    strict = AutoBalanceClassifier(objective="deo", **FAST)
    with pytest.warns(NoGainWarning, match=r"init='la'.*within the error budget "
                      r"\(validation DEO .* budget .*\).*error_tolerance'\] \(now 0.01\)"
                      ) as record_deo:
        strict.fit(X, y, sensitive_features=g)
    assert strict.best_step_ == 0
    assert strict.validation_scores_["kept"] == strict.validation_scores_["initial"]
    # Groups drawn independently of the features: the probe finds (almost) nothing.
    assert 0.3 < strict.group_probe_auc_ < 0.7
    assert f"ROC AUC of {strict.group_probe_auc_:.2f}" in str(record_deo[0].message)
    gb = AutoBalanceClassifier(objective="group_balanced", **FAST)
    with pytest.warns(NoGainWarning, match="search=None trains the same loss"):
        gb.fit(X, y, sensitive_features=g)
    assert record_deo[0].filename == __file__  # points at the call of fit
    # A class objective keeping its initial loss is a result, not a warning: the report
    # records it and verbose prints it.
    net = AutoBalanceClassifier(search="l+delta", verbose=1, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoGainWarning)
        net.fit(X, y)
    assert not net.selection_report_["moved"]
    assert "kept its initial loss (init='la'): no searched loss beat it beyond sampling " \
        "noise" in capsys.readouterr().out
    # A linear model's output layer (the model itself) warns the same way.
    linear = AutoBalanceClassifier(objective="group_balanced",
                                   **{**FAST, "hidden_layer_sizes": ()})
    with pytest.warns(NoGainWarning, match="no searched loss beat it beyond sampling noise "
                      "on the pooled out-of-fold head predictions"):
        linear.fit(X, y, sensitive_features=g)
    assert not linear.selection_report_["moved"]


def test_a_search_that_moves_does_not_warn():
    X, y, g = _interpolating_groups()
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoGainWarning)
        clf = AutoBalanceClassifier(objective="deo", **FAST).fit(X, y, sensitive_features=g)
    assert clf.best_step_ > 0
    fixed = AutoBalanceClassifier(objective="deo", search=None, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoGainWarning)
        fixed.fit(X, y, sensitive_features=g)


@pytest.mark.parametrize("params, match", [
    ({"search": "tau"}, "search='tau': a searched group objective searches the loss of a "
                         "cross-fitted output layer"),
    ({"init": "ldam", "search": "l"}, "not a member of the parametric family|outside the parametric"),
    ({"augmentation": "shared"}, "does not support augmentation='shared'"),
    ({"early_stopping": True}, "does not support early_stopping=True"),
    ({"refit": False}, "does not support refit=False"),
    ({"objective_params": {"error_tolerance": -0.1}}, "error_tolerance"),
])
def test_bad_crossfit_params(params, match):
    X, y, g = _interpolating_groups(n=60)
    with pytest.raises(ValueError, match=match):
        AutoBalanceClassifier(objective="deo", **{**FAST, **params}).fit(
            X, y, sensitive_features=g)


def test_module_without_linear_output_is_refused():
    X, y, g = _interpolating_groups(n=60)

    class Scaled(nn.Module):
        def __init__(self, n_features, n_classes):
            super().__init__()
            self.hidden = nn.Linear(n_features, 4)
            self.out = nn.Linear(4, n_classes)

        def forward(self, X):
            return 2.0 * self.out(torch.relu(self.hidden(X)))

    with pytest.raises(ValueError, match="not that layer's output"):
        AutoBalanceClassifier(module=Scaled, objective="deo", max_epochs=1,
                              random_state=0).fit(X, y, sensitive_features=g)
