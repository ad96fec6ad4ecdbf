"""What the grader writes: ``grades.csv`` and a self-contained ``report.html``.

The CSV has one row per learner x exercise, columns ``learner, submission, lesson, exercise,
status, message``, in the order the submissions were found and the exercises come in the lesson.
The HTML page needs no server and no script: a table of learners x exercises coloured by status
(the status is written in every cell too, for readers who do not see the colours), the message
on hover and, for touch screens and copying, in a ``<details>`` that opens on click; then a
count per exercise, and what the learners got stuck on: each distinct message with who got it.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from html import escape
from pathlib import Path

from tools.grade_types import COLUMNS, STATUSES, Lesson, Submission

COLOURS = {
    "passed": "#b9e4bd",
    "failed": "#f7b6b2",
    "not attempted": "#e4e4e4",
    "error": "#dcc3ec",
    "timed out": "#fcd9a4",
    "missing": "#c6d3da",
    "unreadable": "#a9b8c0",
    "wrong lesson": "#d9cbc4",
}
STUCK = ("failed", "error", "timed out")


def rows(submissions: list[Submission]) -> list[dict[str, str]]:
    return [
        {
            "learner": sub.learner,
            "submission": sub.relpath,
            "lesson": sub.lesson or "",
            "exercise": name,
            "status": outcome.status,
            "message": outcome.message,
        }
        for sub in submissions
        for name, outcome in sub.outcomes.items()
    ]


def write_csv(path: Path, submissions: list[Submission]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows(submissions))


def summary(lesson: Lesson, submissions: list[Submission], seconds: float) -> str:
    """A few lines for the terminal: per exercise, how many notebooks had each status."""
    lines = [
        f"lesson {lesson.number} · {lesson.title}: {len(submissions)} notebooks, {seconds:.0f} s"
    ]
    for exercise in lesson.exercises:
        counts = defaultdict(int)
        for sub in submissions:
            counts[sub.outcomes[exercise.name].status] += 1
        shown = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
        lines.append(f"  {exercise.name}: {shown}")
    return "\n".join(lines)


def _cell(status: str, message: str) -> str:
    css = status.replace(" ", "-")
    if not message:
        return f'<td class="{css}">{escape(status)}</td>'
    text = escape(message)
    return (
        f'<td class="{css}" title="{text}"><details><summary>{escape(status)}</summary>'
        f"<p>{text}</p></details></td>"
    )


STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222;
  padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #999; padding: .35em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.file { color: #555; font-size: .9em; }
details summary { cursor: pointer; } details p { margin: .3em 0 0; max-width: 34em;
  font-size: .9em; white-space: pre-wrap; }
.legend span { display: inline-block; padding: .1em .6em; margin: 0 .3em .3em 0;
  border: 1px solid #999; }
li { margin-bottom: .4em; } .who { color: #555; font-size: .9em; }
"""


def html(lesson: Lesson, submissions: list[Submission], seconds: float) -> str:
    """The report page as text (see the module docstring)."""
    names = [ex.name for ex in lesson.exercises]
    colours = "\n".join(
        f"td.{s.replace(' ', '-')}, .legend .{s.replace(' ', '-')} {{ background: {c}; }}"
        for s, c in COLOURS.items()
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Grades: lesson {lesson.number} · {escape(lesson.title)}</title>",
        f"<style>{STYLE}{colours}</style></head><body>",
        f"<h1>Lesson {lesson.number} · {escape(lesson.title)}</h1>",
        f"<p>{len(submissions)} notebooks, graded in {seconds:.0f} s. Hover over a cell for its "
        "message, or click it.</p>",
        '<p class="legend">'
        + "".join(f'<span class="{s.replace(" ", "-")}">{s}</span>' for s in STATUSES)
        + "</p>",
        '<table id="grades"><thead><tr><th>learner</th><th>file</th>'
        + "".join(f"<th>{escape(n)}</th>" for n in names)
        + "</tr></thead><tbody>",
    ]
    for sub in submissions:
        cells = "".join(_cell(o.status, o.message) for o in sub.outcomes.values())
        out.append(
            f'<tr><td>{escape(sub.learner)}</td><td class="file">{escape(sub.relpath)}</td>'
            f"{cells}</tr>"
        )
    passed = "".join(
        f"<td>{sum(s.outcomes[n].status == 'passed' for s in submissions)} / {len(submissions)}"
        " passed</td>"
        for n in names
    )
    out += [f'</tbody><tfoot><tr><th colspan="2">total</th>{passed}</tr></tfoot></table>']
    out.append("<h2>What learners got stuck on</h2>")
    for name in names:
        by_message = defaultdict(list)
        for sub in submissions:
            outcome = sub.outcomes[name]
            if outcome.status in STUCK:
                by_message[(outcome.status, outcome.message)].append(sub.learner)
        out.append(f"<h3>{escape(name)}</h3>")
        if not by_message:
            out.append("<p>Nobody: no check failed, no cell raised or ran out of time.</p>")
            continue
        out.append("<ul>")
        for (status, message), who in sorted(by_message.items(), key=lambda kv: -len(kv[1])):
            out.append(
                f"<li><b>{len(who)} × {escape(status)}</b>: {escape(message)}"
                f' <span class="who">({escape(", ".join(who))})</span></li>'
            )
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_html(path: Path, lesson: Lesson, submissions: list[Submission], seconds: float) -> None:
    path.write_text(html(lesson, submissions, seconds), encoding="utf-8")
