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
from dnreid.domains import DAY, DOMAIN

logger = logging.getLogger(__name__)

# Published sizes (train ids / day / night images), checked so a partial copy is noticed.
EXPECTED_TRAIN = {"dn348": (200, 9962, 10022), "dnwild": (1574, 70981, 35384)}


def _check_counts(key: str, records: list[tuple]) -> None:
    if key not in EXPECTED_TRAIN:
        return
    day = sum(r[3][DOMAIN.name] == DAY for r in records)
    found = (len({r[1] for r in records}), day, len(records) - day)
    if found != EXPECTED_TRAIN[key]:
        logger.warning(f"{key}: training set has ids/day/night {found}, the paper's is "
                       f"{EXPECTED_TRAIN[key]}; is the copy complete?")


class _DNTrain(ImageDataset):
    """Both domains' training lists of ``<root>/<dataset_dir>``; records carry their domain."""

    dataset_dir = ""

    def __init__(self, root: str = "datasets", **kwargs):
        train = DNLayout(os.path.join(root, self.dataset_dir)).train()
        _check_counts(self.dataset_dir, train)
        super().__init__(train, [], [], **kwargs)


class _DNProtocol(ImageDataset):
    """Queries of ``query_domain``, gallery of the other domain."""

    dataset_dir = ""
    query_domain = ""

    def __init__(self, root: str = "datasets", **kwargs):
        query, gallery = DNLayout(os.path.join(root, self.dataset_dir)).protocol(self.query_domain)
        super().__init__([], query, gallery, **kwargs)


@DATASET_REGISTRY.register()
class DN348(_DNTrain):
    dataset_dir = "dn348"


@DATASET_REGISTRY.register()
class DN348_D2N(_DNProtocol):
    dataset_dir, query_domain = "dn348", "day"


@DATASET_REGISTRY.register()
class DN348_N2D(_DNProtocol):
    dataset_dir, query_domain = "dn348", "night"


@DATASET_REGISTRY.register()
class DNWild(_DNTrain):
    dataset_dir = "dnwild"


@DATASET_REGISTRY.register()
class DNWild_D2N(_DNProtocol):
    dataset_dir, query_domain = "dnwild", "day"


@DATASET_REGISTRY.register()
class DNWild_N2D(_DNProtocol):
    dataset_dir, query_domain = "dnwild", "night"


@DATASET_REGISTRY.register()
class SynDN(_DNTrain):
    dataset_dir = "synthetic/dn"


@DATASET_REGISTRY.register()
class SynDN_D2N(_DNProtocol):
    dataset_dir, query_domain = "synthetic/dn", "day"


@DATASET_REGISTRY.register()
class SynDN_N2D(_DNProtocol):
    dataset_dir, query_domain = "synthetic/dn", "night"
