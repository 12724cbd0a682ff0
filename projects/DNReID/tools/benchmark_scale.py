#!/usr/bin/env python
"""How the start of training, the training loader and evaluation grow with the dataset, on the
DN layout's synthetic presets, generated under --data/<preset> when missing or stale (a DNReID
tool: the presets and the two protocols are DNReID's):

    python projects/DNReID/tools/benchmark_scale.py --data /tmp/scale --presets default large dnwild --max-iters 100

Per preset, each stage runs in its own process (its own peak RSS): indexing (the training set
and both test protocols built from the list files, every listed file checked), the training
sampler (built, then one epoch of indices drawn), one epoch of the training loader (at most
--max-iters batches), and the evaluator on seeded features of the protocols' sizes (D->N: day
queries x night test images, N->D: night queries x day test images). "x default" is the cost
per item relative to the default preset's, so 1.0 means linear growth; each figure is the best
of --rounds rounds, the fastest time and the largest peak (rounds go over all presets, so a burst
of load on a shared machine hits one round).
Writes Markdown and JSON. The processes, rounds and table are the core's (``vreid.benchmark``).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from dnreid.synthetic import SIZES
from vreid.cli import run_cli
from vreid.benchmark import machine_line, markdown_table, measure_loader, write_report
from vreid.benchmark.evaluation import measure_eval
from vreid.benchmark.isolate import best_of_rounds, require, run_worker
from vreid.benchmark.report import Column
from vreid.benchmark.scale import measure_index, measure_sampler
from vreid.config import load_config
from vreid.engine.fast_paths import configure_process
from vreid.synthetic import generate

ROOT = Path(__file__).resolve().parents[3]  # the repository
STAGES = ("index", "sampler", "loader", "eval_d2n", "eval_n2d")
PROTOCOLS = {"eval_d2n": ("D->N", "query_day", "test_night"), "eval_n2d": ("N->D", "query_night", "test_day")}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("/tmp/vreid-scale"), help="data roots go to DATA/<preset>")
    p.add_argument("--presets", nargs="+", choices=sorted(SIZES), default=["default", "large", "dnwild"])
    p.add_argument("--config-file", default=str(ROOT / "configs" / "synthetic" / "dndm.yml"),
                   help="a config training on SynDN (its sampler, batch, input size and loader workers)")
    p.add_argument("--max-iters", type=int, default=100,
                   help="loader batches timed at most (an epoch is fewer on small sets)")
    p.add_argument("--eval-dim", type=int, default=2048)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes rendering missing data")
    p.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    p.add_argument("--rounds", type=int, default=2, help="rounds over all presets; each figure keeps its best round")
    p.add_argument("--out", type=Path, default=ROOT / "output" / "benchmark_scale", help="JSON and Markdown go here")
    p.add_argument("--worker", choices=STAGES, help=argparse.SUPPRESS)
    p.add_argument("--preset", help=argparse.SUPPRESS)
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides")
    return p.parse_args(argv)


def measure(stage: str, preset: str, args: argparse.Namespace) -> dict:
    """One stage on one preset, in this (fresh) process."""
    root = args.data / preset
    os.environ["FASTREID_DATASETS"] = str(root)  # the registered SynDN reads <data root>/synthetic/dn
    if stage in PROTOCOLS:
        counts = generate(root, preset, layouts=["dn"])["dn"]  # the marker's counts: nothing is rendered
        _, query, gallery = PROTOCOLS[stage]
        measure_eval(64, 64, args.eval_dim, num_ids=8)  # the first call's one-off costs (thread pools) billed to none
        return measure_eval(counts[query], counts[gallery], args.eval_dim, num_ids=SIZES[preset].test_ids)
    cfg = load_config(args.config_file, args.opts)
    configure_process(cfg)
    if stage == "index":
        return measure_index(cfg)
    if stage == "sampler":
        return measure_sampler(cfg)
    return measure_loader(cfg, args.max_iters, within_epoch=True)


def rows_of(stage: str, preset: str, r: dict) -> list[dict]:
    """Table rows (items, seconds, memory) from one stage's measurement."""
    if stage == "index":
        return [{"stage": "index train set", "items": r["index_train_images"], "unit": "images", "s": r["index_train_s"],
                 "before_mib": r["index_before_mib"], "peak_mib": r["index_train_peak_mib"]},
                {"stage": "index test sets", "items": r["index_test_images"], "unit": "images", "s": r["index_test_s"],
                 "before_mib": r["index_before_mib"], "peak_mib": r["index_peak_mib"]}]
    if stage == "sampler":
        return [{"stage": "sampler build", "items": r["sampler_train_images"], "unit": "images",
                 "s": r["sampler_build_s"], "before_mib": r["sampler_before_mib"], "peak_mib": r["sampler_peak_mib"]},
                {"stage": "sampler epoch", "items": r["sampler_epoch_indices"], "unit": "indices",
                 "s": r["sampler_epoch_s"], "before_mib": r["sampler_before_mib"], "peak_mib": r["sampler_peak_mib"]}]
    if stage == "loader":
        images = r["loader_batches"] * r["loader_batch"]
        return [{"stage": "loader epoch", "items": images, "unit": "images", "s": images / r["loader_images_per_s"],
                 "before_mib": None, "peak_mib": r["loader_peak_rss_mib"],
                 "note": f"{r['loader_batches']} of {r['loader_epoch_batches']} batches, {r['loader_workers']} workers "
                         f"(largest {r['loader_worker_peak_rss_mib']:.0f} MiB)"}]
    q, g, d = r["eval_shape"]
    return [{"stage": f"evaluate {PROTOCOLS[stage][0]}", "items": q * g, "unit": f"pairs ({q} x {g}, {d}-d)",
             "s": r["eval_s"], "before_mib": r["eval_before_mib"], "peak_mib": r["eval_peak_mib"]}]


def _per_item(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.2g} ns"


def columns(rows: list[dict]) -> list[Column]:
    """One line per stage and preset; "x default" compares the cost per item with the default's."""
    base = {row["stage"]: row["s"] / row["items"] for row in rows if row["preset"] == "default"}

    def growth(row: dict) -> str:
        return f"{row['s'] / row['items'] / base[row['stage']]:.2f}" if row["stage"] in base else "-"

    def memory(row: dict) -> str:
        return f"{'-' if row['before_mib'] is None else format(row['before_mib'], '.0f')} / {row['peak_mib']:.0f}"

    return [("stage", lambda r: r["stage"]), ("preset", lambda r: r["preset"]),
            ("items", lambda r: f"{r['items']:,} {r['unit']}"), ("s", lambda r: f"{r['s']:.3f}"),
            ("per item", lambda r: _per_item(r["s"] / r["items"])), ("x default", growth),
            ("items/s", lambda r: f"{r['items'] / r['s']:,.0f}"), ("RSS before / peak MiB", memory),
            ("note", lambda r: r.get("note", ""))]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.worker, args.preset, args)))
        return 0
    for preset in args.presets:
        generate(args.data / preset, preset, layouts=["dn"], progress=True, workers=args.workers)
    shared = ["--data", str(args.data), "--config-file", args.config_file, "--max-iters", str(args.max_iters),
              "--eval-dim", str(args.eval_dim), "--opts", *args.opts]  # --opts last: it takes the rest

    def stage_on(task: tuple[str, str]) -> dict:
        preset, stage = task
        return require(run_worker([__file__, "--worker", stage, "--preset", preset, *shared]), f"{stage} on {preset}")

    tasks = [(preset, stage) for preset in args.presets for stage in args.stages]
    results = best_of_rounds(tasks, args.rounds, stage_on, lambda task: f"{task[0]}: {task[1]}")
    rows = [{"preset": preset, **row} for (preset, stage), result in zip(tasks, results)
            for row in rows_of(stage, preset, result)]
    write_report(args.out, "scale", machine_line(), markdown_table(rows, columns(rows)),
                 {"command": " ".join(shlex.quote(a) for a in sys.argv), "rows": rows})
    return 0


if __name__ == "__main__":
    run_cli(main)
