"""Paired day-night identity sampler: what DNDM's cross-domain class awareness relies on."""
from __future__ import annotations

from collections import defaultdict
from typing import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from fastreid.config import configurable
from fastreid.utils import comm

from vreid.data import SAMPLER_REGISTRY
from vreid.errors import UserError

from dnreid.domains import DOMAIN


@SAMPLER_REGISTRY.register()
class PairedIdentitySampler(Sampler[int]):
    """An infinite index stream cut into batches ``[day P*K | night P*K]``: P identities, K day
    images each, then the same P identities in the same order with K night images each
    (drawn with replacement).

    Every rank draws the same P*world identities from a shared seed and keeps its own slice,
    so no identity is on two ranks in the same step.
    """

    @configurable
    def __init__(self, pids: Sequence, domains: Sequence[int], num_ids: int, num_instances: int,
                 seed: int | None = None, rank: int | None = None, world_size: int | None = None):
        self.num_ids, self.num_instances = num_ids, num_instances
        self.rank = comm.get_rank() if rank is None else rank
        self.world_size = comm.get_world_size() if world_size is None else world_size
        self.seed = int(comm.shared_random_seed() if seed is None else seed)
        by_domain = (defaultdict(list), defaultdict(list))
        for index, (pid, domain) in enumerate(zip(pids, domains)):
            by_domain[domain][pid].append(index)
        self.day, self.night = by_domain
        self.pids = sorted(set(self.day) & set(self.night), key=str)
        self.num_day, self.num_night = (sum(map(len, d.values())) for d in by_domain)
        if len(self.pids) < num_ids * self.world_size:
            raise UserError(
                f"PairedIdentitySampler needs {num_ids * self.world_size} identities with both day and "
                f"night images per step but the training set has {len(self.pids)}; lower "
                "SOLVER.IMS_PER_BATCH or raise DATALOADER.NUM_INSTANCE.")

    @classmethod
    def from_config(cls, cfg, dataset, mini_batch_size: int, seed: int | None) -> dict:
        """The registry's call: P = per-process batch / (2 K), K = DATALOADER.NUM_INSTANCE."""
        k = cfg.DATALOADER.NUM_INSTANCE
        if mini_batch_size % (2 * k):
            raise UserError(f"PairedIdentitySampler: the per-process batch {mini_batch_size} must be a "
                            f"multiple of 2 x DATALOADER.NUM_INSTANCE = {2 * k} (P ids x K day + K night)")
        records = dataset.img_items
        return {"pids": [r[1] for r in records], "domains": [r[3][DOMAIN.name] for r in records],
                "num_ids": mini_batch_size // (2 * k), "num_instances": k, "seed": seed}

    def iters_per_epoch(self, total_batch_size: int) -> int:
        """An epoch visits max(#day, #night) images of each domain (the release's definition)."""
        return max(1, max(self.num_day, self.num_night) // (total_batch_size // 2))

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng(self.seed)
        k = self.num_instances
        while True:
            chosen = rng.choice(len(self.pids), self.num_ids * self.world_size, replace=False)
            # Draw for every rank so all ranks consume the generator identically.
            batches = []
            for ids in np.split(chosen, self.world_size):
                day = [rng.choice(self.day[self.pids[i]], k) for i in ids]
                night = [rng.choice(self.night[self.pids[i]], k) for i in ids]
                batches.append(np.concatenate(day + night))
            yield from batches[self.rank].tolist()
