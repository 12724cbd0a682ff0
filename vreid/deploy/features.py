"""Embeddings of every image a loader yields, in loader order, as the evaluator computes them."""
from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn

from vreid.progress import progress_bar


@torch.no_grad()
def extract_features(model: nn.Module, loader: Iterable[dict], num_images: int, flip: bool = False,
                     progress: bool = True, desc: str = "features",
                     seen: Callable[[dict], None] | None = None) -> torch.Tensor:
    """(num_images, dim) float32 on the CPU. ``flip`` averages with the mirrored images, as
    TEST.FLIP.ENABLED does in evaluation, so saved features equal the evaluated ones; ``seen``
    gets every batch (to keep the labels a rule decided, say)."""
    model.eval()
    chunks = []
    with progress_bar(num_images, desc, progress) as bar:
        for batch in loader:
            feats = model(batch)
            if flip:
                feats = (feats + model({**batch, "images": batch["images"].flip(dims=[3])})) / 2
            chunks.append(feats.float().cpu())
            if seen is not None:
                seen(batch)
            bar.update(len(feats))
    if not chunks:
        raise ValueError("the loader yielded no images")
    return torch.cat(chunks)
