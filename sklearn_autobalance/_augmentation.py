"""Personalized data augmentation of feature vectors (AutoBalance paper, section 2, Lemma 2).

A training sample ``x`` of class ``y`` (in group ``g``) is replaced, at every
training step, by

.. math::

    x + \\varepsilon_{y g}\\; s \\odot u,

with ``u`` uniform in the unit ball of R^d (Lemma 2's spherical
augmentation; standard Gaussian divided by ``sqrt(d)`` as an option), ``s``
the per-feature standard deviation of the training data times ``sqrt(d)``,
and ``eps`` one strength per class or (class, group) cell. The strength is
free of units and of the dimension: the noise on feature ``j`` has RMS
``eps * std_j`` (exactly for the Gaussian, a factor ``sqrt(d / (d + 2))`` for
the ball), and ``eps = 1`` moves a sample by up to the RMS distance of the
data from its mean. Without the ``sqrt(d)`` a strength would mean less the
more features there are (a unit-ball draw has per-coordinate RMS
``1 / sqrt(d + 2)``): 0.1 was 0.5% of a standard deviation on 384 features.
Prediction never augments.

The strengths are hyper-parameters of the lower problem: the training loss at
the augmented points is differentiable in ``eps``, so the implicit
hyper-gradient reaches them through the mixed derivative exactly as it reaches
the loss's ``l`` and ``Delta`` (see ``_search.LossSearchSpace``).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

AUGMENTATIONS = ("shared", "personalized")
NOISES = ("ball", "gaussian")
# The start of a searched strength (and the fixed strength when none is
# given). Not small: the effect of a symmetric noise on the loss is of second
# order in eps, so near zero the hyper-gradient carries little information:
# searches from 0.1 drifted to ~0.01 on a 256-d development set where large
# noise helps, from 0.8 they went up and the test error fell by 7-9 points
# there, and was no worse elsewhere (docs/benchmarks.md).
DEFAULT_EPS = 0.8


def inverse_softplus(value):
    """``rho`` with ``softplus(rho) = value`` (``value > 0``), elementwise."""
    value = torch.as_tensor(value, dtype=torch.float32)
    return value + torch.log(-torch.expm1(-value))


def noise_parts(shape, noise, generator, device, dtype=torch.float32):
    """``u`` of ``shape`` (last axis: features) in two factors ``(g, radial)``, ``u = g * radial``.

    ``g`` is standard normal; ``radial`` (shape ``(..., 1)``) is
    ``r^(1/d) / |g|`` with ``r`` uniform for the unit ball (``u`` uniform in
    it), ``1 / sqrt(d)`` for the Gaussian.
    """
    d = shape[-1]
    g = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    if noise == "gaussian":
        return g, torch.full((*shape[:-1], 1), 1.0 / math.sqrt(d), device=device, dtype=dtype)
    radius = torch.rand((*shape[:-1], 1), generator=generator, device=device, dtype=dtype)
    return g, radius.pow_(1.0 / d).div_(
        torch.linalg.vector_norm(g, dim=-1, keepdim=True).clamp_min_(1e-12))



def check_augmentation_params(params, augmentation, table_shape):
    """Validated ``augmentation_params``: ``(eps table as float64 array, noise)``.

    ``eps`` is a scalar (every class or cell) or, with
    ``augmentation="personalized"``, one value per class (``(n_classes,)``,
    broadcast over groups) or per cell (``(n_classes, n_groups)``). Default
    :data:`DEFAULT_EPS`; noise "ball" (default) or "gaussian".
    """
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise TypeError(f"augmentation_params must be a dict or None; got {params!r}")
    unknown = sorted(set(params) - {"eps", "noise"})
    if unknown:
        raise ValueError(f"augmentation_params has unknown key(s) {unknown}; "
                         "the keys are 'eps' and 'noise'")
    noise = params.get("noise", "ball")
    if noise not in NOISES:
        raise ValueError(f"augmentation_params['noise'] must be one of {NOISES}; got {noise!r}")
    eps = params.get("eps", DEFAULT_EPS)
    try:
        arr = np.asarray(eps, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"augmentation_params['eps'] must be a number or an array of "
                        f"numbers; got {eps!r}") from exc
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"augmentation_params['eps'] must be finite and >= 0; got {eps!r}")
    if arr.ndim > 0 and augmentation == "shared":
        raise ValueError("augmentation='shared' takes one strength: augmentation_params['eps'] "
                         "must be a scalar (use augmentation='personalized' for one per class)")
    if arr.ndim == 1 and len(table_shape) == 2 and arr.shape[0] == table_shape[0]:
        arr = np.repeat(arr[:, None], table_shape[1], axis=1)
    if arr.ndim == 0:
        arr = np.full(table_shape, float(arr))
    if arr.shape != tuple(table_shape):
        raise ValueError(f"augmentation_params['eps'] must be a scalar or have shape "
                         f"{tuple(table_shape)} (one per class"
                         + (", or per (class, group) cell" if len(table_shape) == 2 else "")
                         + f"); got shape {arr.shape}")
    return arr, noise


class FeatureAugmentation:
    """``x + eps[y, g] * s * u`` for training batches; a table of strengths per class or cell.

    Parameters
    ----------
    scale : torch.Tensor of shape (n_features,)
        Per-feature scale ``s`` (the training data's standard deviation).
    eps : torch.Tensor of shape (n_classes,) or (n_classes, n_groups)
        Strength of each class or cell (plain tensor; the search writes into
        it, :class:`~sklearn_autobalance._search.LossSchedule` replays it).
    noise : {"ball", "gaussian"}
    seed : int
        Seeds the draws: every network built with the same seed sees the same
        stream of directions ``u``.
    control_eps : torch.Tensor or None
        Strengths of the control networks of a paired search (the initial
        ones): their batch is the same draw ``u`` at these strengths.
    """

    # Draws are made for many batches at once (at most this many floats):
    # the per-operation overhead of a small batch then falls on one call.
    BUFFER_FLOATS = 2 ** 22
    # Each normal draw of the training stream serves this many passes: pass p
    # permutes its coordinates and flips its sign at random. A permutation of
    # i.i.d. normal coordinates is again i.i.d. normal with the same norm, so
    # every sample's noise is still exactly uniform in the ball, from a
    # quarter of the random numbers (drawing them was ~20% of a training step
    # of the default MLP at 384 features on the CPU). Below REUSE_MIN_FEATURES
    # the draws are cheap and always fresh.
    REUSE, REUSE_MIN_FEATURES = 4, 32

    def __init__(self, scale, eps, noise, seed, control_eps=None):
        self.scale, self.eps, self.noise, self.seed = scale, eps, noise, seed
        self.control_eps = control_eps
        self.generator = self.buffer_ = None

    def reset(self):
        """Restart the stream of draws (at the start of every training run)."""
        self.generator = torch.Generator(device=self.scale.device).manual_seed(self.seed)
        self.buffer_ = None

    def _parts(self, rows, generator, device, dtype):
        g, radial = noise_parts((rows, self.scale.shape[0]), self.noise, generator, device,
                                dtype)
        return g.mul_(self.scale.to(dtype)), radial

    def _next_buffer(self, rows, device, dtype):
        """The training stream's next block of draws: fresh, or a permuted pass of the last."""
        d = self.scale.shape[0]
        old = self.buffer_
        if (old is not None and old["pass"] + 1 < self.REUSE and d >= self.REUSE_MIN_FEATURES
                and old["raw"].shape[0] >= rows):
            perm = torch.randperm(d, generator=self.generator, device=device)
            # A tensor, not a Python float: no device sync on a GPU.
            sign = 1.0 - 2.0 * torch.randint(2, (1,), generator=self.generator,
                                             device=device).to(dtype)
            raw, radial, passes = old["raw"], old["radial"], old["pass"] + 1
            direction = raw.index_select(-1, perm).mul_(self.scale.to(dtype) * sign)
        else:
            size = max(rows, min(32 * rows, self.BUFFER_FLOATS // d))
            raw, radial = noise_parts((size, d), self.noise, self.generator, device, dtype)
            direction, passes = raw * self.scale.to(dtype), 0
        return {"raw": raw, "radial": radial, "direction": direction, "pass": passes, "used": 0}

    def draw_parts(self, X, generator=None):
        """``s * u`` for a batch shaped like ``X``, in two factors: ``(s * g, radial)``.

        ``g`` is standard normal and ``radial`` a per-sample scalar (shape
        ``(..., 1)``): ``r^(1/d) / |g|`` for the ball, ``1 / sqrt(d)`` for the
        Gaussian. Kept apart so that applying a strength is one fused
        ``addcmul`` over the batch. Without ``generator`` the draws come from
        the training stream (:meth:`reset`), made for many batches at once.
        """
        d = X.shape[-1]
        rows = X.numel() // d
        if generator is not None:
            direction, radial = self._parts(rows, generator, X.device, X.dtype)
        else:
            if self.generator is None:
                self.reset()
            buffer = self.buffer_
            if buffer is None or buffer["used"] + rows > buffer["direction"].shape[0]:
                buffer = self.buffer_ = self._next_buffer(rows, X.device, X.dtype)
            used = buffer["used"]
            direction = buffer["direction"][used:used + rows]
            radial = buffer["radial"][used:used + rows]
            buffer["used"] = used + rows
        return direction.view(X.shape), radial.view(*X.shape[:-1], 1)

    def draw(self, X, generator=None):
        """``s * u`` of the shape of ``X`` (its last axis the features)."""
        direction, radial = self.draw_parts(X, generator)
        return direction * radial

    @staticmethod
    def per_sample(eps, y, groups=None):
        """Each sample's strength (shape of ``y``) from a table of strengths."""
        return eps[y] if eps.ndim == 1 else eps[y, groups]

    def apply(self, X, y, groups=None, *, eps=None, noise=None):
        """``X + eps[y, g] * s * u``; ``eps`` (default: the table) may require grad.

        ``noise``: ``s * u`` (a tensor shaped like ``X``) or the factors of
        :meth:`draw_parts`; None draws it.
        """
        eps = self.eps if eps is None else eps
        noise = self.draw_parts(X) if noise is None else noise
        strength = self.per_sample(eps, y, groups).to(X.dtype).unsqueeze(-1)
        if isinstance(noise, tuple):
            direction, radial = noise
            return torch.addcmul(X, direction, strength * radial)
        return X + strength * noise

    def batches(self, iterator):
        """The training batches of ``iterator`` with ``"X"`` augmented (and ``"X_control"``)."""
        for X, y in iterator:
            noise = self.draw_parts(X["X"])
            groups = X.get("groups")
            out = {**X, "X": self.apply(X["X"], y, groups, noise=noise)}
            if self.control_eps is not None:
                out["X_control"] = self.apply(X["X"], y, groups, eps=self.control_eps,
                                              noise=noise)
            yield out, y

    def __getstate__(self):
        state = self.__dict__.copy()
        state["generator"] = state["buffer_"] = None  # a training-time stream, see reset()
        return state


class StrengthCoordinates:
    """Search coordinates of the strengths: ``eps = softplus(rho0 + D a)``, ``a`` from zero.

    ``D`` maps each class (or cell) to its strength coordinate: one column of
    ones ("shared") or the one-hot frequency clusters ("personalized"), so
    the coordinates start at zero exactly at the initial strengths, like the
    loss's coordinates.

    Parameters
    ----------
    eps0 : torch.Tensor, shape of the class (cell) table, all > 0
    dictionary : torch.Tensor of shape (n_entries, n_coordinates)
    """

    def __init__(self, eps0, dictionary):
        self.shape = tuple(eps0.shape)
        self.rho0 = inverse_softplus(eps0.detach().cpu()).to(eps0.device).reshape(-1)
        self.dictionary = dictionary.to(eps0.device)

    def strengths(self, coordinates):
        return F.softplus(self.rho0 + self.dictionary @ coordinates).view(self.shape)


def feature_scale(X):
    """``sqrt(n_features)`` times the per-feature standard deviation of ``X`` (float32).

    Constant features get 0 (they are never perturbed). ``X``: a tensor, or
    sparse rows (:class:`~sklearn_autobalance._sparse.SparseRows`, computed
    from the sparse matrix in float64).
    """
    from ._sparse import SparseRows

    if isinstance(X, SparseRows):
        return X.column_std() * math.sqrt(X.shape[-1])
    return X.float().std(dim=0, unbiased=False) * math.sqrt(X.shape[-1])


def describe_eps(eps):
    """Noise strengths for messages: one value, or per class (and group)."""
    eps = np.asarray(eps, dtype=float)
    if np.allclose(eps, eps.flat[0]):
        return f"{eps.flat[0]:.3g} (every class)"
    return np.array2string(eps, precision=3, separator=", ") + " per class" + (
        " (rows) and group (columns)" if eps.ndim == 2 else "")
