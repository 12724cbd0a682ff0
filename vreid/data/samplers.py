"""The registry of training samplers, with fast-reid's samplers under their own names.

It imports nothing of the modules that use it (the data loaders, ``vreid.projects``' checks, the
projects that register theirs), so none of them imports another through it.
"""
from __future__ import annotations

import itertools
from typing import Iterator

from fvcore.common.registry import Registry
from torch.utils.data import Sampler

from fastreid.data import samplers as fr_samplers

from vreid.errors import UserError

__all__ = ["SAMPLER_REGISTRY", "ResumableSampler", "build_sampler", "epoch_iterations"]

SAMPLER_REGISTRY = Registry("SAMPLER")
SAMPLER_REGISTRY.__doc__ = """Training samplers by DATALOADER.SAMPLER_TRAIN name, each called as
``entry(cfg, dataset, mini_batch_size, seed) -> Sampler`` (a function, or a class whose
``@configurable`` constructor takes those). A sampler may define ``iters_per_epoch(total_batch_size)``
when an epoch is not len(dataset)/batch.
"""


def build_sampler(cfg, dataset, mini_batch_size: int, seed: int | None) -> Sampler:
    """DATALOADER.SAMPLER_TRAIN over ``dataset``; an unknown name is one line listing the known."""
    name = cfg.DATALOADER.SAMPLER_TRAIN
    if name not in SAMPLER_REGISTRY:
        known = ", ".join(sorted(n for n, _ in SAMPLER_REGISTRY))
        raise UserError(f"unknown DATALOADER.SAMPLER_TRAIN {name!r}. Registered: {known}")
    return SAMPLER_REGISTRY.get(name)(cfg, dataset, mini_batch_size, seed)


def epoch_iterations(sampler: Sampler, dataset_size: int, total_batch_size: int) -> int:
    """Iterations of one epoch: the sampler's own count, or the dataset over the batch (at least
    1: fast-reid's ``len(dataset) // batch`` is 0 for a set smaller than one batch)."""
    epoch = getattr(sampler, "iters_per_epoch", None)
    iters = epoch(total_batch_size) if callable(epoch) else dataset_size // total_batch_size
    return max(1, iters)


class ResumableSampler(Sampler):
    """A training sampler's stream from any point: a run resumed after k iterations skips the
    indices its first k batches drew, so it sees the batches an uninterrupted run would have seen
    (fast-reid's samplers restart their seeded stream from its beginning).

    With a ``seed``, each index comes with the seed of its place in the stream, from which the
    dataset draws that sample's augmentation: the same image at the same place is augmented the
    same way whichever process, worker or resumed run loads it."""

    def __init__(self, sampler: Sampler, seed: int | None = None, rank: int = 0):
        self.sampler, self.skip, self.seed, self.rank = sampler, 0, seed, rank

    def __iter__(self) -> Iterator[int] | Iterator[tuple[int, int]]:
        stream = itertools.islice(iter(self.sampler), self.skip, None)
        if self.seed is None:
            return stream
        base = (self.seed * 1_000_003 + self.rank) << 32
        return ((int(index), (base + position) % 2 ** 63) for position, index in enumerate(stream, self.skip))


def _identity_sampler(cls: type, cfg, dataset, mini_batch_size: int, seed: int | None) -> Sampler:
    records = [r[:3] for r in dataset.img_items]  # fast-reid unpacks exactly three fields
    return cls(records, mini_batch_size, cfg.DATALOADER.NUM_INSTANCE, seed=seed)


# fast-reid's samplers under their own names; the functions are named for the registry keys.
@SAMPLER_REGISTRY.register()
def TrainingSampler(cfg, dataset, mini_batch_size: int, seed: int | None) -> Sampler:  # noqa: N802
    return fr_samplers.TrainingSampler(len(dataset), seed=seed)


@SAMPLER_REGISTRY.register()
def NaiveIdentitySampler(cfg, dataset, mini_batch_size: int, seed: int | None) -> Sampler:  # noqa: N802
    return _identity_sampler(fr_samplers.NaiveIdentitySampler, cfg, dataset, mini_batch_size, seed)


@SAMPLER_REGISTRY.register()
def BalancedIdentitySampler(cfg, dataset, mini_batch_size: int, seed: int | None) -> Sampler:  # noqa: N802
    return _identity_sampler(fr_samplers.BalancedIdentitySampler, cfg, dataset, mini_batch_size, seed)
