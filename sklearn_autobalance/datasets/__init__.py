"""Data helpers: long-tailed resampling and Waterbirds-style group data.

This subpackage imports nothing else from :mod:`sklearn_autobalance`.

- :func:`make_long_tailed`: subsample a data set to the exponential
  long-tailed class profile of CIFAR-LT (AutoBalance paper, Section 4.1).
- :func:`make_waterbirds_like`: synthetic Waterbirds-like features with a
  spurious background attribute (AutoBalance paper, Section 4.2).
- :func:`load_waterbirds_features`: read user-supplied Waterbirds features
  and the official ``metadata.csv``.
"""

from ._synthetic import make_long_tailed, make_waterbirds_like
from ._waterbirds import load_waterbirds_features

__all__ = ["load_waterbirds_features", "make_long_tailed", "make_waterbirds_like"]
