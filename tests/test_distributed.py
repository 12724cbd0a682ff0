"""Two gloo processes on CPU stay in lock-step under DDP, and each draws its own batches."""
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "scripts", "ddp_worker.py")
TOY_CONFIG = os.path.join(HERE, "toy_project", "configs", "toy.yml")


def run_two_processes(config: str, env: dict, tmp_path, *opts: str) -> tuple[dict, dict]:
    """Both ranks' parameters after one epoch and their first batches; ``config`` is trained by
    the projects ``env`` lets the worker discover. Projects' tests call it with ``env`` their own."""
    r = subprocess.run([sys.executable, WORKER, config, str(tmp_path), "MODEL.DEVICE", "cpu",
                        "DATALOADER.NUM_WORKERS", "0", "SOLVER.MAX_EPOCH", "1", "SOLVER.WARMUP_EPOCHS", "0",
                        "SOLVER.WARMUP_ITERS", "0", "TEST.EVAL_PERIOD", "100", "OUTPUT_DIR", str(tmp_path), *opts],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return tuple(torch.load(tmp_path / f"rank{i}.pt", weights_only=False) for i in (0, 1))


def test_two_gloo_processes_end_with_identical_weights(toy_root, toy_env, tmp_path):
    env = {**toy_env, "FASTREID_DATASETS": str(toy_root.parents[1])}
    a, b = run_two_processes(TOY_CONFIG, env, tmp_path)
    assert a["iter"] == b["iter"] > 0
    for name, value in a["params"].items():
        assert torch.equal(value, b["params"][name]), name
    for step0, step1 in zip(a["batches"], b["batches"]):  # the sampler splits each step's batch
        assert step0["img_paths"] and not set(step0["img_paths"]) & set(step1["img_paths"])
