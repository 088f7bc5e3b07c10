"""Every public name of the package is listed in the API reference (docs/api.rst)."""

import importlib
import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "docs" / "api.rst"
MODULES = ["sklearn_autobalance", "sklearn_autobalance.losses", "sklearn_autobalance.metrics",
           "sklearn_autobalance.datasets"]


def _listed():
    """Names under each ``.. currentmodule::`` of the autosummary tables, as full paths."""
    listed, module = set(), None
    for line in API.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\.\. currentmodule:: (\S+)", line.strip())
        if match:
            module = match.group(1)
        elif module and re.fullmatch(r"   [A-Za-z_][A-Za-z0-9_]*", line):
            listed.add(f"{module}.{line.strip()}")
    return listed


@pytest.mark.parametrize("module_name", MODULES)
def test_public_names_in_api_reference(module_name):
    module = importlib.import_module(module_name)
    public = {f"{module_name}.{name}" for name in module.__all__ if not name.startswith("__")}
    missing = sorted(public - _listed())
    assert not missing, (
        f"public names missing from the API reference: {missing}; add them to an autosummary "
        "table of docs/api.rst"
    )
