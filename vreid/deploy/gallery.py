"""A saved gallery searched by query images: a feature file searched exactly, or a faiss index
(``vreid.deploy.gallery_index``), through the same calls.

Each knows its rows (image paths and labels) and the model that embedded them, so it builds
the :class:`~vreid.deploy.embedder.Embedder` for its queries itself: from the config it stores
(or another config of the same architecture), with weights whose SHA-256 is the one it
recorded. The weights file is read once, for that check and for the model.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from tabulate import tabulate

from vreid.config import load_model_config, model_config_from_text
from vreid.deploy.embedder import INSTALLED, Embedder
from vreid.deploy.feature_file import REMAKE, FeatureFile, load_features
from vreid.deploy.provenance import Provenance, Rows
from vreid.errors import UserError
from vreid.evaluation import pairwise_distance, top_k
from vreid.modeling import read_weights
from vreid.projects import BatchKey


@dataclass(frozen=True)
class Hit:
    rank: int  # 1-based
    index: int  # row of the gallery
    distance: float


class SavedGallery:
    """What a search tool serves: rows, the model's provenance, ``search`` and the queries' embedder."""

    path: str
    rows: Rows
    provenance: Provenance
    # The refusals of query weights, in the words of the gallery's kind: format fields weights,
    # path, found and recorded (the weights' SHA-256 and the one the gallery records).
    MISSING_WEIGHTS: str
    OTHER_WEIGHTS: str
    REFILL: str  # what to do about an empty gallery, format field path

    @property
    def dim(self) -> int:
        return self.provenance.dim

    def search(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        raise NotImplementedError

    def require_rows(self) -> None:
        """A gallery without rows has no nearest image to give (faiss asserts on it)."""
        if len(self.rows) == 0:
            path = self.path or "the gallery"
            raise UserError(f"{path} is an empty gallery (0 images): nothing to search; "
                            + self.REFILL.format(path=path))

    def check_query_weights(self, path: str, sha256: str) -> None:
        """Queries must be embedded by the very weights that made the gallery: a retrained or
        replaced file under the same name gives features in another space, and distances mean nothing."""
        if sha256 != self.provenance.weights_sha256:
            raise UserError(self.OTHER_WEIGHTS.format(weights=path, path=self.path, found=sha256[:12],
                                                      recorded=self.provenance.weights_sha256[:12]))

    def query_embedder(self, config_file: str | None = None, opts: Sequence[str] = (),
                       key: BatchKey | None = INSTALLED) -> Embedder:
        """The embedder of the model that made the gallery: its stored config with ``opts``, or
        ``config_file`` (same architecture) with them; weights other than the recorded ones
        are refused before the model is built."""
        model = self.provenance
        if config_file:
            cfg = load_model_config(config_file, opts)
            if cfg.MODEL.META_ARCHITECTURE != model.meta_architecture:
                raise UserError(f"{self.path} holds {model.meta_architecture} features, --config-file builds "
                                f"{cfg.MODEL.META_ARCHITECTURE}: distances between them mean nothing")
        else:
            cfg = model_config_from_text(model.config, opts, self.path)
        if not os.path.isfile(cfg.MODEL.WEIGHTS):
            raise UserError(self.MISSING_WEIGHTS.format(weights=cfg.MODEL.WEIGHTS, path=self.path))
        weights = read_weights(cfg.MODEL.WEIGHTS)
        self.check_query_weights(cfg.MODEL.WEIGHTS, weights.sha256)
        embedder = Embedder(cfg, weights, key)
        if embedder.dim != self.dim:
            raise UserError(f"queries embed to dimension {embedder.dim}, {self.path} to {self.dim}: "
                            "use the model that made the features")
        return embedder


def hits_of(order: list[list[int]], distances: list[list[float]]) -> list[list[Hit]]:
    """Rows of gallery indices and their distances, nearest first, as ranked hits."""
    return [[Hit(r + 1, int(i), float(d)) for r, (i, d) in enumerate(zip(row_i, row_d))]
            for row_i, row_d in zip(order, distances)]


class ExactGallery(SavedGallery):
    """A feature file (tools/extract_features.py) searched exactly: the evaluator's distances and
    its tie rule (``top_k``)."""

    MISSING_WEIGHTS = (f"MODEL.WEIGHTS {{weights}}, which made {{path}}, does not exist any more; {REMAKE} "
                       "--output {path} with the weights you have")
    OTHER_WEIGHTS = ("MODEL.WEIGHTS {weights} is not the weights file that made {path} (its SHA-256 differs from "
                     f"the one in the index: replaced, retrained or another file); {REMAKE} --output {{path}} with "
                     "these weights, or pass the weights that made it")
    REFILL = f"{REMAKE} --output {{path}} with the gallery's images"

    def __init__(self, path: str, key: BatchKey | None = None, features: FeatureFile | None = None):
        self.path = path
        self.features = features if features is not None else load_features(path, key)
        self.rows, self.provenance = self.features.rows, self.features.provenance

    def search(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        """The k nearest gallery images of every query row under the gallery's metric."""
        self.require_rows()
        gallery = self.features.features
        dist = pairwise_distance(torch.from_numpy(queries), torch.from_numpy(gallery), self.provenance.metric)
        order, dists = top_k(dist, min(k, len(gallery)))
        return hits_of(order.tolist(), dists.tolist())


def hits_table(query: str, hits: Sequence[Hit], gallery: SavedGallery, key: BatchKey | None = None) -> str:
    """One query's hits: rank, distance, label (of ``key``, e.g. the domain) and path, GitHub-markdown style."""
    rows = gallery.rows
    labels = [[key.label(rows.labels[h.index])] if key is not None else [] for h in hits]
    table = [[h.rank, h.distance, *label, rows.paths[h.index]] for h, label in zip(hits, labels)]
    headers = ["rank", f"{gallery.provenance.metric} distance", *([key.option] if key is not None else []), "image"]
    return f"query: {query}\n" + tabulate(table, headers=headers, floatfmt=".4f", tablefmt="github")
