"""PKU VehicleID (Liu et al., CVPR 2016) under the toolkit's loader.

    vehicleid/image/<image id>.jpg
    vehicleid/train_test_split/train_list.txt                 '<image id> <vehicle id>' per line
    vehicleid/train_test_split/test_list_{800,1600,2400}.txt  the Small, Medium and Large test sets

``VehicleIDTrain`` is the training list; ``VehicleID_Small``, ``_Medium`` and ``_Large`` are the
test lists, each evaluated as TEST.VEHICLEID.TRIALS seeded gallery draws (one image per vehicle to
the gallery, the rest queries; vreid.data.draws), reported as their mean and standard deviation.
VehicleID gives no camera, so the same-camera rule removes nothing: a test image's camera is its
own image id. fast-reid's ``VehicleID`` classes draw with an unseeded shuffle at every load and are
refused (vreid.compat).
"""
from __future__ import annotations

import os

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from vreid.data.draws import drawn_protocol
from vreid.data.paths import SeenOnce, inside
from vreid.data.release import check_release_counts
from vreid.data.text import read_lines
from vreid.errors import UserError

DATASET_DIR = "vehicleid"
HELP = "See datasets/README.md, section 'VehicleID'."
# (vehicles, images) of each list of the release.
RELEASE = {"train_list.txt": (13164, 113346), "test_list_800.txt": (800, 6493),
           "test_list_1600.txt": (1600, 13377), "test_list_2400.txt": (2400, 19777)}
NAMES = ("VehicleIDTrain", "VehicleID_Small", "VehicleID_Medium", "VehicleID_Large")


def dataset_folder(root: str) -> str:
    """``<root>/vehicleid``, checked; the release's own folder name is named when that is what is there."""
    base = os.path.join(root, DATASET_DIR)
    if not os.path.isdir(base):
        unpacked = os.path.join(root, "VehicleID_V1.0")
        hint = f" ({unpacked} exists: rename it, or link it, to {base})" if os.path.isdir(unpacked) else ""
        raise UserError(f"VehicleID layout incomplete: missing folder {base}{hint}. {HELP}")
    for folder in ("image", "train_test_split"):
        if not os.path.isdir(os.path.join(base, folder)):
            raise UserError(f"VehicleID layout incomplete: missing folder {os.path.join(base, folder)}. {HELP}")
    return base


def read_list(base: str, name: str) -> list[tuple[str, int, int]]:
    """``(path, vehicle id, image id)`` of every line of ``train_test_split/<name>``, in line order."""
    path = os.path.join(base, "train_test_split", name)
    if not os.path.isfile(path):
        raise UserError(f"VehicleID layout incomplete: missing list {path}. {HELP}")
    images, records, seen = os.path.join(base, "image"), [], SeenOnce()
    for lineno, line in enumerate(read_lines(path), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{lineno}"
        if len(fields) != 2 or not all(f.isdigit() for f in fields):
            raise UserError(f"{where}: expected '<image id> <vehicle id>', two integers, got {line.strip()!r}; "
                            f"fix the line. {HELP}")
        image = inside(images, f"{fields[0]}.jpg", where)
        if not os.path.isfile(image):
            raise UserError(f"{where}: listed image {image} does not exist. {HELP}")
        seen.add(image, where)
        records.append((image, int(fields[1]), int(fields[0])))
    if not records:
        raise UserError(f"{path} lists no image. {HELP}")
    check_release_counts("VehicleID", name, records, RELEASE.get(name))
    return records


@DATASET_REGISTRY.register()
class VehicleIDTrain(ImageDataset):
    """The 13,164 training vehicles; labels prefixed with the dataset's name (fast-reid's
    convention, so several sources never share one) and one camera, since none is given."""

    dataset_dir = DATASET_DIR
    dataset_name = "vehicleid"

    def __init__(self, root: str = "datasets", **kwargs):
        base = dataset_folder(root)
        self.list_files = [os.path.join(base, "train_test_split", "train_list.txt")]
        train = [(path, f"{self.dataset_name}_{pid}", f"{self.dataset_name}_0")
                 for path, pid, _ in read_list(base, "train_list.txt")]
        super().__init__(train, [], [], **kwargs)


class _VehicleIDTest(ImageDataset):
    """One test list as TEST.VEHICLEID.TRIALS gallery draws, seeded 0, 1, ...; ``query`` and
    ``gallery`` are the first draw, ``draws`` all of them (vreid.data.draws)."""

    dataset_dir = DATASET_DIR
    test_list = ""

    def __init__(self, root: str = "datasets", trials: int = 10, **kwargs):
        if trials < 1:
            raise UserError(f"TEST.VEHICLEID.TRIALS must be at least 1, got {trials}")
        base = dataset_folder(root)
        self.list_files = [os.path.join(base, "train_test_split", self.test_list)]
        query, gallery, self.draws = drawn_protocol(read_list(base, self.test_list), range(trials))
        super().__init__([], query, gallery, **kwargs)

    @classmethod
    def config_kwargs(cls, cfg) -> dict:
        return {"trials": cfg.TEST.VEHICLEID.TRIALS}


@DATASET_REGISTRY.register()
class VehicleID_Small(_VehicleIDTest):
    test_list = "test_list_800.txt"


@DATASET_REGISTRY.register()
class VehicleID_Medium(_VehicleIDTest):
    test_list = "test_list_1600.txt"


@DATASET_REGISTRY.register()
class VehicleID_Large(_VehicleIDTest):
    test_list = "test_list_2400.txt"
