"""Fail early, with a clear message, when ImageNet weights are asked for but unreachable."""
from __future__ import annotations

import os

from vreid.errors import UserError


def _torch_cache_dir() -> str:
    home = os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
    return os.path.join(os.path.expanduser(home), "checkpoints")


def check_pretrained(cfg) -> None:
    """fast-reid downloads missing weights with gdown and dies with a long traceback offline.

    Accept MODEL.BACKBONE.PRETRAIN_PATH when it is a file, or fast-reid's cache when it
    already holds a file; otherwise say what to do.
    """
    backbone = cfg.MODEL.BACKBONE
    if not backbone.PRETRAIN:
        return
    if backbone.PRETRAIN_PATH:
        if not os.path.isfile(backbone.PRETRAIN_PATH):
            raise UserError(
                f"MODEL.BACKBONE.PRETRAIN_PATH {backbone.PRETRAIN_PATH} is not a file. Point it to "
                "a local ImageNet checkpoint (e.g. torchvision's resnet50-19c8e357.pth), or set "
                "MODEL.BACKBONE.PRETRAIN False to start from random weights.")
        return
    cache = _torch_cache_dir()
    if os.path.isdir(cache) and any(f.endswith(".pth") for f in os.listdir(cache)):
        return
    raise UserError(
        "MODEL.BACKBONE.PRETRAIN is True but no weights are reachable offline: set "
        "MODEL.BACKBONE.PRETRAIN_PATH to a local ImageNet checkpoint (e.g. torchvision's "
        f"resnet50-19c8e357.pth), put it in {cache}, or set MODEL.BACKBONE.PRETRAIN False.")
