"""No module of bam/ or tools/ imports itself through others, not even from inside a function;
and the package's layers hold: command lines only in ``bam.commands``, the exercises' checks
below the shipped networks, and a name imported from the module that defines it, not through
one that re-exports it.

An import cycle works only as long as every import in it runs late enough, and a reader of
either module has to read the other to understand it. The graph is drawn from the source as a
reader sees it, so an import inside a function counts as much as one at the top of the file.

What counts as an edge from module M to module N:
- ``import N`` and ``from N import name`` anywhere in M, at any depth;
- ``from P import N`` where ``P.N`` is a module is an edge to ``P.N``; where ``name`` is not a
  module, the edge goes to the package ``P``, that is, its ``__init__``;
- relative imports, resolved against M's package.
Not counted: imports under ``if TYPE_CHECKING:``, which never run; imports under
``if __name__ == "__main__":``, which run in the module ``__main__``, not in M (``python -m
bam.train`` runs that block, which imports ``bam.commands.train``, which imports ``bam.train``
anew: a chain, not a cycle); and the parent packages Python runs before a submodule (every
module of a package would otherwise be in a cycle with a package ``__init__`` that imports it).
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bam", "tools")

# Module name -> {imported module name: line of its first import}.
Graph = dict[str, dict[str, int]]


def module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of the packages under root, by dotted name (a package by its __init__)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def is_main_block(test: ast.expr) -> bool:
    """``__name__ == "__main__"``."""
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run as part of the module, at any depth."""
    found = []
    pending = deque([tree])
    while pending:
        node = pending.popleft()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and (is_type_checking(node.test) or is_main_block(node.test)):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def imported_modules(
    node: ast.Import | ast.ImportFrom, package: str, modules: dict[str, Path]
) -> list[str]:
    """The modules one import statement runs, among `modules`; `package` is the importer's."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        parts = package.split(".")
        base = ".".join(
            parts[: len(parts) - node.level + 1] + ([node.module] if node.module else [])
        )
    else:
        base = node.module
    return [
        f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
        for alias in node.names
    ]


def import_graph(root: Path, packages: tuple[str, ...]) -> Graph:
    """Which of the packages' modules each module imports, and where it first does."""
    modules = module_files(root, packages)
    graph: Graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: dict[str, int] = {}
        for node in imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for target in imported_modules(node, package, modules):
                if target in modules and target != name:
                    edges[target] = min(edges.get(target, node.lineno), node.lineno)
        graph[name] = edges
    return graph


def tangles(graph: Graph) -> list[set[str]]:
    """The strongly connected groups of two or more modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = set()
            member = None
            while member != module:
                member = stack.pop()
                group.add(member)
            if len(group) > 1:
                found.append(group)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def shortest_cycle(graph: Graph, start: str, group: set[str]) -> list[str]:
    """The shortest chain of imports from start back to start, within group."""
    came_from = {start: start}
    pending = deque([start])
    while pending:
        module = pending.popleft()
        for target in sorted(graph[module]):
            if target == start:
                chain = [module]
                while chain[-1] != start:
                    chain.append(came_from[chain[-1]])
                return [start, *reversed(chain[:-1]), start]
            if target in group and target not in came_from:
                came_from[target] = module
                pending.append(target)
    raise AssertionError(f"{start} is in a strongly connected group but on no cycle")


def cycles(graph: Graph) -> list[list[str]]:
    """For every tangle, the shortest cycle through each of its modules, each cycle once, as
    ``[a, b, ..., a]`` starting at its first module in alphabetical order."""
    found = []
    for group in tangles(graph):
        for start in sorted(group):
            cycle = shortest_cycle(graph, start, group)
            first = cycle.index(min(cycle))
            rotated = cycle[first:-1] + cycle[:first] + [cycle[first]]
            if rotated not in found:
                found.append(rotated)
    return sorted(found)


def describe(graph: Graph, cycle: list[str]) -> str:
    """One cycle as a reader follows it: each module and the line that imports the next."""
    steps = [f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:], strict=False)]
    return " -> ".join([*steps, cycle[-1]])


def test_no_module_imports_itself_through_others():
    graph = import_graph(ROOT, PACKAGES)
    assert len(graph) > 50  # the walk found the modules
    found = cycles(graph)
    assert not found, "import cycles (move what both need into a module both import):\n" + (
        "\n".join(describe(graph, cycle) for cycle in found)
    )


def reaches(graph: Graph, start: str) -> set[str]:
    """Every module that importing ``start`` can run."""
    seen, pending = set(), deque([start])
    while pending:
        for target in graph[pending.popleft()]:
            if target not in seen:
                seen.add(target)
                pending.append(target)
    return seen


def command_line_imports(tree: ast.AST) -> list[str]:
    """What of argparse and bam.cli a module imports, beyond ``bam.cli.error_line`` (which
    formats an error in one line, for a command line or not)."""
    found = []
    for node in imports(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name in ("argparse", "bam.cli")]
        elif node.module == "argparse" or (node.module == "bam" and "cli" in names(node)):
            found.append(node.module)
        elif node.module == "bam.cli":
            found += [f"bam.cli.{name}" for name in names(node) if name != "error_line"]
    return found


def names(node: ast.ImportFrom) -> list[str]:
    return [alias.name for alias in node.names]


def test_only_the_command_layer_parses_command_lines():
    # A library module's functions take values, not argv: its command line is a module of
    # bam.commands, which its `if __name__ == "__main__"` block hands to bam.cli.run.
    for name, path in module_files(ROOT, ("bam",)).items():
        if name != "bam.cli" and not name.startswith("bam.commands"):
            found = command_line_imports(ast.parse(path.read_text(encoding="utf-8"), str(path)))
            assert not found, f"{name} imports {found}: its command line goes in bam.commands"


def test_the_checks_sit_below_the_shipped_networks():
    # The measures that the checks share with python -m bam.localisation must not pull in the
    # shipped networks, which only that command loads.
    graph = import_graph(ROOT, PACKAGES)
    assert "bam.pretrained" not in reaches(graph, "bam.checks")
    assert "bam.pretrained" in reaches(graph, "bam.commands.localisation")  # the walk sees it


PLANTED = {
    "pkg/__init__.py": "",
    # a -> b -> c -> a, through a submodule named in `from pkg import`, a relative import
    # inside a function and a plain import.
    "pkg/a.py": "from pkg import b\n",
    "pkg/b.py": "def later():\n    from . import c\n",
    "pkg/c.py": "import pkg.a\nimport json\n",
    # d imports a only for type checking, which never runs: no cycle through d.
    "pkg/d.py": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import thing\n"
    ),
    # e's command block runs as __main__, where importing a module that imports e is no cycle.
    "pkg/e.py": 'if __name__ == "__main__":\n    import pkg.uses_e\n',
    "pkg/uses_e.py": "import pkg.e\n",
    # A package's __init__ and a submodule that takes a name from the package.
    "pkg/sub/__init__.py": "from .f import F\n",
    "pkg/sub/f.py": "from pkg.sub import helper\nF = helper\n",
    # Importing the package runs its __init__: no cycle, since sub's __init__ does not import g.
    "pkg/sub/g.py": "import pkg.sub\n",
}


def test_a_planted_cycle_is_found(tmp_path):
    for name, source in PLANTED.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(source)
    graph = import_graph(tmp_path, ("pkg",))

    assert graph["pkg.c"] == {"pkg.a": 1}  # json is not one of the package's modules
    assert graph["pkg.d"] == {}
    assert graph["pkg.e"] == {}
    assert cycles(graph) == [
        ["pkg.a", "pkg.b", "pkg.c", "pkg.a"],
        ["pkg.sub", "pkg.sub.f", "pkg.sub"],
    ]
    assert describe(graph, cycles(graph)[0]) == (
        "pkg.a (line 1) -> pkg.b (line 2) -> pkg.c (line 1) -> pkg.a"
    )


def reexported(tree: ast.Module) -> set[str]:
    """The names a module takes from the packages' modules at its top level and does not
    define: what it re-exports."""
    taken, defined = set(), set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (
            node.level or node.module.split(".")[0] in PACKAGES
        ):
            taken |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined.add(node.name)
    return taken - defined


def test_a_module_imports_a_name_from_where_it_is_defined():
    # A module that re-exports names (bam.experiments, for the lesson) sits above what it
    # re-exports: importing a name through it puts the importer above all of that too.
    # A package's __init__ is its public face, and importing through it is its purpose.
    modules = module_files(ROOT, PACKAGES)
    plain = {name for name, path in modules.items() if path.name != "__init__.py"}
    exports = {
        name: reexported(ast.parse(modules[name].read_text(encoding="utf-8"))) for name in plain
    }
    found = []
    for name, path in modules.items():
        for node in imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in plain:
                through = sorted({alias.name for alias in node.names} & exports[node.module])
                found += [
                    f"{name} (line {node.lineno}) takes {n} from {node.module}" for n in through
                ]
    assert not found, "import these from the module that defines them:\n" + "\n".join(found)
