"""Day/night protocols on public VERI-Wild: our protocol, not the paper's DN-Wild
(datasets/README.md, section 'VERI-Wild day/night', says what it can and cannot stand in for).

Each image's domain comes from its capture hour in ``vehicle_info.txt`` by DATASETS.DAY_NIGHT's
night window (dnreid.lighting); images within its guard band of dusk or dawn are left out.

- ``VeRiWildDNTrain``: the training list, every record carrying its domain (the ``domains`` batch
  key, as DN-Wild's); vehicles seen in only one domain are dropped, as DN-Wild's are, since the
  paired sampler needs both.
- ``VeRiWild_D2N`` / ``VeRiWild_N2D`` (the 10,000-vehicle split; ``VeRiWild_Small_*`` and
  ``VeRiWild_Medium_*`` on 3,000 and 5,000): the day images of the official query list against
  the night images of its gallery list, and the mirror. A query whose vehicle has no image of the
  other domain in the gallery cannot be found and is left out (counted in the log). As in DNReID's
  DN protocols, query and gallery get their domain as camera, so nothing is removed from the
  gallery: a vehicle seen by one camera by day and by night is two sightings hours apart.
"""
from __future__ import annotations

import logging
from collections import Counter

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from vreid.data.times import second_of_day
from vreid.data.veriwild import SIZES, Capture, VeRiWildLayout, split_files

from dnreid.data.layout import both_domains
from dnreid.domains import DAY, DOMAIN, DOMAINS, NIGHT
from dnreid.lighting import NightWindow

logger = logging.getLogger(__name__)
NAMES = ("VeRiWildDNTrain", "VeRiWild_D2N", "VeRiWild_N2D",
         *(f"VeRiWild_{size}_{protocol}" for size in ("Small", "Medium") for protocol in ("D2N", "N2D")))


def domains_of(captures: list[Capture], window: NightWindow) -> tuple[list[tuple[Capture, int]], int]:
    """(capture, domain) of every capture outside the guard band, and how many fell inside it."""
    kept, guarded = [], 0
    for capture in captures:
        night = window.is_night(second_of_day(capture.time, capture.where))
        if night is None:
            guarded += 1
        else:
            kept.append((capture, NIGHT if night else DAY))
    return kept, guarded


def _counted(what: str, labelled: list[tuple[Capture, int]], guarded: int, window: NightWindow) -> str:
    counts = Counter(d for _, d in labelled)
    return (f"{what}: {counts[DAY]:,} day, {counts[NIGHT]:,} night, {guarded:,} left out at dusk or dawn "
            f"({window.describe()})")


@DATASET_REGISTRY.register()
class VeRiWildDNTrain(ImageDataset):
    """VERI-Wild's training list with each image's domain; single-domain vehicles dropped."""

    dataset_dir = "VERI-Wild"
    dataset_name = "veriwild"

    def __init__(self, root: str = "datasets", window: NightWindow | None = None, **kwargs):
        window = window or NightWindow.of()
        layout = VeRiWildLayout(root)
        self.list_files = [layout.list_path("train_list.txt"), layout.info]
        labelled, guarded = domains_of(layout.read("train_list.txt"), window)
        logger.info(_counted("VeRiWildDNTrain", labelled, guarded, window))
        train = [(c.path, f"{self.dataset_name}_{c.pid}", f"{self.dataset_name}_{c.camid}", {DOMAIN.name: d})
                 for c, d in labelled]
        super().__init__(both_domains(layout.list_path("train_list.txt"), train), [], [], **kwargs)

    @classmethod
    def config_kwargs(cls, cfg) -> dict:
        return {"window": NightWindow.from_config(cfg)}


class _VeRiWildDNProtocol(ImageDataset):
    """The ``query_domain`` images of a split's query list against the other domain's images of
    its gallery list."""

    dataset_dir = "VERI-Wild"
    size = SIZES["Large"]
    query_domain = ""

    def __init__(self, root: str = "datasets", window: NightWindow | None = None, **kwargs):
        window = window or NightWindow.of()
        layout = VeRiWildLayout(root)
        names = split_files(self.size)
        self.list_files = [*(layout.list_path(n) for n in names), layout.info]
        (queries, q_guarded), (gallery, g_guarded) = (domains_of(layout.read(n), window) for n in names)
        want = DOMAINS.index(self.query_domain)
        gallery = [(c, d) for c, d in gallery if d != want]
        found = {c.pid for c, _ in gallery}
        query = [(c, d) for c, d in queries if d == want]
        matched = [(c, d) for c, d in query if c.pid in found]
        other = DOMAINS[1 - want]
        logger.info(f"{type(self).__name__} ({window.describe()}): {len(matched):,} {self.query_domain} queries against "
                    f"{len(gallery):,} {other} gallery images; left out: {len(query) - len(matched):,} "
                    f"{self.query_domain} queries without a {other} image of their vehicle in the gallery, and "
                    f"{q_guarded + g_guarded:,} images at dusk or dawn")
        super().__init__([], [self._record(c, d) for c, d in matched], [self._record(c, d) for c, d in gallery],
                         **kwargs)

    @staticmethod
    def _record(capture: Capture, domain: int) -> tuple:
        """The domain is the camera too, so the evaluator removes nothing (module docstring)."""
        return (capture.path, capture.pid, domain, {DOMAIN.name: domain})

    @classmethod
    def config_kwargs(cls, cfg) -> dict:
        return {"window": NightWindow.from_config(cfg)}


@DATASET_REGISTRY.register()
class VeRiWild_D2N(_VeRiWildDNProtocol):
    query_domain = "day"


@DATASET_REGISTRY.register()
class VeRiWild_N2D(_VeRiWildDNProtocol):
    query_domain = "night"


@DATASET_REGISTRY.register()
class VeRiWild_Small_D2N(_VeRiWildDNProtocol):
    size, query_domain = SIZES["Small"], "day"


@DATASET_REGISTRY.register()
class VeRiWild_Small_N2D(_VeRiWildDNProtocol):
    size, query_domain = SIZES["Small"], "night"


@DATASET_REGISTRY.register()
class VeRiWild_Medium_D2N(_VeRiWildDNProtocol):
    size, query_domain = SIZES["Medium"], "day"


@DATASET_REGISTRY.register()
class VeRiWild_Medium_N2D(_VeRiWildDNProtocol):
    size, query_domain = SIZES["Medium"], "night"
