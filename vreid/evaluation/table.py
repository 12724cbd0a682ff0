"""The result table printed after evaluation."""
from __future__ import annotations

from typing import Mapping

from tabulate import tabulate

COLUMNS = ("Rank-1", "Rank-5", "Rank-10", "Rank-20", "mAP", "mINP")


def results_table(results: Mapping[str, Mapping[str, float]], columns=COLUMNS, extra_rows=()) -> str:
    """One row per protocol, metrics in percent."""
    rows = [[name, *(r.get(c, float("nan")) for c in columns)] for name, r in results.items()]
    rows += [list(r) for r in extra_rows]
    return tabulate(rows, headers=["protocol", *columns], floatfmt=".2f", tablefmt="github")
