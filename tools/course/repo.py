"""The course's repository address, what is made from it, and the ``set-repo`` command.

The address is ``[project.urls] Repository`` in ``pyproject.toml``. From it come each notebook's
Open in Colab link and the Colab install cell; ``set-repo`` rewrites all of them, and the
README's links, so that a fork points at itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from .layout import REPO_ROOT, lessons, student_copies

GITHUB_URL = re.compile(
    r"^https://github\.com/([A-Za-z0-9](?:[A-Za-z0-9-]*))/([A-Za-z0-9._-]+?)(?:\.git)?/?$"
)
REPOSITORY_LINE = re.compile(r'^(Repository\s*=\s*)"([^"]*)"', re.MULTILINE)
COLAB_LINK = re.compile(
    r"https://colab\.research\.google\.com/github/[^/\s\"')]+/[^/\s\"')]+/blob/"
)
INSTALL_LINK = re.compile(r"bam-course @ git\+https://github\.com/[^/\s\"'@]+/[^/\s\"'@\\]+")
# The Open in Colab badge of a notebook's first cell, and the notebook it opens.
BADGE = re.compile(
    r"\[!\[Open in Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
    r"\((?P<link>[^)\s]+)\)"
)


def parse_repo(url: str) -> str:
    """``https://github.com/OWNER/REPO`` from a GitHub address (``.git`` or ``/`` allowed)."""
    match = GITHUB_URL.match(url.strip())
    if not match or match.group(2) in (".", ".."):
        raise ValueError(
            f"not a GitHub repository address: {url!r}; "
            "expected https://github.com/OWNER/REPO (e.g. https://github.com/me/bam-course)"
        )
    return f"https://github.com/{match.group(1)}/{match.group(2)}"


def repository(root: Path = REPO_ROOT) -> str:
    """The course's repository: ``[project.urls] Repository`` in ``pyproject.toml``."""
    match = REPOSITORY_LINE.search((root / "pyproject.toml").read_text(encoding="utf-8"))
    if not match:
        raise ValueError(f"{root / 'pyproject.toml'} has no [project.urls] Repository line")
    return match.group(2)


def colab_link(notebook: str, repo: str) -> str:
    """The 'Open in Colab' target for ``notebook`` (a path from the repository root)."""
    slug = repo.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{slug}/blob/main/{notebook}"


def install_line(repo: str) -> str:
    """The line of a notebook's Colab set-up cell that installs the course from ``repo``."""
    return f'%pip install -q "bam-course @ git+{repo}"'


def set_repo(url: str, root: Path = REPO_ROOT) -> list[Path]:
    """Point pyproject, badges, install cells and README at ``url``; returns the changed files."""
    new = parse_repo(url)
    old = repository(root)
    slug = new.removeprefix("https://github.com/")
    files = [root / "pyproject.toml", root / "README.md", *lessons(root), *student_copies(root)]
    old_links = re.compile(re.escape(old) + r"(\.git)?(?![\w-])")  # not OWNER/REPO-extra
    changed = []
    for path in files:
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        if path.name == "pyproject.toml":
            updated = REPOSITORY_LINE.sub(lambda m: f'{m.group(1)}"{new}"', text, count=1)
        else:
            updated = COLAB_LINK.sub(f"https://colab.research.google.com/github/{slug}/blob/", text)
            updated = INSTALL_LINK.sub(f"bam-course @ git+{new}", updated)
            updated = old_links.sub(lambda m: new + (m.group(1) or ""), updated)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed.append(path)
    return changed
