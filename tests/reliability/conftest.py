"""Small saved models and an in-process way to run the tools, for the reliability cases that
need weights (wrong architecture, stale feature files, unwritable outputs)."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from fastreid.modeling.meta_arch import build_model
from vreid.config import get_cfg
from vreid.engine import run_cli

ROOT = Path(__file__).resolve().parents[2]
NUM_IDS = 24  # the tiny preset's training identities
SMALL = ["MODEL.DEVICE", "cpu", "MODEL.BACKBONE.PRETRAIN", False, "MODEL.BACKBONE.DEPTH", "18x",
         "INPUT.SIZE_TRAIN", [64, 64], "INPUT.SIZE_TEST", [64, 64], "DATALOADER.NUM_WORKERS", 0,
         "TEST.IMS_PER_BATCH", 32]
CONFIGS = {"Baseline": "bot.yml", "DNDM": "dndm.yml", "JIFD": "jifd.yml"}
JIFD_SMALL = ["MODEL.JIFD.VAE.CHANNELS", [8, 16, 32], "MODEL.JIFD.VAE.LATENT_CHANNELS", 8,
              "MODEL.JIFD.DISENTANGLER_HIDDEN_DIM", 64]


@dataclass(frozen=True)
class Saved:
    config: str
    weights: str

    def args(self, weights: str | None = None) -> list[str]:
        return ["--config-file", self.config, "MODEL.WEIGHTS", weights or self.weights]


def small_cfg(arch: str, *opts):
    cfg = get_cfg()
    cfg.merge_from_file(str(ROOT / "configs" / "synthetic" / CONFIGS[arch]))
    cfg.merge_from_list([*SMALL, *(JIFD_SMALL if arch == "JIFD" else []), *opts])
    return cfg


def _save(arch: str, folder: Path, seed: int) -> Saved:
    cfg = small_cfg(arch, "MODEL.HEADS.NUM_CLASSES", NUM_IDS, "OUTPUT_DIR", str(folder / "run"))
    torch.manual_seed(seed)
    weights = folder / f"{arch}_{seed}.pth"
    torch.save({"model": build_model(cfg).state_dict()}, weights)
    cfg.MODEL.HEADS.NUM_CLASSES = 0  # as in a training config: read from the checkpoint
    config = folder / f"{arch}.yaml"
    config.write_text(cfg.dump())
    return Saved(str(config), str(weights))


@pytest.fixture(scope="session")
def saved(tmp_path_factory):
    """Factory: (arch, seed) -> a randomly initialised model saved as a checkpoint and its config."""
    folder, cache = tmp_path_factory.mktemp("reliability_models"), {}

    def get(arch: str, seed: int = 0) -> Saved:
        if (arch, seed) not in cache:
            cache[arch, seed] = _save(arch, folder, seed)
        return cache[arch, seed]
    return get


@pytest.fixture(scope="session")
def tool():
    """tool("search", *argv) -> exit code, through run_cli as on the command line."""
    modules = {}

    def run(name: str, *argv) -> int:
        if name not in modules:
            spec = importlib.util.spec_from_file_location(f"reliability_tool_{name}", ROOT / "tools" / f"{name}.py")
            modules[name] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(modules[name])
        with pytest.raises(SystemExit) as exit_info:
            run_cli(lambda: modules[name].main([str(a) for a in argv]))
        return exit_info.value.code
    return run


@pytest.fixture(scope="session")
def arch_cfg():
    """Factory: (arch, *KEY VALUE) -> the small CPU config of that architecture on the tiny set."""
    return small_cfg


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
