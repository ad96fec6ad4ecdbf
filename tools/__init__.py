"""Tooling beside the package, used from a checkout and not installed: the course's notebook
tooling (``tools.course``), grading, slides, the rendered site and the shipped artifacts."""
