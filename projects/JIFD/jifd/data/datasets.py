"""VehicleX (training only), Opri (train, query, gallery) and the synthetic VeRi-, VehicleX- and
Opri-style sets, registered in fast-reid's DATASET_REGISTRY.

Training identities and cameras are prefixed with the dataset name, so several sources in
DATASETS.NAMES never share a label. Real VeRi-776 is fast-reid's own ``VeRi`` (its file names read
as vreid.compat makes it read them).
"""
from __future__ import annotations

import logging
import os
import re

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset
from fastreid.data.datasets.veri import VeRi

from vreid.data.folders import compile_name_pattern
from vreid.projects import BatchKey

from jifd.config import OPRI_NAME_PATTERN
from jifd.data.image_folder import check_folders, read_image_folder

logger = logging.getLogger(__name__)

# Which of DATASETS.NAMES a training image comes from: the domain label of multi-source training,
# set by vreid's train loader.
SOURCES = BatchKey("sources", per_source=True)

VEHICLEX_NAME_PATTERN = re.compile(r"^(?P<pid>\d+)_c(?P<camid>\d+)_")
VEHICLEX_HELP = ("VehicleX expects vehiclex/AIC20_ReID_Simulation/image_train/<pid>_c<cam>_<n>.jpg; "
                 "see datasets/README.md, section 'VehicleX'.")
OPRI_HELP = ("Opri expects opri/image_train/, opri/image_query/ and opri/image_test/ with names matched "
             "by DATASETS.OPRI.NAME_PATTERN; set that key to the release's naming if it differs. "
             "See datasets/README.md, section 'Opri'.")


def _training_labels(records: list[tuple], prefix: str) -> list[tuple]:
    return [(path, f"{prefix}_{pid}", f"{prefix}_{cam}") for path, pid, cam in records]


def _warn_if_unexpected(name: str, subset: str, records: list[tuple], expected: tuple | None) -> None:
    """Published (ids, images) of a real release (images None where only approximate); a
    different count hints at a partial copy."""
    if expected is None:
        return
    found = (len({r[1] for r in records}), len(records) if expected[1] is not None else None)
    if found != expected:
        logger.warning(f"{name} {subset}: found ids/images {found}, the release has {expected}; "
                       "is the copy complete?")


class _VehicleXLayout(ImageDataset):
    """``<root>/<dataset_dir>/AIC20_ReID_Simulation/image_train/<pid>_c<cam>_<n>.jpg``."""

    dataset_dir = "vehiclex"
    dataset_name = "vehiclex"
    expected_train: tuple | None = None

    def __init__(self, root: str = "datasets", **kwargs):
        folder = os.path.join(root, self.dataset_dir, "AIC20_ReID_Simulation", "image_train")
        records = read_image_folder(folder, VEHICLEX_NAME_PATTERN, VEHICLEX_HELP)
        _warn_if_unexpected(type(self).__name__, "train", records, self.expected_train)
        super().__init__(_training_labels(records, self.dataset_name), [], [], **kwargs)


class _OpriLayout(ImageDataset):
    """``<root>/<dataset_dir>/image_{train,query,test}/`` (queries are not inside image_test)."""

    dataset_dir = "opri"
    dataset_name = "opri"
    expected: dict[str, tuple[int, int]] = {}

    def __init__(self, root: str = "datasets", name_pattern: str = OPRI_NAME_PATTERN, **kwargs):
        base = os.path.join(root, self.dataset_dir)
        folders = {s: os.path.join(base, f"image_{s}") for s in ("train", "query", "test")}
        check_folders([base, *folders.values()], OPRI_HELP)
        pattern = compile_name_pattern(name_pattern, "DATASETS.OPRI.NAME_PATTERN")
        train, query, gallery = (self._read(folders[f], pattern, s)
                                 for f, s in (("train", "train"), ("query", "query"), ("test", "gallery")))
        super().__init__(train, query, gallery, **kwargs)

    @classmethod
    def config_kwargs(cls, cfg) -> dict:
        return {"name_pattern": cfg.DATASETS.OPRI.NAME_PATTERN}

    def _read(self, folder: str, pattern: re.Pattern, subset: str) -> list[tuple]:
        records = read_image_folder(folder, pattern, OPRI_HELP)
        _warn_if_unexpected(type(self).__name__, subset, records, self.expected.get(subset))
        return _training_labels(records, self.dataset_name) if subset == "train" else records


@DATASET_REGISTRY.register()
class VehicleX(_VehicleXLayout):
    """VehicleX (AI City 2020 ReID simulation): 1,362 ids, training only."""

    expected_train = (1362, None)  # "about 192k images": only the ids are published exactly


@DATASET_REGISTRY.register()
class Opri(_OpriLayout):
    """Opri trucks: 8,918 train ids; 8,917 queries; 54,756 gallery images of 8,917 ids."""

    expected = {"train": (8918, 67321), "query": (8917, 8917), "gallery": (8917, 54756)}


@DATASET_REGISTRY.register()
class SynVehicleX(_VehicleXLayout):
    """Synthetic VehicleX-style set (tools/make_synthetic.py)."""

    dataset_dir = "synthetic/vehiclex"
    dataset_name = "synvehiclex"


@DATASET_REGISTRY.register()
class SynOpri(_OpriLayout):
    """Synthetic Opri-style set (tools/make_synthetic.py)."""

    dataset_dir = "synthetic/opri"
    dataset_name = "synopri"


@DATASET_REGISTRY.register()
class SynVeRi(VeRi):
    """The synthetic VeRi-style set, read by fast-reid's own VeRi loader."""

    dataset_dir = "synthetic/veri"
    dataset_name = "synveri"
