"""Sphinx configuration of the anynet documentation (build it with ``bash tools/docs.sh``).

Sphinx with the furo theme; pages in Markdown (MyST) so the guides in ``docs/`` are read as they are;
the API reference generated from the docstrings (``_ext/anynet_api.py``); the gallery of the five
source documents run at build time by sphinx-gallery, which draws every figure anew.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# the checkout's anynet, not an installed copy; and the extensions in docs/_ext
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]
os.environ.setdefault("MPLBACKEND", "Agg")

from anynet_autodoc import type_checking_aliases  # noqa: E402

import anynet  # noqa: E402

project = "anynet"
author = "the anynet authors"
copyright = "the anynet authors"
release = version = anynet.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "anynet_api",  # the API reference pages and the check that every public name is in them
    "anynet_autodoc",  # autodoc fitted to anynet's docstrings and re-exports
    "anynet_figures",  # figures returned by anynet.plot in the gallery; the benchmark chart directive
    "anynet_links",  # viewcode's [docs] back-links to the documented objects; the build fails on a dead link
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "gallery"]  # sphinx-gallery reads gallery/ and writes documents/
html_theme = "furo"
html_title = f"anynet {release}"
html_static_path = ["_static"]
html_css_files = ["anynet.css"]  # wide tables and long code lines scroll instead of being clipped
templates_path: list[str] = []

# --- warnings are errors (tools/docs.sh passes -W): make the checks worth failing on ---
# Every cross-reference to anynet, and every short one (`Dense`, `fit`), must resolve. Dotted references to
# other projects (numpy.ndarray, matplotlib.figure.Figure ...) are left as plain text: their inventories would
# need the network at build time.
nitpicky = True
nitpick_ignore_regex = [(r"py:.*", r"(?!anynet\b)\w+(\.\w+)+")]

# --- MyST: the Markdown pages ---
myst_enable_extensions = ["colon_fence", "deflist", "fieldlist"]
myst_heading_anchors = 3  # [text](training.md#callbacks) links to headings

# --- autodoc + napoleon: the docstrings' own style (Arguments / Shapes / Example with doctests) ---
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_inherit_docstrings = False  # a subclass's undocumented forward() is documented once, on Layer
autodoc_preserve_defaults = True  # show `seed=None`, `dtype=float32` as written, not as repr'd objects
# names imported from other libraries only under `if TYPE_CHECKING:` (onnx's ModelProto), so the signatures
# using them evaluate
autodoc_type_aliases = type_checking_aliases(ROOT / "anynet")
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = ["Shapes", ("Shared options", "params_style")]
napoleon_use_rtype = False
napoleon_use_ivar = True  # "Attributes:" as fields of the class, not as separate (duplicated) entries

# --- sphinx-gallery: the five source documents, executed at every build ---
sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "documents",  # generated, git-ignored
    "filename_pattern": r"/\d{3}_",  # run every numbered script
    "ignore_pattern": r"(__init__|_helpers)\.py",
    "image_scrapers": ("anynet_figures.figure_scraper", "matplotlib"),
    "abort_on_example_error": False,  # run them all, then fail the build naming each failing one
    "only_warn_on_example_error": False,
    "write_computation_times": False,  # no sg_execution_times page (it loads scripts from CDNs)
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "plot_gallery": "True",
}
