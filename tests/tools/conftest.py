"""Randomly initialised small models saved as checkpoints with their configs, and a way to run
the command-line tools in-process (their exit code and output, as a shell would see them)."""
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
SMALL = ["MODEL.DEVICE", "cpu", "MODEL.BACKBONE.PRETRAIN", False, "INPUT.SIZE_TRAIN", [64, 64],
         "INPUT.SIZE_TEST", [64, 64], "DATALOADER.NUM_WORKERS", 0, "TEST.IMS_PER_BATCH", 32]
ARCHS = {
    "Baseline": ("bot.yml", []),
    "DNDM": ("dndm.yml", []),
    "JIFD": ("jifd.yml", ["MODEL.JIFD.VAE.CHANNELS", [8, 16, 32], "MODEL.JIFD.VAE.LATENT_CHANNELS", 8,
                          "MODEL.JIFD.DISENTANGLER_HIDDEN_DIM", 64]),
}


@dataclass(frozen=True)
class SavedModel:
    config: str
    weights: str

    def args(self) -> list[str]:
        """The trailing part of a tool's command line."""
        return ["--config-file", self.config, "MODEL.WEIGHTS", self.weights]


def _save(arch: str, folder: Path) -> SavedModel:
    config_file, extra = ARCHS[arch]
    cfg = get_cfg()
    cfg.merge_from_file(str(ROOT / "configs" / "synthetic" / config_file))
    cfg.merge_from_list([*SMALL, *extra, "MODEL.HEADS.NUM_CLASSES", NUM_IDS, "OUTPUT_DIR", str(folder / "run")])
    torch.manual_seed(0)
    model = build_model(cfg)
    if hasattr(model, "stems"):
        # As after training, the night stem differs from the day stem (it starts as a copy): a
        # graph or a tool that routes an image to the wrong stem then gives other features.
        with torch.no_grad():
            for p in model.stems[1].parameters():
                p.add_(0.2 * torch.randn_like(p))
    weights = folder / f"{arch}.pth"
    torch.save({"model": model.state_dict()}, weights)
    cfg.MODEL.HEADS.NUM_CLASSES = 0  # as in a training config: read from the checkpoint
    config = folder / f"{arch}.yaml"
    config.write_text(cfg.dump())
    return SavedModel(str(config), str(weights))


@pytest.fixture(scope="session")
def saved_model(tmp_path_factory):
    """Factory: arch -> SavedModel, built once per session."""
    folder = tmp_path_factory.mktemp("models")
    cache = {}

    def get(arch: str) -> SavedModel:
        if arch not in cache:
            cache[arch] = _save(arch, folder)
        return cache[arch]
    return get


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f"tool_{name}", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def run_tool():
    """run_tool("search", *argv) -> exit code, through run_cli as on the command line."""
    modules = {}

    def run(name: str, *argv: str) -> int:
        if name not in modules:
            modules[name] = _load_tool(name)
        with pytest.raises(SystemExit) as exit_info:
            run_cli(lambda: modules[name].main([str(a) for a in argv]))
        return exit_info.value.code
    return run


@pytest.fixture(scope="session")
def dn_root(data_root) -> Path:
    return Path(data_root) / "synthetic" / "dn"


@pytest.fixture(scope="session")
def tiny_images(dn_root):
    """Factory: (domain, pids) -> sorted image paths of those identities."""
    def images(domain: str, pids: range) -> list[Path]:
        return sorted(p for pid in pids for p in (dn_root / domain / f"{pid:04d}").glob("*.jpg"))
    return images

