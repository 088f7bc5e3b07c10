"""Warnings of the package."""


class NoGainWarning(UserWarning):
    """The loss search kept its initial loss: no searched one beat it beyond noise.

    AutoBalance pays for a search (several networks, many hyper-steps); when
    the selection finds no searched loss whose validation error is lower than
    the initial loss's (with ``selection="paired"``, the default: lower by
    more than its sampling noise), the fitted model is the initial loss's,
    and this warning says so, so that the simpler, cheaper baseline is not
    mistaken for a learned improvement.
    Filter it like any warning::

        import warnings
        from sklearn_autobalance import NoGainWarning
        warnings.filterwarnings("ignore", category=NoGainWarning)
    """
