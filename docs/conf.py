"""Sphinx configuration of the sklearn-autobalance documentation.

Build (offline, warnings are errors)::

    sphinx-build -W -b html docs docs/_build/html

The API stubs (``docs/generated/``) and the example pages
(``docs/auto_examples/``) are written at build time and are not committed.
Nothing is downloaded and no example is run during the build.
"""

import ast
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import sklearn_autobalance  # noqa: E402

# -- Project -----------------------------------------------------------------
project = "sklearn-autobalance"
author = "sklearn-autobalance developers"
copyright = "sklearn-autobalance developers"
release = sklearn_autobalance.__version__
version = release

# -- Extensions --------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]

try:  # MathJax copied into the site, so that formulas render offline too
    import importlib

    importlib.import_module("sphinx-mathjax-offline")
    extensions.append("sphinx-mathjax-offline")
except ImportError:  # then the pages load MathJax from its CDN when viewed
    pass

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# No intersphinx: the build must run without network access.

# autodoc / autosummary: one generated page per public name.
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
# A method without its own docstring (e.g. a torch `forward`) is not listed with
# the docstring of the base class it overrides.
autodoc_inherit_docstrings = False
add_module_names = False

# numpydoc renders the "Parameters" / "Attributes" sections; the member tables
# come from the autosummary class template, not from numpydoc.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# MyST: Markdown pages (user guide, benchmarks, changelog, contributing).
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-autobalance {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
}
html_static_path = []
html_show_sourcelink = False


# -- Example pages -----------------------------------------------------------
# One page per ``examples/*.py``: its docstring as the text, then the script.
# The scripts are never executed here (several take minutes).

EXAMPLES = ROOT / "examples"
EXAMPLE_PAGES = DOCS / "auto_examples"


def _example_page(script):
    source = script.read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source)) or script.stem
    title, _, body = doc.partition("\n")
    title = title.strip().rstrip(".")
    rel = os.path.relpath(script, EXAMPLE_PAGES).replace(os.sep, "/")
    lines = [
        f".. _example_{script.stem}:",
        "",
        title,
        "=" * len(title),
        "",
        body.strip(),
        "",
        f"Source: ``examples/{script.name}``",
        "",
        f".. literalinclude:: {rel}",
        "   :language: python",
        "   :linenos:",
        "",
    ]
    return "\n".join(lines)


def _write_if_changed(path, text):
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def generate_example_pages(app):
    EXAMPLE_PAGES.mkdir(exist_ok=True)
    scripts = sorted(EXAMPLES.glob("*.py"))
    entries = []
    for script in scripts:
        _write_if_changed(EXAMPLE_PAGES / f"{script.stem}.rst", _example_page(script))
        entries.append(script.stem)
    for stale in EXAMPLE_PAGES.glob("*.rst"):
        if stale.stem != "index" and stale.stem not in entries:
            stale.unlink()
    index = [
        "Examples",
        "========",
        "",
        "Scripts in ``examples/`` of the repository; run them from the repository",
        "root, e.g. ``python examples/long_tailed.py``. They are shown here, not run",
        "while the documentation is built.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
        *[f"   {name}" for name in entries],
        "",
    ]
    _write_if_changed(EXAMPLE_PAGES / "index.rst", "\n".join(index))


def setup(app):
    app.connect("builder-inited", generate_example_pages)
