"""What each way of running a trained model on a CPU gives: images/s at several batch sizes for
PyTorch fp32 (eager), PyTorch under bf16 autocast, onnxruntime fp32 and onnxruntime int8 (static
QDQ, tools/export_onnx.py's quantiser), how much of the CPU's fp32 FMA peak each reaches, and, with
trained weights and their dataset, rank-1 and mAP of each on the config's test sets, so that a
speed-up is never read without what it costs.

Every runtime is wrapped as a module that takes fast-reid's batch dict, so the accuracy comes from
the evaluator the trainer uses (same loader, same flip averaging, same ranking).
"""
from __future__ import annotations

import os
import statistics
import time
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from fastreid.config import CfgNode
from fastreid.evaluation import inference_on_dataset

from vreid.data import build_test_loader
from vreid.data.build import get_dataset
from vreid.deploy.embedder import Embedder
from vreid.deploy.onnx_export import build_graph, export_onnx, onnx_features, sample_images, session
from vreid.deploy.onnx_precision import quantize_int8
from vreid.evaluation.evaluator import ReidEvaluator
from vreid.modeling import build_model, load_model
from vreid.projects import batch_keys, installed_projects

from .model import model_cost, with_classes
from .report import Column, figure

RUNTIMES = ("pytorch-fp32", "pytorch-bf16", "onnxruntime-fp32", "onnxruntime-int8")
FMA_UNITS = 2  # 256-bit FMA pipes per core of current x86 server cores (Zen 2+, Skylake-SP+)
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # the x86 units that compute in bf16 rather than emulate it


def cpu_info() -> tuple[set[str], float]:
    """This CPU's feature flags and highest clock in GHz, from /proc/cpuinfo (empty elsewhere)."""
    flags, mhz = set(), []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
                elif line.startswith("cpu MHz"):
                    mhz.append(float(line.split(":", 1)[1]))
    except OSError:
        pass
    return flags, max(mhz, default=0.0) / 1000


def skipped_runtimes(bf16: str = "auto") -> dict[str, str]:
    """Runtimes not timed, with the reason: bf16 autocast where the CPU has no bf16 unit (emulated, it
    ran R50 at 0.05 images/s on an AVX2 EPYC: hours per row) unless ``bf16`` is "on"; "off" skips it."""
    if bf16 == "on":
        return {}
    if bf16 == "off":
        return {"pytorch-bf16": "--bf16 off"}
    flags, _ = cpu_info()
    if any(flag in flags for flag in BF16_FLAGS):
        return {}
    return {"pytorch-bf16": f"no bf16 unit on this CPU ({' / '.join(BF16_FLAGS)}); --bf16 on times it emulated"}


class Eager(nn.Module):
    """The PyTorch model, optionally under CPU autocast."""

    def __init__(self, model: nn.Module, dtype: torch.dtype | None = None):
        super().__init__()
        self.model, self.dtype = model, dtype

    @torch.no_grad()
    def forward(self, batch: dict) -> Tensor:
        if self.dtype is None:
            return self.model(batch)
        with torch.autocast("cpu", dtype=self.dtype):
            return self.model(batch).float()


class OnnxRuntime(nn.Module):
    """An onnxruntime session of a raw-profile graph, fed from the batch dict."""

    def __init__(self, path: str, names: Sequence[str]):
        super().__init__()
        self.session, self.names = session(path), tuple(names)

    def forward(self, batch: dict) -> Tensor:
        return torch.from_numpy(onnx_features(self.session, self.names, [batch[k] for k in self.names]))


def runtimes(cfg: CfgNode, model: nn.Module, folder: str, calibration: Iterable[dict],
             progress: bool = False, skip: Iterable[str] = ()) -> dict[str, nn.Module]:
    """Each runtime of ``model`` but those in ``skip``: the graphs exported and quantised (on
    ``calibration`` batches of the model's test view) into ``folder``."""
    graph = build_graph(cfg, model, "raw", batch_keys(installed_projects()))
    fp32, int8 = os.path.join(folder, "fp32.onnx"), os.path.join(folder, "int8.onnx")
    names = export_onnx(graph, fp32, {}, progress)
    quantize_int8(fp32, int8, ({k: t.numpy() for k, t in zip(graph.inputs, graph.feed(b))} for b in calibration),
                  progress)
    found = {"pytorch-fp32": Eager(model), "pytorch-bf16": Eager(model, torch.bfloat16),
             "onnxruntime-fp32": OnnxRuntime(fp32, names), "onnxruntime-int8": OnnxRuntime(int8, names)}
    return {name: runtime for name, runtime in found.items() if name not in skip}


def sample_batch(cfg: CfgNode, size: int, seed: int = 0) -> dict:
    """``size`` raw images at the test size, labels alternating: what the throughput rows feed."""
    height, width = (int(s) for s in cfg.INPUT.SIZE_TEST)
    return {"images": sample_images(size, height, width, seed),
            **{name: torch.arange(size) % len(key.labels)
               for name, key in batch_keys(installed_projects()).items() if key.labels}}


def images_per_s(run: Callable[[], object], images: int, iters: int, warmup: int = 1) -> float:
    """Median images/s over ``iters`` timed calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run()
    return images / statistics.median(_seconds(run) for _ in range(iters))


def measure_throughput(runtimes_: dict[str, nn.Module], cfg: CfgNode, batches: Sequence[int], iters: int,
                       rounds: int) -> dict[tuple[str, int], float]:
    """Best-of-``rounds`` images/s of each runtime at each batch size; the runtimes alternate
    within a round, so they share the machine's load."""
    best: dict[tuple[str, int], float] = {}
    for size in batches:
        batch = {k: v for k, v in sample_batch(cfg, size).items()}
        for _ in range(rounds):
            for name, runtime in runtimes_.items():
                rate = images_per_s(lambda: runtime(batch), size, iters)
                best[name, size] = max(rate, best.get((name, size), 0.0))
    return best


def calibration_batches(cfg: CfgNode, count: int) -> list[dict]:
    """Up to ``count`` training images of DATASETS.NAMES, spread over the set, as test-view batches
    with labels the model reads decided by their rule (deployment has none)."""
    records = [r for name in cfg.DATASETS.NAMES for r in get_dataset(name, cfg).train]
    picked = records[:: max(1, len(records) // count)][:count]
    embedder = Embedder(cfg)
    entries = embedder.entries([r[0] for r in picked], "auto" if embedder.reads_label else None)
    return list(embedder.loader(entries))


def measure_accuracy(cfg: CfgNode, runtime: nn.Module) -> dict[str, dict[str, float]]:
    """Rank-1 and mAP of ``runtime`` on each DATASETS.TESTS entry, by the trainer's evaluator."""
    results = {}
    for name in cfg.DATASETS.TESTS:
        loader, num_query = build_test_loader(cfg, name)
        evaluator = ReidEvaluator.from_config(cfg, num_query, draws=loader.dataset.draws)
        found = inference_on_dataset(runtime, loader, evaluator, flip_test=cfg.TEST.FLIP.ENABLED)
        results[name] = {"Rank-1": float(found["Rank-1"]), "mAP": float(found["mAP"])}
    return results


def fma_peak_gmacs(threads: int) -> tuple[float, str]:
    """The CPU's fp32 multiply-accumulates per second (G) over ``threads`` cores, and how it was
    counted: cores x clock x FMA pipes x fp32 lanes of the widest vector unit."""
    flags, ghz = cpu_info()
    lanes, unit = (16, "AVX-512") if "avx512f" in flags else (8, "AVX2") if "fma" in flags else (4, "SSE")
    how = f"{threads} cores x {ghz:.2f} GHz x {FMA_UNITS} FMA pipes x {lanes} fp32 lanes ({unit})"
    return threads * ghz * FMA_UNITS * lanes, how


def gemm_gmacs(size: int = 2048, iters: int = 5) -> float:
    """Multiply-accumulates per second (G) of the best of ``iters`` fp32 ``size``² matrix products on
    this process's threads: what the CPU reaches in practice, when a VM reports a base clock below
    the one its cores run at."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = min(_seconds(lambda: a @ b) for _ in range(iters))
    return size ** 3 / best / 1e9


def _seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def deploy_rows(name: str, measured: dict, peak: float) -> list[dict]:
    """One row per runtime of one config's ``measure_deploy``: images/s per batch size, the ratio to
    PyTorch fp32 at each, the share of the fp32 FMA peak at the largest batch, the least cosine
    to PyTorch fp32's features, and rank-1 / mAP where measured; a runtime not timed gets a row
    saying why."""
    rates = {(key.rpartition("@")[0], int(key.rpartition("@")[2])): v for key, v in measured["throughput"].items()}
    sizes = sorted({size for _, size in rates})
    rows = []
    for runtime in RUNTIMES:
        if runtime in measured.get("skipped", {}):
            rows.append({"model": name, "runtime": f"{runtime}: not measured, {measured['skipped'][runtime]}"})
            continue
        row = {"model": name, "runtime": runtime, "least_cosine": measured["least_cosine"][runtime]}
        for size in sizes:
            row[f"ips_{size}"] = rates[runtime, size]
            row[f"ratio_{size}"] = rates[runtime, size] / rates["pytorch-fp32", size]
        row["peak_share"] = rates[runtime, sizes[-1]] * measured["gmacs_per_image"] / peak if peak else None
        for test, figures in measured.get("accuracy", {}).get(runtime, {}).items():
            row[f"{test} Rank-1"], row[f"{test} mAP"] = figures["Rank-1"], figures["mAP"]
        rows.append(row)
    return rows


def deploy_columns(rows: Sequence[dict]) -> list[Column]:
    sizes = sorted({int(k.split("_")[1]) for row in rows for k in row if k.startswith("ips_")})
    accuracy = sorted({k for row in rows for k in row if k.endswith(("Rank-1", "mAP"))}, key=lambda k: k.split())
    return [("model", lambda r: r["model"]), ("runtime", lambda r: r["runtime"]),
            *[(f"img/s @{s}", figure(f"ips_{s}", ".1f")) for s in sizes],
            *[(f"x fp32 @{s}", figure(f"ratio_{s}", ".2f")) for s in sizes],
            (f"of fp32 peak @{sizes[-1]}", lambda r: "-" if r.get("peak_share") is None else f"{r['peak_share']:.0%}"),
            ("least cosine", figure("least_cosine", ".4f")),
            *[(k, figure(k, ".2f")) for k in accuracy]]


def feature_agreement(runtimes_: dict[str, nn.Module], batch: dict) -> dict[str, float]:
    """Least cosine of each runtime's features to PyTorch fp32's on ``batch``."""
    reference = runtimes_["pytorch-fp32"](batch).numpy()
    least = {}
    for name, runtime in runtimes_.items():
        got = runtime(batch).float().numpy()
        cos = (got * reference).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(reference, axis=1))
        least[name] = float(cos.min())
    return least


def deploy_model(cfg: CfgNode) -> nn.Module:
    """The trained model of MODEL.WEIGHTS, else a randomly initialised one (speed only)."""
    if cfg.MODEL.WEIGHTS:
        return load_model(cfg)
    return build_model(with_classes(cfg)).eval()


def measure_deploy(cfg: CfgNode, batches: Sequence[int], iters: int, rounds: int, accuracy: bool,
                   calibration_images: int, folder: str, bf16: str = "auto") -> dict:
    """Everything one config's rows need, in this process: throughput of each runtime, its
    features' least cosine to PyTorch fp32 on real or sample images, and with ``accuracy`` rank-1
    and mAP on DATASETS.TESTS (int8 then calibrated on the training images, not sample pixels)."""
    model = deploy_model(cfg)
    calibration = (calibration_batches(cfg, calibration_images) if accuracy
                   else [sample_batch(cfg, 8, seed) for seed in range(4)])
    skipped = skipped_runtimes(bf16)
    found = runtimes(cfg, model, folder, calibration, skip=skipped)
    result = {"skipped": skipped, "throughput": {f"{name}@{size}": rate for (name, size), rate in
                             measure_throughput(found, cfg, batches, iters, rounds).items()},
              "least_cosine": feature_agreement(found, calibration[0]),
              "gmacs_per_image": model_cost(cfg)["gflops"]}
    if accuracy:
        result["accuracy"] = {name: measure_accuracy(cfg, runtime) for name, runtime in found.items()}
    return result
