"""VERI-Wild (Lou et al., CVPR 2019) under the toolkit's loader.

    VERI-Wild/images/<vehicle id>/<image id>.jpg
    VERI-Wild/train_test_split/train_list.txt                    '<vehicle id>/<image id>' per line
    VERI-Wild/train_test_split/test_{3000,5000,10000}_query.txt  the queries of Small, Medium, Large
    VERI-Wild/train_test_split/test_{3000,5000,10000}.txt        their galleries
    VERI-Wild/train_test_split/vehicle_info.txt                  'id/image;camera;time;model;type;color'

``VeRiWildTrain`` is the training list; ``VeRiWild_Small``, ``_Medium`` and ``_Large`` the official
test splits, under the same-camera rule of the dataset's paper (a gallery image of the query's
vehicle and camera is left out; the authors confirm it in PKU-IMRE/VERI-Wild issue #7). The camera
and capture time of every image come from ``vehicle_info.txt``, whose first line is a header (as
fast-reid's parser reads it): ``00001/000001;1;2018-03-11 12:48:25;...``. The time is kept for
protocols that need it (DNReID's day/night VERI-Wild); the benchmarks read the camera alone.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from vreid.data.paths import SeenOnce, inside
from vreid.data.release import check_release_counts
from vreid.data.text import read_lines
from vreid.errors import UserError

DATASET_DIR = "VERI-Wild"
HELP = "See datasets/README.md, section 'VERI-Wild'."
INFO = "vehicle_info.txt"
SIZES = {"Small": 3000, "Medium": 5000, "Large": 10000}
# (vehicles, images) of each list of the release.
RELEASE = {"train_list.txt": (30671, 277797),
           "test_3000_query.txt": (3000, 3000), "test_3000.txt": (3000, 38861),
           "test_5000_query.txt": (5000, 5000), "test_5000.txt": (5000, 64389),
           "test_10000_query.txt": (10000, 10000), "test_10000.txt": (10000, 128517)}
NAMES = ("VeRiWildTrain", *(f"VeRiWild_{size}" for size in SIZES))


@dataclass(frozen=True)
class Capture:
    """One listed image: its file, vehicle, camera, and the capture time as written, with where
    ``vehicle_info.txt`` wrote it (for an error about the time, which is read only when needed)."""

    path: str
    pid: int
    camid: int
    time: str
    where: str


def split_files(size: int) -> tuple[str, str]:
    """The (query, gallery) lists of the test split of ``size`` vehicles."""
    return f"test_{size}_query.txt", f"test_{size}.txt"


class VeRiWildLayout:
    """One VERI-Wild folder: its lists read against ``vehicle_info.txt``."""

    def __init__(self, root: str):
        self.base = os.path.join(root, DATASET_DIR)
        self.split = os.path.join(self.base, "train_test_split")
        for folder in (self.base, os.path.join(self.base, "images"), self.split):
            if not os.path.isdir(folder):
                raise UserError(f"VERI-Wild layout incomplete: missing folder {folder}. {HELP}")
        self.info = os.path.join(self.split, INFO)

    def list_path(self, name: str) -> str:
        return os.path.join(self.split, name)

    def read(self, name: str) -> list[Capture]:
        """Every image of the list ``name``, in line order, with its camera and time."""
        listed = self._listed(name)
        info = self._info({key for key, _ in listed})
        images, captures, seen = os.path.join(self.base, "images"), [], SeenOnce()
        for (pid, image_id), where in listed:
            if (pid, image_id) not in info:
                raise UserError(f"{where}: image {pid}/{image_id} has no line in {self.info}, so its camera is "
                                f"unknown; restore the release's {INFO}. {HELP}")
            folder, camid, time, info_where = info[pid, image_id]
            path = inside(images, f"{folder}/{image_id}.jpg", where)
            if not os.path.isfile(path):
                raise UserError(f"{where}: listed image {path} does not exist. {HELP}")
            seen.add(path, where)
            captures.append(Capture(path, pid, camid, time, info_where))
        check_release_counts("VERI-Wild", name, [(c.path, c.pid) for c in captures], RELEASE.get(name))
        return captures

    def _listed(self, name: str) -> list[tuple[tuple[int, str], str]]:
        """((vehicle id, image id), file:line) of every line of a list: '<vehicle>/<image>[.jpg]'."""
        path = self.list_path(name)
        if not os.path.isfile(path):
            raise UserError(f"VERI-Wild layout incomplete: missing list {path}. {HELP}")
        listed = []
        for lineno, line in enumerate(read_lines(path), 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            key = _image_key(line.split()[0])
            if key is None:
                raise UserError(f"{where}: expected '<vehicle id>/<image id>' with an integer vehicle id, got "
                                f"{line.strip()!r}; fix the line. {HELP}")
            listed.append((key, where))
        if not listed:
            raise UserError(f"{path} lists no image. {HELP}")
        return listed

    def _info(self, wanted: set[tuple[int, str]]) -> dict[tuple[int, str], tuple[str, int, str, str]]:
        """(folder, camera, time, file:line) of the wanted images, from ``vehicle_info.txt``. Every
        line is checked, not only the wanted ones: a malformed file is one whatever split is read."""
        if not os.path.isfile(self.info):
            raise UserError(f"VERI-Wild layout incomplete: missing {self.info} (each image's camera and time). {HELP}")
        found = {}
        for lineno, line in enumerate(read_lines(self.info), 1):
            if not line.strip() or (lineno == 1 and _is_header(line)):
                continue
            where = f"{self.info}:{lineno}"
            fields = [f.strip() for f in line.split(";")]
            key = _image_key(fields[0])
            if key is None or len(fields) < 3 or not fields[1].isdigit():
                raise UserError(f"{where}: expected 'id/image;camera;time;model;type;color' with integer vehicle "
                                f"and camera ids, got {line.strip()!r}; fix the line. {HELP}")
            if key in found:
                raise UserError(f"{where}: image {fields[0]} has a second line, the first at {found[key][3]}; remove "
                                f"one of them. {HELP}")
            if key in wanted:
                found[key] = (fields[0].split("/")[0], int(fields[1]), fields[2], where)
        return found


def _image_key(text: str) -> tuple[int, str] | None:
    """(vehicle id, image id) of '<vehicle>/<image>' with or without '.jpg'; None if it is not that."""
    vehicle, slash, image = text.strip().partition("/")
    if not slash or not vehicle.isdigit() or not image or "/" in image:
        return None
    return int(vehicle), image[:-4] if image.lower().endswith(".jpg") else image


def _is_header(line: str) -> bool:
    """The release's first line names the columns ('id/image;Camera ID;Time;Model;Type;Color')."""
    return _image_key(line.split(";")[0]) is None


@DATASET_REGISTRY.register()
class VeRiWildTrain(ImageDataset):
    """The 30,671 training vehicles; labels prefixed with the dataset's name (fast-reid's convention)."""

    dataset_dir = DATASET_DIR
    dataset_name = "veriwild"

    def __init__(self, root: str = "datasets", **kwargs):
        layout = VeRiWildLayout(root)
        self.list_files = [layout.list_path("train_list.txt"), layout.info]
        train = [(c.path, f"{self.dataset_name}_{c.pid}", f"{self.dataset_name}_{c.camid}")
                 for c in layout.read("train_list.txt")]
        super().__init__(train, [], [], **kwargs)


class _VeRiWildTest(ImageDataset):
    """An official test split: its query list against its gallery list, real cameras."""

    dataset_dir = DATASET_DIR
    size = 0

    def __init__(self, root: str = "datasets", **kwargs):
        layout = VeRiWildLayout(root)
        names = split_files(self.size)
        self.list_files = [*(layout.list_path(n) for n in names), layout.info]
        query, gallery = ([(c.path, c.pid, c.camid) for c in layout.read(n)] for n in names)
        super().__init__([], query, gallery, **kwargs)


@DATASET_REGISTRY.register()
class VeRiWild_Small(_VeRiWildTest):
    size = SIZES["Small"]


@DATASET_REGISTRY.register()
class VeRiWild_Medium(_VeRiWildTest):
    size = SIZES["Medium"]


@DATASET_REGISTRY.register()
class VeRiWild_Large(_VeRiWildTest):
    size = SIZES["Large"]
