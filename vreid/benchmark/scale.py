"""What the start of training costs as a dataset grows: indexing and validating its lists, and
building and drawing one epoch from the training sampler. Each returns seconds, item counts and
the process's resident memory before and at its peak, so a caller can compare sizes per item."""
from __future__ import annotations

import itertools
import time

import torch
from fastreid.utils import comm

from vreid.data.build import build_train_set, get_dataset
from vreid.data.samplers import build_sampler, epoch_iterations

from .memory import current_mib, peak_rss_mib, reset_peak


def _start() -> float:
    reset_peak(torch.device("cpu"))
    return current_mib(torch.device("cpu")) or 0.0


def measure_index(cfg) -> dict:
    """Seconds to build the training set (every list read, every listed file checked, records
    relabelled) and the test sets of DATASETS.TESTS, as a training run does before its first step."""
    before = _start()
    start = time.perf_counter()
    train = build_train_set(cfg)
    train_s = time.perf_counter() - start
    train_peak = peak_rss_mib()
    start = time.perf_counter()
    tests = [get_dataset(name, cfg) for name in cfg.DATASETS.TESTS]
    return {"index_train_s": train_s, "index_train_images": len(train), "index_train_peak_mib": train_peak,
            "index_test_s": time.perf_counter() - start,
            "index_test_images": sum(len(t.query) + len(t.gallery) for t in tests),
            "index_before_mib": before, "index_peak_mib": peak_rss_mib()}


def measure_sampler(cfg) -> dict:
    """Seconds to build DATALOADER.SAMPLER_TRAIN on the training set and to draw one epoch of its
    indices (the sampler's own epoch length, or the dataset's over the batch)."""
    train = build_train_set(cfg)
    mini_batch = cfg.SOLVER.IMS_PER_BATCH // comm.get_world_size()
    before = _start()
    start = time.perf_counter()
    sampler = build_sampler(cfg, train, mini_batch, cfg.SEED)
    build_s = time.perf_counter() - start
    count = epoch_iterations(sampler, len(train), cfg.SOLVER.IMS_PER_BATCH) * mini_batch
    start = time.perf_counter()
    drawn = sum(1 for _ in itertools.islice(iter(sampler), count))
    return {"sampler_build_s": build_s, "sampler_train_images": len(train),
            "sampler_epoch_s": time.perf_counter() - start, "sampler_epoch_indices": drawn,
            "sampler_before_mib": before, "sampler_peak_mib": peak_rss_mib()}
