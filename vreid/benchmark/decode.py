"""Decoding large crops: full decode against draft decode (``INPUT.DRAFT_DECODE``), each followed by the test
resize, how far their pixels differ after it, and the loader's images/s per worker, on a prepared copy too.

Synthetic crops are rendered by a synthetic layout at the crop's longer side, with sensor noise (sigma 4 levels)
and saved at JPEG quality 92, so the DCT has real-photo high frequencies to lose.
"""
from __future__ import annotations

import io
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from vreid.data.dataset import ReIDDataset
from vreid.data.image_io import read_rgb
from vreid.synthetic.camera import sample_camera
from vreid.synthetic.layouts import SyntheticLayout, plan_layout, render_image

from .report import Column, figure

PRESET = "default"  # the crops' identities and views; their size is the crop's
SOURCES = ("full", "draft", "prepared")  # what is decoded: the crops in full or by draft, the prepared copy by draft


def crop_layouts(layouts: Sequence[SyntheticLayout]) -> list[SyntheticLayout]:
    """The layouts that can render crops (those with sizes for the preset the crops are planned with), the default
    first: the one whose cameras frame the vehicle tightest (the largest share of the frame at the least), as a
    high-resolution crop does; ties go to the first declared. Every layout renders at the preset's image side, so
    the side cannot choose."""
    usable = [layout for layout in layouts if layout.has_preset(PRESET)]
    framing = {layout.name: sample_camera(layout.camera_family, np.random.default_rng(0)).scale[0] for layout in usable}
    return sorted(usable, key=lambda layout: -framing[layout.name])  # a stable sort keeps declaration order on ties


def make_crops(folder: Path, layout: SyntheticLayout, count: int, size: tuple[int, int]) -> list[Path]:
    """``layout``'s vehicles rendered at the crop's longer side, resized to ``size``, with sensor noise (kept
    between runs)."""
    plan = replace(plan_layout(layout, PRESET, seed=0), image_size=max(size))
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i, spec in enumerate(plan.images[:count]):
        path = folder / f"crop_{i:03d}.jpg"
        if not path.exists():
            image = Image.open(io.BytesIO(render_image(plan, spec))).convert("RGB").resize(size, Image.BICUBIC)
            noisy = np.asarray(image, np.float32) + rng.normal(0, 4, (size[1], size[0], 3))
            Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=92)
        paths.append(path)
    return paths


def time_decode(paths: list[Path], size: tuple[int, int], draft: bool, rounds: int) -> float:
    """Best seconds per image over ``rounds`` passes of decode + bicubic resize to ``size``."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for path in paths:
            read_rgb(str(path), draft=size if draft else None).resize(size, Image.BICUBIC)
        best = min(best, (time.perf_counter() - start) / len(paths))
    return best


def pixel_difference(paths: list[Path], size: tuple[int, int]) -> tuple[float, float]:
    """Max and mean |full - draft| in 0-255 levels after the resize, over every pixel of every image."""
    worst, total, count = 0.0, 0.0, 0
    for path in paths:
        full, draft = (np.asarray(read_rgb(str(path), draft=d).resize(size, Image.BICUBIC), np.float32)
                       for d in (None, size))
        diff = np.abs(full - draft)
        worst, total, count = max(worst, float(diff.max())), total + float(diff.sum()), count + diff.size
    return worst, total / count


def prepare(paths: list[Path], folder: Path, longer_side: int) -> list[Path]:
    """The images resized as tools/prepare_dataset.py writes them (kept between runs)."""
    from vreid.data.prepare import Job, resize_one

    copies = []
    for path in paths:
        target = folder / path.name
        resize_one(Job(str(path), str(target)), longer_side)
        copies.append(target)
    return copies


def loader_rate(paths: list[Path], size: tuple[int, int], draft: bool, workers: int) -> float:
    """Images/s of a DataLoader over the images (decode, resize, to tensor), after one warm batch."""
    def transform(image: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.asarray(image.resize(size, Image.BICUBIC)).copy())

    records = [(str(p), 0, 0) for p in paths] * 4
    dataset = ReIDDataset(records, transform, draft=size if draft else None)
    loader = DataLoader(dataset, batch_size=8, num_workers=workers)
    batches = iter(loader)
    next(batches)
    start, seen = time.perf_counter(), 0
    for batch in batches:
        seen += len(batch["images"])
    return seen / (time.perf_counter() - start)


def measure_decoding(paths: list[Path], prepared: list[Path], size: tuple[int, int], rounds: int,
                     workers: Sequence[int]) -> dict:
    """Seconds per image (``<source>_s``) and the loader's images/s for each worker count, for full and draft
    decoding and, given a prepared copy, draft decoding of the copy."""
    sources = {"full": (paths, False), "draft": (paths, True), **({"prepared": (prepared, True)} if prepared else {})}
    return {**{f"{k}_s": time_decode(p, size, d, rounds) for k, (p, d) in sources.items()},
            "loader_images_per_s": {str(n): {k: loader_rate(p, size, d, n) for k, (p, d) in sources.items()}
                                    for n in workers}}


def decode_rows(measured: dict) -> list[dict]:
    """The table's rows: milliseconds per image, then loader images/s per worker for each worker count."""
    rows = [{"what": "ms per image", **{k: 1e3 * measured[f"{k}_s"] for k in SOURCES if f"{k}_s" in measured}}]
    for n, rates in measured["loader_images_per_s"].items():
        rows.append({"what": f"loader images/s per worker, {n} workers",
                     **{k: rate / max(1, int(n)) for k, rate in rates.items()}})
    return rows


def decode_columns(size: tuple[int, int], prepared_side: int) -> list[Column]:
    columns = [(f"decode + resize to {size[0]}x{size[1]}", lambda r: r["what"]), ("full", figure("full", ".1f")),
               ("draft", figure("draft", ".1f")), ("draft / full", lambda r: f"{r['draft'] / r['full']:.2f}")]
    if prepared_side:
        columns += [(f"prepared copy ({prepared_side})", figure("prepared", ".1f")),
                    ("prepared / full", lambda r: f"{r['prepared'] / r['full']:.2f}")]
    return columns
