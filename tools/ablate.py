#!/usr/bin/env python
"""Run a grid of configs x seeds and report each config with 95 % intervals and paired
differences against a reference (or several).

    python tools/ablate.py --grid configs/ablations/dndm_synthetic.yml            # the whole grid
    python tools/ablate.py --grid configs/ablations/dndm_synthetic.yml --quick    # 1 seed, 2 runs, minutes
    python tools/ablate.py --run bot configs/synthetic/bot.yml --run dndm configs/synthetic/dndm.yml \\
        --seeds 0 1 2 --reference bot --output output/ablate/bot_vs_dndm

One training per process (tools/train_net.py), ``--jobs`` at a time, or each a multi-process
job of ``--launcher`` (``--launcher "torchrun --standalone --nproc_per_node 4" --jobs 1``);
finished runs are skipped and killed ones resumed when the same command is run again; a finished
run keeps model_final.pth of its weights (``--keep``). The tables go to <output>/summary.md,
summary.json and summary.png.
"""
from __future__ import annotations

import argparse
import os
import shlex
from dataclasses import replace

from vreid.ablation import (as_json, auto_jobs, collect, grid_from_args, load_grid, markdown, plot, quick_grid,
                            run_grid, summarise)
from vreid.ablation.grid import Grid
from vreid.ablation.runner import KEEP, is_finished, train_command
from vreid.config import load_config
from vreid.cli import run_cli, summary
from vreid.errors import UserError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--grid", metavar="FILE.yml", help="a grid file (see vreid/ablation/grid.py)")
    source.add_argument("--run", nargs="+", action="append", metavar="WORD",
                        help="NAME CONFIG [KEY VALUE ...]: one run of the grid (repeat the flag)")
    parser.add_argument("--quick", action="store_true", help="the grid file's quick variant")
    parser.add_argument("--seeds", nargs="+", type=int, help="seeds (default: the grid file's, or 0)")
    parser.add_argument("--reference", nargs="+", default=None, metavar="NAME",
                        help="run the others are compared with (paired by seed); several: a pair of "
                             "columns against each; '' for none")
    parser.add_argument("--output", help="folder of the runs and the tables (default: the grid file's; "
                                         "with --quick, its quick/ subfolder)")
    parser.add_argument("--opts", nargs="+", default=[], metavar="KEY VALUE", help="overrides for every run")
    parser.add_argument("--jobs", default="auto", help="concurrent runs, or auto: as cores and memory allow")
    parser.add_argument("--launcher", default="", metavar="COMMAND",
                        help="start each run with this instead of python, e.g. \"torchrun --standalone --nproc_per_node 4\"")
    parser.add_argument("--threads", type=int, default=0, help="threads per run (default: cores / jobs)")
    parser.add_argument("--keep", choices=KEEP, default="final",
                        help="weights a finished run keeps: all its checkpoints, model_final.pth "
                             "(default; the others only served to resume it) or none")
    parser.add_argument("--memory-per-run", type=float, default=4.0, metavar="GiB",
                        help="memory one run needs, for --jobs auto (default 4)")
    parser.add_argument("--report-only", action="store_true", help="write the tables of the finished runs, run nothing")
    parser.add_argument("--check", action="store_true", help="check every run's config and overrides, run nothing")
    return parser.parse_args(argv)


def build_grid(args: argparse.Namespace) -> Grid:
    if args.grid:
        grid = load_grid(args.grid)
        grid = quick_grid(grid, args.grid) if args.quick else grid
    else:
        if args.quick:
            raise UserError("--quick needs --grid: the quick variant is part of a grid file")
        if not args.output:
            raise UserError("--run needs --output, the folder the runs are written to")
        grid = grid_from_args(args.run, args.seeds or [0], args.output, args.run[0][0])  # --reference below
    if len(args.opts) % 2:
        raise UserError(f"--opts {' '.join(args.opts)}: give KEY VALUE pairs")
    changes = {"opts": grid.opts + tuple(args.opts)}
    if args.seeds and args.grid:
        changes["seeds"] = tuple(args.seeds)
    if args.output and args.grid:
        changes["output"] = args.output
    if args.reference is not None:
        references = [r for r in args.reference if r]
        for reference in references:
            if reference not in [r.name for r in grid.runs]:
                raise UserError(f"--reference {reference} is not one of the runs {[r.name for r in grid.runs]}")
        if len(set(references)) != len(references):
            raise UserError(f"--reference {' '.join(references)} repeats a run")
        changes["reference"] = references[0] if references else ""
        changes["other_references"] = tuple(references[1:])
    return replace(grid, **changes)


def check_configs(grid: Grid) -> None:
    """Every run's config with its overrides, loaded as train_net.py will load it, so a mistyped
    key stops the grid before its first training rather than hours into it."""
    for run in grid.runs:
        try:
            load_config(run.config, [*grid.opts, *run.opts])
        except UserError as e:
            raise UserError(f"run {run.name}: {e}") from None


def jobs_and_threads(args: argparse.Namespace) -> tuple[int, int]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if args.jobs == "auto":
        jobs = auto_jobs(max(2, args.threads), args.memory_per_run)
    elif args.jobs.isdigit() and int(args.jobs) > 0:
        jobs = int(args.jobs)
    else:
        raise UserError(f"--jobs must be a positive number or auto, got {args.jobs!r}")
    return jobs, args.threads or max(1, cores // jobs)


def write_tables(grid: Grid) -> str:
    finished = {run.name: {seed: grid.folder(run, seed) for seed in grid.seeds
                           if is_finished(grid, run, seed, train_command(grid, run, seed))}
                for run in grid.runs}
    results, changes = collect(finished)
    rows = summarise(results, grid.reference, changes, grid.other_references, grid.path)
    if not rows:
        raise UserError(f"no run of the grid has finished in {grid.output}")
    queries = {p: m["num_queries"] for by_seed in results.values() for metrics in by_seed.values()
               for p, m in metrics.items() if "num_queries" in m}
    text = markdown(rows, grid.reference, queries, grid.other_references, grid.path)
    os.makedirs(grid.output, exist_ok=True)
    with open(os.path.join(grid.output, "summary.md"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(grid.output, "summary.json"), "w", encoding="utf-8") as f:
        f.write(as_json(rows, grid.reference, results, grid.other_references, grid.path))
    plot(rows, os.path.join(grid.output, "summary.png"))
    return text


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    grid = build_grid(args)
    check_configs(grid)
    if args.check:
        print(f"{len(grid.runs)} runs x {len(grid.seeds)} seeds -> {grid.output}: every config loads")
        return 0
    failed = []
    if not args.report_only:
        jobs, threads = jobs_and_threads(args)
        print(f"{len(grid.runs)} runs x {len(grid.seeds)} seeds -> {grid.output}: {jobs} at a time, "
              f"{threads} threads each")
        failed = run_grid(grid, jobs, threads, launcher=shlex.split(args.launcher), keep=args.keep)
    print(write_tables(grid))
    print(f"tables: {os.path.join(grid.output, 'summary.md')}, summary.json, summary.png")
    if failed:
        names = ", ".join(f"{o.run.name} seed {o.seed}" for o in failed)
        raise UserError(f"{len(failed)} runs failed ({names}); their ablate.log says why; run the same "
                        "command again to retry them")
    return 0


if __name__ == "__main__":
    run_cli(main)
