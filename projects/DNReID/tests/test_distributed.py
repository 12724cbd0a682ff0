"""DNDM in two gloo processes on CPU (the core's DDP worker, tests/scripts/ddp_worker.py): the
ranks stay in lock-step, and each draws paired day-night batches of its own identities."""
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


def test_two_gloo_processes_end_with_identical_weights_and_paired_batches(data_root, tmp_path):
    a, b = run_two_processes("dndm.yml", data_root, tmp_path)
    assert a["iter"] == b["iter"] > 0
    for name, value in a["params"].items():
        assert torch.equal(value, b["params"][name]), name
    check_paired_batches(a["batches"], b["batches"])


def check_paired_batches(rank0: list[dict], rank1: list[dict]) -> None:
    """Each rank: [day P*K | night P*K] with one identity order; no identity on both ranks in a step."""
    for step0, step1 in zip(rank0, rank1):
        ids = []
        for batch in (step0, step1):
            half = len(batch["targets"]) // 2
            assert batch["domains"].tolist() == [0] * half + [1] * half
            assert torch.equal(batch["targets"][:half], batch["targets"][half:])
            ids.append(set(batch["targets"].tolist()))
        assert not ids[0] & ids[1]
