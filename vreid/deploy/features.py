"""Embeddings of every image a loader yields, in loader order, as the evaluator computes them."""
from __future__ import annotations

from typing import Iterable, Sequence

import torch
from torch import nn

from fastreid.config import CfgNode

from vreid.data.loader import DeviceLoader
from vreid.deploy.images import ImageEntry, image_loader, require_labels
from vreid.deploy.model import eval_inputs
from vreid.deploy.progress import progress_bar
from vreid.errors import UserError
from vreid.projects import BatchKey


@torch.no_grad()
def extract_features(model: nn.Module, loader: Iterable[dict], num_images: int, flip: bool = False,
                     progress: bool = True, desc: str = "features") -> torch.Tensor:
    """(num_images, dim) float32 on the CPU. ``flip`` averages with the mirrored images, as
    TEST.FLIP.ENABLED does in evaluation, so saved features equal the evaluated ones."""
    model.eval()
    chunks = []
    with progress_bar(num_images, desc, progress) as bar:
        for batch in loader:
            feats = model(batch)
            if flip:
                feats = (feats + model({**batch, "images": batch["images"].flip(dims=[3])})) / 2
            chunks.append(feats.float().cpu())
            bar.update(len(feats))
    if not chunks:
        raise ValueError("the loader yielded no images")
    return torch.cat(chunks)


def model_image_loader(cfg: CfgNode, model: nn.Module, entries: Sequence[ImageEntry],
                       key: BatchKey | None) -> DeviceLoader:
    """Image files as the test loader reads them, with their labels (of the per-image ``key``)
    when ``model`` reads those; stops first if some entries lack one, or if the model reads a
    key that image files cannot carry."""
    reads = [k for k in eval_inputs(model) if k != "images"]
    unknown = [k for k in reads if key is None or k != key.name]
    if unknown:
        raise UserError(f"{cfg.MODEL.META_ARCHITECTURE} reads {unknown} besides the images, which the tools "
                        "cannot give it for image files")
    if reads:
        require_labels(entries, cfg.MODEL.META_ARCHITECTURE, key)
    return image_loader(cfg, entries, key.name if reads else None)


def embed_images(cfg: CfgNode, model: nn.Module, entries: Sequence[ImageEntry], key: BatchKey | None,
                 progress: bool = True, desc: str = "features") -> torch.Tensor:
    """Features of image files, in order."""
    loader = model_image_loader(cfg, model, entries, key)
    return extract_features(model, loader, len(entries), cfg.TEST.FLIP.ENABLED, progress, desc)
