"""Percentiles and the plain-text tables the benchmarks print."""

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile (fraction 0.5 for p50); NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else math.nan


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Print a Markdown table, so the output can be pasted into BENCHMARKS.md."""
    cells = [[_format(cell) for cell in row] for row in rows]
    widths = [
        max(len(header), *(len(row[index]) for row in cells))
        for index, header in enumerate(headers)
    ]
    print(f"\n### {title}\n", flush=True)
    print(_format_row(headers, widths))
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for row in cells:
        print(_format_row(row, widths))
    print(flush=True)


def _format_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
    return "| " + " | ".join(padded) + " |"


def _format(cell: object) -> str:
    if isinstance(cell, float):
        if math.isnan(cell):
            return "-"
        if abs(cell) >= 100:
            return f"{cell:,.0f}"
        if abs(cell) >= 10:
            return f"{cell:.1f}"
        return f"{cell:.2f}"
    return str(cell)
