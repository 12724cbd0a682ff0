"""Peak memory of this process: CUDA max allocated on GPU, resident set size on CPU."""
from __future__ import annotations

import resource
import sys

import torch


def peak_rss_mib() -> float:
    """Peak resident set size of this process since it started (monotonic)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mib()
