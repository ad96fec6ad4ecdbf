"""What a code cell's Python binds and reads at module level: how exercises taint later cells."""

from __future__ import annotations

import ast
import symtable

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
    """Module-level names a cell reads, in function and class bodies too (they run when
    called); a function's own parameters and locals are not among them, so that a method's
    ``x`` does not tie its cell to a cell that binds a global ``x``."""
    table = symtable.symtable(ast.unparse(tree), "cell", "exec")
    found, tables = set(), [table]
    while tables:
        scope = tables.pop()
        top = scope.get_type() == "module"
        found |= {
            sym.get_name()
            for sym in scope.get_symbols()
            if sym.is_referenced() and (top or sym.is_global())
        }
        tables += scope.get_children()
    return found
