"""The datasets subpackage stands apart: numpy / scikit-learn only at import."""

import ast
import pathlib

import pytest

import sklearn_autobalance.datasets as datasets

PKG_DIR = pathlib.Path(datasets.__file__).parent
ALLOWED_TOP_LEVEL = {"numpy", "sklearn", "numbers", "warnings", "csv", "os", "pickle"}
LAZY_ONLY = {"torch", "pandas"}


def _imports(tree, *, top_level_only):
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            yield node.level, (node.module or "").split(".")[0]


@pytest.mark.parametrize("path", sorted(PKG_DIR.glob("*.py")), ids=lambda p: p.name)
def test_module_imports(path):
    tree = ast.parse(path.read_text())
    for level, name in _imports(tree, top_level_only=True):
        if level:  # relative: only within the datasets package
            assert level == 1, f"{path.name} imports from outside datasets"
        else:
            assert name in ALLOWED_TOP_LEVEL, f"{path.name} imports {name} at import time"
    for level, name in _imports(tree, top_level_only=False):
        assert level <= 1 and name != "sklearn_autobalance", path.name


def test_public_api():
    assert sorted(datasets.__all__) == [
        "load_waterbirds_features", "make_long_tailed", "make_waterbirds_like"
    ]
    for name in datasets.__all__:
        assert callable(getattr(datasets, name))
