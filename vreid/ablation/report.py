"""A grid's tables: Markdown (one table per protocol), JSON (every number and every seed's value)
and a PNG of the per-protocol means with their 95 % intervals beside the chance level."""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from typing import Mapping, Sequence

from vreid.ablation.stats import METRICS, Estimate, Row, RunMetrics


def _value(e: Estimate) -> str:
    if e.n == 1:
        return f"{e.mean:.1f}"
    return f"{e.mean:.1f} ± {e.sd:.1f} [{e.low:.1f}, {e.high:.1f}]"


def _difference(e: Estimate | None) -> str:
    if e is None:
        return "—"
    if e.n == 1:
        return f"{e.mean:+.1f} (1 seed)"
    return f"{e.mean:+.1f} [{e.low:+.1f}, {e.high:+.1f}]"


def _protocols(rows: list[Row]) -> list[str]:
    return list(dict.fromkeys(r.protocol for r in rows))


def markdown(rows: list[Row], reference: str, queries: Mapping[str, float], others: Sequence[str] = (),
             path: bool = False) -> str:
    """Per protocol: mean ± sd [95 % interval] over seeds, the paired difference to the reference
    run (and to each of ``others``) with its 95 % interval, on a ``path`` the paired mAP
    difference to the run above, and where runs were evaluated more than once the change of mAP
    over the last evaluation period (the convergence check)."""
    against = " and ".join(f"`{r}`" for r in (reference, *others))
    parts = ["Mean ± standard deviation over seeds [95 % interval of the mean]; differences are paired "
             f"by seed against {against} [95 % interval]." if reference else
             "Mean ± standard deviation over seeds [95 % interval of the mean]."]
    if path:
        parts[0] += (" The runs are a path, each the one above it plus one change: Δ mAP vs the run above is "
                     "what that change is worth at that point, paired by seed.")
    converging = any(r.change for r in rows)
    if converging:
        parts[0] += (" Last period: mAP at the last evaluation minus the one before [95 % interval]; "
                     "an interval holding 0 says the run had stopped improving.")
    for protocol in _protocols(rows):
        own = [r for r in rows if r.protocol == protocol]
        chance = own[0].chance
        count = f", {int(queries[protocol])} queries" if protocol in queries else ""
        parts.append(f"### {protocol} (chance rank-1 {chance['Rank-1']:.1f} %, mAP {chance['mAP']:.1f} %{count})")
        head = ["run", "seeds", *(f"{m} %" for m in METRICS)]
        if reference:
            head += [f"Δ {m} vs {ref}" for ref in (reference, *others) for m in METRICS]
        if path:
            head.append("Δ mAP vs the run above")
        if converging:
            head.append("last period Δ mAP")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in own:
            cells = [f"`{r.run}`", str(len(r.seeds)), *(_value(r.metrics[m]) for m in METRICS)]
            if reference:
                cells += [_difference(r.vs_reference[m]) if r.vs_reference else "—" for m in METRICS]
                for other in others:
                    versus = (r.vs_others or {}).get(other)
                    cells += [_difference(versus[m]) if versus else "—" for m in METRICS]
            if path:
                cells.append(_difference(r.vs_previous["mAP"]) if r.vs_previous else "—")
            if converging:
                cells.append(_difference(r.change["mAP"]) if r.change else "—")
            lines.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _clean(value):
    """JSON has no NaN: an undefined sd or interval (one seed) is null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def as_json(rows: list[Row], reference: str, results: Mapping[str, Mapping[int, RunMetrics]],
            others: Sequence[str] = (), path: bool = False) -> str:
    """Every row and every seed's metrics; a grid with one reference is written as before the
    other references existed (no ``other_references``, no ``vs_others``), one that is no path as
    before paths (no ``path``, no ``vs_previous``)."""
    per_seed = {run: {str(seed): metrics for seed, metrics in by_seed.items()} for run, by_seed in results.items()}
    rows = [asdict(r) for r in rows]
    for row in rows:
        for key, kept in (("vs_others", others), ("vs_previous", path)):
            if not kept:
                del row[key]
    head = {"reference": reference, **({"other_references": list(others)} if others else {}),
            **({"path": True} if path else {})}
    return json.dumps(_clean({**head, "level": 0.95, "rows": rows, "per_seed": per_seed}), indent=1) + "\n"


def plot(rows: list[Row], path: str) -> None:
    """One panel per protocol: each run's mean rank-1 and mAP with its 95 % interval (no bar for
    one seed), the chance levels dashed."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a training machine
    import matplotlib.pyplot as plt

    protocols = _protocols(rows)
    fig, axes = plt.subplots(1, len(protocols), figsize=(1.5 + 0.9 * len(rows), 3.6), squeeze=False)
    for ax, protocol in zip(axes[0], protocols):
        own = [r for r in rows if r.protocol == protocol]
        for offset, metric, colour in ((-0.15, "Rank-1", "tab:blue"), (0.15, "mAP", "tab:orange")):
            means = [r.metrics[metric].mean for r in own]
            errors = [[0.0 if r.metrics[metric].n == 1 else r.metrics[metric].mean - r.metrics[metric].low for r in own],
                      [0.0 if r.metrics[metric].n == 1 else r.metrics[metric].high - r.metrics[metric].mean for r in own]]
            ax.errorbar([i + offset for i in range(len(own))], means, yerr=errors, fmt="o", color=colour,
                        capsize=3, label=metric)
            ax.axhline(own[0].chance[metric], color=colour, linestyle="--", linewidth=0.8)
        ax.set_xticks(range(len(own)), [r.run for r in own], rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{protocol} (dashed: chance)", fontsize=9)
        ax.set_ylabel("%")
        ax.set_ylim(bottom=0)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
