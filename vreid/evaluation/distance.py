"""Query x gallery distance matrices, chunked over queries to bound peak memory."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

__all__ = ["distance_rows", "pairwise_distance", "METRICS"]

METRICS = ("cosine", "euclidean")


def _cosine_block(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    # Inputs are already L2-normalised: distance is 1 - cosine similarity (fast-reid's
    # build_dist "cosine"), in [0, 2].
    return torch.addmm(torch.ones((), dtype=q.dtype, device=q.device), q, g.T, alpha=-1)


def _euclidean_block(q: torch.Tensor, g: torch.Tensor, g_sq: torch.Tensor) -> torch.Tensor:
    # ||q||^2 + ||g||^2 - 2 q.g can dip slightly below 0 by rounding; clamp before sqrt.
    sq = torch.addmm(g_sq[None, :], q, g.T, alpha=-2).add_(q.pow(2).sum(1, keepdim=True))
    return sq.clamp_min_(0).sqrt_()


def distance_rows(
    query: torch.Tensor, gallery: torch.Tensor, metric: str = "cosine"
) -> Callable[[int, int], torch.Tensor]:
    """``rows(start, stop)``: float32 distances of queries start:stop to the whole gallery.

    The gallery is normalised (cosine) or its squared norms taken (euclidean) once here, not
    once per chunk: at VeRi-Wild size that is a 100k x 2048 pass saved per chunk of queries.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if query.ndim != 2 or gallery.ndim != 2 or query.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"expected (n, d) and (m, d) features, got {tuple(query.shape)} and {tuple(gallery.shape)}"
        )
    dtype = torch.promote_types(torch.promote_types(query.dtype, gallery.dtype), torch.float32)
    query, gallery = query.to(dtype), gallery.to(dtype)
    if metric == "cosine":
        gallery = F.normalize(gallery, dim=1)
        return lambda s, e: _cosine_block(F.normalize(query[s:e], dim=1), gallery).float()
    g_sq = gallery.pow(2).sum(1)
    return lambda s, e: _euclidean_block(query[s:e], gallery, g_sq).float()


def pairwise_distance(
    query: torch.Tensor, gallery: torch.Tensor, metric: str = "cosine", chunk_size: int = 4096
) -> torch.Tensor:
    """Distance matrix ``(num_query, num_gallery)`` as float32 on the inputs' device.

    ``metric`` is ``"cosine"`` (1 - cosine similarity of L2-normalised features) or
    ``"euclidean"`` (true Euclidean distance, not squared). Computed ``chunk_size`` queries
    at a time, in float64 when the inputs are float64 and float32 otherwise.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    rows = distance_rows(query, gallery, metric)
    out = torch.empty(query.shape[0], gallery.shape[0], dtype=torch.float32, device=query.device)
    for s in range(0, query.shape[0], chunk_size):
        out[s:s + chunk_size] = rows(s, s + chunk_size)
    return out
