"""The files every benchmark leaves, written one way: a Markdown table under a machine line (``<stem>.md``) and the
raw figures as JSON (``<stem>.json``). There is one table builder; a benchmark hands it its columns, each a header
and a function from a result row to the cell's text. The columns of the model and evaluation tables live here,
the model's with ratios against the first row."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Callable, Sequence

import torch

Column = tuple[str, Callable[[dict], str]]

MODEL_FIGURES = (
    ("train_step_s", "train step s", ".3f"),
    ("train_images_per_s", "train img/s", ".1f"),
    ("inference_images_per_s", "infer img/s", ".1f"),
    ("train_peak_mib", "train peak MiB", ".0f"),
    ("gflops", "GFLOPs/img", ".2f"),
    ("params_m", "params M", ".2f"),
    ("inference_params_m", "infer params M", ".2f"),
    ("loader_images_per_s", "loader img/s", ".1f"),
    ("loader_train_images", "train images", "d"),
    ("loader_peak_rss_mib", "loader RSS MiB", ".0f"),
    ("loader_worker_peak_rss_mib", "worker RSS MiB", ".0f"),
)
RATIOS = (("train_step_s", "step ratio"), ("inference_batch_s", "infer time ratio"), ("gflops", "GFLOPs ratio"))
EVAL_FIGURES = (
    ("eval_s", "eval s", ".2f"),
    ("eval_before_mib", "MiB before eval", ".0f"),
    ("eval_peak_mib", "eval peak MiB", ".0f"),
    ("t_distance_s", "distances s", ".2f"),
    ("t_ours_s", "evaluate_rank s", ".2f"),
    ("t_reference_s", "fast-reid s", ".2f"),
    ("speedup", "speed-up", ".1f"),
    ("max_abs_diff_AP", "max AP diff", ".1e"),
    ("num_queries_differing", "queries differing", "d"),
    ("num_differing_without_ties", "of them without ties", "d"),
)


def write_report(out: Path, stem: str, machine: str, table: str, record: dict) -> None:
    """``out/<stem>.json`` (``record`` with the machine) and ``out/<stem>.md`` (machine line and table), and the
    same on stdout with where they went."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps({"machine": machine, **record}, indent=2))
    (out / f"{stem}.md").write_text(f"Machine: {machine}\n\n{table}\n")
    print(f"\nMachine: {machine}\n\n{table}\n\nWritten to {out}/{stem}.{{json,md}}")


def markdown_table(rows: Sequence[dict], columns: Sequence[Column]) -> str:
    """One line per row, one cell per column."""
    lines = ["| " + " | ".join(header for header, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row) for _, cell in columns) + " |" for row in rows]
    return "\n".join(lines)


def figure(key: str, spec: str) -> Callable[[dict], str]:
    """A cell showing ``row[key]`` formatted by ``spec``, "-" where the row has none."""
    return lambda row: "-" if row.get(key) is None else format(row[key], spec)


def measured(rows: Sequence[dict], figures: Sequence[tuple[str, str, str]]) -> list[Column]:
    """The columns of ``figures`` (key, header, format) that some row measured."""
    return [(header, figure(key, spec)) for key, header, spec in figures if any(key in row for row in rows)]


def model_columns(rows: Sequence[dict]) -> list[Column]:
    """Config, what was measured, and the ratios of time and GFLOPs against the first config."""
    ratios = [(k, h) for k, h in RATIOS if len(rows) > 1 and k in rows[0]]
    return [("config", lambda row: row["name"]), *measured(rows, MODEL_FIGURES),
            *[(header, _ratio(key, rows[0])) for key, header in ratios]]


def _ratio(key: str, reference: dict) -> Callable[[dict], str]:
    return lambda row: f"{row[key] / reference[key]:.3f}" if key in row else "-"


def eval_columns(rows: Sequence[dict]) -> list[Column]:
    return [("evaluation", lambda row: row["name"]), *measured(rows, EVAL_FIGURES)]


def cpu_name() -> str:
    """The CPU model (Linux reports it in /proc/cpuinfo; platform.processor() is often empty)."""
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else platform.processor() or platform.machine()


def machine_line(*extra: str) -> str:
    """What the figures depend on: CPU model and cores, torch threads, the GPU, torch's version, and ``extra``."""
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return ", ".join([cpu_name(), f"{os.cpu_count()} CPU cores", f"{torch.get_num_threads()} torch threads", gpu,
                      f"torch {torch.__version__}", *extra])
