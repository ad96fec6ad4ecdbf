"""The ``sync`` command: the lessons' time and difficulty lines, and the guide's answers.

Both are copies of something kept in one place (``syllabus``: notebooks/lessons.toml;
``answers``: the lessons' folded answers), so both are written by one command, and
``sync --check`` (a test) fails while any copy is stale.
"""

from __future__ import annotations

from pathlib import Path

from .answers import GUIDE, guide_section, write_guide
from .layout import REPO_ROOT, lessons
from .notebook import dumps, read
from .syllabus import apply, load


def sync(root: Path = REPO_ROOT, check: bool = False) -> list[Path]:
    """Write (or, with ``check``, only find) the stale copies; returns their paths."""
    syllabus = load(root)
    stale, sections = [], []
    for path in lessons(root):
        where = path.relative_to(root).as_posix()
        nb = read(path)
        if path.name[:2] in syllabus.lessons:
            apply(syllabus, nb, path.name[:2], where)
            stale += _write(path, dumps(nb), check)
        section = guide_section(nb, where)
        if section is not None:
            sections.append(section)
    guide = root / GUIDE
    text = write_guide(guide.read_text(encoding="utf-8"), sections)
    stale += _write(guide, text, check)
    return stale


def _write(path: Path, text: str, check: bool) -> list[Path]:
    if path.read_text(encoding="utf-8") == text:
        return []
    if not check:
        path.write_text(text, encoding="utf-8")
    return [path]
