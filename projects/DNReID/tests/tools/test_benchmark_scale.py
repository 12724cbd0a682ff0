"""projects/DNReID/tools/benchmark_scale.py on the tiny preset, each stage in its worker process, and the GPU
check's rows that DNReID declares: every one names a config that loads with its overrides."""
from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from pathlib import Path

import pytest
from dnreid import PROJECT

from vreid.cli import run_cli
from vreid.config import load_config

ROOT = Path(__file__).resolve().parents[4]
TOOL = ROOT / "projects" / "DNReID" / "tools" / "benchmark_scale.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("tool_benchmark_scale", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_scale_times_each_stage_of_the_tiny_preset(tmp_path, tool):
    argv = ["--data", tmp_path / "data", "--presets", "tiny", "--stages", "index", "sampler", "loader", "eval_n2d",
            "--rounds", 1, "--max-iters", 2, "--eval-dim", 32, "--workers", 0, "--out", tmp_path,
            "--opts", "DATALOADER.NUM_WORKERS", 0]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: tool.main([str(a) for a in argv]))
    assert exit_info.value.code == 0
    rows = json.loads((tmp_path / "scale.json").read_text())["rows"]
    stages = ["index train set", "index test sets", "sampler build", "sampler epoch", "loader epoch", "evaluate N->D"]
    assert [r["stage"] for r in rows] == stages and {r["preset"] for r in rows} == {"tiny"}
    assert all(r["items"] > 0 and r["s"] > 0 and r["peak_mib"] > 0 for r in rows)
    assert rows[-1]["unit"] == "pairs (32 x 48, 32-d)"  # N->D: night queries against day test images
    lines = [line for line in (tmp_path / "scale.md").read_text().splitlines() if line.startswith("| ")][1:]
    assert [line.split(" | ")[0] for line in lines] == [f"| {stage}" for stage in stages]


@pytest.mark.parametrize("row", PROJECT.benchmark_rows, ids=lambda row: row.label)
def test_each_declared_gpu_check_row_names_a_config_that_loads(row):
    path, *overrides = shlex.split(row.entry)
    cfg = load_config(str(ROOT / path), overrides)
    assert row.measure in ("train", "loader")
    if row.measure == "loader":  # the check generates the synthetic sets, never the real ones
        assert all(name.startswith("Syn") for name in cfg.DATASETS.NAMES)
