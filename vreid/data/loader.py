"""Moves batches to the configured device; replaces fast-reid's CUDA-only DataLoaderX."""
from __future__ import annotations

from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader


def to_device(batch: Any, device: torch.device) -> Any:
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


class DeviceLoader:
    """A DataLoader whose batches arrive on ``device`` (pinned, non-blocking copies on CUDA)."""

    def __init__(self, loader: DataLoader, device: str | torch.device, iters_per_epoch: int = 0):
        self.loader = loader
        self.device = torch.device(device)
        self.iters_per_epoch = iters_per_epoch

    @property
    def dataset(self):
        return self.loader.dataset

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        for batch in self.loader:
            yield to_device(batch, self.device)
