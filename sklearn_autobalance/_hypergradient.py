"""Implicit-function hyper-gradient (Lorraine et al. 2020) with Neumann series of HVPs.

A pure function of (training loss, validation loss, parameters, hyper-parameters):
it knows nothing of skorch or scikit-learn.
"""

import torch


def _dot(xs, ys, n_blocks=None):
    """Inner product; per block (a ``(n_blocks,)`` tensor) when the tensors carry a block axis."""
    if n_blocks is None:
        return sum((x * y).sum() for x, y in zip(xs, ys))
    return sum((x * y).reshape(n_blocks, -1).sum(dim=1) for x, y in zip(xs, ys))


def _scale(scalar, tensor):
    """``scalar * tensor``, a per-block scalar broadcast along the block axis."""
    if scalar.ndim == 0:
        return scalar * tensor
    return scalar.view(-1, *([1] * (tensor.ndim - 1))) * tensor


def _hvp(train_grads, params, vector):
    return torch.autograd.grad(train_grads, params, grad_outputs=vector, retain_graph=True)


def estimate_curvature(train_grads, params, n_iter=5, generator=None, n_blocks=None):
    """Largest eigenvalue of the training Hessian in ``params`` by power iteration (HVPs).

    ``generator`` (on the parameters' device) draws the start vector; None uses
    torch's global generator. With ``n_blocks`` the Hessian is block-diagonal
    along the parameters' leading axis (independent networks): one eigenvalue
    per block, shape ``(n_blocks,)``.
    """
    vector = [torch.randn(p.shape, dtype=p.dtype, device=p.device, generator=generator)
              for p in params]
    norm = torch.sqrt(_dot(vector, vector, n_blocks))
    vector = [_scale(1.0 / norm, v) for v in vector]
    eigenvalue = norm.new_zeros(norm.shape)
    for _ in range(n_iter):
        hv = _hvp(train_grads, params, vector)
        eigenvalue = _dot(vector, hv, n_blocks)
        norm = torch.sqrt(_dot(hv, hv, n_blocks)).clamp_min(1e-12)
        vector = [_scale(1.0 / norm, h) for h in hv]
    return eigenvalue.abs()


def implicit_hypergradient(
    train_loss, val_loss, params, hparams, *, neumann_steps=5, step_size=None, damping=0.0,
    return_step_size=False, generator=None, n_blocks=None,
):
    r"""Hyper-gradient of the validation loss at a (near-)optimum of the training loss.

    With :math:`\theta^*(\alpha) = \arg\min_\theta L_T(\theta, \alpha)`, the implicit
    function theorem gives

    .. math::

        \frac{d L_V}{d \alpha} = - \frac{\partial^2 L_T}{\partial \alpha\, \partial \theta}
            \,(H + \lambda I)^{-1} \nabla_\theta L_V,

    where the inverse is approximated by the truncated Neumann series
    :math:`\eta \sum_{j=0}^{J} (I - \eta (H + \lambda I))^j v`, using only
    Hessian-vector products (never the Hessian itself).

    Parameters
    ----------
    train_loss : torch.Tensor
        Scalar training loss, built from ``params`` and ``hparams`` with autograd.
    val_loss : torch.Tensor
        Scalar validation loss, built from ``params`` (no direct dependence on
        ``hparams`` is assumed).
    params : list of torch.Tensor
        The network parameters the implicit function is taken over.
    hparams : list of torch.Tensor
        The hyper-parameters (leaf tensors that require grad).
    neumann_steps : int, default=5
        Number ``J`` of Neumann terms after the first.
    step_size : float or None, default=None
        ``eta``; None picks ``1 / (lambda_max + damping)`` from a power-iteration
        estimate of the largest Hessian eigenvalue, so that the series converges.
    damping : float, default=0.0
        ``lambda``: Tikhonov damping of the Hessian, which bounds the inverse on
        flat directions.
    return_step_size : bool, default=False
        Also return the ``eta`` used, so a caller can reuse it and skip the
        power iteration on later calls.
    generator : torch.Generator or None, default=None
        Source of the power iteration's start vector (None: torch's global
        generator, which all threads of a process share).
    n_blocks : int or None, default=None
        The parameters stack ``n_blocks`` independent networks along their
        leading axis and both losses are sums of per-network losses (the
        k fold networks of a cross-fitted search): the Hessian is
        block-diagonal, and each block gets its own Neumann step size (a
        ``(n_blocks,)`` tensor; ``step_size`` may be one). The result is the
        *sum* of the per-network hyper-gradients.

    Returns
    -------
    hypergrad : list of torch.Tensor
        One gradient per entry of ``hparams``.
    step_size : float
        Only when ``return_step_size``.
    """
    v = torch.autograd.grad(val_loss, params, allow_unused=True)
    v = [torch.zeros_like(p) if g is None else g.detach() for p, g in zip(params, v)]
    train_grads = torch.autograd.grad(train_loss, params, create_graph=True)
    if step_size is None:
        curvature = estimate_curvature(train_grads, params, generator=generator,
                                       n_blocks=n_blocks).detach()
        if n_blocks is None:
            curvature = float(curvature)
        step_size = 1.0 / (curvature * 1.05 + damping + 1e-12)
    eta = torch.as_tensor(step_size, dtype=v[0].dtype, device=v[0].device)
    term, total = v, list(v)
    for _ in range(neumann_steps):
        hv = _hvp(train_grads, params, term)
        term = [t - _scale(eta, h + damping * t) for t, h in zip(term, hv)]
        total = [s + t for s, t in zip(total, term)]
    inverse_v = [_scale(eta, s) for s in total]
    mixed = torch.autograd.grad(
        train_grads, hparams, grad_outputs=inverse_v, allow_unused=True
    )
    hypergrad = [torch.zeros_like(h) if g is None else -g for h, g in zip(hparams, mixed)]
    return (hypergrad, step_size) if return_step_size else hypergrad
