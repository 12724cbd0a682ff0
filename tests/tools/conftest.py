"""Randomly initialised small models saved as checkpoints with their configs, for the tools,
which see the toy project alone (``toy_installed`` for every test here: they discover projects)."""
from __future__ import annotations

from pathlib import Path

import pytest
from toyreid import PROJECT as TOY

from fastreid.modeling.meta_arch import build_model
from vreid.config import get_cfg

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["MODEL.DEVICE", "cpu", "MODEL.BACKBONE.PRETRAIN", False, "INPUT.SIZE_TRAIN", [64, 64],
         "INPUT.SIZE_TEST", [64, 64], "DATALOADER.NUM_WORKERS", 0, "TEST.IMS_PER_BATCH", 32]
ARCHS = {  # the toy project's model, and fast-reid's own BoT Baseline (ResNet-18), which needs no project
    "ToyNet": ("tests/toy_project/configs/toy.yml", []),
    "Baseline": ("configs/Base-BoT.yml", ["MODEL.BACKBONE.DEPTH", "18x", "MODEL.BACKBONE.FEAT_DIM", 512,
                                          "DATASETS.NAMES", ("ToyReID",), "DATASETS.TESTS", ("ToyReID",)]),
}
NUM_IDS = 24  # the toy's tiny preset's training identities


def _build(arch: str, seed: int, output_dir: str):
    config_file, extra = ARCHS[arch]
    cfg = get_cfg(projects=(TOY,))
    cfg.merge_from_file(str(ROOT / config_file))
    cfg.merge_from_list([*SMALL, *extra, "MODEL.HEADS.NUM_CLASSES", NUM_IDS, "OUTPUT_DIR", output_dir])
    return cfg, build_model(cfg)


@pytest.fixture(scope="session")
def saved_model(saved_models):
    """Factory: arch -> SavedModel, built once per session."""
    return saved_models(_build)


@pytest.fixture(autouse=True)
def _tools_see_the_toy_only(toy_installed):
    """The tools discover projects; here they find the toy and nothing else."""


@pytest.fixture(scope="session")
def toy_images(toy_root):
    """Factory: (split, pids) -> sorted image paths of those identities in image_<split>."""
    def images(split: str, pids: range) -> list[Path]:
        return sorted(p for pid in pids for p in (toy_root / f"image_{split}").glob(f"{pid:04d}_*.jpg"))
    return images
