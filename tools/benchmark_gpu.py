#!/usr/bin/env python
"""The GPU check of the scaling issue, in one command that stays within --budget seconds (10
minutes by default) on one GPU, writing one Markdown table (gpu.md, raw figures in gpu.json):

    python tools/benchmark_gpu.py --out "$OUT"
    python tools/benchmark_gpu.py --smoke --out /tmp/gpu-smoke     # the same rows on CPU, tiny

Rows: DNDM (configs/dnwild/dndm.yml) and BoT (configs/dnwild/bot.yml) training images/s at
256x256, batch 64, ResNet-50 from scratch, bf16 autocast, channels-last, eager and with
MODEL.COMPILE; DNDM with MODEL.DNDM.CCA.ENABLED False for CCA's cost; the evaluator at 10,000
queries x 100,000 gallery (2048-d); and the training loader with one worker per CPU core at
256x256 on a synthetic DN set it generates, against DNDM's training images/s. Each row runs in
its own tools/benchmark.py worker process; a row that fails or runs out of time is reported as
such and the rest still run. Compiled rows run last: they are the slowest and the least certain.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vreid.benchmark import write_report
from vreid.engine import run_cli
from vreid.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT / "tools" / "benchmark.py"
COMPILED = "MODEL.COMPILE.ENABLED True"


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
    row_timeout_s: dict[str, int] = field(default_factory=lambda: {"train": 150, "compiled": 300, "eval": 150,
                                                                   "loader": 150})


def _common(device: str, size: int, batch: int) -> tuple[str, ...]:
    return ("MODEL.BACKBONE.PRETRAIN", "False", "INPUT.SIZE_TRAIN", f"{size},{size}", "SOLVER.IMS_PER_BATCH",
            str(batch), "SOLVER.AMP.ENABLED", "True", "SOLVER.AMP.DTYPE", "bfloat16", "MODEL.CHANNELS_LAST", "True",
            "MODEL.DEVICE", device)


def _loader_opts(device: str, size: int, batch: int, workers: int) -> tuple[str, ...]:
    return ("INPUT.SIZE_TRAIN", f"{size},{size}", "SOLVER.IMS_PER_BATCH", str(batch),
            "DATALOADER.NUM_WORKERS", str(workers), "MODEL.DEVICE", device)


CORES = os.cpu_count() or 1
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
TRAIN_ROWS = (("BoT", "configs/dnwild/bot.yml"), ("DNDM", "configs/dnwild/dndm.yml"),
              ("DNDM without CCA", "configs/dnwild/dndm.yml MODEL.DNDM.CCA.ENABLED False"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ROOT / "output" / "benchmark_gpu")),
                   help="gpu.md and gpu.json go here (default: $OUT, else output/benchmark_gpu)")
    p.add_argument("--data", type=Path, default=Path("/tmp/vreid-gpu-data"), help="data root of the loader's set")
    p.add_argument("--smoke", action="store_true", help="a tiny CPU run of every row (ResNet-18, 64 px, 2 iterations)")
    p.add_argument("--budget", type=float, default=570, help="seconds for all rows; later rows get what is left")
    return p.parse_args(argv)


class Runner:
    """Runs tools/benchmark.py workers within a shared time budget."""

    def __init__(self, budget_s: float, env: dict[str, str]):
        self.deadline = time.monotonic() + budget_s
        self.env = env

    def __call__(self, args: list[str], timeout_s: float) -> dict:
        left = self.deadline - time.monotonic()
        if left < 10:
            return {"error": "skipped: the time budget is spent"}
        started = time.monotonic()
        try:
            out = subprocess.run([sys.executable, str(BENCHMARK), "--worker", *args], capture_output=True, text=True,
                                 timeout=min(timeout_s, left), env=self.env, cwd=ROOT, check=False)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {min(timeout_s, left):.0f} s"}
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or [""])[-1]
            return {"error": f"failed (exit {out.returncode}): {last[:160]}"}
        return {**json.loads(out.stdout.strip().splitlines()[-1]), "wall_s": time.monotonic() - started}


def _train_args(entry: str, mode: Mode) -> list[str]:
    return ["--configs", entry, "--measure", "train", "--iters", str(mode.iters), "--warmup", str(mode.warmup),
            "--opts", *mode.train_opts]


def measure_all(mode: Mode, data: Path, budget_s: float) -> dict[str, dict]:
    """Every row's raw result (or its error), in the order they run."""
    generate(data, mode.loader_preset, layouts=["dn"], progress=True, workers=CORES)
    run = Runner(budget_s, {**os.environ, "FASTREID_DATASETS": str(data)})
    results = {}
    for name, entry in TRAIN_ROWS:
        results[f"{name}, eager"] = run(_train_args(entry, mode), mode.row_timeout_s["train"])
    results["evaluation"] = run(["--worker-eval", mode.eval_size, "--eval-dim", "2048"], mode.row_timeout_s["eval"])
    results["loader"] = run(["--configs", "configs/synthetic/dndm.yml", "--measure", "loader", "--loader-batches",
                             str(mode.loader_batches), "--opts", *mode.loader_opts], mode.row_timeout_s["loader"])
    if mode.compile:
        for name, entry in TRAIN_ROWS[:2]:
            results[f"{name}, compiled"] = run(_train_args(f"{entry} {COMPILED}", mode), mode.row_timeout_s["compiled"])
    return results


def _ratio(results: dict[str, dict], a: str, b: str, key: str = "train_step_s") -> float | None:
    if key in results.get(a, {}) and key in results.get(b, {}):
        return results[a][key] / results[b][key]
    return None


def _fmt(value: float | None, text: str) -> str:
    return "-" if value is None else text.format(value)


def _train_cell(r: dict) -> str:
    return (f"{r['train_images_per_s']:,.0f} img/s (step {r['train_step_s'] * 1e3:.1f} ms, "
            f"peak {r['train_peak_mib']:,.0f} MiB)")


def comparisons(results: dict[str, dict]) -> dict[str, str]:
    """The ratio column: DNDM / BoT step time, CCA's share of DNDM's step, compiled speed-ups,
    and the loader against DNDM's training throughput."""
    cca = _ratio(results, "DNDM without CCA, eager", "DNDM, eager")
    notes = {"BoT, eager": "reference",
             "DNDM, eager": _fmt(_ratio(results, "DNDM, eager", "BoT, eager"), "step DNDM / BoT {:.2f}"),
             "DNDM without CCA, eager": _fmt(None if cca is None else 1 - cca, "CCA is {:.1%} of DNDM's step")}
    loader = results.get("loader", {}).get("loader_images_per_s")
    dndm = results.get("DNDM, eager", {}).get("train_images_per_s")
    notes["loader"] = _fmt(loader / dndm if loader and dndm else None, "loader / DNDM training {:.2f}")
    for name in ("BoT", "DNDM"):
        speedup = _ratio(results, f"{name}, eager", f"{name}, compiled")
        notes[f"{name}, compiled"] = _fmt(speedup, "compiled speed-up {:.2f}x")
    both = _ratio(results, "DNDM, compiled", "BoT, compiled")
    if both is not None:
        notes["DNDM, compiled"] += f"; step DNDM / BoT {both:.2f}"
    return notes


def _cell(name: str, r: dict) -> str:
    if "error" in r:
        return r["error"]
    if name == "evaluation":
        q, g, d = r["eval_shape"]
        return f"{r['eval_s']:.2f} s for {q:,} x {g:,} x {d} (peak {r['eval_peak_mib']:,.0f} MiB)"
    if name == "loader":
        return (f"{r['loader_images_per_s']:,.0f} img/s ({r['loader_workers']} workers, {r['loader_batches']} "
                f"batches of {r['loader_batch']})")
    return _train_cell(r)


def markdown(results: dict[str, dict], mode_name: str) -> str:
    notes = comparisons(results)
    lines = [f"| measurement ({mode_name}) | result | comparison |", "|---|---|---|"]
    lines += [f"| {name} | {_cell(name, r)} | {notes.get(name, '')} |" for name, r in results.items()]
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    name = "smoke" if args.smoke else "gpu"
    mode = MODES[name]
    start = time.monotonic()
    results = measure_all(mode, args.data, args.budget)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    machine = f"{device}, {CORES} CPU cores, torch {torch.__version__}, {time.monotonic() - start:.0f} s in all"
    command = " ".join(shlex.quote(a) for a in sys.argv)
    write_report(args.out, "gpu", machine, markdown(results, name), {"command": command, "mode": name,
                                                                      "results": results})
    return 0


if __name__ == "__main__":
    run_cli(main)
