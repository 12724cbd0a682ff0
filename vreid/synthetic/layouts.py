"""Which images each dataset layout holds, and writing them in that layout's format.

Planning (identities, cameras, views, file names, lists) is separate from
rendering, so tests can inspect what an image shows, and every image draws
its randomness from its own (layout, identity, index) stream.
"""
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from vreid.synthetic import seeding
from vreid.synthetic.camera import CameraStyle, sample_camera
from vreid.synthetic.capture import capture
from vreid.synthetic.identity import VEHICLE_TYPES, VehicleIdentity, sample_identity
from vreid.synthetic.presets import PRESETS, ReidSize
from vreid.synthetic.render import VIEWS

LAYOUTS = ("dn", "veri", "vehiclex", "opri")
LAYOUT_IDS = {name: i + 1 for i, name in enumerate(LAYOUTS)}  # keeps identity spaces of layouts apart
CAMERA_FAMILIES = {"dn": "street", "veri": "noisy_street", "vehiclex": "clean_render", "opri": "toll_booth"}
DAY_VIEWS, NIGHT_VIEWS, BOOTH_VIEWS = (0.35, 0.35, 0.30), (0.42, 0.42, 0.16), (0.5, 0.5, 0.0)
DN_DAY_CAMERAS, DN_NIGHT_CAMERAS = tuple(range(1, 7)), tuple(range(7, 13))
VERI_CAMERAS, VEHICLEX_CAMERAS, OPRI_CAMERAS = tuple(range(1, 21)), tuple(range(6, 37)), tuple(range(1, 9))
VERI_MAX_PID = 776
OPRI_NIGHT_CHANCE = 0.2  # toll booths run around the clock


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


@dataclass(frozen=True)
class LayoutPlan:
    layout: str
    seed: int
    image_size: int
    images: tuple[ImageSpec, ...]
    lists: dict[str, tuple[str, ...]]  # list-file path -> lines

    def counts(self) -> dict[str, int]:
        """Images per split; for list-based layouts, lines per list (e.g. `query_night`)."""
        if self.lists:
            return {Path(name).stem.replace("_list", ""): len(lines) for name, lines in self.lists.items()}
        counts: dict[str, int] = {}
        for spec in self.images:
            counts[spec.split] = counts.get(spec.split, 0) + 1
        return counts


def _spread_cameras(rng: np.random.Generator, cameras: tuple[int, ...], n: int) -> list[int]:
    """Cameras for n sightings of one vehicle: a few cameras, at least two distinct when n > 1."""
    k = min(n, len(cameras), int(rng.integers(2, 5)))
    chosen = rng.choice(cameras, size=k, replace=False)
    return [int(c) for c in rng.permutation(chosen[np.arange(n) % k])]


def _view(rng: np.random.Generator, weights: tuple[float, float, float]) -> tuple[str, bool]:
    view = VIEWS[int(rng.choice(3, p=weights))]
    return view, view == "side" and bool(rng.random() < 0.5)


def _plan_dn(seed: int, preset: str) -> tuple[list[ImageSpec], dict[str, tuple[str, ...]]]:
    size = PRESETS[preset].dn
    images: list[ImageSpec] = []
    lists: dict[str, list[str]] = {}
    for pid in range(1, size.train_ids + size.test_ids + 1):
        rng = seeding.stream(seed, seeding.PLAN, LAYOUT_IDS["dn"], pid)
        part = "train" if pid <= size.train_ids else "test"
        index = 0
        for domain, cameras, views in (("day", DN_DAY_CAMERAS, DAY_VIEWS), ("night", DN_NIGHT_CAMERAS, NIGHT_VIEWS)):
            n = getattr(size, f"{part}_{domain}")
            lines = []
            for cam in _spread_cameras(rng, cameras, n):
                name = f"{pid:04d}/{pid:04d}_c{cam:02d}_{index:03d}.jpg"
                images.append(ImageSpec(f"{domain}/{name}", f"{part}_{domain}", pid, cam, index,
                                        *_view(rng, views), night=domain == "night"))
                lines.append(name)
                index += 1
            lists.setdefault(f"{part}_list_{domain}.txt", []).extend(lines)
            if part == "test":
                queries = sorted(rng.choice(len(lines), size=min(size.queries, len(lines)), replace=False))
                lists.setdefault(f"query_list_{domain}.txt", []).extend(lines[q] for q in queries)
    lists = {f"train_test_split/{name}": tuple(lines) for name, lines in lists.items()}
    return images, lists


def _plan_reid(layout: str, seed: int, size: ReidSize, pids: list[int], cameras: tuple[int, ...],
               views: tuple[float, float, float], name_format: str, night_chance: float = 0.0,
               folder: str = "") -> list[ImageSpec]:
    """VeRi-like split: train ids, then test ids with gallery and query images; every query's id is in
    the gallery under at least one other camera, which the cross-camera protocol needs."""
    images = []
    for rank, pid in enumerate(pids):
        rng = seeding.stream(seed, seeding.PLAN, LAYOUT_IDS[layout], pid)
        if rank < size.train_ids:
            shots = [("train", cam) for cam in _spread_cameras(rng, cameras, size.train_images)]
        else:
            gallery = _spread_cameras(rng, cameras, size.gallery_images)
            shots = [("test", cam) for cam in gallery]
            shots += [("query", int(rng.choice(sorted(set(gallery))))) for _ in range(size.query_images)]
        frames = np.sort(rng.choice(100_000, size=len(shots), replace=False)) * 5
        for index, ((split, cam), frame) in enumerate(zip(shots, frames)):
            name = name_format.format(pid=pid, cam=cam, frame=int(frame), n=index)
            images.append(ImageSpec(f"{folder}image_{split}/{name}", split, pid, cam, index,
                                    *_view(rng, views), night=bool(rng.random() < night_chance)))
    return images


def plan_layout(layout: str, preset: str, seed: int) -> LayoutPlan:
    """Everything about a layout except pixels."""
    sizes = PRESETS[preset]
    lists: dict[str, tuple[str, ...]] = {}
    if layout == "dn":
        images, lists = _plan_dn(seed, preset)
    elif layout == "veri":
        rng = seeding.stream(seed, seeding.SPLIT, LAYOUT_IDS["veri"])
        n_train = sizes.veri.train_ids
        pids = rng.choice(np.arange(1, VERI_MAX_PID + 1), size=n_train + sizes.veri.test_ids, replace=False)
        pids = sorted(pids[:n_train].tolist()) + sorted(pids[n_train:].tolist())
        images = _plan_reid("veri", seed, sizes.veri, pids, VERI_CAMERAS, DAY_VIEWS,
                            "{pid:04d}_c{cam:03d}_{frame:08d}_0.jpg")
    elif layout == "vehiclex":
        images = _plan_reid("vehiclex", seed, sizes.vehiclex, list(range(1, sizes.vehiclex.train_ids + 1)),
                            VEHICLEX_CAMERAS, (1 / 3, 1 / 3, 1 / 3), "{pid:04d}_c{cam:03d}_{n}.jpg",
                            folder="AIC20_ReID_Simulation/")
    elif layout == "opri":
        n_ids = sizes.opri.train_ids + sizes.opri.test_ids
        images = _plan_reid("opri", seed, sizes.opri, list(range(1, n_ids + 1)), OPRI_CAMERAS, BOOTH_VIEWS,
                            "{pid:05d}_c{cam:03d}_{n}.jpg", OPRI_NIGHT_CHANCE)
    else:
        raise ValueError(f"unknown layout {layout!r}; choose from {LAYOUTS}")
    return LayoutPlan(layout, seed, sizes.image_size, tuple(images), lists)


@lru_cache(maxsize=None)
def identity(layout: str, seed: int, pid: int) -> VehicleIdentity:
    types = ("truck",) if layout == "opri" else VEHICLE_TYPES
    return sample_identity(seeding.stream(seed, seeding.IDENTITY, LAYOUT_IDS[layout], pid), types)


@lru_cache(maxsize=None)
def camera(layout: str, seed: int, cam: int) -> CameraStyle:
    return sample_camera(CAMERA_FAMILIES[layout], seeding.stream(seed, seeding.CAMERA, LAYOUT_IDS[layout], cam))


def render_image(plan: LayoutPlan, spec: ImageSpec) -> bytes:
    rng = seeding.stream(plan.seed, seeding.IMAGE, LAYOUT_IDS[plan.layout], spec.pid, spec.index)
    return capture(identity(plan.layout, plan.seed, spec.pid), spec.view, spec.mirrored, spec.night,
                   camera(plan.layout, plan.seed, spec.cam), rng, plan.image_size)


def write_layout(plan: LayoutPlan, folder: Path) -> None:
    """Renders every planned image and list file under `folder`."""
    for spec in plan.images:
        path = folder / spec.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render_image(plan, spec))
    for name, lines in plan.lists.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines))
