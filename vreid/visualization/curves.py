"""Training curves from a run's metrics.json, fast-reid's JSONWriter output (one JSON object per
line, each with its "iteration"): losses, learning rate, the evaluations' rank-1 and mAP, and
probe metrics (``probe/*``) a project's extra evaluation logs."""
from __future__ import annotations

import json
import os
from typing import Callable

from matplotlib.figure import Figure

from vreid.errors import UserError

Series = dict[str, list[tuple[int, float]]]


def read_metrics(path: str) -> Series:
    """Every numeric key's (iteration, value) points, by iteration. A resumed run writes the
    iterations after its last checkpoint again; the later line wins, as the run that went on."""
    if not os.path.isfile(path):
        raise UserError(f"metrics file {path} not found; training writes it as OUTPUT_DIR/metrics.json")
    by_iter: dict[int, dict[str, float]] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{lineno}: not JSON ({e.msg}); is this fast-reid's metrics.json?") from None
            if not isinstance(record, dict) or not isinstance(record.get("iteration"), int):
                raise UserError(f"{path}:{lineno}: expected a JSON object with an integer 'iteration'")
            values = {k: float(v) for k, v in record.items()
                      if k != "iteration" and isinstance(v, (int, float)) and not isinstance(v, bool)}
            by_iter.setdefault(record["iteration"], {}).update(values)
    series: Series = {}
    for iteration in sorted(by_iter):
        for key, value in by_iter[iteration].items():
            series.setdefault(key, []).append((iteration, value))
    return series


def _is_loss(key: str) -> bool:
    return key.startswith("loss_") or key == "total_loss"


def _is_eval(key: str) -> bool:
    return key.rsplit("/", 1)[-1] in ("Rank-1", "mAP")


def _chance_key(key: str) -> str:
    head, _, metric = key.rpartition("/")
    return f"{head}/chance_{metric}" if head else f"chance_{metric}"


def _is_probe_accuracy(key: str) -> bool:
    """A probe accuracy, ``probe/<name>_acc``; its chance level ``probe/chance_<name>_acc`` is drawn with it."""
    return key.startswith("probe/") and key.endswith("_acc") and not key.startswith("probe/chance_")


def _is_probe_statistic(key: str) -> bool:
    return key.startswith("probe/") and not key.endswith("_acc")


PANELS: list[tuple[str, Callable[[str], bool]]] = [
    ("losses", _is_loss), ("learning rate", lambda k: k == "lr"), ("evaluation (%)", _is_eval),
    ("probe accuracy (%)", _is_probe_accuracy), ("probe norms and G", _is_probe_statistic)]
LOG_SCALE_PANELS = ("learning rate", "probe norms and G")  # positive values over decades


def plot_curves(series: Series, path: str, title: str = "") -> list[str]:
    """Write one PNG with a panel per group that has data; returns the panels' titles.
    Evaluation curves come with their chance level (dashed) when the run logged it."""
    panels = [(name, sorted(k for k in series if keep(k))) for name, keep in PANELS]
    panels = [(name, keys) for name, keys in panels if keys]
    if not panels:
        raise UserError(f"{title or 'the metrics'} hold no losses, lr, Rank-1, mAP or probe metrics to plot")
    fig = Figure(figsize=(5 * len(panels), 3.6), layout="constrained")
    for ax, (name, keys) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        for key in keys:
            xs, ys = zip(*series[key])
            line, = ax.plot(xs, ys, marker="o" if len(xs) < 20 else None, markersize=3, label=key)
            if _chance_key(key) in series:
                cx, cy = zip(*series[_chance_key(key)])
                ax.plot(cx, cy, linestyle="--", color=line.get_color(), label=f"{key} (chance)")
        if name in LOG_SCALE_PANELS and min(v for k in keys for _, v in series[k]) > 0:
            ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    return [name for name, _ in panels]
