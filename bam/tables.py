"""Plain-text tables, the one formatter every report of the package prints through."""

from __future__ import annotations

from collections.abc import Sequence


def text_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    left: int = 1,
    *,
    widths: Sequence[int] = (),
    gap: int = 2,
    rule: str = "columns",
    indent: int = 0,
) -> str:
    """Columns padded to their widest cell: the first ``left`` aligned left, the rest right.

    Args:
        header: the column titles.
        rows: the cells, already formatted as strings, one sequence per row.
        left: how many columns, from the first, are aligned left.
        widths: the least width of each column (as many as given, from the first).
        gap: spaces between columns.
        rule: ``"columns"`` draws a dash line under each column, ``"line"`` one unbroken line
            under the whole header.
        indent: spaces before every line.
    """
    if rule not in ("columns", "line"):
        raise ValueError(f"rule must be 'columns' or 'line', got {rule!r}")
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells for {len(header)} columns: {row}")
    least = [*widths, *[0] * (len(header) - len(widths))]
    sizes = [max(least[i], *(len(row[i]) for row in [header, *rows])) for i in range(len(header))]
    space = " " * gap

    def line(cells: Sequence[str]) -> str:
        return space.join(
            cell.ljust(w) if i < left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, sizes, strict=True))
        )

    top = line(header)
    under = "-" * len(top) if rule == "line" else space.join("-" * w for w in sizes)
    return "\n".join(" " * indent + text for text in [top, under, *map(line, rows)])
