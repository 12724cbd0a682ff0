"""A trained model from a config and its weights, the way every post-training tool needs it."""
from __future__ import annotations

import argparse
import os
import re
import tempfile
from typing import Sequence

from torch import nn

from fastreid.config import CfgNode

from vreid.config import load_config
from vreid.engine.checkpoint import Checkpointer, check_weights_fit, load_checkpoint_file
from vreid.engine.trainer import Trainer
from vreid.errors import UserError

WEIGHTS_HELP = "add MODEL.WEIGHTS path/to/model_final.pth after the options"
CONFIG_KEY = re.compile(r"[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--config-file and fast-reid's trailing KEY VALUE overrides (MODEL.WEIGHTS among them)."""
    parser.add_argument("--config-file", required=True, metavar="FILE", help="the model's training config")
    parser.add_argument("opts", nargs=argparse.REMAINDER, metavar="KEY VALUE",
                        help="config overrides, last on the line; MODEL.WEIGHTS path/to/model_final.pth is required")


def move_overrides(args: argparse.Namespace, *list_options: str) -> None:
    """An option taking several paths (--input a b) swallows the KEY VALUE overrides after it;
    move everything from the first config key (MODEL.WEIGHTS, ...) on back to ``args.opts``."""
    for name in list_options:
        values = getattr(args, name) or []
        cut = next((i for i, v in enumerate(values) if CONFIG_KEY.fullmatch(v)), len(values))
        setattr(args, name, values[:cut])
        args.opts = values[cut:] + list(args.opts)


def load_tool_config(config_file: str, opts: Sequence[str], device: str | None = None) -> CfgNode:
    """The training config with overrides; ``device`` replaces MODEL.DEVICE when a step must run
    on one device (the ONNX export traces on the CPU)."""
    cfg = load_config(config_file, opts)
    if not cfg.MODEL.WEIGHTS:
        raise UserError(f"no weights to load: {WEIGHTS_HELP}")
    if device is not None:
        cfg.MODEL.DEVICE = device
    cfg.freeze()
    return cfg


def config_from_text(text: str, opts: Sequence[str], origin: str) -> CfgNode:
    """A config saved as YAML text (a feature index keeps its model's), with overrides."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "config.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            return load_tool_config(path, opts)
        except UserError as e:
            raise UserError(f"the config stored in {origin}: {e}") from None


def config_text(cfg: CfgNode) -> str:
    """The config as YAML with MODEL.WEIGHTS absolute, so it still loads from another folder."""
    cfg = cfg.clone()
    cfg.defrost()
    cfg.MODEL.WEIGHTS = os.path.abspath(cfg.MODEL.WEIGHTS)
    return cfg.dump()


def load_for_eval(cfg: CfgNode) -> nn.Module:
    """Build the model for MODEL.WEIGHTS and load it; the class count comes from the
    checkpoint when the config leaves it at 0 (classifier-dependent modules need it). A
    checkpoint that does not fill every tensor of the model is refused (check_weights_fit)."""
    path = cfg.MODEL.WEIGHTS
    if not path:
        raise UserError("--eval-only needs weights: add MODEL.WEIGHTS path/to/model_final.pth")
    if not os.path.isfile(path):
        raise UserError(f"MODEL.WEIGHTS {path} is not a file")
    state = load_checkpoint_file(path)["model"]
    cfg = cfg.clone()
    cfg.defrost()
    cfg.MODEL.BACKBONE.PRETRAIN = False
    if cfg.MODEL.HEADS.NUM_CLASSES == 0 and "heads.weight" in state:
        cfg.MODEL.HEADS.NUM_CLASSES = int(state["heads.weight"].shape[0])
    cfg.freeze()
    model = Trainer.build_model(cfg)
    check_weights_fit(model, state, path, cfg.MODEL.META_ARCHITECTURE)
    Checkpointer(model).load(path)
    return model


def load_trained_model(cfg: CfgNode) -> nn.Module:
    """Build MODEL.META_ARCHITECTURE on MODEL.DEVICE, load MODEL.WEIGHTS, switch to eval mode."""
    return load_for_eval(cfg).eval()


def eval_inputs(model: nn.Module) -> tuple[str, ...]:
    """Batch keys the model's eval forward reads. fast-reid's convention is images alone; a
    meta-architecture that needs per-image metadata lists it in ``eval_inputs``, each one a batch
    key its project declares (vreid.projects checks that)."""
    return tuple(getattr(model, "eval_inputs", ("images",)))
