"""Two gloo processes on CPU stay in lock-step under DDP."""
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def test_two_gloo_processes_end_with_identical_weights(data_root, tmp_path):
    opts = ["MODEL.DEVICE", "cpu", "INPUT.SIZE_TRAIN", "[64,64]", "INPUT.SIZE_TEST", "[64,64]",
            "DATALOADER.NUM_WORKERS", "0", "SOLVER.IMS_PER_BATCH", "16", "SOLVER.MAX_EPOCH", "2",
            "SOLVER.WARMUP_EPOCHS", "0", "SOLVER.WARMUP_ITERS", "0", "TEST.EVAL_PERIOD", "2",
            "OUTPUT_DIR", str(tmp_path)]
    r = subprocess.run([sys.executable, os.path.join(HERE, "scripts", "ddp_worker.py"),
                        os.path.join(HERE, "..", "configs", "synthetic", "bot.yml"), str(tmp_path), *opts],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "FASTREID_DATASETS": data_root})
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = (torch.load(tmp_path / f"rank{i}.pt") for i in (0, 1))
    assert a["iter"] == b["iter"] > 0
    for name, value in a["params"].items():
        assert torch.equal(value, b["params"][name]), name
