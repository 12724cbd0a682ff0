"""Source validation: a seeded share of the training identities held out of training and
evaluated as the test set ``SourceVal``.

A domain-generalisation run must not choose its settings (weights, epochs, the checkpoint) on
the target it claims to generalise to; what it may use is its sources. ``SourceVal`` is a
re-identification protocol on source vehicles the model never trained on:

    DATASETS.SOURCE_VAL.SHARE  share of each DATASETS.NAMES set's training identities held out (0: none)
    DATASETS.SOURCE_VAL.SEED   which identities

With SHARE > 0 the training loader leaves those identities out, and ``SourceVal`` in
DATASETS.TESTS evaluates them: of each held-out identity, one image (seeded, among those with a
match under another camera) is the query and the others are gallery, beside every other held-out
identity's images. TEST.BEST_PROTOCOL SourceVal then picks model_best.pth on the sources alone.
Identities and cameras are numbered over the held-out images, each source's apart.

``SourceVal@<name>`` (name one of DATASETS.NAMES) is the same protocol on that source's held-out
identities alone. Why: in the mixed gallery, a feature that tells the sources apart halves the
candidates of every query, so ``SourceVal`` rewards exactly what a domain-invariant feature must
give up, while the unseen target, one domain, offers no such help. Invariance levers are judged
on the per-source protocols.
"""
from __future__ import annotations

import random
from collections import defaultdict
from typing import Sequence

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from vreid.data.dataset import Record
from vreid.errors import UserError

__all__ = ["SOURCE_VAL", "NAMES", "source_val_identities", "split_off", "check_source_val", "parse_name",
           "SourceVal"]

SOURCE_VAL = "SourceVal"
NAMES = (SOURCE_VAL,)
ONE_SOURCE = "@"  # SourceVal@<name>: one source's held-out identities
NEEDS_CONFIG = (f"{SOURCE_VAL} is built from a config's DATASETS.NAMES and DATASETS.SOURCE_VAL: run it from a "
                "config file")


def source_val_identities(records: Sequence[Record], share: float, seed: int) -> set:
    """A seeded ``share`` of the records' identities (rounded, at least one when share > 0),
    drawn from their sorted list, so the draw depends on the identities alone."""
    if share <= 0:
        return set()
    pids = sorted({r[1] for r in records}, key=str)
    count = min(max(round(share * len(pids)), 1), len(pids))
    return set(random.Random(seed).sample(pids, count))


def split_off(records: Sequence[Record], cfg) -> tuple[list[Record], list[Record]]:
    """(training records, held-out records) of one source under DATASETS.SOURCE_VAL."""
    held = source_val_identities(records, cfg.DATASETS.SOURCE_VAL.SHARE, cfg.DATASETS.SOURCE_VAL.SEED)
    return [r for r in records if r[1] not in held], [r for r in records if r[1] in held]


def parse_name(name: str, cfg) -> tuple[str, ...] | None:
    """The sources a SourceVal test-set name covers (every DATASETS.NAMES entry, or the one after
    @); None for any other name."""
    base, sep, source = name.partition(ONE_SOURCE)
    if base != SOURCE_VAL:
        return None
    if not sep:
        return tuple(cfg.DATASETS.NAMES) if cfg is not None else ()
    if cfg is not None and source not in cfg.DATASETS.NAMES:
        raise UserError(f"the test set {name!r} names {source!r}, which is not in DATASETS.NAMES "
                        f"{tuple(cfg.DATASETS.NAMES)}: use {SOURCE_VAL}{ONE_SOURCE}<one of them>")
    return (source,)


def check_source_val(cfg) -> None:
    """SHARE and the SourceVal test sets go together: one without the other holds out identities
    nobody evaluates, or evaluates none."""
    share = cfg.DATASETS.SOURCE_VAL.SHARE
    listed = any(parse_name(name, cfg) is not None for name in cfg.DATASETS.TESTS)
    if not 0.0 <= share < 1.0:
        raise UserError(f"DATASETS.SOURCE_VAL.SHARE must be in [0, 1), got {share}")
    if share > 0 and not listed:
        raise UserError(f"DATASETS.SOURCE_VAL.SHARE {share} holds training identities out for the test set "
                        f"{SOURCE_VAL}: add it to DATASETS.TESTS, or set the share to 0")
    if listed and share == 0:
        raise UserError(f"the test set {SOURCE_VAL} (DATASETS.TESTS) evaluates held-out training identities: set "
                        "DATASETS.SOURCE_VAL.SHARE, e.g. 0.2")


@DATASET_REGISTRY.register()
class SourceVal(ImageDataset):
    """The held-out identities of every source as query and gallery; built by
    ``vreid.data.build.get_dataset`` from the sources' held-out records (registered so that it
    is listed with the others, but only a config says which records it holds)."""

    def __init__(self, root: str = "", held_out: dict[str, Sequence[Record]] | None = None, seed: int = 0, **kwargs):
        if held_out is None:
            raise UserError(NEEDS_CONFIG)
        pids, cams = {}, {}  # (source, label) -> the integer the evaluator compares
        records = [(r[0], pids.setdefault((source, r[1]), len(pids)), cams.setdefault((source, r[2]), len(cams)), *r[3:])
                   for source, source_records in held_out.items() for r in source_records]
        super().__init__([], *self._split(records, seed), **kwargs)

    @staticmethod
    def _split(records: list[Record], seed: int) -> tuple[list[Record], list[Record]]:
        by_identity = defaultdict(list)
        for r in records:
            by_identity[r[1]].append(r)
        rng, query, gallery = random.Random(seed), [], []
        for pid in sorted(by_identity):
            images = sorted(by_identity[pid], key=lambda r: r[0])
            matched = [r for r in images if any(o[2] != r[2] for o in images)]
            chosen = matched[rng.randrange(len(matched))] if matched else None
            query += [chosen] if chosen else []
            gallery += [r for r in images if r is not chosen]
        return query, gallery
