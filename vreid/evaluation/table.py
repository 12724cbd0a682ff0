"""The result table printed after evaluation."""
from __future__ import annotations

import statistics
from typing import Mapping, Sequence

from tabulate import tabulate

COLUMNS = ("Rank-1", "Rank-5", "Rank-10", "Rank-20", "mAP", "mINP")
# Shown after COLUMNS when some protocol has them: fast-reid's ROC figures (TEST.ROC.ENABLED).
OPTIONAL = ("TPR@FPR=1e-04", "TPR@FPR=1e-03", "TPR@FPR=1e-02")
SD_SUFFIX = "_sd"  # a metric's standard deviation over gallery draws (vreid.data.draws)


def mean_and_sd(runs: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Every metric's mean over ``runs`` and, as ``<metric>_sd``, its sample standard deviation
    (n - 1; 0 for one run)."""
    out = {}
    for key in runs[0]:
        values = [float(r[key]) for r in runs]
        out[key] = statistics.fmean(values)
        out[key + SD_SUFFIX] = statistics.stdev(values) if len(values) > 1 else 0.0
    return out


def _cell(result: Mapping[str, float], column: str) -> str:
    """The metric with two decimals, as ``mean ± sd`` where the protocol was averaged over draws
    (text in every cell, so one column may hold both)."""
    value = f"{result.get(column, float('nan')):.2f}"
    return f"{value} ± {result[column + SD_SUFFIX]:.2f}" if column + SD_SUFFIX in result else value


def results_table(results: Mapping[str, Mapping[str, float]], columns=COLUMNS, extra_rows=()) -> str:
    """One row per protocol, metrics in percent; a protocol averaged over gallery draws shows
    each metric as mean ± standard deviation."""
    columns = (*columns, *(c for c in OPTIONAL if c not in columns and any(c in r for r in results.values())))
    rows = [[name, *(_cell(r, c) for c in columns)] for name, r in results.items()]
    rows += [list(r) for r in extra_rows]
    return tabulate(rows, headers=["protocol", *columns], floatfmt=".2f", tablefmt="github")
