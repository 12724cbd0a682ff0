"""Exact, vectorised CMC / mAP / mINP evaluation under the market1501 protocol.

Drop-in replacement for ``fastreid.evaluation.rank.evaluate_rank``. fast-reid's Python
fallback loops over queries in numpy (minutes at DN-Wild scale). Here a chunk of queries
is processed at once with torch, and the gallery is never sorted: only the few entries
sharing the query's identity are sorted, and every other entry is binary-searched among
them, which is all AP/INP/CMC need (O(G log K) per query instead of O(G log G)).

Protocol, per query: rank the gallery by ascending distance; drop gallery entries with the
query's pid AND camid; on what remains, matches are entries with the query's pid.
CMC[r] = 1 if a match is within the first r+1 kept entries; AP = mean over matches of
precision at that match; INP = #matches / (kept position of the last match + 1).
Queries without any remaining match are skipped, as fast-reid does.

Ties: the ranking equals a *stable* sort of each row (``torch.sort(..., stable=True)``):
equal distances rank in gallery order, so results are deterministic. fast-reid's and the DN-ReID
release's ``np.argsort`` (quicksort) break ties arbitrarily, so exact ties may score differently
there. :func:`top_k`, which the searches and rank lists show, ranks by the same rule.

One core: :class:`Labels` encodes the four label arrays once, :func:`rank` returns every query's
:class:`QueryStats` (from a distance matrix or from chunks of distance rows made on demand), and
:func:`evaluate_rank` is the drop-in for fast-reid's function of that name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence, Union

import numpy as np
import torch

from vreid.progress import Progress

__all__ = ["Labels", "QueryStats", "evaluate_rank", "rank", "top_k"]


Distances = Union[torch.Tensor, np.ndarray, Callable[[int, int], torch.Tensor]]


def _as_tensor(x: Any, device: torch.device) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(device)
    return torch.as_tensor(np.asarray(x), device=device)


def _encode(q: Any, g: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """int64 codes of query/gallery labels; non-integer labels (e.g. strings) are factorised
    jointly so equality is preserved."""
    if not isinstance(q, torch.Tensor) or not isinstance(g, torch.Tensor):
        qa, ga = np.asarray(q), np.asarray(g)
        if qa.dtype.kind not in "iub" or ga.dtype.kind not in "iub":
            _, codes = np.unique(np.concatenate([qa.ravel(), ga.ravel()]), return_inverse=True)
            q, g = codes[: qa.size], codes[qa.size:]
    return _as_tensor(q, device).long().reshape(-1), _as_tensor(g, device).long().reshape(-1)


@dataclass(frozen=True)
class Labels:
    """Identities and cameras of the queries and of the gallery, as int64 codes on one device."""

    q_pids: torch.Tensor
    g_pids: torch.Tensor
    q_camids: torch.Tensor
    g_camids: torch.Tensor

    @classmethod
    def of(cls, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any, device: Any = "cpu") -> Labels:
        """Encode arrays, lists or tensors of any label type (strings are factorised jointly)."""
        device = torch.device(device)
        qp, gp = _encode(q_pids, g_pids, device)
        qc, gc = _encode(q_camids, g_camids, device)
        if qp.numel() != qc.numel() or gp.numel() != gc.numel():
            raise ValueError(f"label lengths (q_pids {qp.numel()}, q_camids {qc.numel()}, g_pids {gp.numel()}, "
                             f"g_camids {gc.numel()}) differ")
        return cls(qp, gp, qc, gc)

    @property
    def num_query(self) -> int:
        return self.q_pids.numel()

    @property
    def num_gallery(self) -> int:
        return self.g_pids.numel()


@dataclass
class QueryStats:
    """Per-query results of every query (valid or not), on the ranking device."""

    first_pos: torch.Tensor  # 1-based kept position of the first match (int64)
    ap: torch.Tensor  # float64
    inp: torch.Tensor  # float64
    valid: torch.Tensor  # bool: the query has at least one kept match
    num_gallery: int

    def valid_only(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(first_pos, ap, inp) of valid queries; fast-reid asserts instead of raising."""
        if not bool(self.valid.any()):
            raise ValueError("no valid query: no query identity has a gallery match outside the query's camera")
        v = self.valid
        return self.first_pos[v], self.ap[v], self.inp[v]

    def cmc(self, max_rank: int) -> np.ndarray:
        """CMC over valid queries, float32, of length ``min(max_rank, num_gallery)``."""
        first_pos = self.valid_only()[0]
        length = min(max_rank, self.num_gallery)
        counts = torch.bincount(first_pos.clamp_max(length + 1) - 1, minlength=length + 1)[:length]
        return (counts.cumsum(0).double() / first_pos.numel()).float().cpu().numpy()

    def summary(self, max_ranks: Sequence[int] = (1, 5, 10, 20)) -> dict[str, float | int]:
        """Rates as fractions in [0, 1] (not percentages): ``"Rank-k"`` for each k in
        ``max_ranks`` (a rank beyond the gallery reports the CMC at the last position), ``"mAP"``
        and ``"mINP"`` over valid queries; and ``"num_valid_queries"``, ``"num_skipped_queries"``
        (queries without a match in the gallery). Raises ValueError when no query is valid."""
        _, ap, inp = self.valid_only()
        cmc = self.cmc(max(max_ranks))
        out: dict[str, float | int] = {f"Rank-{k}": float(cmc[min(k, len(cmc)) - 1]) for k in max_ranks}
        out["mAP"] = float(ap.mean())
        out["mINP"] = float(inp.mean())
        out["num_valid_queries"] = ap.numel()
        out["num_skipped_queries"] = self.valid.numel() - ap.numel()
        return out


def top_k(dist: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and distances of the k nearest gallery entries per row, nearest first; equal
    distances keep gallery order (a stable sort, the ranking's tie rule)."""
    dist_sorted, order = torch.sort(dist, dim=1, stable=True)
    return order[:, :k], dist_sorted[:, :k]


def _matched_block(
    dist: torch.Tensor, same_pid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pack each row's same-pid entries into a ``(n, K)`` block sorted by (distance, index).

    Returns sorted distances, gallery indices and the per-row counts. Padding slots hold
    ``+inf`` and index ``num_gallery`` so they sort last and never win a tie.
    """
    n, m = dist.shape
    rows, cols = same_pid.nonzero(as_tuple=True)  # row-major: cols ascend within a row
    counts = torch.bincount(rows, minlength=n)
    k = int(counts.max())
    slot = torch.arange(rows.numel(), device=dist.device) - (counts.cumsum(0) - counts)[rows]
    md = dist.new_full((n, k), float("inf"))
    md[rows, slot] = dist[rows, cols]
    midx = torch.full((n, k), m, dtype=torch.long, device=dist.device)
    midx[rows, slot] = cols
    md, perm = torch.sort(md, dim=1, stable=True)  # stable: equal distances keep index order
    return md, midx.gather(1, perm), counts


def _buckets(dist: torch.Tensor, md: torch.Tensor, midx: torch.Tensor) -> torch.Tensor:
    """For every gallery entry, how many same-pid entries precede it in the stable ranking.

    A binary search on distance is exact except for entries whose distance equals a
    same-pid distance (always true for the same-pid entries themselves); those are
    re-searched on an integer key (row, tie-run start, gallery index).
    """
    n, k = md.shape
    m = dist.shape[1]
    bucket = torch.searchsorted(md, dist)  # count of same-pid distances strictly smaller
    nan_col = md.new_full((n, 1), float("nan"))  # bucket == k never ties (NaN != anything)
    tr, tc = (torch.cat([md, nan_col], 1).gather(1, bucket) == dist).nonzero(as_tuple=True)
    run_start = torch.searchsorted(md, md)  # first slot of each slot's tie run
    row_base = torch.arange(n, device=dist.device)[:, None] * (k * (m + 1))
    keys = (row_base + run_start * (m + 1) + midx).reshape(-1)
    queries = row_base[tr, 0] + bucket[tr, tc] * (m + 1) + tc
    bucket[tr, tc] = torch.searchsorted(keys, queries) - tr * k
    return bucket


def _chunk_stats(dist: torch.Tensor, q_pids: torch.Tensor, q_camids: torch.Tensor, g_pids: torch.Tensor,
                 g_camids: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Evaluate one chunk of queries without sorting the gallery.

    Only same-pid entries (few per query) score: the rank of the k-th of them is k plus
    the number of other-pid entries ranked before it, a histogram of :func:`_buckets`.
    Same-pid-same-camera entries are then dropped by a cumulative sum along the block.
    """
    n, m = dist.shape
    same_pid = g_pids[None, :] == q_pids[:, None]
    if not bool(same_pid.any()):
        zeros = torch.zeros(n, dtype=torch.float64, device=dist.device)
        return torch.ones(n, dtype=torch.long, device=dist.device), zeros, zeros, zeros.bool()
    md, midx, counts = _matched_block(dist, same_pid)
    k = md.shape[1]
    real = torch.arange(k, device=dist.device)[None, :] < counts[:, None]
    ones = torch.ones((), dtype=torch.long, device=dist.device).expand(n, m)
    hist = torch.zeros(n, k + 1, dtype=torch.long, device=dist.device)
    hist.scatter_add_(1, _buckets(dist, md, midx), ones)
    hist[:, :k] -= real.long()  # the j-th same-pid entry itself lands in bucket j
    rank = torch.arange(k, device=dist.device) + hist[:, :k].cumsum(1)  # 0-based, full gallery
    removed = real & (g_camids[midx.clamp_max(m - 1)] == q_camids[:, None])
    good = real & ~removed
    kept_pos = rank + 1 - removed.long().cumsum(1)  # 1-based among kept, exact where good
    precision = good.long().cumsum(1).double() / kept_pos.double()
    num_hits = good.sum(1)
    hits = num_hits.double()
    ap = precision.where(good, 0.0).sum(1) / hits.clamp_min(1)
    last = kept_pos.masked_fill(~good, 1).amax(1)
    first = kept_pos.masked_fill(~good, m + 1).amin(1)
    return first, ap, hits / last.double(), num_hits > 0


def rank(distances: Distances, labels: Labels, chunk_size: int = 256, progress: bool = True) -> QueryStats:
    """Every query's ranking statistics under the market1501 protocol (module docstring).

    ``distances`` is the (num_query, num_gallery) matrix, or ``rows(start, stop)`` giving those
    queries' distance rows on the labels' device when asked, so a VeRi-Wild-size matrix never
    exists whole. ``chunk_size`` queries are ranked at a time, memory a few chunk x gallery
    blocks; ``progress`` logs an ETA on long passes."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    num_q, num_g = labels.num_query, labels.num_gallery
    if not callable(distances):
        matrix = _as_tensor(distances, labels.q_pids.device)
        if matrix.shape != (num_q, num_g):
            raise ValueError(f"distmat shape {tuple(matrix.shape)} does not match the labels "
                             f"({num_q} queries, {num_g} gallery entries)")
        distances = lambda s, e: matrix[s:e]  # noqa: E731
    report = Progress("ranking queries", num_q) if progress else None
    parts = []
    for s in range(0, num_q, chunk_size):
        if report is not None:
            report.update(s)
        dist = distances(s, min(s + chunk_size, num_q)).contiguous()  # searchsorted wants contiguous rows
        if bool(dist.isnan().any()):
            raise ValueError("distances contain NaN; the ranking of NaN distances is undefined")
        parts.append(_chunk_stats(dist, labels.q_pids[s:s + chunk_size], labels.q_camids[s:s + chunk_size],
                                  labels.g_pids, labels.g_camids))
    return QueryStats(*(torch.cat([p[i] for p in parts]) for i in range(4)), num_gallery=num_g)


def evaluate_rank(
    distmat: Any,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any,
    g_camids: Any,
    max_rank: int = 50,
    use_metric_cuhk03: bool = False,
    use_cython: bool = True,
    *,
    chunk_size: int = 256,
    device: Any = None,
) -> tuple:
    """Market1501-protocol ranking metrics, with fast-reid's ``evaluate_rank`` signature.

    Args accept numpy arrays or torch tensors. Work runs on ``device`` (default: distmat's
    device if it is a tensor, else CPU), ``chunk_size`` queries at a time so memory stays at
    a few ``chunk_size x num_gallery`` blocks. ``use_cython`` is accepted and has no effect.
    ``use_metric_cuhk03=True`` (CUHK03's single-gallery-shot protocol: per query, one gallery
    image per identity drawn at random, ten draws averaged) runs fast-reid's own numpy
    ``eval_cuhk03`` unchanged and, like fast-reid, returns ``(cmc, mAP)`` only. Ties rank in
    gallery order (stable sort), see the module docstring.

    Returns:
        cmc: float32, length ``min(max_rank, num_gallery)``, averaged over valid queries.
        all_AP, all_INP: float64, one entry per valid query (queries whose identity has no
        gallery match left after same-camera removal are skipped).

    Raises:
        ValueError: no query is valid.
    """
    if use_metric_cuhk03:
        return _fastreid_cuhk03(distmat, q_pids, g_pids, q_camids, g_camids, max_rank)
    if device is None:
        device = distmat.device if isinstance(distmat, torch.Tensor) else torch.device("cpu")
    dist = _as_tensor(distmat, torch.device(device))
    if dist.ndim != 2:
        raise ValueError(f"distmat must be 2-D (num_query, num_gallery), got shape {tuple(dist.shape)}")
    stats = rank(dist, Labels.of(q_pids, g_pids, q_camids, g_camids, device), chunk_size, progress=False)
    _, ap, inp = stats.valid_only()
    return stats.cmc(max_rank), ap.cpu().numpy(), inp.cpu().numpy()


def _fastreid_cuhk03(distmat: Any, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any,
                     max_rank: int) -> tuple[np.ndarray, float]:
    """fast-reid's numpy CUHK03 evaluation as it is; like fast-reid's, it returns (cmc, mAP)."""
    from fastreid.evaluation.rank import eval_cuhk03

    arrays = [x.cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
              for x in (distmat, q_pids, g_pids, q_camids, g_camids)]
    return eval_cuhk03(*arrays, max_rank)
