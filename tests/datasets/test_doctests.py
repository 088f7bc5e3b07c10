"""Run the docstring examples of the datasets modules."""

import doctest

import pytest

from sklearn_autobalance.datasets import _synthetic, _waterbirds


@pytest.mark.parametrize("module", [_synthetic, _waterbirds])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
