"""A resized copy of a dataset folder: the same tree, file names and list files, every image
scaled so its longer side is at most a given size. Training on 4K crops spends most of its
loader time decoding pixels the first resize throws away; a prepared copy decodes that cost once.

A copy is written into a staging folder beside its target (``.<name>.partial``) and renamed
into place when every image has been tried; its marker lists the files it wrote. Each file is
written to a temporary name and renamed when complete, so after an interruption a file with its
final name is whole, and running again resumes the staging folder, skipping it (a finished copy
is resumed too, linked into a new staging folder, and stays whole until the swap). A target
that holds files the copier did not write is refused unless ``overwrite``
(``vreid.data.staged``); one of other settings (source, longer side) is rewritten whole.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable, Iterator

from PIL import Image

from vreid.data.folders import is_image_name
from vreid.data.image_io import read_rgb, upright_size
from vreid.data.staged import foreign_files, refuse_foreign, remove, swap_in
from vreid.errors import UserError
from vreid.outputs import ensure_folder, writing

JPEG_QUALITY = 95
MARKER = ".prepared.json"
PART = ".part"  # the suffix of an image being written
TOOL = "prepare_dataset.py"


@dataclass(frozen=True)
class Job:
    source: str
    target: str


@dataclass(frozen=True)
class FolderCopy:
    """One folder's copy: its target, the staging folder the jobs write into, and the jobs."""

    source: Path
    target: Path
    images: list[Job]
    others: list[Job]

    @property
    def staging(self) -> Path:
        return staging_of(self.target)

    def files(self) -> list[str]:
        """What the copy writes, relative to its folder."""
        return sorted(os.path.relpath(job.target, self.staging) for job in self.images + self.others)


def staging_of(target: Path) -> Path:
    """Where a copy is built: beside its target, hidden, under a name a rerun finds again."""
    return target.parent / f".{target.name}.partial"


def scaled_size(size: tuple[int, int], longer_side: int) -> tuple[int, int]:
    """``size`` scaled so its longer side is ``longer_side``; never enlarged."""
    width, height = size
    scale = longer_side / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _is_whole(path: str) -> bool:
    try:
        upright_size(path)  # the header parses
        return True
    except UserError:
        return False


def plan(source: Path, target: Path) -> FolderCopy:
    """Images to resize and other files (lists, labels) to copy, from every file under ``source``
    (a copy's marker aside), written into the copy's staging folder."""
    if not source.is_dir():
        raise UserError(f"{source} is not a folder")
    if target.resolve() == source.resolve() or source.resolve() in target.resolve().parents:
        raise UserError(f"the copy {target} must not be {source} or inside it")
    staging = staging_of(target)
    images, others = [], []
    for folder, _, files in os.walk(source):
        for name in sorted(files):
            path = Path(folder) / name
            if path == source / MARKER:  # the marker of a copy being copied again describes that copy
                continue
            job = Job(str(path), str(staging / path.relative_to(source)))
            (images if is_image_name(name) else others).append(job)
    return FolderCopy(source, target, images, others)


def _settings(copy: FolderCopy, longer_side: int) -> dict:
    """What a copy's files depend on: a copy of other settings is rewritten, not resumed."""
    return {"source": str(copy.source.resolve()), "longer_side": longer_side}


def _read_marker(folder: Path) -> dict:
    """A copy's marker; empty where there is none (every file then counts as the user's)."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def _ours(marker: dict) -> set[str]:
    """The files a copy's marker says the copier wrote, with their temporary names."""
    files = [str(f) for f in marker.get("files", [])]
    return {*files, *(f + PART for f in [*files, MARKER]), MARKER}


def _resumable(folder: Path, marker: dict, wanted: dict) -> bool:
    """``folder`` was written by the copier with the settings ``wanted`` and holds nothing else."""
    settings = {key: marker.get(key) for key in wanted}
    return folder.is_dir() and settings == wanted and not foreign_files(folder, _ours(marker))


def stage(copy: FolderCopy, longer_side: int, overwrite: bool) -> None:
    """Before any image: refuse a target or staging folder holding files the copier did not
    write (unless ``overwrite``), then make the staging folder: the one an interrupted run left,
    else one linked from the finished copy, when either has these settings; else a new one. Its
    marker, which lists the files to come, goes in first."""
    ensure_folder(str(copy.target.parent), "--output")
    wanted = _settings(copy, longer_side)
    target, staging = _read_marker(copy.target), _read_marker(copy.staging)
    if not overwrite:
        refuse_foreign(copy.target, _ours(target), TOOL, "--output")
        refuse_foreign(copy.staging, _ours(staging), TOOL, "--output")
    with writing(str(copy.staging), "the copy's staging folder"):
        if copy.staging.exists() and not _resumable(copy.staging, staging, wanted):
            remove(copy.staging)
            staging = {}
        if not copy.staging.exists() and _resumable(copy.target, target, wanted):
            shutil.copytree(copy.target, copy.staging, symlinks=True, copy_function=_link_or_copy)
            staging = target
        copy.staging.mkdir(exist_ok=True)
        files = sorted(set(staging.get("files", [])) | set(copy.files()))
        _replace(copy.staging / MARKER, lambda tmp: tmp.write_text(json.dumps({**wanted, "files": files}, indent=1)))


def _link_or_copy(source: str, target: str) -> None:
    """A finished copy resumed in the staging folder stays whole where it is until the swap:
    its files are hard-linked there (no second copy of the pixels), or copied where links fail.
    Every write into the staging folder then replaces a file, never writes into a shared one."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    """``write`` to a temporary name beside ``path``, then renamed over it."""
    temporary = path.with_name(path.name + PART)
    write(temporary)
    os.replace(temporary, path)


def finish(copy: FolderCopy) -> None:
    """The temporary files of the copy's jobs an earlier interruption left are removed (only
    those: a user's ``.part`` file is not the copier's), then the staging folder replaces the
    target."""
    with writing(str(copy.target), "the copy"):
        for job in copy.images + copy.others:
            if os.path.lexists(job.target + PART):
                os.remove(job.target + PART)
        swap_in(copy.staging, copy.target)


def resize_one(job: Job, longer_side: int) -> str:
    """Writes ``job.target``; returns "skipped", "written" or an error line naming the file."""
    if os.path.exists(job.target) and _is_whole(job.target):
        return "skipped"
    try:
        size = scaled_size(upright_size(job.source), longer_side)
        image = read_rgb(job.source, draft=size)
        if image.size != size:
            image = image.resize(size, Image.LANCZOS)  # a one-off: the best filter is affordable
    except UserError as e:
        return f"error: {e}"
    except (OSError, SyntaxError, ValueError) as e:
        return f"error: cannot read image {job.source}: {e}"
    temporary = job.target + PART
    fmt = Image.registered_extensions().get(os.path.splitext(job.target)[1].lower(), "JPEG")
    with writing(job.target, "the resized image"):
        os.makedirs(os.path.dirname(job.target), exist_ok=True)
        image.save(temporary, fmt, **({"quality": JPEG_QUALITY} if fmt == "JPEG" else {}))
        os.replace(temporary, job.target)
    return "written"


def _resize_star(args: tuple[Job, int]) -> str:
    return resize_one(*args)


def copy_others(jobs: Iterable[Job]) -> None:
    for job in jobs:
        with writing(job.target, "the copied file"):
            os.makedirs(os.path.dirname(job.target), exist_ok=True)
            _replace(Path(job.target), lambda tmp: shutil.copyfile(job.source, tmp))


def run_jobs(jobs: list[Job], longer_side: int, workers: int) -> Iterator[str]:
    """The outcome of every image job, in completion order, ``workers`` processes at a time (0:
    in this process)."""
    if workers <= 0:
        for job in jobs:
            yield resize_one(job, longer_side)
        return
    with get_context("spawn").Pool(workers) as pool:
        yield from pool.imap_unordered(_resize_star, ((job, longer_side) for job in jobs), chunksize=16)
