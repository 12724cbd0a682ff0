#!/usr/bin/env python
"""Benchmark image decoding on large crops: full decode vs draft decode (INPUT.DRAFT_DECODE),
each followed by the test resize, and the loader's images/s per worker.

    python tools/benchmark_io.py                       # 24 synthetic 2160x1800 truck crops
    python tools/benchmark_io.py --folder my_crops/    # your own JPEGs
    python tools/benchmark_io.py --size 256x256 --workers 0 1 2

Synthetic crops are Opri-style trucks rendered at the crop's longer side by the synthetic
generator, with sensor noise (sigma 4 levels) and JPEG quality 92, so the DCT has real-photo
high frequencies to lose. Decode figures are the best of --rounds passes in one process, so
their ratio compares the two under the same load.
"""
from __future__ import annotations

import argparse
import io
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from vreid.data.dataset import ReIDDataset
from vreid.data.image_io import read_rgb
from vreid.engine import run_cli
from vreid.errors import UserError
from vreid.projects import installed_projects, synthetic_layouts

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folder", type=Path, help="JPEGs to read (default: synthetic crops, made once)")
    p.add_argument("--crops", type=int, default=24, help="synthetic crops to make")
    p.add_argument("--crop-size", default="2160x1800", metavar="WxH", help="synthetic crop size")
    p.add_argument("--size", default="256x256", metavar="WxH", help="the resize after decoding (INPUT.SIZE_TEST)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, nargs="*", default=[0, 1, 2], help="loader workers to time")
    p.add_argument("--prepared-side", type=int, default=320,
                   help="also time the loader on a tools/prepare_dataset.py copy at this longer side (0: no)")
    p.add_argument("--out", type=Path, default=ROOT / "output" / "benchmark_io")
    return p.parse_args(argv)


def _size(text: str, flag: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"{flag} must be WIDTHxHEIGHT, got {text!r}") from None
    return width, height


def make_crops(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    """Synthetic trucks rendered at the longer side, resized to ``size``, with sensor noise."""
    from vreid.synthetic.layouts import plan_layout, render_image

    layouts = {layout.name: layout for layout in synthetic_layouts(installed_projects())}
    if "opri" not in layouts:
        raise UserError("no project declares the Opri-style synthetic layout: pass --folder with JPEGs")
    plan = plan_layout(layouts["opri"], "default", seed=0)
    plan = replace(plan, image_size=max(size))
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    size, crop = _size(args.size, "--size"), _size(args.crop_size, "--crop-size")
    if args.folder:
        paths = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
        if not paths:
            raise UserError(f"{args.folder} holds no JPEG files")
    else:
        paths = make_crops(args.out / f"crops_{crop[0]}x{crop[1]}", args.crops, crop)
    full = time_decode(paths, size, False, args.rounds)
    draft = time_decode(paths, size, True, args.rounds)
    worst, mean = pixel_difference(paths, size)
    with Image.open(paths[0]) as first:
        source = f"{len(paths)} JPEGs of {first.size[0]}x{first.size[1]}"
    prepared = prepare(paths, args.out / f"prepared_{args.prepared_side}", args.prepared_side) if args.prepared_side else []
    head = f"| decode + resize to {size[0]}x{size[1]} | full | draft | draft / full |"
    if prepared:
        head += f" prepared copy ({args.prepared_side}) | prepared / full |"
    rows = [head, "|" + "---|" * (head.count("|") - 1),
            f"| ms per image | {1e3 * full:.1f} | {1e3 * draft:.1f} | {draft / full:.2f} |"]
    if prepared:
        small = time_decode(prepared, size, True, args.rounds)
        rows[-1] += f" {1e3 * small:.1f} | {small / full:.2f} |"
    rates = {}
    for workers in args.workers:
        rates[workers] = [loader_rate(paths, size, False, workers), loader_rate(paths, size, True, workers)]
        per = max(1, workers)
        row = (f"| loader images/s per worker, {workers} workers | {rates[workers][0] / per:.1f} | "
               f"{rates[workers][1] / per:.1f} | {rates[workers][1] / rates[workers][0]:.2f} |")
        if prepared:
            rates[workers].append(loader_rate(prepared, size, True, workers))
            row += f" {rates[workers][2] / per:.1f} | {rates[workers][2] / rates[workers][0]:.2f} |"
        rows.append(row)
    table = "\n".join(rows)
    print(f"{source}; after the resize, draft differs from full decoding by at most {worst:.0f} and on "
          f"average {mean:.2f} levels (0-255)\n{table}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decode.json").write_text(json.dumps({
        "source": source, "size": size, "full_s": full, "draft_s": draft, "max_abs_diff": worst,
        "mean_abs_diff": mean, "loader_images_per_s": {str(w): dict(zip(("full", "draft", "prepared"), r)) for w, r in rates.items()},
    }, indent=1))
    return 0


if __name__ == "__main__":
    run_cli(main)
