"""Train and test loaders built from the config, on fast-reid's registries and transforms."""
from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Sampler

from fastreid.data import samplers as fr_samplers
from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.utils import comm

from vreid.data import custom, source_val, vehicleid, veriwild
from vreid.data.dataset import ReIDDataset, record_meta
from vreid.data.loader import DeviceLoader
from vreid.data.samplers import ResumableSampler, build_sampler, epoch_iterations
from vreid.data.transforms import build_transforms
from vreid.errors import UserError
from vreid.projects import BatchKey, ProjectSpec, declared_datasets, label_key, source_keys

logger = logging.getLogger(__name__)

def data_root() -> str:
    return os.getenv("FASTREID_DATASETS", "datasets")


def get_dataset(name: str, cfg=None, **kwargs):
    """Instantiate a registered dataset, turning fast-reid's failures into actionable errors.

    fast-reid datasets see no config; a class that reads config keys (e.g. a file-name
    pattern) defines ``config_kwargs(cfg) -> dict``, passed to it when ``cfg`` is given.
    ``SourceVal`` is built here, from the held-out identities of the config's training sets.
    """
    if name.startswith(source_val.SOURCE_VAL):
        return _source_val(name, cfg, **kwargs)
    try:
        cls = DATASET_REGISTRY.get(name)
    except KeyError:
        known = ", ".join(known_datasets())
        raise UserError(f"unknown dataset {name!r} in DATASETS.NAMES/TESTS. Registered: {known}") from None
    if cfg is not None and hasattr(cls, "config_kwargs"):
        kwargs = {**cls.config_kwargs(cfg), **kwargs}
    try:
        return cls(root=data_root(), **kwargs)
    except (RuntimeError, FileNotFoundError, AssertionError) as e:
        if isinstance(e, UserError):
            raise
        raise UserError(
            f"cannot load dataset {name} under data root {os.path.abspath(data_root())}: {e}. "
            "Set FASTREID_DATASETS to the data root; datasets/README.md shows every layout."
        ) from None


def _source_val(name: str, cfg, **kwargs) -> source_val.SourceVal:
    if cfg is None:
        raise UserError(source_val.NEEDS_CONFIG)
    sources = source_val.parse_name(name, cfg)
    if sources is None:
        raise UserError(f"unknown dataset {name!r} in DATASETS.TESTS: did you mean {source_val.SOURCE_VAL} or "
                        f"{source_val.SOURCE_VAL}{source_val.ONE_SOURCE}<one of DATASETS.NAMES>?")
    source_val.check_source_val(cfg)
    held_out = {source: source_val.split_off(get_dataset(source, cfg).train, cfg)[1] for source in sources}
    return source_val.SourceVal(held_out=held_out, seed=cfg.DATASETS.SOURCE_VAL.SEED, **kwargs)


SPLITS = ("train", "query", "gallery")
# Built by the core itself (vreid/data/): the vehicle benchmarks, your own data, source validation.
CORE_DATASETS = (*vehicleid.NAMES, *veriwild.NAMES, *custom.NAMES, *source_val.NAMES)


def named_datasets(cfg, names: Sequence[str] = ()) -> dict[str, object]:
    """Each named dataset, loaded, by name; the config's DATASETS.NAMES and DATASETS.TESTS when no
    name is given."""
    return {name: get_dataset(name, cfg) for name in dict.fromkeys(names or [*cfg.DATASETS.NAMES, *cfg.DATASETS.TESTS])}


def split_records(dataset) -> dict[str, list]:
    """The records of a loaded dataset's train, query and gallery (empty where it has none)."""
    return {split: list(getattr(dataset, split, None) or []) for split in SPLITS}


def dataset_images(cfg, names: Sequence[str] = ()) -> dict[str, list[str]]:
    """Image paths of every split (train, query, gallery) of each named dataset, by name; the
    config's DATASETS.NAMES and DATASETS.TESTS when no name is given."""
    return {name: [r[0] for records in split_records(dataset).values() for r in records]
            for name, dataset in named_datasets(cfg, names).items()}


def label_counts(dataset, key: BatchKey | None = None) -> dict[str, dict[str, int]]:
    """Per split, how many images carry each value of the per-image label (day and night, say), by
    the label's word; empty for a split whose records carry none. ``key``: label_key() when None."""
    key = key if key is not None else label_key()
    if key is None:
        return {}
    counts = {}
    for split, records in split_records(dataset).items():
        values = [record_meta(r)[key.name] for r in records if key.name in record_meta(r)]
        if values:
            counts[split] = {key.label(v): values.count(v) for v in sorted(set(values))}
    return counts


def known_datasets() -> list[str]:
    """fast-reid's own datasets, the core's and the installed projects' (fast-reid's registry cannot
    list itself)."""
    import fastreid.data.datasets as builtin

    def registered(name: str) -> bool:
        try:
            return DATASET_REGISTRY.get(name) is getattr(builtin, name, None)
        except KeyError:
            return False

    return sorted({n for n in builtin.__all__ if registered(n)} | set(CORE_DATASETS) | set(declared_datasets()))


def draft_size(cfg, is_train: bool) -> tuple[int, int] | None:
    """(width, height) that JPEGs may be decoded down to: the first resize of fast-reid's
    transforms (INPUT.SIZE_TRAIN or SIZE_TEST; a single value resizes the shorter side to it,
    which a square draft also covers). None when INPUT.DRAFT_DECODE is off or nothing resizes."""
    size = cfg.INPUT.SIZE_TRAIN if is_train else cfg.INPUT.SIZE_TEST
    if not cfg.INPUT.DRAFT_DECODE or not size or size[0] <= 0:
        return None
    height, width = (size[0], size[0]) if len(size) == 1 else (size[0], size[1])
    return int(width), int(height)


def build_train_set(cfg, projects: Sequence[ProjectSpec] | None = None) -> ReIDDataset:
    """Training records of every dataset in DATASETS.NAMES; the per-source batch keys the
    projects declare hold the index of the record's dataset there, so multi-source models know
    where an image comes from."""
    keys = source_keys(projects)
    source_val.check_source_val(cfg)
    records = []
    for source, name in enumerate(cfg.DATASETS.NAMES):
        data = get_dataset(name, cfg)
        if comm.is_main_process():
            data.show_train()
        train, held_out = source_val.split_off(data.train, cfg)
        if held_out:
            logger.info(f"{name}: {len({r[1] for r in held_out})} identities ({len(held_out)} images) held out for "
                        f"{source_val.SOURCE_VAL} (DATASETS.SOURCE_VAL)")
        records += [(*r[:3], {**record_meta(r), **dict.fromkeys(keys, source)}) for r in train]
    if not records:
        raise UserError(f"DATASETS.NAMES {tuple(cfg.DATASETS.NAMES)} hold no training images")
    return ReIDDataset(records, build_transforms(cfg, is_train=True), relabel=True, draft=draft_size(cfg, True))


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2 ** 32
    np.random.seed(seed)


def build_train_loader(cfg, train_set: ReIDDataset | None = None, sampler: Sampler | None = None) -> DeviceLoader:
    train_set = train_set if train_set is not None else build_train_set(cfg)
    world = comm.get_world_size()
    if cfg.SOLVER.IMS_PER_BATCH % world:
        raise UserError(f"SOLVER.IMS_PER_BATCH={cfg.SOLVER.IMS_PER_BATCH} is not divisible by the {world} processes")
    mini_batch = cfg.SOLVER.IMS_PER_BATCH // world
    seed = cfg.SEED if cfg.SEED >= 0 else None
    if sampler is None:
        sampler = build_sampler(cfg, train_set, mini_batch, seed)
    iterations = epoch_iterations(sampler, len(train_set), cfg.SOLVER.IMS_PER_BATCH)
    workers = cfg.DATALOADER.NUM_WORKERS
    generator = torch.Generator().manual_seed(seed + comm.get_rank()) if seed is not None else None
    loader = DataLoader(
        train_set,
        batch_sampler=BatchSampler(ResumableSampler(sampler, seed, comm.get_rank()), mini_batch, drop_last=True),
        num_workers=workers,
        pin_memory=cfg.MODEL.DEVICE.startswith("cuda"),
        persistent_workers=workers > 0,
        worker_init_fn=_seed_worker,
        generator=generator,
    )
    return DeviceLoader(loader, cfg.MODEL.DEVICE, iters_per_epoch=iterations)


def skip_batches(loader: DeviceLoader, batches: int) -> None:
    """The next pass over a training ``loader`` starts ``batches`` batches into its sampler's
    stream: where a run resumed at that iteration left it."""
    batch_sampler = loader.loader.batch_sampler
    batch_sampler.sampler.skip = batches * batch_sampler.batch_size


def build_test_loader(cfg, dataset_name: str) -> tuple[DeviceLoader, int]:
    """Query records first, then gallery; returns the loader and the number of queries. A test set
    evaluated as several splits of its images (VehicleID's gallery draws, vreid.data.draws) hands
    them on as the test set's ``draws``, positions in these records."""
    data = get_dataset(dataset_name, cfg)
    if comm.is_main_process():
        data.show_test()
    test_set = ReIDDataset(data.query + data.gallery, build_transforms(cfg, is_train=False),
                           draft=draft_size(cfg, False), draws=getattr(data, "draws", ()))
    mini_batch = max(1, cfg.TEST.IMS_PER_BATCH // comm.get_world_size())
    loader = DataLoader(
        test_set,
        batch_sampler=BatchSampler(fr_samplers.InferenceSampler(len(test_set)), mini_batch, drop_last=False),
        num_workers=cfg.DATALOADER.NUM_WORKERS,
        pin_memory=cfg.MODEL.DEVICE.startswith("cuda"),
    )
    return DeviceLoader(loader, cfg.MODEL.DEVICE), len(data.query)
