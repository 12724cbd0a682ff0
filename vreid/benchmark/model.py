"""Training-step and inference speed of any registered meta-architecture, on random batches
shaped like the config's (so no dataset is needed and every model sees identical input)."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch

from fastreid.solver import build_optimizer
from fastreid.utils.events import EventStorage

from vreid.engine.step import TrainStep
from vreid.modeling import build_model, resolve_device
from vreid.projects import batch_keys, installed_projects, sampler_spec

from .memory import peak_mib, reset_peak


def synthetic_batch(cfg, batch_size: int, train: bool, seed: int = 0) -> dict:
    """Raw 0-255 images plus every batch key the installed projects declare. Training batches
    follow the configured sampler: one block per label of a key with the same identities for a
    sampler declared with ``blocks_of`` (paired sampling), else P ids x K images; camera ids are
    the blocked key's values, or two alternating cameras."""
    h, w = cfg.INPUT.SIZE_TRAIN if train else cfg.INPUT.SIZE_TEST
    gen = torch.Generator().manual_seed(seed)
    k = max(1, cfg.DATALOADER.NUM_INSTANCE)
    projects = installed_projects()
    keys = batch_keys(projects)
    sampler = sampler_spec(cfg.DATALOADER.SAMPLER_TRAIN, projects)
    blocks = keys.get(sampler.blocks_of) if sampler is not None else None
    if blocks is None:
        targets = torch.arange(batch_size).div(k, rounding_mode="floor")
        camids = torch.arange(batch_size) % 2
    else:
        block = batch_size // len(blocks.labels)
        targets = torch.arange(block).div(k, rounding_mode="floor").repeat(len(blocks.labels))
        camids = torch.arange(len(blocks.labels)).repeat_interleave(block)
    n = targets.numel()
    values = {}
    for name, key in keys.items():
        if key is blocks:
            values[name] = camids.clone()
        elif key.labels:
            values[name] = torch.arange(n) % len(key.labels)
        elif key.per_source:
            values[name] = torch.arange(n) % max(1, len(cfg.DATASETS.NAMES))
    return {"images": torch.rand(n, 3, h, w, generator=gen) * 255, "targets": targets, **values, "camids": camids}


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(step: Callable[[], None], device: torch.device, iters: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iters):
        _sync(device)
        start = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def with_classes(cfg):
    """Heads need a class count; the trainer takes it from the data, we from the batch."""
    cfg = cfg.clone()
    cfg.defrost()
    if cfg.MODEL.HEADS.NUM_CLASSES <= 0:
        cfg.MODEL.HEADS.NUM_CLASSES = cfg.SOLVER.IMS_PER_BATCH
    cfg.freeze()
    return cfg


def measure_train_step(cfg, iters: int = 5, warmup: int = 2) -> dict:
    """Median seconds of one training step (the trainer's: forward, backward, update and the
    finite checks) and images/s."""
    cfg = with_classes(cfg)
    device = resolve_device(cfg)
    model = build_model(cfg).train()
    optimizer, _ = build_optimizer(cfg, model, contiguous=False)
    step = TrainStep.from_config(cfg, model, optimizer, device)
    batch = _to(synthetic_batch(cfg, cfg.SOLVER.IMS_PER_BATCH, train=True), device)
    reset_peak(device)
    with EventStorage():  # fast-reid's losses log accuracy into it
        times = _timed(lambda: step(batch), device, iters, warmup)
    median = statistics.median(times)
    return {"train_step_s": median, "train_images_per_s": batch["images"].shape[0] / median,
            "train_step_times_s": times, "train_peak_mib": peak_mib(device)}


@torch.no_grad()
def measure_inference(cfg, iters: int = 5, warmup: int = 1) -> dict:
    """Median images/s of the eval forward at TEST.IMS_PER_BATCH."""
    cfg = with_classes(cfg)
    device = resolve_device(cfg)
    model = build_model(cfg).eval()
    batch = _to(synthetic_batch(cfg, cfg.TEST.IMS_PER_BATCH, train=False), device)
    reset_peak(device)
    times = _timed(lambda: model(batch), device, iters, warmup)
    median = statistics.median(times)
    return {"inference_batch_s": median, "inference_images_per_s": batch["images"].shape[0] / median,
            "inference_peak_mib": peak_mib(device)}


def model_cost(cfg) -> dict:
    """Parameters (all, and those the eval forward uses) and GFLOPs of one test image (fvcore)."""
    from fvcore.nn import FlopCountAnalysis

    cfg = with_classes(cfg)
    model = build_model(cfg).eval()
    batch = synthetic_batch(cfg, 2, train=False)
    batch = {k: v[:1].to(resolve_device(cfg)) for k, v in batch.items()}
    flops = FlopCountAnalysis(model, (batch,))
    flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    used = set()
    hooks = [m.register_forward_hook(lambda mod, *_: used.add(mod)) for m in model.modules()]
    with torch.no_grad():
        model(batch)
    for h in hooks:
        h.remove()
    inference_params = sum(p.numel() for m in used for p in m.parameters(recurse=False))
    return {"params_m": sum(p.numel() for p in model.parameters()) / 1e6,
            "inference_params_m": inference_params / 1e6, "gflops": flops.total() / 1e9}
