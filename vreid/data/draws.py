"""Test sets evaluated as several seeded splits of one set of images (VehicleID's protocol).

VehicleID has no fixed query/gallery split: its papers draw one image of each test vehicle into
the gallery, rank the rest against it, and average several such draws. fast-reid redraws with
an unseeded shuffle at every load, so two evaluations of one model differ. Here a dataset that
is evaluated so exposes ``draws``: :class:`GalleryDraw` records, each with the seed it was drawn
from, as positions in ``dataset.query + dataset.gallery`` (which are the first draw). The test
loader embeds those images once; the evaluator re-splits the features per draw and reports the
mean and standard deviation (``vreid.evaluation.evaluator``).
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class GalleryDraw:
    """One split of a test set: positions of its queries and of its gallery in the test records."""

    seed: int
    query: tuple[int, ...]
    gallery: tuple[int, ...]


def one_per_identity(records: Sequence[tuple], seed: int) -> GalleryDraw:
    """One image of each identity to the gallery, drawn with ``random.Random(seed)``; the others are
    queries. Identities are visited in sorted order and each one's images by path, so a draw depends
    on the seed and the images alone, not on the list's line order."""
    rng = random.Random(seed)
    by_identity = defaultdict(list)
    for index, record in enumerate(records):
        by_identity[record[1]].append(index)
    gallery = set()
    for pid in sorted(by_identity, key=str):
        images = sorted(by_identity[pid], key=lambda i: records[i][0])
        gallery.add(images[rng.randrange(len(images))])
    query = tuple(i for i in range(len(records)) if i not in gallery)
    return GalleryDraw(seed, query, tuple(sorted(gallery)))


def drawn_protocol(records: Sequence[tuple], seeds: Sequence[int]) -> tuple[list, list, tuple[GalleryDraw, ...]]:
    """(query, gallery, draws): the first seed's split as the dataset's query and gallery, and
    every seed's draw as positions in ``query + gallery``, the order the test loader embeds."""
    draws = [one_per_identity(records, seed) for seed in seeds]
    first = draws[0]
    position = {index: p for p, index in enumerate((*first.query, *first.gallery))}
    moved = tuple(GalleryDraw(d.seed, tuple(position[i] for i in d.query), tuple(position[i] for i in d.gallery))
                  for d in draws)
    return [records[i] for i in first.query], [records[i] for i in first.gallery], moved


def split(records: Sequence[tuple], draw: GalleryDraw) -> tuple[list, list]:
    """(query, gallery) records of one draw of the test records ``query + gallery``."""
    return [records[i] for i in draw.query], [records[i] for i in draw.gallery]
