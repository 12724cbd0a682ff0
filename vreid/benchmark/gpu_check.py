"""The GPU check: the training rows the installed projects declare (eager, then compiled), the evaluator at city
scale and the training loader, each in its own worker process within one time budget, in one table.

The comparison column is generic: each training row against the first (the reference) and against the row of its
config without its own overrides (so a row that switches a module off gives that module's share of the step), a
compiled row against its eager row and the first compiled row, the loader against every training row's images/s.
A row that fails or runs out of time is reported as such; compiled rows run last, as the slowest and the least
certain.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import Callable, Sequence

from vreid.projects import BenchmarkRow, ProjectSpec

from .report import Column

COMPILED = ("MODEL.COMPILE.ENABLED", "True")
CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class Mode:
    """What one run measures: the shared training overrides, iterations, sizes and data."""

    train_opts: tuple[str, ...]
    iters: int
    warmup: int
    eval_size: str  # QxG
    loader_preset: str
    loader_opts: tuple[str, ...]
    loader_batches: int
    compile: bool
    row_timeout_s: dict[str, int] = field(default_factory=lambda: {"train": 150, "compiled": 300, "evaluation": 150,
                                                                   "loader": 150})


def _common(device: str, size: int, batch: int) -> tuple[str, ...]:
    return ("MODEL.BACKBONE.PRETRAIN", "False", "INPUT.SIZE_TRAIN", f"{size},{size}", "SOLVER.IMS_PER_BATCH",
            str(batch), "SOLVER.AMP.ENABLED", "True", "SOLVER.AMP.DTYPE", "bfloat16", "MODEL.CHANNELS_LAST", "True",
            "MODEL.DEVICE", device)


def _loader_opts(device: str, size: int, batch: int, workers: int) -> tuple[str, ...]:
    return ("INPUT.SIZE_TRAIN", f"{size},{size}", "SOLVER.IMS_PER_BATCH", str(batch),
            "DATALOADER.NUM_WORKERS", str(workers), "MODEL.DEVICE", device)


MODES = {
    "gpu": Mode(_common("cuda", 256, 64), iters=20, warmup=5, eval_size="10000x100000", loader_preset="default",
                loader_opts=_loader_opts("cuda", 256, 64, CORES), loader_batches=max(100, 8 * CORES), compile=True),
    # ResNet-18, 64 px, 2 iterations on CPU: every row's code path, without compiling, in fp32 (bf16
    # convolutions on a CPU without bf16 units took 22 s a step here).
    "smoke": Mode(("MODEL.BACKBONE.DEPTH", "18x", "MODEL.BACKBONE.FEAT_DIM", "512", *_common("cpu", 64, 16),
                   "SOLVER.AMP.ENABLED", "False"),
                  iters=2, warmup=1, eval_size="200x2000", loader_preset="tiny",
                  loader_opts=_loader_opts("cpu", 64, 16, 2), loader_batches=5, compile=False),
}


@dataclass(frozen=True)
class Row:
    """One measurement of the check: its table name, what it measures (train, compiled, evaluation or loader) and,
    for the declared rows, the declared label and config entry."""

    name: str
    measure: str
    label: str = ""
    entry: str = ""


def declared_rows(projects: Sequence[ProjectSpec]) -> list[BenchmarkRow]:
    return [row for project in projects for row in project.benchmark_rows]


def _own_overrides(entry: str) -> bool:
    return len(shlex.split(entry)) > 1


def plan(declared: Sequence[BenchmarkRow], mode: Mode) -> list[Row]:
    """Eager training rows, the evaluation, the loader rows, then (when the mode compiles) the training rows without
    overrides of their own compiled: a switch's share of the step is read from the eager rows."""
    train = [r for r in declared if r.measure == "train"]
    rows = [Row(f"{r.label}, eager", "train", r.label, r.entry) for r in train]
    rows.append(Row("evaluation", "evaluation"))
    rows += [Row(r.label, "loader", r.label, r.entry) for r in declared if r.measure == "loader"]
    if mode.compile:
        rows += [Row(f"{r.label}, compiled", "compiled", r.label, r.entry) for r in train
                 if not _own_overrides(r.entry)]
    return rows


def worker_argv(row: Row, mode: Mode) -> list[str]:
    """The tools/benchmark.py worker command line (subcommand on) that measures ``row``."""
    if row.measure == "evaluation":
        return ["eval", "--worker", "evaluator", "--sizes", mode.eval_size, "--dim", "2048"]
    if row.measure == "loader":
        return ["model", "--worker", "--configs", row.entry, "--measure", "loader", "--loader-batches",
                str(mode.loader_batches), "--opts", *mode.loader_opts]
    entry = row.entry + (" " + " ".join(COMPILED) if row.measure == "compiled" else "")
    return ["model", "--worker", "--configs", entry, "--measure", "train", "--iters", str(mode.iters), "--warmup",
            str(mode.warmup), "--opts", *mode.train_opts]


def measure_rows(rows: Sequence[Row], mode: Mode, run: Callable[[list[str], float], dict]) -> list[dict]:
    """Every row's result or error, in order; ``run(worker argv, timeout)`` runs one worker."""
    return [run(worker_argv(row, mode), mode.row_timeout_s[row.measure]) for row in rows]


def _step_ratio(a: dict, b: dict) -> float | None:
    if "train_step_s" in a and "train_step_s" in b:
        return a["train_step_s"] / b["train_step_s"]
    return None


def comparisons(rows: Sequence[Row], results: Sequence[dict]) -> list[str]:
    """The comparison column, one note per row."""
    by = {(row.measure, row.label): result for row, result in zip(rows, results)}
    return [_note(row, result, rows, by) for row, result in zip(rows, results)]


def _note(row: Row, result: dict, rows: Sequence[Row], by: dict[tuple[str, str], dict]) -> str:
    if row.measure == "loader":
        return _loader_note(result, [(r.label, by[r.measure, r.label]) for r in rows if r.measure == "train"])
    if row.measure not in ("train", "compiled"):
        return ""
    same = [r for r in rows if r.measure == row.measure]
    if row is same[0] and row.measure == "train":
        return "reference"
    base = shlex.split(row.entry)[0] if _own_overrides(row.entry) else None
    against = [same[0]] + [r for r in same[1:] if r.entry == base]  # the first row, the row of the config alone
    ratios = [(f"step / {r.label} {{:.2f}}", _step_ratio(result, by[r.measure, r.label])) for r in against
              if r is not row]
    if row.measure == "compiled":
        ratios.insert(0, ("compiled speed-up {:.2f}x", _step_ratio(by["train", row.label], result)))
    return "; ".join(text.format(value) for text, value in ratios if value is not None)


def _loader_note(result: dict, training: list[tuple[str, dict]]) -> str:
    speeds = [(label, r["train_images_per_s"]) for label, r in training if "train_images_per_s" in r]
    if "loader_images_per_s" not in result or not speeds:
        return ""
    loader = result["loader_images_per_s"]
    return "loader / training: " + ", ".join(f"{label} {loader / speed:.2f}" for label, speed in speeds)


def _cell(row: Row, r: dict) -> str:
    if "error" in r:
        return r["error"]
    if row.measure == "evaluation":
        q, g, d = r["eval_shape"]
        return f"{r['eval_s']:.2f} s for {q:,} x {g:,} x {d} (peak {r['eval_peak_mib']:,.0f} MiB)"
    if row.measure == "loader":
        return (f"{r['loader_images_per_s']:,.0f} img/s ({r['loader_workers']} workers, {r['loader_batches']} "
                f"batches of {r['loader_batch']})")
    return (f"{r['train_images_per_s']:,.0f} img/s (step {r['train_step_s'] * 1e3:.1f} ms, "
            f"peak {r['train_peak_mib']:,.0f} MiB)")


def table_rows(rows: Sequence[Row], results: Sequence[dict]) -> list[dict]:
    return [{"name": row.name, "result": _cell(row, result), "comparison": note}
            for row, result, note in zip(rows, results, comparisons(rows, results))]


def columns(mode_name: str) -> list[Column]:
    return [(f"measurement ({mode_name})", lambda r: r["name"]), ("result", lambda r: r["result"]),
            ("comparison", lambda r: r["comparison"])]
