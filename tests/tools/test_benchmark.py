"""tools/benchmark.py end to end on a small model: per-config overrides, JSON and Markdown."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BOT = "configs/Base-BoT.yml"  # fast-reid's Baseline, which needs no project
ON_TOY = ["MODEL.BACKBONE.DEPTH", "18x", "MODEL.BACKBONE.FEAT_DIM", "512", "MODEL.BACKBONE.PRETRAIN", "False",
          "DATASETS.NAMES", "('ToyReID',)", "DATASETS.TESTS", "('ToyReID',)"]


def test_benchmark_compares_entries_with_their_own_overrides(tmp_path, toy_env):
    cmd = [sys.executable, "tools/benchmark.py", "--configs", BOT, f"{BOT} MODEL.BACKBONE.DEPTH 34x",
           "--measure", "train", "inference", "cost", "--iters", "1", "--warmup", "0", "--rounds", "1",
           "--out", str(tmp_path), "--opts", "MODEL.DEVICE", "cpu", "INPUT.SIZE_TRAIN", "32,32",
           "INPUT.SIZE_TEST", "32,32", "SOLVER.IMS_PER_BATCH", "8", "TEST.IMS_PER_BATCH", "8", *ON_TOY]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, env=toy_env)
    report = json.loads((tmp_path / "benchmark.json").read_text())
    r18, r34 = report["results"]
    assert (r18["name"], r34["name"]) == (BOT, f"{BOT} MODEL.BACKBONE.DEPTH 34x")
    assert r34["params_m"] > 1.5 * r18["params_m"]  # ResNet-34 really was built for the second entry
    for row in (r18, r34):
        assert row["train_step_s"] > 0 and row["inference_images_per_s"] > 0 and row["gflops"] > 0
    table = (tmp_path / "benchmark.md").read_text()
    assert table.count(f"| {BOT}") == 2
