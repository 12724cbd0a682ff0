"""Small saved models and an in-process way to run the tools, for the reliability cases that
need weights (wrong architecture, stale feature files, unwritable outputs)."""
from __future__ import annotations

from pathlib import Path

import pytest

from fastreid.modeling.meta_arch import build_model
from vreid.config import get_cfg

ROOT = Path(__file__).resolve().parents[2]
NUM_IDS = 24  # the tiny preset's training identities
SMALL = ["MODEL.DEVICE", "cpu", "MODEL.BACKBONE.PRETRAIN", False, "MODEL.BACKBONE.DEPTH", "18x",
         "INPUT.SIZE_TRAIN", [64, 64], "INPUT.SIZE_TEST", [64, 64], "DATALOADER.NUM_WORKERS", 0,
         "TEST.IMS_PER_BATCH", 32]
CONFIGS = {"Baseline": "bot.yml", "DNDM": "dndm.yml", "JIFD": "jifd.yml"}
JIFD_SMALL = ["MODEL.JIFD.VAE.CHANNELS", [8, 16, 32], "MODEL.JIFD.VAE.LATENT_CHANNELS", 8,
              "MODEL.JIFD.DISENTANGLER_HIDDEN_DIM", 64]


def small_cfg(arch: str, *opts):
    cfg = get_cfg()
    cfg.merge_from_file(str(ROOT / "configs" / "synthetic" / CONFIGS[arch]))
    cfg.merge_from_list([*SMALL, *(JIFD_SMALL if arch == "JIFD" else []), *opts])
    return cfg


def _build(arch: str, seed: int, output_dir: str):
    cfg = small_cfg(arch, "MODEL.HEADS.NUM_CLASSES", NUM_IDS, "OUTPUT_DIR", output_dir)
    return cfg, build_model(cfg)


@pytest.fixture(scope="session")
def saved(saved_models):
    """Factory: (arch, seed) -> a randomly initialised model saved as a checkpoint and its config."""
    return saved_models(_build)


@pytest.fixture(scope="session")
def tool(run_tool):
    """tool("search", *argv) -> exit code, through run_cli as on the command line."""
    return run_tool


@pytest.fixture(scope="session")
def arch_cfg():
    """Factory: (arch, *KEY VALUE) -> the small CPU config of that architecture on the tiny set."""
    return small_cfg


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
