"""A resized copy of a dataset folder: the same tree, file names and list files, every image
scaled so its longer side is at most a given size. Training on 4K crops spends most of its
loader time decoding pixels the first resize throws away; a prepared copy decodes that cost once.

Each image is written to a temporary name and renamed when complete, so after an interruption a
file with its final name is whole, and running again skips it.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Iterable, Iterator

from PIL import Image

from vreid.data.image_io import IMAGE_EXTENSIONS, read_rgb
from vreid.errors import UserError

JPEG_QUALITY = 95


@dataclass(frozen=True)
class Job:
    source: str
    target: str


def scaled_size(size: tuple[int, int], longer_side: int) -> tuple[int, int]:
    """``size`` scaled so its longer side is ``longer_side``; never enlarged."""
    width, height = size
    scale = longer_side / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _is_whole(path: str) -> bool:
    try:
        with Image.open(path) as image:
            image.size  # the header parses
        return True
    except (OSError, SyntaxError, ValueError):
        return False


def plan(source: Path, target: Path) -> tuple[list[Job], list[Job]]:
    """Images to resize and other files (lists, labels) to copy, from every file under ``source``."""
    if not source.is_dir():
        raise UserError(f"{source} is not a folder")
    if target.resolve() == source.resolve() or source.resolve() in target.resolve().parents:
        raise UserError(f"the copy {target} must not be {source} or inside it")
    images, others = [], []
    for folder, _, files in os.walk(source):
        for name in sorted(files):
            path = Path(folder) / name
            job = Job(str(path), str(target / path.relative_to(source)))
            (images if path.suffix.lower() in IMAGE_EXTENSIONS else others).append(job)
    return images, others


def resize_one(job: Job, longer_side: int) -> str:
    """Writes ``job.target``; returns "skipped", "written" or an error line naming the file."""
    if os.path.exists(job.target) and _is_whole(job.target):
        return "skipped"
    try:
        with Image.open(job.source) as probe:
            upright = probe.size
        size = scaled_size(upright, longer_side)
        image = read_rgb(job.source, draft=size)
        if image.size != size:
            image = image.resize(size, Image.LANCZOS)  # a one-off: the best filter is affordable
    except UserError as e:
        return f"error: {e}"
    except (OSError, SyntaxError, ValueError) as e:
        return f"error: cannot read image {job.source}: {e}"
    os.makedirs(os.path.dirname(job.target), exist_ok=True)
    temporary = f"{job.target}.part"
    fmt = Image.registered_extensions().get(os.path.splitext(job.target)[1].lower(), "JPEG")
    image.save(temporary, fmt, **({"quality": JPEG_QUALITY} if fmt == "JPEG" else {}))
    os.replace(temporary, job.target)
    return "written"


def _resize_star(args: tuple[Job, int]) -> str:
    return resize_one(*args)


def copy_others(jobs: Iterable[Job]) -> None:
    for job in jobs:
        os.makedirs(os.path.dirname(job.target), exist_ok=True)
        shutil.copyfile(job.source, job.target)


def run_jobs(jobs: list[Job], longer_side: int, workers: int) -> Iterator[str]:
    """The outcome of every image job, in completion order, ``workers`` processes at a time (0:
    in this process)."""
    if workers <= 0:
        for job in jobs:
            yield resize_one(job, longer_side)
        return
    with get_context("spawn").Pool(workers) as pool:
        yield from pool.imap_unordered(_resize_star, ((job, longer_side) for job in jobs), chunksize=16)
