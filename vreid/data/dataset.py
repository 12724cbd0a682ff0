"""A map-style dataset whose records may carry metadata (domain, source) beside the pid."""
from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vreid.data.image_io import read_rgb

Record = tuple  # (img_path, pid, camid) or (img_path, pid, camid, {"domains": 1, ...})


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Python's, NumPy's and torch's generators (which the transforms draw from) seeded with
    ``seed`` inside, and as they were outside, so the process's own draws are untouched."""
    if seed is None:
        yield
        return
    python, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed % 2 ** 32)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(python)
            np.random.set_state(numpy_state)


def record_meta(record: Record) -> dict[str, Any]:
    return record[3] if len(record) > 3 else {}


class ReIDDataset(Dataset):
    """Reads images from disk on access (nothing is preloaded) and returns fast-reid's batch
    dict, plus every metadata key of the record, so a meta-architecture reads e.g.
    ``batch["domains"]`` with no side channel.

    With ``relabel`` (training), pids and camids are mapped to 0..N-1 over the sorted set.
    ``draft`` (width, height) lets JPEGs decode at a reduced scale that still covers the size
    the transform resizes to first (``vreid.data.image_io.read_rgb``). ``draws``: a test set's
    splits into queries and gallery when it has several (``vreid.data.draws``), positions in
    ``records``; the evaluator takes them from here.
    """

    def __init__(self, records: Sequence[Record], transform: Callable | None = None,
                 relabel: bool = False, draft: tuple[int, int] | None = None, draws: Sequence = ()):
        self.img_items = list(records)
        self.draws = tuple(draws)
        self.transform = transform
        self.relabel = relabel
        self.draft = draft
        self.pids = sorted({r[1] for r in self.img_items}, key=str)
        self.cams = sorted({r[2] for r in self.img_items}, key=str)
        self.pid_dict = {p: i for i, p in enumerate(self.pids)}
        self.cam_dict = {c: i for i, c in enumerate(self.cams)}
        keys = [tuple(sorted(record_meta(r))) for r in self.img_items]
        if len(set(keys)) > 1:
            raise ValueError(f"records carry different metadata keys: {sorted(set(keys))}")
        self.meta_keys = keys[0] if keys else ()

    def __len__(self) -> int:
        return len(self.img_items)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        """``key``: an index, or (index, seed) from a seeded training sampler, whose
        augmentation then draws from that seed alone (``vreid.data.samplers.ResumableSampler``)."""
        index, seed = key if isinstance(key, tuple) else (key, None)
        record = self.img_items[index]
        path, pid, camid = record[:3]
        img = read_rgb(path, draft=self.draft)
        if self.transform is not None:
            with seeded(seed):
                img = self.transform(img)
        if self.relabel:
            pid, camid = self.pid_dict[pid], self.cam_dict[camid]
        return {"images": img, "targets": pid, "camids": camid, "img_paths": path,
                **record_meta(record)}

    @property
    def num_classes(self) -> int:
        return len(self.pids)

    @property
    def num_cameras(self) -> int:
        return len(self.cams)
