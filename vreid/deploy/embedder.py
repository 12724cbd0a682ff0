"""One trained model ready to embed images, for every tool and for code that embeds in memory.

Built once from a config, like fast-reid's ``DefaultPredictor``: the weights file is read once
(its SHA-256 taken from the same read), the model loaded in eval mode on MODEL.DEVICE. ``embed``
takes image files, PIL images or uint8 arrays (a tracker's crops; ``bgr=True`` for OpenCV's
channel order), with the per-image label a project declares when the model reads it (a day/night
domain, or ``"auto"``: the key's rule decides from the crop), and returns the features the
evaluator would compute for the same images.

    embedder = Embedder.from_config("configs/synthetic/dndm.yml", "output/demo/dndm/model_final.pth")
    features = embedder.embed(crops, domains="auto", bgr=True)   # (len(crops), embedder.dim) float32
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

from vreid.config import config_text, load_model_config
from vreid.data.loader import DeviceLoader
from vreid.deploy.features import extract_features
from vreid.deploy.images import ImageEntry, image_loader, in_memory, input_size, require_labels
from vreid.deploy.provenance import Provenance
from vreid.errors import UserError
from vreid.modeling import eval_inputs, load_model, read_weights, resolve_device
from vreid.modeling.weights import WeightsFile
from vreid.projects import AUTO, BatchKey, label_key

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

    @classmethod
    def from_config(cls, config_file: str, weights: str, opts: Sequence[str] = (), device: str | None = None,
                    key: BatchKey | None = INSTALLED) -> Embedder:
        """The model a training config describes, with ``weights`` (its model_final.pth), KEY VALUE
        ``opts`` and, if given, ``device`` in place of MODEL.DEVICE."""
        return cls(load_model_config(config_file, [*opts, "MODEL.WEIGHTS", weights], device), key=key)

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

    def entries(self, images: Sequence[ImageLike], labels: Sequence[Label] | Label = None,
                bgr: bool = False) -> list[ImageEntry]:
        """``images`` as entries with their labels: one label for all, one per image, or those
        the entries carry (from a list file); a label is a word of the key, its index, or "auto"."""
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
                out.append(in_memory(image, i, value, bgr))
        return out

    def _value(self, label: Label, index: int) -> int | None:
        if label is None or self.key is None:
            return None
        return self.key.parse(str(label), f"label of image {index}")

    def loader(self, entries: Sequence[ImageEntry]) -> DeviceLoader:
        """Batches of the entries as the model reads them, their labels when it reads those."""
        if not self.reads_label:
            return image_loader(self.cfg, entries)
        require_labels(entries, self.cfg.MODEL.META_ARCHITECTURE, self.key)
        return image_loader(self.cfg, entries, self.key.name, self.key.auto)

    def embed(self, images: Sequence[ImageLike], labels: Sequence[Label] | Label = None, *, bgr: bool = False,
              progress: bool = False, desc: str = "features", **by_name: Sequence[Label] | Label) -> np.ndarray:
        """(len(images), dim) float32 features, in order, flip-averaged when TEST.FLIP.ENABLED.
        The labels may also be named by their key (``domains=...``)."""
        return self.embed_with_labels(images, labels, bgr=bgr, progress=progress, desc=desc, **by_name)[0]

    def embed_with_labels(self, images: Sequence[ImageLike], labels: Sequence[Label] | Label = None, *,
                          bgr: bool = False, progress: bool = False, desc: str = "features",
                          **by_name: Sequence[Label] | Label) -> tuple[np.ndarray, list[int | None]]:
        """``embed``, and each image's label as the model read it ("auto" ones as the rule decided)."""
        entries = self.entries(images, self._labels(labels, by_name), bgr)
        if not entries:
            return np.zeros((0, self.dim), np.float32), []
        if not self.reads_label:
            feats = extract_features(self.model, self.loader(entries), len(entries), self.cfg.TEST.FLIP.ENABLED,
                                     progress, desc)
            return feats.numpy(), [None if e.label == AUTO else e.label for e in entries]
        read: list[int] = []
        feats = extract_features(self.model, self.loader(entries), len(entries), self.cfg.TEST.FLIP.ENABLED,
                                 progress, desc, seen=lambda batch: read.extend(batch[self.key.name].tolist()))
        return feats.numpy(), read

    def _labels(self, labels, by_name: dict):
        """``labels``, or the same given under the key's name."""
        if not by_name:
            return labels
        names = sorted(by_name)
        if self.key is None or names != [self.key.name] or labels is not None:
            expected = f"labels= or {self.key.name}=" if self.key is not None else "no per-image label"
            raise TypeError(f"embed() got {', '.join(names)}; this model takes {expected}")
        return by_name[self.key.name]

    def embed_shared(self, images: Sequence[ImageLike], labels: Sequence[Label] | Label = None,
                     progress: bool = False, desc: str = "features") -> tuple[np.ndarray, list] | None:
        """``embed_with_labels`` by every process of a job (torchrun, srun), each its contiguous
        share: rank 0 gets all rows in order, the others None. In one process, all of it."""
        world, rank = comm.get_world_size(), comm.get_rank()
        if world == 1:
            return self.embed_with_labels(images, labels, progress=progress, desc=desc)
        entries = self.entries(images, labels)
        bounds = np.linspace(0, len(entries), world + 1).round().astype(int)
        share = self.embed_with_labels(entries[bounds[rank]:bounds[rank + 1]], progress=progress and rank == 0,
                                       desc=desc)
        parts = comm.gather(share, dst=0)
        if rank != 0:
            return None
        return np.concatenate([f for f, _ in parts]), [label for _, labels in parts for label in labels]
