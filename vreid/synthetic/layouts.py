"""Which images a dataset layout holds, and writing them in that layout's format.

Planning (identities, cameras, views, file names, lists) is separate from rendering, so tests
can inspect what an image shows, and every image draws its randomness from its own (layout,
identity, index) stream. A layout belongs to the project whose datasets read it: the project
declares a :class:`SyntheticLayout` with its own planner, built from the helpers here.
"""
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Callable

import numpy as np

from vreid.progress import progress_bar
from vreid.synthetic import seeding
from vreid.synthetic.camera import CameraStyle, sample_camera
from vreid.synthetic.capture import capture
from vreid.synthetic.identity import VEHICLE_TYPES, VehicleIdentity, sample_identity
from vreid.synthetic.look import DEFAULT_LOOK, Look
from vreid.synthetic.presets import IMAGE_SIZES, LOOKS, ReidSize
from vreid.synthetic.render import VIEWS

DAY_VIEWS = (0.35, 0.35, 0.30)  # front, rear, side of a street camera by day
WRITE_CHUNK = 64  # images per task handed to a worker: small enough for a smooth progress bar


@dataclass(frozen=True)
class ImageSpec:
    """One planned image: where it goes and what it shows."""

    relpath: str  # inside the layout folder
    split: str
    pid: int
    cam: int
    index: int  # per identity; keys the image's random stream
    view: str
    mirrored: bool
    night: bool


Plan = Callable[["SyntheticLayout", int, str], tuple[list[ImageSpec], dict[str, tuple[str, ...]]]]


@dataclass(frozen=True)
class SyntheticLayout:
    """A layout the generator writes under ``<root>/synthetic/<name>/``."""

    name: str
    stream_id: int  # keys every random stream of the layout: unique, so layouts share no identities
    camera_family: str  # one of vreid.synthetic.camera.FAMILIES
    plan: Plan  # (layout, seed, preset) -> the images and the list files (path -> lines)
    vehicle_types: tuple[str, ...] = VEHICLE_TYPES
    presets: tuple[str, ...] | None = None  # those its project gives sizes for; None: every preset

    def has_preset(self, preset: str) -> bool:
        """Whether the planner knows ``preset``, so the generator can refuse before writing anything."""
        return self.presets is None or preset in self.presets


@dataclass(frozen=True)
class LayoutPlan:
    layout: SyntheticLayout
    seed: int
    image_size: int
    images: tuple[ImageSpec, ...]
    lists: dict[str, tuple[str, ...]]  # list-file path -> lines
    look: Look = DEFAULT_LOOK

    def counts(self) -> dict[str, int]:
        """Images per split; for list-based layouts, lines per list (e.g. `query_night`)."""
        if self.lists:
            return {Path(name).stem.replace("_list", ""): len(lines) for name, lines in self.lists.items()}
        counts: dict[str, int] = {}
        for spec in self.images:
            counts[spec.split] = counts.get(spec.split, 0) + 1
        return counts


def spread_cameras(rng: np.random.Generator, cameras: tuple[int, ...], n: int) -> list[int]:
    """Cameras for n sightings of one vehicle: a few cameras, at least two distinct when n > 1."""
    k = min(n, len(cameras), int(rng.integers(2, 5)))
    chosen = rng.choice(cameras, size=k, replace=False)
    return [int(c) for c in rng.permutation(chosen[np.arange(n) % k])]


def random_view(rng: np.random.Generator, weights: tuple[float, float, float]) -> tuple[str, bool]:
    """A view drawn with ``weights`` (front, rear, side) and whether it is mirrored (side views only)."""
    view = VIEWS[int(rng.choice(3, p=weights))]
    return view, view == "side" and bool(rng.random() < 0.5)


def plan_reid(layout: SyntheticLayout, seed: int, size: ReidSize, pids: list[int], cameras: tuple[int, ...],
              views: tuple[float, float, float], name_format: str, night_chance: float = 0.0,
              folder: str = "") -> list[ImageSpec]:
    """VeRi-like split: train ids, then test ids with gallery and query images; every query's id is in
    the gallery under at least one other camera, which the cross-camera protocol needs."""
    images = []
    for rank, pid in enumerate(pids):
        rng = seeding.stream(seed, seeding.PLAN, layout.stream_id, pid)
        if rank < size.train_ids:
            shots = [("train", cam) for cam in spread_cameras(rng, cameras, size.train_images)]
        else:
            gallery = spread_cameras(rng, cameras, size.gallery_images)
            shots = [("test", cam) for cam in gallery]
            shots += [("query", int(rng.choice(sorted(set(gallery))))) for _ in range(size.query_images)]
        frames = np.sort(rng.choice(100_000, size=len(shots), replace=False)) * 5
        for index, ((split, cam), frame) in enumerate(zip(shots, frames)):
            name = name_format.format(pid=pid, cam=cam, frame=int(frame), n=index)
            images.append(ImageSpec(f"{folder}image_{split}/{name}", split, pid, cam, index,
                                    *random_view(rng, views), night=bool(rng.random() < night_chance)))
    return images


def plan_layout(layout: SyntheticLayout, preset: str, seed: int) -> LayoutPlan:
    """Everything about a layout except pixels."""
    images, lists = layout.plan(layout, seed, preset)
    return LayoutPlan(layout, seed, IMAGE_SIZES[preset], tuple(images), lists, LOOKS.get(preset, DEFAULT_LOOK))


@lru_cache(maxsize=None)
def identity(layout: SyntheticLayout, seed: int, pid: int) -> VehicleIdentity:
    return sample_identity(seeding.stream(seed, seeding.IDENTITY, layout.stream_id, pid), layout.vehicle_types)


@lru_cache(maxsize=None)
def camera(layout: SyntheticLayout, seed: int, cam: int) -> CameraStyle:
    return sample_camera(layout.camera_family, seeding.stream(seed, seeding.CAMERA, layout.stream_id, cam))


def render_image(plan: LayoutPlan, spec: ImageSpec) -> bytes:
    rng = seeding.stream(plan.seed, seeding.IMAGE, plan.layout.stream_id, spec.pid, spec.index)
    return capture(identity(plan.layout, plan.seed, spec.pid), spec.view, spec.mirrored, spec.night,
                   camera(plan.layout, plan.seed, spec.cam), rng, plan.image_size, plan.look)


def _write_images(plan: LayoutPlan, folder: Path, specs: Sequence[ImageSpec]) -> int:
    for spec in specs:
        path = folder / spec.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render_image(plan, spec))
    return len(specs)


_worker_job: tuple[LayoutPlan, Path] | None = None  # a worker process's plan and folder


def _start_worker(plan: LayoutPlan, folder: Path) -> None:
    global _worker_job
    _worker_job = plan, folder


def _write_in_worker(specs: Sequence[ImageSpec]) -> int:
    return _write_images(*_worker_job, specs)


@contextmanager
def _chunk_writer(plan: LayoutPlan, folder: Path, workers: int) -> Iterator[Callable[[list], Iterable[int]]]:
    """A function from image chunks to images written per chunk: here (``workers`` 0) or in that
    many forked processes (rendering needs only numpy and PIL, and forking skips re-importing
    torch); an image's bytes depend only on its own stream, never on the worker."""
    if workers <= 0:
        yield lambda chunks: (_write_images(plan, folder, chunk) for chunk in chunks)
        return
    with get_context("fork").Pool(workers, _start_worker, (plan, folder)) as pool:
        yield lambda chunks: pool.imap_unordered(_write_in_worker, chunks)


def write_layout(plan: LayoutPlan, folder: Path, workers: int = 0, progress: bool = False) -> None:
    """Renders every planned image (in ``workers`` processes; 0: in this one) and list file under
    `folder`, with a progress bar on stderr when ``progress``."""
    chunks = [plan.images[i:i + WRITE_CHUNK] for i in range(0, len(plan.images), WRITE_CHUNK)]
    with _chunk_writer(plan, folder, min(workers, len(chunks))) as write, \
            progress_bar(len(plan.images), f"synthetic {plan.layout.name}", enabled=progress) as bar:
        for written in write(chunks):
            bar.update(written)
    for name, lines in plan.lists.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines))
