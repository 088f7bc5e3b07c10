"""Personalized data augmentation: the draws, the hyper-gradient of the strengths, the estimator."""

import numpy as np
import pytest
import torch

from sklearn_autobalance import AutoBalanceClassifier
from sklearn_autobalance._augmentation import (
    DEFAULT_EPS,
    FeatureAugmentation,
    StrengthCoordinates,
    check_augmentation_params,
    feature_scale,
    inverse_softplus,
    noise_parts,
)
from sklearn_autobalance._hypergradient import implicit_hypergradient
from sklearn_autobalance.losses import balanced_cross_entropy, parametric_cross_entropy


def unit_noise(shape, noise, generator, device, dtype=torch.float32):
    g, radial = noise_parts(shape, noise, generator, device, dtype)
    return g * radial


# ------------------------------------------------------------------------- the draws
def test_ball_draws_lie_in_the_unit_ball_with_the_uniform_radius_law():
    g = torch.Generator().manual_seed(0)
    u = unit_noise((20000, 5), "ball", g, "cpu")
    r = torch.linalg.vector_norm(u, dim=1)
    assert float(r.max()) <= 1.0 + 1e-6
    # Uniform in the 5-ball: P(r <= t) = t^5.
    for t in (0.5, 0.8, 0.95):
        assert abs(float((r <= t).float().mean()) - t ** 5) < 0.01
    # Isotropic: the mean direction is ~0.
    assert float(torch.linalg.vector_norm(u.mean(0))) < 0.02


@pytest.mark.parametrize("d", [3, 64])
def test_the_training_stream_draws_uniformly_in_the_ball_across_reused_passes(d):
    # Many batches: fresh blocks and their permuted, sign-flipped passes.
    aug = FeatureAugmentation(torch.ones(d), torch.ones(1), "ball", seed=0)
    aug.BUFFER_FLOATS = 64 * d  # small blocks, so that every pass is exercised
    aug.reset()
    u = torch.cat([aug.draw(torch.zeros(16, d)) for _ in range(1500)])
    r = torch.linalg.vector_norm(u, dim=1)
    assert float(r.max()) <= 1.0 + 1e-6
    for t in (0.5, 0.8, 0.95):
        assert abs(float((r <= t).float().mean()) - t ** d) < 0.015
    assert float(torch.linalg.vector_norm(u.mean(0))) < 0.03
    # Isotropic second moment: E[u u^T] = E[r^2] / d * I.
    second = (u.T @ u) / len(u)
    expected = d / (d + 2) / d
    assert torch.allclose(second, expected * torch.eye(d), atol=0.1 * expected + 0.003)
    # No two consecutive blocks repeat each other.
    first, later = u[:64], u[64:128]
    assert not torch.allclose(first, later) and not torch.allclose(first, -later)


def test_gaussian_draws_have_unit_expected_squared_norm():
    g = torch.Generator().manual_seed(1)
    u = unit_noise((20000, 16), "gaussian", g, "cpu")
    assert abs(float((u ** 2).sum(1).mean()) - 1.0) < 0.02


def test_apply_uses_each_samples_class_and_cell_strength():
    scale = torch.tensor([1.0, 2.0, 0.0])
    aug = FeatureAugmentation(scale, torch.tensor([0.0, 0.5]), "ball", seed=0)
    X = torch.ones(4, 3)
    y = torch.tensor([0, 1, 0, 1])
    noise = torch.ones(4, 3)
    out = aug.apply(X, y, noise=noise)
    assert torch.equal(out[0], X[0]) and torch.equal(out[2], X[2])  # eps = 0
    assert torch.allclose(out[1], 1.0 + 0.5 * torch.ones(3))
    # (class, group) cells
    cells = FeatureAugmentation(scale, torch.tensor([[0.0, 1.0], [2.0, 3.0]]), "ball", seed=0)
    out = cells.apply(X, y, torch.tensor([1, 0, 0, 1]), noise=noise)
    assert torch.allclose(out[:, 0] - 1.0, torch.tensor([1.0, 2.0, 0.0, 3.0]))
    # The scale multiplies the draw, a constant feature (scale 0) is left alone.
    drawn = aug.draw(torch.zeros(1000, 3))
    assert float(drawn[:, 2].abs().max()) == 0.0
    assert float(drawn[:, 1].abs().mean()) > 1.5 * float(drawn[:, 0].abs().mean())


def test_feature_scale_is_the_population_std_times_sqrt_of_the_dimension():
    X = torch.tensor([[0.0, 1.0], [2.0, 1.0]])
    assert torch.allclose(feature_scale(X), torch.tensor([2 ** 0.5, 0.0]))


@pytest.mark.parametrize("d", [4, 64, 512])
def test_a_strength_means_the_same_per_feature_noise_in_every_dimension(d):
    # eps * s * u has per-feature RMS eps * std_j * sqrt(d / (d + 2)) for the ball.
    g = torch.Generator().manual_seed(d)
    X = torch.randn(4000, d, generator=g) * 3.0
    aug = FeatureAugmentation(feature_scale(X), torch.tensor([0.5]), "ball", seed=0)
    aug.reset()
    noise = 0.5 * aug.draw(X)
    rms = float(noise.pow(2).mean().sqrt())
    assert abs(rms - 0.5 * 3.0 * (d / (d + 2)) ** 0.5) < 0.05 * 1.5


def test_batches_reset_gives_the_same_stream_and_control_shares_the_draw():
    scale = torch.ones(3)
    aug = FeatureAugmentation(scale, torch.tensor([0.3, 0.6]), "ball", seed=7,
                              control_eps=torch.tensor([0.1, 0.1]))
    X = {"X": torch.zeros(5, 3)}
    y = torch.tensor([0, 1, 1, 0, 1])
    aug.reset()
    first = [b for b in aug.batches(iter([(X, y), (X, y)]))]
    aug.reset()
    second = [b for b in aug.batches(iter([(X, y), (X, y)]))]
    for (a, _), (b, _) in zip(first, second):
        assert torch.equal(a["X"], b["X"])
    assert not torch.equal(first[0][0]["X"], first[1][0]["X"])  # fresh draws each batch
    out = first[0][0]
    # The same direction u at the initial strengths: X_control / 0.1 == X / eps_y.
    per = torch.tensor([0.3, 0.6])[y].unsqueeze(1)
    assert torch.allclose(out["X_control"] / 0.1, out["X"] / per, atol=1e-6)
    assert torch.equal(X["X"], torch.zeros(5, 3))  # the batch is not modified in place


def test_strength_coordinates_start_at_the_initial_strengths_and_stay_positive():
    eps0 = torch.tensor([0.1, 0.2, 0.4])
    coords = StrengthCoordinates(eps0, torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    assert torch.allclose(coords.strengths(torch.zeros(2)), eps0, atol=1e-6)
    moved = coords.strengths(torch.tensor([-50.0, 3.0]))
    assert bool((moved > 0).all())
    assert torch.allclose(inverse_softplus(torch.tensor(0.7)),
                          torch.log(torch.expm1(torch.tensor(0.7))), atol=1e-6)


# ------------------------------------------------------------ the hyper-gradient of eps
N_FEATURES, N_CLASSES, REG = 4, 3, 0.05
DTYPE = torch.float64


def _problem():
    rng = np.random.RandomState(0)

    def data(n, seed):
        r = np.random.RandomState(seed)
        y = r.choice(N_CLASSES, size=n, p=[0.6, 0.3, 0.1])
        centres = np.array([[1.5, 0.0, 0.5, -0.5], [-0.5, 1.5, 0.0, 0.5],
                            [0.0, -1.0, -1.0, 0.0]])
        X = centres[y] + 0.7 * r.randn(n, N_FEATURES)
        return torch.as_tensor(X, dtype=DTYPE), torch.as_tensor(y)

    Xt, yt = data(120, 1)
    Xv, yv = data(90, 2)
    # Fixed draws (common random numbers): the retrained loss is a smooth
    # function of the strengths.
    g = torch.Generator().manual_seed(int(rng.randint(1000)))
    noise = unit_noise(Xt.shape, "ball", g, "cpu", DTYPE) * feature_scale(Xt).to(DTYPE)
    aug = FeatureAugmentation(feature_scale(Xt).to(DTYPE), torch.zeros(N_CLASSES, dtype=DTYPE),
                              "ball", seed=0)
    coords = StrengthCoordinates(torch.tensor([0.6, 0.9, 1.2]), torch.eye(N_CLASSES))
    coords.rho0, coords.dictionary = coords.rho0.to(DTYPE), coords.dictionary.to(DTYPE)
    return Xt, yt, Xv, yv, noise, aug, coords


def _train_loss(theta, a, problem):
    Xt, yt, _, _, noise, aug, coords = problem
    W = theta[:N_FEATURES * N_CLASSES].view(N_FEATURES, N_CLASSES)
    b = theta[N_FEATURES * N_CLASSES:]
    X = aug.apply(Xt, yt, eps=coords.strengths(a), noise=noise)
    ones = torch.ones(N_CLASSES, dtype=DTYPE)
    zeros = torch.zeros(N_CLASSES, dtype=DTYPE)
    ce = parametric_cross_entropy(X @ W + b, yt, ones, zeros, zeros)
    return ce + 0.5 * REG * (theta * theta).sum()


def _val_loss(theta, problem):
    _, _, Xv, yv = problem[:4]
    W = theta[:N_FEATURES * N_CLASSES].view(N_FEATURES, N_CLASSES)
    return balanced_cross_entropy(Xv @ W + theta[N_FEATURES * N_CLASSES:], yv, N_CLASSES)


def _optimum(a, problem):
    a = a.detach()
    theta = torch.zeros(N_FEATURES * N_CLASSES + N_CLASSES, dtype=DTYPE)
    loss = lambda t: _train_loss(t, a, problem)  # noqa: E731
    for _ in range(60):  # Newton's method: the lower problem is strictly convex
        grad = torch.autograd.functional.jacobian(loss, theta)
        if grad.norm() < 1e-12:
            break
        hess = torch.autograd.functional.hessian(loss, theta)
        theta = theta - torch.linalg.solve(hess, grad)
    return theta


def test_strength_hypergradient_matches_finite_differences_of_the_retrained_loss():
    problem = _problem()
    a = torch.zeros(N_CLASSES, dtype=DTYPE, requires_grad=True)
    theta = _optimum(a, problem).requires_grad_(True)
    (hypergrad,) = implicit_hypergradient(
        _train_loss(theta, a, problem), _val_loss(theta, problem), [theta], [a],
        neumann_steps=3000, damping=0.0)
    h = 1e-4
    fd = torch.zeros(N_CLASSES, dtype=DTYPE)
    for k in range(N_CLASSES):
        e = torch.zeros(N_CLASSES, dtype=DTYPE)
        e[k] = h
        fd[k] = (_val_loss(_optimum(a + e, problem), problem)
                 - _val_loss(_optimum(a - e, problem), problem)) / (2 * h)
    cosine = float(hypergrad @ fd / (hypergrad.norm() * fd.norm()))
    assert float(fd.norm()) > 1e-4  # the strengths matter on this problem
    assert cosine >= 0.99
    assert torch.allclose(hypergrad, fd, rtol=0.05, atol=1e-6)


# ------------------------------------------------------------------------ the estimator
def _data(n=240, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    X = rng.randn(n, 5) + np.eye(3, 5)[y] * 1.5
    return X, y


FAST = dict(hidden_layer_sizes=(8,), max_epochs=4, batch_size=32, random_state=0)


def _weights(clf):
    return [p.detach().clone() for p in clf.net_.module_.parameters()]


def test_zero_strength_reproduces_the_unaugmented_fit_exactly():
    X, y = _data()
    plain = AutoBalanceClassifier(search=None, **FAST).fit(X, y)
    zero = AutoBalanceClassifier(search=None, augmentation="personalized",
                                 augmentation_params={"eps": 0.0}, **FAST).fit(X, y)
    for a, b in zip(_weights(plain), _weights(zero)):
        assert torch.equal(a, b)


def test_fixed_strength_draws_are_reproducible_and_change_the_fit():
    X, y = _data()
    kwargs = dict(search=None, augmentation="shared", augmentation_params={"eps": 0.5}, **FAST)
    a = AutoBalanceClassifier(**kwargs).fit(X, y)
    b = AutoBalanceClassifier(**kwargs).fit(X, y)
    plain = AutoBalanceClassifier(search=None, **FAST).fit(X, y)
    for p, q in zip(_weights(a), _weights(b)):
        assert torch.equal(p, q)
    assert not all(torch.equal(p, q) for p, q in zip(_weights(a), _weights(plain)))
    other = AutoBalanceClassifier(**{**kwargs, "random_state": 1}).fit(X, y)
    assert not all(torch.equal(p, q) for p, q in zip(_weights(a), _weights(other)))
    np.testing.assert_array_equal(a.augmentation_params_["eps"], np.full(3, 0.5))
    assert a.augmentation_params_["noise"] == "ball"


def test_prediction_never_augments():
    X, y = _data()
    clf = AutoBalanceClassifier(search=None, augmentation="shared",
                                augmentation_params={"eps": 2.0}, **FAST).fit(X, y)
    first = clf.decision_function(X)
    np.testing.assert_array_equal(first, clf.decision_function(X))
    with torch.no_grad():
        raw = clf.net_.module_(torch.tensor(X, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(first, raw, rtol=1e-6, atol=1e-6)


def test_gaussian_noise_option_trains_and_differs_from_the_ball():
    X, y = _data()
    ball = AutoBalanceClassifier(search=None, augmentation="shared",
                                 augmentation_params={"eps": 0.5}, **FAST).fit(X, y)
    gauss = AutoBalanceClassifier(search=None, augmentation="shared",
                                  augmentation_params={"eps": 0.5, "noise": "gaussian"},
                                  **FAST).fit(X, y)
    assert gauss.augmentation_params_["noise"] == "gaussian"
    assert not all(torch.equal(p, q) for p, q in zip(_weights(ball), _weights(gauss)))


@pytest.mark.parametrize("cv", [2, 3])
def test_searched_strengths_are_reported_recorded_and_used_by_the_retrain(cv, monkeypatch):
    from sklearn_autobalance import _selection

    # Threshold 0: the best candidate with a positive gain is kept, so that the
    # retrain's strengths can be checked against the kept record.
    monkeypatch.setattr(_selection, "SIGNIFICANCE", 1.0 - 1e-9)
    X, y = _data()
    clf = AutoBalanceClassifier(search="eps", augmentation="personalized", cv=cv,
                                hypergradient_params={"hyper_lr": 0.2},
                                **{**FAST, "max_epochs": 6})
    clf.fit(X, y)
    eps = clf.augmentation_params_["eps"]
    assert eps.shape == (3,) and np.all(eps > 0)
    records = [r for r in clf.search_history_ if r["scope"] == "validation_set"]
    assert all(r["params"]["eps"].shape == (3,) for r in records)
    np.testing.assert_allclose(records[0]["params"]["eps"], DEFAULT_EPS, rtol=1e-5)
    # search="eps" keeps the loss at its init (LA) throughout.
    for r in records:
        for part in ("w", "l", "delta"):
            np.testing.assert_array_equal(r["params"][part], records[0]["params"][part])
    moved = records[-1]["params"]["eps"]
    assert not np.allclose(moved, DEFAULT_EPS)  # the strengths move with hyper_lr=0.2
    if clf.selection_report_["moved"]:
        kept = [r for r in records if r["epoch"] + 1 == clf.best_epoch_][0]
        np.testing.assert_allclose(eps, kept["params"]["eps"], rtol=1e-5)
        # The retrain ends with the kept strengths in its augmentation.
        np.testing.assert_allclose(clf.net_.augmentation.eps.numpy(), eps, rtol=1e-5)


def test_kept_initial_strengths_give_exactly_the_fixed_fit():
    X, y = _data()
    rng = np.random.RandomState(3)
    y = rng.permutation(y)  # pure noise labels: the paired rule keeps the start
    searched = AutoBalanceClassifier(search="l+delta", augmentation="personalized", cv=2,
                                     **FAST).fit(X, y)
    assert not searched.selection_report_["moved"]
    fixed = AutoBalanceClassifier(search=None, augmentation="personalized", **FAST).fit(X, y)
    np.testing.assert_array_equal(searched.augmentation_params_["eps"],
                                  np.full(3, DEFAULT_EPS))
    for a, b in zip(_weights(searched), _weights(fixed)):
        assert torch.equal(a, b)


def test_control_networks_train_on_the_same_draw_at_the_initial_strengths():
    from sklearn_autobalance._crossfit import FoldNet

    X, y = _data()
    seen = []
    original = FoldNet.infer

    def spy(self, x, **kw):
        if self._controls_training():
            seen.append((x["X"].clone(), x["X_control"].clone()))
        return original(self, x, **kw)

    FoldNet.infer = spy
    try:
        clf = AutoBalanceClassifier(search="eps", augmentation="shared", cv=2,
                                    hypergradient_params={"hyper_lr": 0.5},
                                    **{**FAST, "max_epochs": 5}).fit(X, y)
    finally:
        FoldNet.infer = original
    assert seen
    last_searched, last_control = seen[-1]
    assert not torch.equal(last_searched, last_control)  # the strengths moved
    assert clf.search_history_  # and the fit completed


def test_group_cells_get_their_own_strengths():
    X, y = _data()
    groups = np.arange(len(y)) % 2
    clf = AutoBalanceClassifier(search="eps", augmentation="personalized",
                                hypergradient_params={"hyper_lr": 0.2},
                                **FAST).fit(X, y, sensitive_features=groups)
    assert clf.augmentation_params_["eps"].shape == (3, 2)
    fixed = AutoBalanceClassifier(search=None, augmentation="personalized",
                                  augmentation_params={"eps": [[0.1, 0.2], [0.3, 0.4],
                                                               [0.5, 0.6]]},
                                  **FAST).fit(X, y, sensitive_features=groups)
    assert fixed.augmentation_params_["eps"][2, 1] == 0.6


def test_inputs_are_not_modified():
    X, y = _data()
    params = {"eps": np.array([0.1, 0.2, 0.3])}
    X0, y0, eps0 = X.copy(), y.copy(), params["eps"].copy()
    AutoBalanceClassifier(search="l+delta", augmentation="personalized",
                          augmentation_params=params, cv=2, **FAST).fit(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(params["eps"], eps0)


def test_verbose_names_the_augmentation(capsys):
    X, y = _data()
    AutoBalanceClassifier(search="l+delta", augmentation="personalized", verbose=1,
                          **FAST).fit(X, y)
    out = capsys.readouterr().out
    assert (f"personalized augmentation (ball noise) from eps {DEFAULT_EPS:.3g} (every class), "
            "searched") in out
    assert "augmentation strengths kept: eps" in out


# ------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,error,match", [
    ({"augmentation": "mixup"}, ValueError, "augmentation must be None or one of"),
    ({"augmentation": "shared", "augmentation_params": {"eps": -0.1}}, ValueError,
     "finite and >= 0"),
    ({"augmentation": "shared", "augmentation_params": {"eps": np.nan}}, ValueError,
     "finite and >= 0"),
    ({"augmentation": "shared", "augmentation_params": {"eps": np.inf}, "search": None},
     ValueError, "finite and >= 0"),
    ({"augmentation": "shared", "augmentation_params": {"eps": [0.1, 0.2, 0.3]}}, ValueError,
     "takes one strength"),
    ({"augmentation": "personalized", "augmentation_params": {"eps": [0.1, 0.2]}}, ValueError,
     r"shape \(3,\)"),
    ({"augmentation": "personalized", "augmentation_params": {"eps": "big"}}, TypeError,
     "number or an array"),
    ({"augmentation": "shared", "augmentation_params": {"strength": 0.1}}, ValueError,
     "unknown key"),
    ({"augmentation": "shared", "augmentation_params": {"noise": "laplace"}}, ValueError,
     "noise"),
    ({"augmentation": "shared", "augmentation_params": [0.1]}, TypeError, "must be a dict"),
    ({"augmentation_params": {"eps": 0.1}}, ValueError, "augmentation=None"),
    ({"search": "eps"}, ValueError, "search='eps' searches the augmentation"),
    ({"augmentation": "shared", "augmentation_params": {"eps": 0.0}}, ValueError,
     "must start above 0"),
])
def test_bad_augmentation_input_is_refused_clearly(kwargs, error, match):
    X, y = _data()
    with pytest.raises(error, match=match):
        AutoBalanceClassifier(**{**FAST, "search": "l+delta", **kwargs}).fit(X, y)


def test_non_numeric_features_are_refused():
    X, y = _data(60)
    X = X.astype(object)
    X[0, 0] = "red"
    with pytest.raises(ValueError, match="could not convert|numeric"):
        AutoBalanceClassifier(augmentation="shared", search=None, **FAST).fit(X, y)


def test_loss_schedule_replays_the_strengths_epoch_by_epoch():
    from types import SimpleNamespace

    from sklearn_autobalance._search import LossSchedule
    from sklearn_autobalance.losses import ParametricCrossEntropy

    criterion = ParametricCrossEntropy([10, 5])
    aug = FeatureAugmentation(torch.ones(2), torch.tensor([0.9, 0.9]), "ball", seed=0)
    net = SimpleNamespace(criterion_=criterion, augmentation=aug)
    zeros, ones = torch.zeros(2), torch.ones(2)
    schedule = [{"w": ones, "l": zeros, "delta": zeros, "eps": torch.tensor([0.1, 0.2])},
                {"w": ones, "l": zeros, "delta": zeros, "eps": torch.tensor([0.3, 0.4])}]
    cb = LossSchedule(schedule)
    cb.on_train_begin(net)
    seen = []
    for _ in range(3):
        cb.on_epoch_begin(net)
        seen.append(aug.eps.clone())
    cb.on_train_end(net)
    assert torch.allclose(seen[0], torch.tensor([0.1, 0.2]))
    assert torch.allclose(seen[1], torch.tensor([0.3, 0.4]))
    assert torch.allclose(seen[2], torch.tensor([0.9, 0.9]))  # after the schedule: the kept one
    assert torch.allclose(aug.eps, torch.tensor([0.9, 0.9]))


def test_a_fitted_augmented_estimator_pickles_and_predicts_the_same():
    import pickle

    X, y = _data()
    clf = AutoBalanceClassifier(search=None, augmentation="shared", **FAST).fit(X, y)
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf.decision_function(X), clone.decision_function(X))
