"""Two gloo processes on CPU stay in lock-step under DDP, and each draws correct batches."""
import os
import subprocess
import sys

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def run_two_processes(config: str, data_root: str, tmp_path) -> tuple[dict, dict]:
    opts = ["MODEL.DEVICE", "cpu", "INPUT.SIZE_TRAIN", "[64,64]", "INPUT.SIZE_TEST", "[64,64]",
            "DATALOADER.NUM_WORKERS", "0", "SOLVER.IMS_PER_BATCH", "16", "SOLVER.MAX_EPOCH", "1",
            "SOLVER.WARMUP_EPOCHS", "0", "SOLVER.WARMUP_ITERS", "0", "TEST.EVAL_PERIOD", "100",
            "OUTPUT_DIR", str(tmp_path)]
    r = subprocess.run([sys.executable, os.path.join(HERE, "scripts", "ddp_worker.py"),
                        os.path.join(HERE, "..", "configs", "synthetic", config), str(tmp_path), *opts],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "FASTREID_DATASETS": data_root})
    assert r.returncode == 0, r.stderr[-3000:]
    return tuple(torch.load(tmp_path / f"rank{i}.pt", weights_only=False) for i in (0, 1))


@pytest.mark.parametrize("config", ["bot.yml", "dndm.yml", "jifd.yml"])
def test_two_gloo_processes_end_with_identical_weights(config, data_root, tmp_path):
    a, b = run_two_processes(config, data_root, tmp_path)
    assert a["iter"] == b["iter"] > 0
    for name, value in a["params"].items():
        assert torch.equal(value, b["params"][name]), name
    if config == "dndm.yml":
        check_paired_batches(a["batches"], b["batches"])
    if config == "jifd.yml":
        check_multi_source_batches(a["batches"] + b["batches"])


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


def check_multi_source_batches(batches: list[dict]) -> None:
    """Every image carries the index of the dataset it was read from, on every rank."""
    seen = set()
    for batch in batches:
        for path, source in zip(batch["img_paths"], batch["sources"].tolist()):
            expected = 1 if os.sep + "vehiclex" + os.sep in path else 0
            assert source == expected, (path, source)
            seen.add(source)
    assert seen == {0, 1}
