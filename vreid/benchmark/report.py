"""Benchmark results as a Markdown table, with ratios against the first row, and the files a
benchmark tool leaves: the same table and machine line as Markdown, the raw figures as JSON."""
from __future__ import annotations

import json
from pathlib import Path

COLUMNS = (
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
    ("eval_s", "eval s", ".2f"),
    ("eval_before_mib", "MiB before eval", ".0f"),
    ("eval_peak_mib", "eval peak MiB", ".0f"),
)
RATIOS = (("train_step_s", "step ratio"), ("inference_batch_s", "infer time ratio"),
          ("gflops", "GFLOPs ratio"))


def write_report(out: Path, stem: str, machine: str, table: str, record: dict) -> None:
    """``out/<stem>.json`` (``record`` with the machine) and ``out/<stem>.md`` (machine line and
    table), and the same on stdout with where they went."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps({"machine": machine, **record}, indent=2))
    (out / f"{stem}.md").write_text(f"Machine: {machine}\n\n{table}\n")
    print(f"\nMachine: {machine}\n\n{table}\n\nWritten to {out}/{stem}.{{json,md}}")


def markdown_table(rows: list[dict]) -> str:
    """One line per result dict (keyed by "name"); columns only for measured quantities."""
    cols = [c for c in COLUMNS if any(c[0] in r for r in rows)]
    ratios = [r for r in RATIOS if len(rows) > 1 and r[0] in rows[0]]
    header = ["config"] + [c[1] for c in cols] + [r[1] for r in ratios]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["name"]] + [format(row[k], f) if row.get(k) is not None else "-" for k, _, f in cols]
        cells += [f"{row[k] / rows[0][k]:.3f}" if k in row else "-" for k, _ in ratios]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
