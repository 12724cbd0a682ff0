"""Throughput and memory of the training data pipeline (decode, augment, collate, workers)."""
from __future__ import annotations

import resource
import time

from vreid.data import build_train_loader

from .memory import peak_rss_mib


def measure_loader(cfg, batches: int = 20, within_epoch: bool = False) -> dict:
    """Images/s over ``batches`` batches after the first (worker start-up excluded; with
    ``within_epoch``, no more than the rest of one epoch), and peak RSS of this process and of
    the largest worker (read once the workers have exited and been joined). The caller sets the
    process up as training does (``configure_process``), so the workers inherit it."""
    loader = build_train_loader(cfg)
    if within_epoch:
        batches = max(1, min(batches, loader.iters_per_epoch - 1))
    it = iter(loader)
    first = next(it)
    images = 0
    start = time.perf_counter()
    for _ in range(batches):
        images += next(it)["images"].shape[0]
    seconds = time.perf_counter() - start
    del it  # shuts the workers down, so their peak RSS is accounted to this process's children
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**10
    return {"loader_images_per_s": images / seconds, "loader_workers": cfg.DATALOADER.NUM_WORKERS,
            "loader_train_images": len(loader.dataset), "loader_batch": first["images"].shape[0],
            "loader_batches": batches, "loader_epoch_batches": loader.iters_per_epoch,
            "loader_peak_rss_mib": peak_rss_mib(), "loader_worker_peak_rss_mib": worker_peak}
