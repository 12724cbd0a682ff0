"""Peak memory of this process: CUDA max allocated on GPU, resident set size on CPU."""
from __future__ import annotations

import resource
import sys

import torch


def _reset_peak_rss() -> None:
    """Linux lets a process reset its own peak RSS (VmHWM) through /proc/self/clear_refs."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _status_mib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    return None


def peak_rss_mib() -> float:
    """Peak resident set size since the last ``reset_peak`` (Linux) or since the process started."""
    peak = _status_mib("VmHWM")
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def current_mib(device: torch.device) -> float | None:
    """Memory held now: CUDA allocated, or resident set size (None where it cannot be read)."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    return _status_mib("VmRSS")


def reset_peak(device: torch.device) -> None:
    """Start a new peak: CUDA's allocator statistics, or the process's peak RSS where the
    system allows it (elsewhere the CPU peak stays the whole process's)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        _reset_peak_rss()


def peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mib()
