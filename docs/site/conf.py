"""Sphinx configuration of the rendered course. Built by ``tools/build_site.py`` (``make site``),
which copies this folder to the root of the site's source tree, beside the lessons."""

import os

from tools.course.repo import repository

FAST = os.environ.get("BAM_FAST") == "1"
# [project.urls] Repository: the address `python -m tools.course set-repo` sets.
REPOSITORY = repository()

project = "BAM course"
html_title = "BAM: the Bottleneck Attention Module, built and understood"
copyright = "the BAM course authors, MIT licence"

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
exclude_patterns = ["README.md", "notebooks/student/**", "jupyter_execute/**"]

# The README's parts that the home page includes link with repository paths; the pages and
# notebooks sit at those same paths here, so the links resolve.
myst_enable_extensions = ["substitution"]
myst_heading_anchors = 3
myst_substitutions = {
    "how_run": (
        "in **fast mode** (`BAM_FAST=1`): tiny data and models, so their numbers and figures are "
        "not the lessons' results. `make site` builds the full site"
        if FAST
        else "in full on a CPU, with the trained networks and results that ship with the course"
    ),
}

# Lessons are executed by jupyter-cache: one is run again only when its code cells change
# (tools/build_site.py also clears the cache when the bam package changes).
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ.get("BAM_SITE_CACHE", "../jupyter_cache")
nb_execution_in_temp = False  # run where Jupyter would: beside the notebook
nb_execution_timeout = 3600  # per cell: lessons train networks outside fast mode
nb_execution_raise_on_error = True  # a failing lesson fails the build, no traceback on a page
nb_execution_show_tb = True
nb_merge_streams = True  # one block per cell for printed text; carriage returns applied

# A module's source page links back to where each of its names is documented; names that
# another module re-exports (bam.train's History, bam.experiments' grid functions) would
# otherwise send those links to anchors of the re-exporting module that do not exist.
viewcode_follow_imported_members = False

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_inherit_docstrings = False  # torch's own docstrings of forward() & co. say nothing of ours

html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_copy_source = False  # lesson pages link the notebook and its student copy instead
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": "main",
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": False,  # lesson pages link the student copy instead
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "home_page_in_toc": True,
    "show_toc_level": 2,
}


def literal_examples(app, what, name, obj, options, lines: list[str]) -> None:
    """The package's docstrings show usage as an indented block after a paragraph
    (``    model = add_bam(...)``), which reST would read as a quotation: make it code."""
    shown: list[str] = []
    for i, line in enumerate(lines):
        before = next((text for text in reversed(shown) if text.strip()), "")
        opens_block = line.startswith("    ") and i > 0 and not lines[i - 1].strip()
        if opens_block and before and not before.startswith((" ", ":", "..")):
            if not before.rstrip().endswith("::"):
                shown += ["::", ""]
        shown.append(line)
    lines[:] = shown


def setup(app) -> None:
    app.connect("autodoc-process-docstring", literal_examples)
