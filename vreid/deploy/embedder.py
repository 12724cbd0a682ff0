"""One trained model ready to embed images, for every tool and for code that embeds in memory.

Built once from a config, like fast-reid's ``DefaultPredictor``: the weights file is read once
(its SHA-256 taken from the same read), the model loaded in eval mode on MODEL.DEVICE. ``embed``
takes image files, PIL images or uint8 arrays (a tracker's crops), with the per-image label a
project declares when the model reads it (a day/night domain), and returns the features the
evaluator would compute for the same images.

    embedder = Embedder(load_model_config("configs/synthetic/dndm.yml", ["MODEL.WEIGHTS", "model_final.pth"]))
    features = embedder.embed([crop_a, crop_b], labels=["night", "day"])   # (2, embedder.dim) float32
"""
from __future__ import annotations

import os
from functools import cached_property
from typing import Sequence, Union

import numpy as np
import torch
from PIL import Image

from fastreid.config import CfgNode
from fastreid.utils import comm

from vreid.config import config_text
from vreid.data.loader import DeviceLoader
from vreid.deploy.features import extract_features
from vreid.deploy.images import ImageEntry, image_loader, in_memory, input_size, require_labels
from vreid.deploy.provenance import Provenance
from vreid.errors import UserError
from vreid.modeling import eval_inputs, load_model, read_weights, resolve_device
from vreid.modeling.weights import WeightsFile
from vreid.projects import BatchKey, label_key

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray, ImageEntry]
Label = Union[int, str, None]
INSTALLED = object()  # the default key: the per-image label the installed projects declare


class Embedder:
    """``embed(images, labels)`` -> (N, dim) float32 features of MODEL.WEIGHTS."""

    def __init__(self, cfg: CfgNode, weights: WeightsFile | None = None, key: BatchKey | None = INSTALLED):
        """``weights``: the MODEL.WEIGHTS file when the caller has read it already (to check its
        SHA-256 against a gallery's before building the model); ``key``: the per-image label the
        tools read (default: the one the installed projects declare)."""
        self.cfg = cfg
        self.weights = weights if weights is not None else read_weights(cfg.MODEL.WEIGHTS)
        self.model = load_model(cfg, self.weights)
        self.key = label_key() if key is INSTALLED else key
        reads = [k for k in eval_inputs(self.model) if k != "images"]
        unknown = [k for k in reads if self.key is None or k != self.key.name]
        if unknown:
            raise UserError(f"{cfg.MODEL.META_ARCHITECTURE} reads {unknown} besides the images, which the tools "
                            "cannot give it for image files")
        self.reads_label = bool(reads)  # whether every image needs its label of self.key

    @property
    def weights_sha256(self) -> str:
        return self.weights.sha256

    @property
    def config_text(self) -> str:
        """The config as YAML, MODEL.WEIGHTS absolute: what a feature file records."""
        return config_text(self.cfg)

    @cached_property
    def dim(self) -> int:
        """The feature dimension (one blank image through the model)."""
        height, width = input_size(self.cfg)
        batch = {"images": torch.zeros(1, 3, height, width, device=resolve_device(self.cfg))}
        if self.reads_label:
            batch[self.key.name] = torch.zeros(1, dtype=torch.long, device=batch["images"].device)
        with torch.no_grad():
            return int(self.model(batch).shape[1])

    @property
    def provenance(self) -> Provenance:
        return Provenance(self.cfg.TEST.METRIC, self.cfg.MODEL.META_ARCHITECTURE, self.config_text,
                          self.weights_sha256, self.dim)

    def entries(self, images: Sequence[ImageLike], labels: Sequence[Label] | Label = None) -> list[ImageEntry]:
        """``images`` as entries with their labels: one label for all, one per image, or those
        the entries carry (from a list file); a label is a word of the key or its index."""
        if labels is None or isinstance(labels, (int, str)):
            labels = [labels] * len(images)
        if len(labels) != len(images):
            raise UserError(f"{len(images)} images but {len(labels)} labels")
        out = []
        for i, (image, label) in enumerate(zip(images, labels)):
            value = self._value(label, i)
            if isinstance(image, ImageEntry):
                out.append(image if value is None else ImageEntry(image.path, value, image.origin, image.image))
            elif isinstance(image, (str, os.PathLike)):
                out.append(ImageEntry(os.fspath(image), value, os.fspath(image)))
            else:
                out.append(in_memory(image, i, value))
        return out

    def _value(self, label: Label, index: int) -> int | None:
        if label is None or self.key is None:
            return None
        return self.key.parse(str(label), f"label of image {index}")

    def loader(self, entries: Sequence[ImageEntry]) -> DeviceLoader:
        """Batches of the entries as the model reads them, their labels when it reads those."""
        if self.reads_label:
            require_labels(entries, self.cfg.MODEL.META_ARCHITECTURE, self.key)
        return image_loader(self.cfg, entries, self.key.name if self.reads_label else None)

    def embed(self, images: Sequence[ImageLike], labels: Sequence[Label] | Label = None,
              progress: bool = False, desc: str = "features") -> np.ndarray:
        """(len(images), dim) float32 features, in order, flip-averaged when TEST.FLIP.ENABLED."""
        entries = self.entries(images, labels)
        if not entries:
            return np.zeros((0, self.dim), np.float32)
        return extract_features(self.model, self.loader(entries), len(entries), self.cfg.TEST.FLIP.ENABLED,
                                progress, desc).numpy()

    def embed_shared(self, images: Sequence[ImageLike], labels: Sequence[Label] | Label = None,
                     progress: bool = False, desc: str = "features") -> np.ndarray | None:
        """``embed`` by every process of a job (torchrun, srun), each its contiguous share: rank 0
        gets all rows in order, the others None. In a one-process run it is ``embed``."""
        world, rank = comm.get_world_size(), comm.get_rank()
        if world == 1:
            return self.embed(images, labels, progress, desc)
        entries = self.entries(images, labels)
        bounds = np.linspace(0, len(entries), world + 1).round().astype(int)
        share = self.embed(entries[bounds[rank]:bounds[rank + 1]], progress=progress and rank == 0, desc=desc)
        parts = comm.gather(share, dst=0)
        return np.concatenate(parts) if rank == 0 else None
