"""DNReID's models for the tools tests: randomly initialised DNDM and fast-reid's Baseline on
the synthetic day-night set, saved as checkpoints with their configs; the DN layout's images.
The tools run in-process through the root conftest's run_tool, discovering the installed projects."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fastreid.modeling.meta_arch import build_model
from vreid.config import get_cfg

ROOT = Path(__file__).resolve().parents[4]
NUM_IDS = 24  # the tiny preset's training identities
SMALL = ["MODEL.DEVICE", "cpu", "MODEL.BACKBONE.PRETRAIN", False, "INPUT.SIZE_TRAIN", [64, 64],
         "INPUT.SIZE_TEST", [64, 64], "DATALOADER.NUM_WORKERS", 0, "TEST.IMS_PER_BATCH", 32]
ARCHS = {"Baseline": "bot.yml", "DNDM": "dndm.yml"}


def _build(arch: str, seed: int, output_dir: str):
    cfg = get_cfg()
    cfg.merge_from_file(str(ROOT / "configs" / "synthetic" / ARCHS[arch]))
    cfg.merge_from_list([*SMALL, "MODEL.HEADS.NUM_CLASSES", NUM_IDS, "OUTPUT_DIR", output_dir])
    model = build_model(cfg)
    if hasattr(model, "stems"):
        # As after training, the night stem differs from the day stem (it starts as a copy): a
        # graph or a tool that routes an image to the wrong stem then gives other features.
        with torch.no_grad():
            for p in model.stems[1].parameters():
                p.add_(0.2 * torch.randn_like(p))
    return cfg, model


@pytest.fixture(scope="session")
def saved_model(saved_models):
    """Factory: arch -> SavedModel, built once per session."""
    return saved_models(_build)


@pytest.fixture(scope="session")
def dn_root(data_root) -> Path:
    return Path(data_root) / "synthetic" / "dn"


@pytest.fixture(scope="session")
def tiny_images(dn_root):
    """Factory: (domain, pids) -> sorted image paths of those identities."""
    def images(domain: str, pids: range) -> list[Path]:
        return sorted(p for pid in pids for p in (dn_root / domain / f"{pid:04d}").glob("*.jpg"))
    return images

