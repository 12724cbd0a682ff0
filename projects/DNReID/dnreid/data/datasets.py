"""DN-348, DN-Wild and the synthetic day-night set, each with its two test protocols.

Training names: ``DN348``, ``DNWild``, ``SynDN``. Test names: ``<name>_D2N`` (day queries,
night gallery) and ``<name>_N2D`` (night queries, day gallery), for ``DATASETS.TESTS``.
"""
from __future__ import annotations

import logging
import os

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from dnreid.data.layout import DNLayout

logger = logging.getLogger(__name__)

# Published sizes (train ids / day / night images), checked so a partial copy is noticed.
EXPECTED_TRAIN = {"dn348": (200, 9962, 10022), "dnwild": (1574, 70981, 35384)}


def _check_counts(key: str, records: list[tuple]) -> None:
    if key not in EXPECTED_TRAIN:
        return
    day = sum(r[3]["domains"] == 0 for r in records)
    found = (len({r[1] for r in records}), day, len(records) - day)
    if found != EXPECTED_TRAIN[key]:
        logger.warning(f"{key}: training set has ids/day/night {found}, the paper's is "
                       f"{EXPECTED_TRAIN[key]}; is the copy complete?")


def _register(name: str, folder: str) -> None:
    def layout(root: str) -> DNLayout:
        return DNLayout(os.path.join(root, folder))

    class Train(ImageDataset):
        dataset_dir = folder

        def __init__(self, root: str = "datasets", **kwargs):
            dn = layout(root)
            train = dn.train()
            _check_counts(folder, train)
            super().__init__(train, [], [], **kwargs)

    Train.__name__ = Train.__qualname__ = name
    Train.__doc__ = f"{name} training set: both domains, records carry their domain."
    DATASET_REGISTRY._do_register(name, Train)

    for suffix, query_domain in (("D2N", "day"), ("N2D", "night")):
        class Protocol(ImageDataset):
            dataset_dir = folder
            query_domain_name = query_domain

            def __init__(self, root: str = "datasets", **kwargs):
                query, gallery = layout(root).protocol(self.query_domain_name)
                super().__init__([], query, gallery, **kwargs)

        Protocol.__name__ = Protocol.__qualname__ = f"{name}_{suffix}"
        Protocol.__doc__ = f"{name} {query_domain}-query protocol."
        DATASET_REGISTRY._do_register(Protocol.__name__, Protocol)


for _name, _folder in (("DN348", "dn348"), ("DNWild", "dnwild"), ("SynDN", "synthetic/dn")):
    _register(_name, _folder)
