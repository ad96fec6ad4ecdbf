"""A grid's rows summarised honestly: mean and sample standard deviation over seeds, the
difference of two configurations with its standard error, and the table lesson 08 prints.

    print(format_table(summarize(rows)))
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bam.results_file import Config, run_key
from bam.tables import text_table


@dataclass
class Summary:
    """One configuration over its seeds: mean and sample standard deviation of a metric."""

    name: str
    config: Config
    runs: int
    mean: float
    std: float  # sample standard deviation (n - 1); nan for a single run
    values: list[float]


def summarize(rows: Sequence[dict], metric: str = "test_acc") -> list[Summary]:
    """Mean +- std of ``metric`` per configuration, in the order configurations first appear."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        if metric not in row:
            raise ValueError(f"a row of {row.get('name')!r} has no {metric!r}: {sorted(row)}")
        groups.setdefault(run_key(row["config"], 0), []).append(row)
    summaries = []
    for group in groups.values():
        values = [float(row[metric]) for row in sorted(group, key=lambda r: r["seed"])]
        std = statistics.stdev(values) if len(values) > 1 else math.nan
        summaries.append(
            Summary(
                group[0]["name"],
                group[0]["config"],
                len(values),
                statistics.mean(values),
                std,
                values,
            )
        )
    return summaries


def format_table(
    summaries: Sequence[Summary],
    metric: str = "test accuracy (%)",
    scale: float = 100.0,
    extra: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """A plain-text table: label, runs, ``mean +- std`` (times ``scale``), and extra columns
    (``extra[column][label]``, e.g. the paper's figure for that configuration)."""
    extra = extra or {}
    rows = []
    for s in summaries:
        spread = "" if math.isnan(s.std) else f" +- {scale * s.std:.2f}"
        cells = [s.name, str(s.runs), f"{scale * s.mean:.2f}{spread}"]
        rows.append(cells + [extra[column].get(s.name, "") for column in extra])
    return text_table(["configuration", "runs", metric, *extra], rows)


def difference(a: Summary, b: Summary, std: float | None = None) -> tuple[float, float]:
    """``a.mean - b.mean`` and its standard error.

    With ``std`` (a standard deviation that both configurations are taken to share, e.g. pooled
    over a whole grid): ``std * sqrt(1 / n_a + 1 / n_b)``. Without it, each one's own:
    ``sqrt(s_a^2 / n_a + s_b^2 / n_b)``, nan when either has a single run.
    """
    if std is not None:
        return a.mean - b.mean, std * math.sqrt(1 / a.runs + 1 / b.runs)
    return a.mean - b.mean, math.sqrt(a.std**2 / a.runs + b.std**2 / b.runs)


def pooled_std(summaries: Sequence[Summary]) -> float:
    """The seed-to-seed standard deviation pooled over configurations with two runs or more:
    ``sqrt(sum((n_i - 1) s_i^2) / sum(n_i - 1))``; nan when no configuration has two runs."""
    dof = sum(s.runs - 1 for s in summaries if s.runs > 1)
    if not dof:
        return math.nan
    return math.sqrt(sum((s.runs - 1) * s.std**2 for s in summaries if s.runs > 1) / dof)
