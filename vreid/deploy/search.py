"""Query features against a saved gallery: the top-k nearest images, as a table."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import torch
from tabulate import tabulate

from vreid.deploy.feature_file import FeatureFile, check_same_weights, load_features
from vreid.evaluation import pairwise_distance
from vreid.projects import BatchKey


class Listing(Protocol):
    """What a results table shows beside each hit: a feature file's rows or a gallery index's."""

    paths: list[str]
    labels: list[int | None]
    metric: str


@dataclass(frozen=True)
class Hit:
    rank: int  # 1-based
    index: int  # row of the gallery
    distance: float


def top_k(dist: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and distances of the k nearest gallery entries per row, nearest first; equal
    distances keep gallery order (a stable sort, the evaluator's tie rule)."""
    dist_sorted, order = torch.sort(dist, dim=1, stable=True)
    return order[:, :k], dist_sorted[:, :k]


def search(queries: np.ndarray, gallery: FeatureFile, k: int) -> list[list[Hit]]:
    """The k nearest gallery images of every query row under the gallery's metric."""
    dist = pairwise_distance(torch.from_numpy(queries), torch.from_numpy(gallery.features), gallery.metric)
    order, dists = top_k(dist, min(k, len(gallery.features)))
    return [[Hit(r + 1, int(i), float(d)) for r, (i, d) in enumerate(zip(row_i, row_d))]
            for row_i, row_d in zip(order.tolist(), dists.tolist())]


class FeatureSearch:
    """Exact search of a feature file, through the calls a gallery index answers too
    (``vreid.deploy.gallery_index.GalleryIndex``), so a tool serves either the same way."""

    def __init__(self, path: str, key: BatchKey | None = None):
        self.path, self.gallery = path, load_features(path, key)

    @property
    def dim(self) -> int:
        return int(self.gallery.features.shape[1])

    def check_query_weights(self, weights: str) -> None:
        check_same_weights(self.gallery, weights, self.path)

    def search(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        return search(queries, self.gallery, k)


def results_table(query_path: str, hits: Sequence[Hit], gallery: Listing, key: BatchKey | None = None) -> str:
    """One query's hits: rank, distance, label (of ``key``, e.g. the domain) and path, GitHub-markdown style."""
    labels = [[key.label(gallery.labels[h.index])] if key is not None else [] for h in hits]
    rows = [[h.rank, h.distance, *label, gallery.paths[h.index]] for h, label in zip(hits, labels)]
    headers = ["rank", f"{gallery.metric} distance", *([key.option] if key is not None else []), "image"]
    table = tabulate(rows, headers=headers, floatfmt=".4f", tablefmt="github")
    return f"query: {query_path}\n{table}"
