"""CPU_REUSE_MEMORY: a freed activation-sized block is reused without page-faulting it in again."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vreid.engine.cpu_heap import is_glibc

# Minor page faults of five 64 MiB allocations once the heap has settled (glibc places the first
# two freed blocks apart before it reuses one).
SCRIPT = """
import resource, sys, torch
from vreid.engine.cpu_heap import reuse_freed_memory
if sys.argv[1] == "reuse":
    assert reuse_freed_memory()
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    torch.ones(16 * 2**20)
before = faults()
for _ in range(5):
    torch.ones(16 * 2**20)
print(faults() - before)
"""


def page_faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not is_glibc(), reason="heap reuse is a glibc mallopt setting")
def test_reuse_avoids_refaulting_freed_blocks():
    default, reuse = page_faults("default"), page_faults("reuse")
    # 5 x 64 MiB in 4 KiB pages is 81,920 faults when every block is a fresh mmap.
    assert default > 5 * 16 * 2**20 * 4 // 4096 // 2
    assert reuse < default / 20


def test_switch_applies_only_on_cpu_runs(monkeypatch):
    from vreid.engine import fast_paths

    calls = []
    monkeypatch.setattr(fast_paths, "reuse_freed_memory", lambda: calls.append(1))
    from vreid.config import get_cfg

    for device, switch, expected in [("cpu", True, 1), ("cpu", False, 0), ("cuda", True, 0)]:
        cfg = get_cfg(projects=())
        cfg.MODEL.DEVICE, cfg.CPU_REUSE_MEMORY = device, switch
        calls.clear()
        fast_paths.configure_process(cfg)
        assert len(calls) == expected, (device, switch)


# Three training steps of the toy project's model on a fixed batch, large enough that its
# activations are the mmap-sized blocks heap reuse keeps; prints the losses. No project is
# discovered (VREID_PROJECTS empty): the toy is given explicitly.
TRAIN = """
import sys, torch
from toyreid import PROJECT
from fastreid.solver import build_optimizer
from fastreid.utils.events import EventStorage
from vreid.benchmark import synthetic_batch
from vreid.config import load_config
from vreid.modeling import build_model
from vreid.engine.fast_paths import configure_process
cfg = load_config("tests/toy_project/configs/toy.yml", ["CPU_REUSE_MEMORY", sys.argv[1], "INPUT.SIZE_TRAIN",
                  "[128,128]", "SOLVER.IMS_PER_BATCH", "64", "MODEL.HEADS.NUM_CLASSES", "16"], projects=(PROJECT,))
configure_process(cfg)
torch.manual_seed(0)
model = build_model(cfg).train()
optimizer, _ = build_optimizer(cfg, model, contiguous=False)
batch = synthetic_batch(cfg, 64, train=True)
with EventStorage():
    for _ in range(3):
        loss = sum(model(batch).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        print(repr(loss.item()))
"""


def test_reuse_leaves_training_arithmetic_unchanged():
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "VREID_PROJECTS": "", "PYTHONPATH": str(root / "tests" / "toy_project")}
    losses = [subprocess.run([sys.executable, "-c", TRAIN, switch], cwd=root, capture_output=True, env=env,
                             text=True, check=True).stdout.split() for switch in ("True", "False")]
    assert len(losses[0]) == 3 and losses[0] == losses[1]  # bitwise, not approximately
