"""What a code cell's Python binds and reads at module level: how exercises taint later cells."""

from __future__ import annotations

import ast

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def parse_cell(source: str, where: str) -> ast.Module:
    """The cell's code as Python (IPython magics such as ``%pip`` translated), parsed."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError as err:
        raise ValueError(f"{where}: cannot parse the cell ({err.msg}, line {err.lineno})") from None


def bound_names(tree: ast.Module) -> set[str]:
    """Module-level names a cell binds or mutates (``x = ...``, ``def f``, ``x.a = ...``)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, _SCOPES + _COMPREHENSIONS):
            if not isinstance(node, (ast.Lambda, *_COMPREHENSIONS)):
                names.add(node.name)  # the body binds locals only
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.Attribute | ast.Subscript) and isinstance(
            node.ctx, ast.Store | ast.Del
        ):
            root = node
            while isinstance(root, ast.Attribute | ast.Subscript):
                root = root.value
            if isinstance(root, ast.Name):
                names.add(root.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def read_names(tree: ast.Module) -> set[str]:
    """Every name a cell reads, in function bodies too (they run when called)."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
