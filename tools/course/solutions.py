"""Solution regions (``# BEGIN SOLUTION`` ... ``# END SOLUTION``) and the stubs that replace them.

Each region becomes, at the indentation of its ``BEGIN`` line, ``# YOUR CODE HERE`` and
``raise NotImplementedError``; a region that holds whole definitions keeps their headers and
docstrings (``skeleton``), so the learner sees what to build.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Sequence

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
_DEFINITIONS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def solution_blocks(source: str, where: str = "cell") -> list[tuple[int, int]]:
    """``(begin, end)`` line indices of each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block."""
    blocks, begin = [], None
    for number, line in enumerate(source.splitlines()):
        if line.strip() == BEGIN:
            if begin is not None:
                raise ValueError(f"{where}: '{BEGIN}' on line {number + 1} inside another block")
            begin = number
        elif line.strip() == END:
            if begin is None:
                raise ValueError(f"{where}: '{END}' on line {number + 1} without a '{BEGIN}'")
            if _indent(line) != _indent(source.splitlines()[begin]):
                raise ValueError(
                    f"{where}: '{END}' on line {number + 1} is not indented as its BEGIN"
                )
            blocks.append((begin, number))
            begin = None
    if begin is not None:
        raise ValueError(f"{where}: '{BEGIN}' on line {begin + 1} has no '{END}'")
    return blocks


def blank_solutions(source: str, where: str = "cell") -> str:
    """``source`` with each solution block replaced by ``# YOUR CODE HERE`` + ``raise``.

    A block that holds whole definitions (``class`` and ``def`` statements only) keeps what the
    learner needs to see, and only the bodies are blanked: see ``skeleton``.
    """
    lines = source.splitlines()
    for begin, end in reversed(solution_blocks(source, where)):
        pad = _indent(lines[begin])
        kept = skeleton(lines[begin + 1 : end])
        blank = [f"{pad}# YOUR CODE HERE", f"{pad}raise NotImplementedError"]
        lines[begin : end + 1] = (
            blank if kept is None else [pad + line if line else line for line in kept]
        )
    return "\n".join(lines)


def skeleton(lines: Sequence[str]) -> list[str] | None:
    """The stubs of the definitions in ``lines`` (dedented), or None if they hold anything else.

    Each ``class`` or ``def`` keeps its decorators, its header (name, arguments, annotations),
    the comments and docstring that open its body, and, in a method, a first
    ``super().__init__(...)``; a class keeps the stubs of its methods and drops the rest; every
    function body becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError``.
    """
    code = textwrap.dedent("\n".join(lines))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    if not tree.body or not all(isinstance(node, _DEFINITIONS) for node in tree.body):
        return None
    source = code.splitlines()
    out: list[str] = []
    for node in tree.body:
        stub = _stub(node, source)
        if stub is None:
            return None
        out += [*([""] * 2 * bool(out)), *stub]  # two blank lines between top-level stubs
    return out


def _stub(node: ast.AST, source: list[str]) -> list[str] | None:
    first = node.body[0]
    if first.lineno == node.lineno:
        return None  # a one-line definition: nothing to keep apart from its body
    start = (node.decorator_list[0] if node.decorator_list else node).lineno - 1
    body = list(node.body)
    opening = [body.pop(0)] if _is_docstring(first) else []
    if (
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and body
        and _is_super_init(body[0])
    ):
        opening.append(body.pop(0))
    end = opening[-1].end_lineno if opening else first.lineno - 1
    out = [line.rstrip() for line in source[start:end]]  # header, comments, docstring
    while out and not out[-1]:
        out.pop()
    indent = _indent(source[first.lineno - 1])
    if isinstance(node, ast.ClassDef):
        methods = [m for m in body if isinstance(m, _DEFINITIONS)]
        for method in methods:
            stub = _stub(method, source)
            if stub is None:
                return None
            out += ["", *stub]
        if methods:
            return out
    return [*out, f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError"]


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _is_super_init(node: ast.stmt) -> bool:
    call = node.value if isinstance(node, ast.Expr) else None
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "__init__"
        and isinstance(call.func.value, ast.Call)
        and isinstance(call.func.value.func, ast.Name)
        and call.func.value.func.id == "super"
    )
