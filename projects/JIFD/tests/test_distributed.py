"""JIFD in two gloo processes on CPU (the core's DDP worker, tests/scripts/ddp_worker.py): the
ranks stay in lock-step, and every image carries the index of the source it was read from."""
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]


def run_two_processes(config: str, data_root: str, tmp_path) -> tuple[dict, dict]:
    opts = ["MODEL.DEVICE", "cpu", "INPUT.SIZE_TRAIN", "[64,64]", "INPUT.SIZE_TEST", "[64,64]",
            "DATALOADER.NUM_WORKERS", "0", "SOLVER.IMS_PER_BATCH", "16", "SOLVER.MAX_EPOCH", "1",
            "SOLVER.WARMUP_EPOCHS", "0", "SOLVER.WARMUP_ITERS", "0", "TEST.EVAL_PERIOD", "100",
            "OUTPUT_DIR", str(tmp_path)]
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "scripts" / "ddp_worker.py"),
                        str(ROOT / "configs" / "synthetic" / config), str(tmp_path), *opts],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "FASTREID_DATASETS": data_root})
    assert r.returncode == 0, r.stderr[-3000:]
    return tuple(torch.load(tmp_path / f"rank{i}.pt", weights_only=False) for i in (0, 1))


def test_two_gloo_processes_end_with_identical_weights_and_source_labels(data_root, tmp_path):
    a, b = run_two_processes("jifd.yml", data_root, tmp_path)
    assert a["iter"] == b["iter"] > 0
    for name, value in a["params"].items():
        assert torch.equal(value, b["params"][name]), name
    check_multi_source_batches(a["batches"] + b["batches"])


def check_multi_source_batches(batches: list[dict]) -> None:
    """Every image carries the index of the dataset it was read from, on every rank."""
    seen = set()
    for batch in batches:
        for path, source in zip(batch["img_paths"], batch["sources"].tolist()):
            expected = 1 if os.sep + "vehiclex" + os.sep in path else 0
            assert source == expected, (path, source)
            seen.add(source)
    assert seen == {0, 1}
