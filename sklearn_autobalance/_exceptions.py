"""Warnings of the package."""


class NoGainWarning(UserWarning):
    """A group objective's search kept its initial loss: no searched one beat it.

    With a group objective (``objective="deo"``, ``"group_balanced"`` or
    ``"worst_group"``) the user asked for a lower group figure; when the
    selection finds no searched loss that lowers it beyond noise (within the
    error budget for ``"deo"``), the fitted model is the initial loss's, and
    this warning says so, with what would help. With a class objective (the
    default), keeping the initial loss because it was the best candidate is a
    result, not a failure: ``selection_report_`` records it and ``verbose=1``
    prints it, and no warning is raised.
    Filter it like any warning::

        import warnings
        from sklearn_autobalance import NoGainWarning
        warnings.filterwarnings("ignore", category=NoGainWarning)
    """
