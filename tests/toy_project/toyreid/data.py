"""Step 3: a dataset registered in fast-reid's DATASET_REGISTRY: ``<root>/synthetic/toy/`` with
``image_train``, ``image_query`` and ``image_test`` (gallery) folders of ``<pid>_c<cam>_<n>.jpg``."""
from __future__ import annotations

import os
import re

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from vreid.errors import UserError

NAME = re.compile(r"^(\d+)_c(\d+)_")


def _read(folder: str, prefix: str = "") -> list[tuple]:
    """(path, pid, camid) of every image, in name order; training labels get the dataset's prefix
    (fast-reid's convention, so several training sets never share a label)."""
    if not os.path.isdir(folder):
        raise UserError(f"ToyReID: missing folder {folder}; generate it with tools/make_synthetic.py")
    records = []
    for name in sorted(n for n in os.listdir(folder) if n.endswith(".jpg")):
        pid, cam = map(int, NAME.match(name).groups())
        records.append((os.path.join(folder, name), f"{prefix}{pid}" if prefix else pid,
                        f"{prefix}{cam}" if prefix else cam))
    return records


@DATASET_REGISTRY.register()
class ToyReID(ImageDataset):
    dataset_dir = "synthetic/toy"

    def __init__(self, root: str = "datasets", **kwargs):
        base = os.path.join(root, self.dataset_dir)
        train = _read(os.path.join(base, "image_train"), prefix="toy_")
        query, gallery = _read(os.path.join(base, "image_query")), _read(os.path.join(base, "image_test"))
        super().__init__(train, query, gallery, **kwargs)
