"""DN-348, DN-Wild and the synthetic day-night set, each with its two test protocols.

Training names: ``DN348``, ``DNWild``, ``SynDN``. Test names: ``<name>_D2N`` (day queries,
night gallery) and ``<name>_N2D`` (night queries, day gallery), for ``DATASETS.TESTS``.

``DNWild_D2N_release`` and ``DNWild_N2D_release`` (and ``SynDN_*_release``) are the protocol the
authors' release selects checkpoints by during training, kept so its numbers can be compared
like for like: every *test* image of the query domain against the *query list* of the other
domain (14,964 day queries against 2,610 night images on DN-Wild). The paper's protocol ranks
the query list against the other domain's test list.
"""
from __future__ import annotations

import logging
import os

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from dnreid.data.layout import DNLayout
from dnreid.domains import DAY, DOMAIN, DOMAINS

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
    """Queries of ``query_domain`` (its ``query_list``: "query", or "test" where the data set has
    no query lists), gallery of the other domain."""

    dataset_dir = ""
    query_domain = ""
    query_list = "query"

    def __init__(self, root: str = "datasets", **kwargs):
        layout = DNLayout(os.path.join(root, self.dataset_dir))
        query, gallery = layout.protocol(self.query_domain, self.query_list)
        super().__init__([], query, gallery, **kwargs)


class _DNReleaseProtocol(ImageDataset):
    """The release's selection protocol: queries are ``test_list_<query_domain>``, the gallery
    is the other domain's ``query_list``."""

    dataset_dir = ""
    query_domain = ""

    def __init__(self, root: str = "datasets", **kwargs):
        layout = DNLayout(os.path.join(root, self.dataset_dir))
        other = DOMAINS[1 - DOMAINS.index(self.query_domain)]
        super().__init__([], layout.read("test", self.query_domain), layout.read("query", other), **kwargs)


@DATASET_REGISTRY.register()
class DN348(_DNTrain):
    dataset_dir = "dn348"


@DATASET_REGISTRY.register()
class DN348_D2N(_DNProtocol):
    dataset_dir, query_domain, query_list = "dn348", "day", "test"


@DATASET_REGISTRY.register()
class DN348_N2D(_DNProtocol):
    dataset_dir, query_domain, query_list = "dn348", "night", "test"


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
class DNWild_D2N_release(_DNReleaseProtocol):
    dataset_dir, query_domain = "dnwild", "day"


@DATASET_REGISTRY.register()
class DNWild_N2D_release(_DNReleaseProtocol):
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


@DATASET_REGISTRY.register()
class SynDN_D2N_release(_DNReleaseProtocol):
    dataset_dir, query_domain = "synthetic/dn", "day"


@DATASET_REGISTRY.register()
class SynDN_N2D_release(_DNReleaseProtocol):
    dataset_dir, query_domain = "synthetic/dn", "night"
