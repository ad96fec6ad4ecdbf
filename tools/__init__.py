"""Tooling for teaching the course (grading, slides): used from the repository, not installed."""
