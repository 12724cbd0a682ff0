"""For every test folder (the core's tests/ and each project's tests/): the test process is set
up as the training entry point sets up its process (heap reuse on glibc,
vreid/engine/cpu_heap.py), so CPU training tests run at the speed of real CPU training; and the
shared fixtures, the tiny synthetic data set and small CPU configs."""
from __future__ import annotations

import os

import pytest

from vreid.config import get_cfg
from vreid.engine.cpu_heap import is_glibc, reuse_freed_memory


def pytest_configure(config) -> None:
    if is_glibc():
        reuse_freed_memory()



@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> str:
    """The `tiny` synthetic preset, generated once per session; FASTREID_DATASETS points at it."""
    from vreid.synthetic import generate

    root = str(tmp_path_factory.mktemp("datasets"))
    generate(root, preset="tiny", seed=0)
    previous = os.environ.get("FASTREID_DATASETS")
    os.environ["FASTREID_DATASETS"] = root
    yield root
    if previous is None:
        os.environ.pop("FASTREID_DATASETS", None)
    else:
        os.environ["FASTREID_DATASETS"] = previous


@pytest.fixture(scope="session")
def small_bot_cfg():
    """Factory: fast-reid's BoT Baseline with ResNet-18 at 64x64 on the tiny day-night set, on CPU."""
    return make_small_bot_cfg


@pytest.fixture(scope="session")
def small_dndm_cfg():
    """Factory: DNDM with ResNet-18 at 64x64 on the tiny day-night set, on CPU."""
    return make_small_dndm_cfg


def make_small_dndm_cfg(output_dir: str, **overrides):
    return make_small_bot_cfg(output_dir, config="dndm.yml", **overrides)


def make_small_bot_cfg(output_dir: str, config: str = "bot.yml", **overrides):
    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(os.path.dirname(__file__), "configs", "synthetic", config))
    cfg.merge_from_list([
        "MODEL.DEVICE", "cpu",
        "INPUT.SIZE_TRAIN", [64, 64], "INPUT.SIZE_TEST", [64, 64], "INPUT.PADDING.SIZE", 4,
        "DATALOADER.NUM_WORKERS", 0,
        "SOLVER.IMS_PER_BATCH", 16, "SOLVER.MAX_EPOCH", 2, "SOLVER.WARMUP_EPOCHS", 0,
        "SOLVER.WARMUP_ITERS", 0, "SOLVER.STEPS", [100], "SOLVER.CHECKPOINT_PERIOD", 1,
        "TEST.EVAL_PERIOD", 2, "TEST.IMS_PER_BATCH", 32,
        "OUTPUT_DIR", output_dir,
    ])
    for key, value in overrides.items():
        cfg.merge_from_list([key, value])
    return cfg
