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
# order in eps, so near zero the hyper-gradient carries little information and
# the searches we ran from 0.1 drifted to ~0.01 on a 256-d development set
# where large noise helps; from 0.8 they went to where the validation error
# was lowest (0.4-1.5) on every development set (docs/benchmarks.md).
DEFAULT_EPS = 0.8


def inverse_softplus(value):
    """``rho`` with ``softplus(rho) = value`` (``value > 0``), elementwise."""
    value = torch.as_tensor(value, dtype=torch.float32)
    return value + torch.log(-torch.expm1(-value))


def unit_noise(shape, noise, generator, device, dtype=torch.float32):
    """Draws ``u`` of ``shape`` (last axis: features): uniform in the unit ball, or Gaussian / sqrt(d)."""
    d = shape[-1]
    g = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    if noise == "gaussian":
        return g / math.sqrt(d)
    g = g / torch.linalg.vector_norm(g, dim=-1, keepdim=True).clamp_min(1e-12)
    radius = torch.rand((*shape[:-1], 1), generator=generator, device=device,
                        dtype=dtype) ** (1.0 / d)
    return g * radius


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

    def __init__(self, scale, eps, noise, seed, control_eps=None):
        self.scale, self.eps, self.noise, self.seed = scale, eps, noise, seed
        self.control_eps = control_eps
        self.generator = None

    def reset(self):
        """Restart the stream of draws (at the start of every training run)."""
        self.generator = torch.Generator(device=self.scale.device).manual_seed(self.seed)

    def draw(self, X, generator=None):
        """``s * u`` of the shape of ``X`` (its last axis the features)."""
        generator = self.generator if generator is None else generator
        return self.scale * unit_noise(X.shape, self.noise, generator, X.device, X.dtype)

    @staticmethod
    def per_sample(eps, y, groups=None):
        """Each sample's strength (shape of ``y``) from a table of strengths."""
        return eps[y] if eps.ndim == 1 else eps[y, groups]

    def apply(self, X, y, groups=None, *, eps=None, noise=None):
        """``X + eps[y, g] * s * u``; ``eps`` (default: the table) may require grad."""
        eps = self.eps if eps is None else eps
        noise = self.draw(X) if noise is None else noise
        return X + self.per_sample(eps, y, groups).to(X.dtype).unsqueeze(-1) * noise

    def batches(self, iterator):
        """The training batches of ``iterator`` with ``"X"`` augmented (and ``"X_control"``)."""
        for X, y in iterator:
            noise = self.draw(X["X"])
            groups = X.get("groups")
            out = {**X, "X": self.apply(X["X"], y, groups, noise=noise)}
            if self.control_eps is not None:
                out["X_control"] = self.apply(X["X"], y, groups, eps=self.control_eps,
                                              noise=noise)
            yield out, y

    def __getstate__(self):
        state = self.__dict__.copy()
        state["generator"] = None  # a training-time stream, rebuilt by reset()
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

    Constant features get 0 (they are never perturbed).
    """
    return X.float().std(dim=0, unbiased=False) * math.sqrt(X.shape[-1])
