"""Fast paths as config switches: channels_last, torch.compile, cudnn.benchmark and, on CPU,
heap reuse (mixed precision is SOLVER.AMP, applied by the trainer's step).

The model switches apply wherever a model is built; the process-wide ones only where the entry
point owns the process (training, benchmarks), so a post-training tool that builds a model
does not change its process's allocator or cuDNN mode."""
from __future__ import annotations

import logging

import torch
from torch import nn

from .cpu_heap import reuse_freed_memory

logger = logging.getLogger(__name__)


def configure_process(cfg) -> None:
    """The process-wide switches: cudnn.benchmark, and heap reuse on CPU runs (inherited by the
    data-loader workers forked later). Called by the entry point, before any model is built."""
    torch.backends.cudnn.benchmark = bool(cfg.CUDNN_BENCHMARK)
    if cfg.CPU_REUSE_MEMORY and torch.device(cfg.MODEL.DEVICE).type == "cpu":
        reuse_freed_memory()


def apply_fast_paths(cfg, model: nn.Module) -> nn.Module:
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
