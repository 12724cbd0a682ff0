"""Models built and loaded from a config, for training and for every tool after it.

The trainer, the post-training tools and the benchmarks all come here (fast-reid's
``build_model`` lives below its trainer the same way), so nothing but an entry point needs the
trainer to get a model.
"""
from __future__ import annotations

import logging

import torch
from torch import nn

from fastreid.config import CfgNode
from fastreid.modeling.meta_arch import build_model as _fastreid_build_model
from fastreid.utils import comm

from vreid.errors import UserError
from vreid.modeling.pretrained import check_pretrained
from vreid.modeling.weights import WeightsFile, check_weights_fit, load_fitting, read_weights

__all__ = ["apply_fast_paths", "build_model", "eval_inputs", "load_model", "resolve_device"]

logger = logging.getLogger(__name__)


def resolve_device(cfg: CfgNode) -> torch.device:
    """MODEL.DEVICE, with this process's GPU for a bare ``cuda`` (its local rank under a launcher)."""
    device = torch.device(cfg.MODEL.DEVICE)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("MODEL.DEVICE is cuda but CUDA is not available here; pass MODEL.DEVICE cpu")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", comm.get_local_rank())
    return device


def apply_fast_paths(cfg: CfgNode, model: nn.Module) -> nn.Module:
    """The model's memory format and in-place compilation, so parameter names, checkpoints, DDP
    and hooks are unchanged (``nn.Module.compile`` keeps the module object)."""
    if cfg.MODEL.CHANNELS_LAST:
        # Tensor-core convolutions read NHWC natively; a conv with NHWC weights emits NHWC.
        model.to(memory_format=torch.channels_last)
    if cfg.MODEL.COMPILE.ENABLED:
        logger.info(f"torch.compile(backend={cfg.MODEL.COMPILE.BACKEND}, mode={cfg.MODEL.COMPILE.MODE})")
        model.compile(backend=cfg.MODEL.COMPILE.BACKEND,
                      mode=None if cfg.MODEL.COMPILE.MODE == "default" else cfg.MODEL.COMPILE.MODE)
    return model


def build_model(cfg: CfgNode) -> nn.Module:
    """MODEL.META_ARCHITECTURE on MODEL.DEVICE, randomly initialised (or from the ImageNet
    weights MODEL.BACKBONE.PRETRAIN names), with the config's fast paths applied."""
    resolve_device(cfg)
    check_pretrained(cfg)
    model = apply_fast_paths(cfg, _fastreid_build_model(cfg))
    params = sum(p.numel() for p in model.parameters())
    logger.info(f"Model {cfg.MODEL.META_ARCHITECTURE}: {params / 1e6:.2f} M parameters on {cfg.MODEL.DEVICE}")
    return model


def load_model(cfg: CfgNode, weights: WeightsFile | None = None) -> nn.Module:
    """The trained model of MODEL.WEIGHTS in eval mode, the file read once (or ``weights``, read
    already). The class count comes from the checkpoint when the config leaves it at 0
    (classifier-dependent modules need it); a checkpoint that does not fill every tensor of the
    model is refused (check_weights_fit)."""
    path = cfg.MODEL.WEIGHTS
    if not path:
        raise UserError("no weights to load: add MODEL.WEIGHTS path/to/model_final.pth")
    weights = weights if weights is not None else read_weights(path)
    state = weights.state
    cfg = cfg.clone()
    cfg.defrost()
    cfg.MODEL.BACKBONE.PRETRAIN = False  # every tensor comes from the checkpoint
    if cfg.MODEL.HEADS.NUM_CLASSES == 0 and "heads.weight" in state:
        cfg.MODEL.HEADS.NUM_CLASSES = int(state["heads.weight"].shape[0])
    cfg.freeze()
    model = build_model(cfg)
    check_weights_fit(model, state, path, cfg.MODEL.META_ARCHITECTURE)
    load_fitting(model, state)
    return model.eval()


def eval_inputs(model: nn.Module) -> tuple[str, ...]:
    """Batch keys the model's eval forward reads. fast-reid's convention is images alone; a
    meta-architecture that needs per-image metadata lists it in ``eval_inputs``, each one a batch
    key its project declares (vreid.projects checks that)."""
    return tuple(getattr(getattr(model, "module", model), "eval_inputs", ("images",)))
