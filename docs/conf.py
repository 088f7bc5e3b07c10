"""Sphinx configuration of the sklearn-autobalance documentation.

Build (offline, warnings are errors)::

    sphinx-build -W -b html docs docs/_build/html

The API stubs (``docs/generated/``) and the example gallery
(``docs/auto_examples/``, ``docs/sg_execution_times.rst``) are written at
build time and are not committed. Nothing is downloaded; the examples listed
in ``EXECUTED`` below are run by sphinx-gallery with their small settings.
"""

import os
import re
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
    "sphinx_gallery.gen_gallery",
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


# -- Examples: sphinx-gallery ----------------------------------------------
# sphinx-gallery turns each ``examples/*.py`` into a page of ``auto_examples/``
# (``examples/README.txt`` is the gallery's index) and runs the scripts whose
# names are in EXECUTED, so that their printed tables and figures appear on the
# pages. With SPHINX_GALLERY set the examples choose their small settings (one
# process, one seed or one repeat where that matters: each says which in its
# docstring); the executed examples take about two to three minutes on two CPU
# cores. A script not listed in EXECUTED still gets a page, with its code and
# text but no output.
os.environ["SPHINX_GALLERY"] = "1"

EXECUTED = [
    "anyloss_f1",
    "compare_with_resamplers",
    "fairness_tradeoff",
    "long_tailed",
    "sparse_text",
    "waterbirds_features",
]

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": re.escape(os.sep) + "(" + "|".join(EXECUTED) + r")\.py$",
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,  # a failing example fails the build
    "remove_config_comments": True,
    "download_all_examples": False,
    # Links from the code to API pages need intersphinx / a network: off.
    "reference_url": {},
    "backreferences_dir": None,
    "doc_module": (),
    "show_memory": False,
}
