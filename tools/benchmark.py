#!/usr/bin/env python
"""Benchmark one or more configs: training step time and images/s, inference images/s, peak
memory (CUDA max allocated, or CPU RSS), GFLOPs and parameters (fvcore), data-loader images/s
and evaluation time. Writes JSON and a Markdown table; ratios are against the first config.

Every config is measured in its own process (clean peak memory), in alternating rounds; each
figure is the best round, so a ratio compares configs measured under the same load. A config
entry may carry its own KEY VALUE overrides after the path, quoted as one argument, to compare
switches of one config:

    python tools/benchmark.py --configs configs/dnwild/bot.yml configs/dnwild/dndm.yml \\
        "configs/dnwild/dndm.yml MODEL.CHANNELS_LAST False" \\
        --opts MODEL.BACKBONE.PRETRAIN False INPUT.SIZE_TRAIN 128,128 SOLVER.IMS_PER_BATCH 64
"""
from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
from pathlib import Path

import torch

from vreid.benchmark import (markdown_table, measure_inference, measure_loader, measure_train_step, model_cost,
                             write_report)
from vreid.benchmark.evaluation import measure_eval
from vreid.config import load_config
from vreid.engine.defaults import run_cli
from vreid.engine.fast_paths import configure_process

ROOT = Path(__file__).resolve().parents[1]

MEASURES = ("train", "inference", "cost", "loader")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=[], help='config files, each optionally "PATH KEY VALUE ..." (quoted); the first is the reference')
    p.add_argument("--measure", nargs="+", choices=MEASURES, default=["train", "inference", "cost"],
                   help="what to measure per config (loader needs the dataset on disk)")
    p.add_argument("--iters", type=int, default=5, help="timed iterations per round")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds; best round kept")
    p.add_argument("--loader-batches", type=int, default=20,
                   help="loader batches timed after the first; raise it above workers x prefetch with many workers")
    p.add_argument("--eval-sizes", nargs="*", default=[], metavar="QxG",
                   help="also time ranking at these sizes, e.g. 2617x19568")
    p.add_argument("--eval-dim", type=int, default=2048)
    p.add_argument("--eval-rerank", nargs="?", const="20,6,0.3", default=None, metavar="K1,K2,LAMBDA",
                   help="time the evaluation with k-reciprocal re-ranking (default 20,6,0.3)")
    p.add_argument("--out", type=Path, default=ROOT / "output" / "benchmark", help="JSON and Markdown go here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--worker-eval", default=None, help=argparse.SUPPRESS)
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE overrides for every config")
    return p.parse_args(argv)


def _overrides(opts: list[str]) -> list[str]:
    """`INPUT.SIZE_TRAIN 128,128` is accepted as shorthand for `[128, 128]`."""
    return [f"[{o}]" if "," in o and not o.startswith(("[", "(")) else o for o in opts]


def measure_config(config: str, args: argparse.Namespace) -> dict:
    path, *own = shlex.split(config)  # the entry's own overrides win over the shared --opts
    cfg = load_config(path, _overrides(args.opts) + _overrides(own))
    configure_process(cfg)  # this worker process is set up as training sets its process up
    result: dict = {"name": config}
    if "cost" in args.measure:
        result.update(model_cost(cfg))
    if "train" in args.measure:
        result.update(measure_train_step(cfg, args.iters, args.warmup))
    if "inference" in args.measure:
        result.update(measure_inference(cfg, args.iters, 1))
    if "loader" in args.measure:
        result.update(measure_loader(cfg, args.loader_batches))
    result["device"] = cfg.MODEL.DEVICE
    return result


def measure_eval_size(size: str, args: argparse.Namespace) -> dict:
    q, g = (int(n) for n in size.lower().split("x"))
    rerank = None
    if args.eval_rerank:
        k1, k2, lam = args.eval_rerank.split(",")
        rerank = (int(k1), int(k2), float(lam))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = f"evaluation {q}x{g}x{args.eval_dim} ({device})" + (f", re-ranking {args.eval_rerank}" if rerank else "")
    return {"name": name, **measure_eval(q, g, args.eval_dim, device=device, rerank=rerank)}


def _run_worker(task: list[str], argv: list[str]) -> dict:
    """One measurement in a fresh process, so each peak memory figure is its own."""
    cmd = [sys.executable, __file__, "--worker", *task, *argv]
    out = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"error: benchmarking {task[-1]} failed (exit {out.returncode}); see above")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cpu_name() -> str:
    """The CPU model (Linux reports it in /proc/cpuinfo; platform.processor() is often empty)."""
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else platform.processor() or platform.machine()


def _best(a: dict, b: dict) -> dict:
    """Per quantity, the better of two rounds: lower time, higher throughput, and the larger
    peak memory (a peak is a bound, not a noise sample)."""
    best = dict(a)
    for k, v in b.items():
        if not isinstance(v, float):
            continue
        if k.endswith("per_s") or k.endswith("mib"):
            best[k] = max(a[k], v)
        elif k.endswith("_s"):
            best[k] = min(a[k], v)
    return best


def main() -> int:
    argv = sys.argv[1:]
    args = parse_args(argv)
    if args.worker:
        result = measure_eval_size(args.worker_eval, args) if args.worker_eval else measure_config(args.configs[0], args)
        print(json.dumps(result))
        return 0
    shared = [a for a in argv if a not in args.configs and a != "--configs"]
    rows: dict[str, dict] = {}
    for r in range(args.rounds):
        for config in args.configs:
            print(f"round {r + 1}/{args.rounds}: {config}", flush=True)
            result = _run_worker(["--configs", config], shared)
            rows[config] = _best(rows[config], result) if config in rows else result
    results = list(rows.values())
    for size in args.eval_sizes:
        print(f"evaluation {size}", flush=True)
        results.append(_run_worker(["--worker-eval", size], shared))
    machine = (f"{cpu_name()}, {torch.get_num_threads()} torch threads"
               + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    write_report(args.out, "benchmark", f"{machine}, torch {torch.__version__}", markdown_table(results),
                 {"torch": torch.__version__, "command": " ".join(sys.argv), "results": results})
    return 0


if __name__ == "__main__":
    run_cli(main)
