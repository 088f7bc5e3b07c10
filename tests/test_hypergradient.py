"""implicit_hypergradient and estimate_curvature against exact answers on a convex problem.

The lower level is a multinomial logistic regression (4 features, 3 classes, 15
parameters) trained to its optimum with the parametric cross-entropy plus an L2
term, so that the optimum is unique and the Hessian positive definite. The
hyper-parameters are the loss's ``l`` and ``delta``; the upper level is the
balanced cross-entropy on a separate validation set. Everything runs in
float64 so that the reference values are exact to many digits.
"""

import numpy as np
import pytest
import torch

from sklearn_autobalance._hypergradient import estimate_curvature, implicit_hypergradient
from sklearn_autobalance.losses import balanced_cross_entropy, parametric_cross_entropy

N_FEATURES, N_CLASSES, REG = 4, 3, 0.02
SCALES = np.array([3.0, 1.0, 0.5, 0.3])  # uneven curvature: a few Neumann terms are not enough
DTYPE = torch.float64

def _data(n, seed):
    rng = np.random.RandomState(seed)
    y = rng.choice(N_CLASSES, size=n, p=[0.6, 0.3, 0.1])
    centres = np.array([[1.0, 0.0, 0.5, -0.5], [-0.5, 1.0, 0.0, 0.5], [0.0, -1.0, -0.5, 0.0]])
    X = (centres[y] + rng.randn(n, N_FEATURES)) * SCALES
    return torch.as_tensor(X, dtype=DTYPE), torch.as_tensor(y)

X_TRAIN, Y_TRAIN = _data(150, 1)
X_VAL, Y_VAL = _data(90, 2)
N_PARAMS = N_FEATURES * N_CLASSES + N_CLASSES

def _unflatten(theta):
    W = theta[: N_FEATURES * N_CLASSES].view(N_FEATURES, N_CLASSES)
    b = theta[N_FEATURES * N_CLASSES:]
    return W, b

def _train_loss(theta, l, delta, w=None):
    W, b = _unflatten(theta)
    w = torch.ones(N_CLASSES, dtype=DTYPE) if w is None else w
    logits = X_TRAIN @ W + b
    ce = parametric_cross_entropy(logits, Y_TRAIN, w, l, delta)
    return ce + 0.5 * REG * (theta * theta).sum()

def _val_loss(theta):
    W, b = _unflatten(theta)
    return balanced_cross_entropy(X_VAL @ W + b, Y_VAL, N_CLASSES)

def _optimum(l, delta, theta=None):
    """theta* by Newton's method with the exact Hessian and backtracking (a convex problem)."""
    l, delta = l.detach(), delta.detach()
    loss = lambda t: _train_loss(t, l, delta)  # noqa: E731
    theta = torch.zeros(N_PARAMS, dtype=DTYPE) if theta is None else theta.clone()
    for _ in range(50):
        grad = torch.autograd.functional.jacobian(loss, theta)
        if grad.norm() < 1e-10:
            return theta
        hess = torch.autograd.functional.hessian(loss, theta, vectorize=True)
        step, t, current = torch.linalg.solve(hess, grad), 1.0, loss(theta)
        while loss(theta - t * step) > current and t > 1e-8:
            t /= 2
        theta = theta - t * step
    raise AssertionError(f"Newton did not converge: |grad| = {float(grad.norm())}")

@pytest.fixture(scope="module")
def problem():
    # A point away from the consistent init, so that every coordinate matters.
    l = torch.tensor([0.3, -0.2, -0.4], dtype=DTYPE)
    delta = torch.tensor([0.2, -0.3, 0.5], dtype=DTYPE)
    theta = _optimum(l, delta)
    hess = torch.autograd.functional.hessian(lambda t: _train_loss(t, l, delta), theta)
    eigenvalues = torch.linalg.eigvalsh(hess)
    assert eigenvalues.min() >= REG * 0.999  # positive definite
    return {"l": l, "delta": delta, "theta": theta, "hess": hess,
            "lambda_max": float(eigenvalues.max()), "lambda_min": float(eigenvalues.min())}

def _exact_hypergradient(problem, damping=0.0):
    """-d^2 L_T / (d alpha d theta) (H + damping I)^{-1} grad_theta L_V, explicit Hessian."""
    theta, l, delta = problem["theta"], problem["l"], problem["delta"]
    v = torch.autograd.functional.jacobian(_val_loss, theta)
    p = torch.linalg.solve(problem["hess"] + damping * torch.eye(N_PARAMS, dtype=DTYPE), v)

    def grad_theta(l_, delta_):
        t = theta.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(_train_loss(t, l_, delta_), t, create_graph=True)
        return g

    jl, jd = torch.autograd.functional.jacobian(grad_theta, (l, delta))  # (P, K) each
    return torch.cat([-(jl.T @ p), -(jd.T @ p)])

def _finite_difference_hypergradient(problem, eps=1e-4):
    """Central differences of L_V(theta*(alpha)), re-optimising theta for each alpha."""
    alpha = torch.cat([problem["l"], problem["delta"]])
    out = torch.zeros_like(alpha)
    for i in range(len(alpha)):
        values = []
        for sign in (1.0, -1.0):
            a = alpha.clone()
            a[i] += sign * eps
            theta = _optimum(a[:N_CLASSES], a[N_CLASSES:], problem["theta"])
            values.append(_val_loss(theta))
        out[i] = (values[0] - values[1]) / (2 * eps)
    return out

def _package_hypergradient(problem, **kwargs):
    theta = problem["theta"].clone()
    W, b = (t.clone().requires_grad_(True) for t in _unflatten(theta))
    l = problem["l"].clone().requires_grad_(True)
    delta = problem["delta"].clone().requires_grad_(True)
    theta_flat = torch.cat([W.reshape(-1), b])
    train_loss = _train_loss(theta_flat, l, delta)
    val_loss = _val_loss(theta_flat)
    grads = implicit_hypergradient(train_loss, val_loss, [W, b], [l, delta], **kwargs)
    assert [g.shape for g in grads] == [l.shape, delta.shape]
    return torch.cat([g.reshape(-1) for g in grads]).detach()

def _cosine(a, b):
    return float(torch.dot(a, b) / (a.norm() * b.norm()))

def test_exact_references_agree(references):
    # The explicit-Hessian formula and re-optimised finite differences are two
    # independent exact answers: they must match each other first.
    exact, fd = references
    np.testing.assert_allclose(exact.numpy(), fd.numpy(), rtol=1e-4, atol=1e-7)
    assert exact.norm() > 1e-3  # a non-trivial hyper-gradient
    # l is centred inside the loss: its hyper-gradient sums to zero.
    assert abs(float(exact[:N_CLASSES].sum())) < 1e-8

@pytest.fixture(scope="module")
def references(problem):
    return _exact_hypergradient(problem), _finite_difference_hypergradient(problem)

def test_implicit_hypergradient_matches_exact(problem, references):
    torch.manual_seed(0)
    exact, fd = references
    approx = _package_hypergradient(problem, neumann_steps=1000, step_size=None, damping=0.0)
    assert _cosine(approx, exact) >= 0.999
    assert _cosine(approx, fd) >= 0.99
    np.testing.assert_allclose(approx.numpy(), exact.numpy(), rtol=1e-3, atol=1e-6)

def test_implicit_hypergradient_converges_with_neumann_steps(problem, references):
    exact, _ = references
    errors, cosines = [], []
    for steps in (0, 10, 100, 1000):
        torch.manual_seed(0)
        approx = _package_hypergradient(problem, neumann_steps=steps)
        errors.append(float((approx - exact).norm() / exact.norm()))
        cosines.append(_cosine(approx, exact))
    # Uneven curvature: the first term alone points clearly elsewhere ...
    assert cosines[0] < 0.95, cosines
    # ... and every tenfold increase of the series gets closer.
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert all(a < b for a, b in zip(cosines, cosines[1:])), cosines
    assert cosines[-1] >= 0.999 and errors[-1] < 1e-3

def test_implicit_hypergradient_with_damping_and_fixed_step(problem):
    damping = 0.3
    exact = _exact_hypergradient(problem, damping=damping)
    step = 1.0 / (problem["lambda_max"] + damping)
    approx = _package_hypergradient(problem, neumann_steps=500, step_size=step, damping=damping)
    np.testing.assert_allclose(approx.numpy(), exact.numpy(), rtol=1e-4, atol=1e-7)
    # Damping shrinks the inverse: the undamped answer is a different vector.
    undamped = _exact_hypergradient(problem)
    assert float((exact - undamped).norm()) > 1e-3 * float(undamped.norm())

def test_implicit_hypergradient_unused_hparam_gets_zero(problem):
    theta = problem["theta"].clone().requires_grad_(True)
    l = problem["l"].clone().requires_grad_(True)
    delta = problem["delta"].clone()  # constant
    unused = torch.zeros(2, dtype=DTYPE, requires_grad=True)
    grads = implicit_hypergradient(_train_loss(theta, l, delta), _val_loss(theta), [theta],
                                   [l, unused], neumann_steps=3)
    assert torch.equal(grads[1], torch.zeros(2, dtype=DTYPE))
    assert grads[0].shape == l.shape and torch.all(torch.isfinite(grads[0]))

def test_estimate_curvature_matches_largest_eigenvalue(problem):
    theta = problem["theta"].clone().requires_grad_(True)
    loss = _train_loss(theta, problem["l"], problem["delta"])
    (grads,) = torch.autograd.grad(loss, theta, create_graph=True)
    lam = problem["lambda_max"]
    torch.manual_seed(0)
    assert float(estimate_curvature([grads], [theta], n_iter=200)) == pytest.approx(lam, rel=1e-4)
    # The default few iterations give a Rayleigh quotient: never above the top
    # eigenvalue, and close enough for a convergent Neumann step 1 / (1.05 lambda).
    for seed in range(5):
        torch.manual_seed(seed)
        estimate = float(estimate_curvature([grads], [theta]))
        assert 0.6 * lam <= estimate <= lam * (1 + 1e-9)

def test_estimate_curvature_diagonal_quadratic():
    # L = 0.5 * sum_i c_i x_i^2 has Hessian diag(c): the top eigenvalue is max(c).
    c = torch.tensor([0.5, 1.0, 7.0, 2.0], dtype=DTYPE)
    x = torch.ones(4, dtype=DTYPE, requires_grad=True)
    (g,) = torch.autograd.grad(0.5 * (c * x * x).sum(), x, create_graph=True)
    torch.manual_seed(0)
    assert float(estimate_curvature([g], [x], n_iter=100)) == pytest.approx(7.0, rel=1e-6)
