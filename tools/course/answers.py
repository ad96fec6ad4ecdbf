"""Answers to the end-of-lesson questions: written once, folded in the lesson, copied to the guide.

A learner alone needs the answers in the lesson; an instructor wants them all on one page
without running anything. So the lesson holds them, folded under each question of its
``## Questions`` list, indented with the question:

    1. What is the receptive field with d = 6?

       <details><summary>Answer</summary>

       25 x 25: ...

       </details>

and ``sync`` copies them into docs/instructors.md, between the markers of its answers section,
as a numbered list per lesson (``### NN · Title``), so that the guide stays plain markdown that
reads well on GitHub. A lesson whose questions carry no folded answers keeps its hand-written
section below the markers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

GUIDE = Path("docs") / "instructors.md"
BEGIN = "<!-- Answers copied from the lessons (python -m tools.course sync): edit them there. -->"
END = "<!-- End of the answers copied from the lessons. -->"
QUESTIONS = re.compile(r"^## Questions[ \t]*$", re.M)
ITEM = re.compile(r"^(\d+)\. ", re.M)
OPEN, CLOSE = "<details><summary>Answer</summary>", "</details>"
INDENT = "   "  # a list item's text after "1. "


@dataclass(frozen=True)
class Question:
    number: int
    text: str
    answer: str | None  # markdown, dedented; None when the question has no folded answer


def questions(nb: nbformat.NotebookNode, where: str = "notebook") -> list[Question]:
    """The numbered questions of the lesson's ``## Questions`` section, with their answers."""
    for cell in nb.cells:
        match = QUESTIONS.search(cell.source) if cell.cell_type == "markdown" else None
        if match:
            section = cell.source[match.end() :]
            section = section[: m.start()] if (m := re.search(r"^#", section, re.M)) else section
            items = list(ITEM.finditer(section))
            return [
                _question(
                    int(item.group(1)),
                    section[item.end() : nxt.start() if nxt else len(section)],
                    f"{where}, question {item.group(1)}",
                )
                for item, nxt in zip(items, [*items[1:], None], strict=True)
            ]
    return []


def _question(number: int, body: str, where: str) -> Question:
    lines = [line.removeprefix(INDENT) for line in body.rstrip().splitlines()]
    if OPEN not in lines:
        return Question(number, "\n".join(lines).strip(), None)
    start = lines.index(OPEN)
    if CLOSE not in lines[start:]:
        raise ValueError(f"{where}: '{OPEN}' without '{CLOSE}' on a line of its own")
    end = start + lines[start:].index(CLOSE)
    answer = "\n".join(lines[start + 1 : end]).strip()
    if not answer:
        raise ValueError(f"{where}: the folded answer is empty")
    return Question(number, "\n".join(lines[:start]).strip(), answer)


def title(nb: nbformat.NotebookNode) -> str:
    """``00 · Welcome & setup``, from the lesson's ``# 00 · Welcome & setup``."""
    return nb.cells[0].source.splitlines()[0].lstrip("#").strip()


def guide_section(nb: nbformat.NotebookNode, where: str) -> str | None:
    """The lesson's answers as the guide shows them, or None if its questions have none.

    A lesson answers all its questions or none: half a set would leave the guide with
    answers in two places.
    """
    found = questions(nb, where)
    answered = [q for q in found if q.answer is not None]
    if not answered:
        return None
    if len(answered) != len(found):
        missing = [q.number for q in found if q.answer is None]
        raise ValueError(f"{where}: questions {missing} have no folded answer; the others do")
    items = []
    for q in found:
        first, *rest = q.answer.splitlines()
        items.append("\n".join([f"{q.number}. {first}", *(_indent(line) for line in rest)]))
    return f"### {title(nb)}\n" + "\n".join(items)


def _indent(line: str) -> str:
    return INDENT + line if line.strip() else ""


def write_guide(guide: str, sections: list[str], where: str = str(GUIDE)) -> str:
    """``guide`` with the text between its markers replaced by ``sections``."""
    if guide.count(BEGIN) != 1 or guide.count(END) != 1 or guide.index(BEGIN) > guide.index(END):
        raise ValueError(f"{where}: expected the lines {BEGIN!r} and {END!r} once each, in order")
    head, rest = guide.split(BEGIN)
    _, tail = rest.split(END)
    body = "".join(f"{section}\n\n" for section in sections)
    return f"{head}{BEGIN}\n\n{body}{END}{tail}"
