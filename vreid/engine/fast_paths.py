"""The process-wide fast paths as config switches: cudnn.benchmark and, on CPU, heap reuse. The
model's own (channels_last, torch.compile) apply wherever a model is built
(``vreid.modeling.build``); mixed precision is SOLVER.AMP, applied by the training step.

These apply only where the entry point owns the process (training, benchmarks), so a
post-training tool that builds a model does not change its process's allocator or cuDNN mode."""
from __future__ import annotations

import torch

from .cpu_heap import reuse_freed_memory


def configure_process(cfg) -> None:
    """The process-wide switches: cudnn.benchmark, and heap reuse on CPU runs (inherited by the
    data-loader workers forked later). Called by the entry point, before any model is built."""
    torch.backends.cudnn.benchmark = bool(cfg.CUDNN_BENCHMARK)
    if cfg.CPU_REUSE_MEMORY and torch.device(cfg.MODEL.DEVICE).type == "cpu":
        reuse_freed_memory()
