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
equal distances rank in gallery order, so results are deterministic. fast-reid's and the DN-ReID release's ``np.argsort``
(quicksort) break ties arbitrarily, so exact ties may score differently there.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from vreid.evaluation.distance import distance_rows
from vreid.evaluation.progress import Progress

__all__ = ["chunked_rank_metrics", "evaluate_rank", "feature_rank_metrics", "query_stats", "rank_metrics"]


@dataclass
class _QueryStats:
    """Per-query results for all queries (valid or not), on the evaluation device."""

    first_pos: torch.Tensor  # 1-based kept position of the first match (int64)
    ap: torch.Tensor  # float64
    inp: torch.Tensor  # float64
    valid: torch.Tensor  # bool: query has at least one kept match


def _as_tensor(x: Any, device: torch.device) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(device)
    return torch.as_tensor(np.asarray(x), device=device)


def _encode_labels(q: Any, g: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return int64 codes for query/gallery labels; non-integer labels (e.g. strings) are
    factorised jointly so equality is preserved."""
    if not isinstance(q, torch.Tensor) or not isinstance(g, torch.Tensor):
        qa, ga = np.asarray(q), np.asarray(g)
        if qa.dtype.kind not in "iub" or ga.dtype.kind not in "iub":
            _, codes = np.unique(np.concatenate([qa.ravel(), ga.ravel()]), return_inverse=True)
            q, g = codes[: qa.size], codes[qa.size:]
    return _as_tensor(q, device).long().reshape(-1), _as_tensor(g, device).long().reshape(-1)


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


def _chunk_stats(
    dist: torch.Tensor,
    q_pids: torch.Tensor,
    q_camids: torch.Tensor,
    g_pids: torch.Tensor,
    g_camids: torch.Tensor,
) -> _QueryStats:
    """Evaluate one chunk of queries without sorting the gallery.

    Only same-pid entries (few per query) score: the rank of the k-th of them is k plus
    the number of other-pid entries ranked before it, a histogram of :func:`_buckets`.
    Same-pid-same-camera entries are then dropped by a cumulative sum along the block.
    """
    n, m = dist.shape
    same_pid = g_pids[None, :] == q_pids[:, None]
    if not bool(same_pid.any()):
        zeros = torch.zeros(n, dtype=torch.float64, device=dist.device)
        return _QueryStats(torch.ones(n, dtype=torch.long, device=dist.device), zeros, zeros, zeros.bool())
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
    return _QueryStats(first, ap, hits / last.double(), num_hits > 0)


def _all_stats(
    distmat: Any,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any,
    g_camids: Any,
    chunk_size: int,
    device: Any,
) -> tuple[_QueryStats, int]:
    """Run all chunks; return concatenated per-query stats and the gallery size."""
    if device is None:
        device = distmat.device if isinstance(distmat, torch.Tensor) else torch.device("cpu")
    device = torch.device(device)
    dist = _as_tensor(distmat, device)
    if dist.ndim != 2:
        raise ValueError(f"distmat must be 2-D (num_query, num_gallery), got shape {tuple(dist.shape)}")
    qp, gp = _encode_labels(q_pids, g_pids, device)
    qc, gc = _encode_labels(q_camids, g_camids, device)
    num_q, num_g = dist.shape
    if not (qp.numel() == qc.numel() == num_q and gp.numel() == gc.numel() == num_g):
        raise ValueError(
            f"label lengths (q_pids {qp.numel()}, q_camids {qc.numel()}, g_pids {gp.numel()}, "
            f"g_camids {gc.numel()}) do not match distmat shape {tuple(dist.shape)}"
        )
    return _stats_by_chunk(lambda s, e: dist[s:e], qp, gp, qc, gc, chunk_size), num_g


def _stats_by_chunk(
    distances: Callable[[int, int], torch.Tensor],
    qp: torch.Tensor,
    gp: torch.Tensor,
    qc: torch.Tensor,
    gc: torch.Tensor,
    chunk_size: int,
) -> _QueryStats:
    """Per-query stats, ``chunk_size`` rows of ``distances(start, stop)`` at a time."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    num_q = qp.numel()
    progress = Progress("ranking queries", num_q)
    parts = []
    for s in range(0, num_q, chunk_size):
        progress.update(s)
        dist = distances(s, min(s + chunk_size, num_q)).contiguous()  # searchsorted wants contiguous rows
        if bool(dist.isnan().any()):
            raise ValueError("distances contain NaN; the ranking of NaN distances is undefined")
        parts.append(_chunk_stats(dist, qp[s:s + chunk_size], qc[s:s + chunk_size], gp, gc))
    return _cat_stats(parts)


def query_stats(distmat: Any, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any,
                chunk_size: int = 256) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per query, valid or not: (1-based kept rank of the first match, AP, has a match), for
    tools that show single queries with the evaluator's exact numbers."""
    stats, _ = _all_stats(distmat, q_pids, g_pids, q_camids, g_camids, chunk_size, None)
    return stats.first_pos, stats.ap, stats.valid


def _cat_stats(parts: list[_QueryStats]) -> _QueryStats:
    return _QueryStats(*(torch.cat([getattr(p, f) for p in parts]) for f in _QueryStats.__dataclass_fields__))


def _cmc(first_pos: torch.Tensor, length: int) -> np.ndarray:
    """CMC from first-match positions; positions past the kept list count as hits."""
    counts = torch.bincount(first_pos.clamp_max(length + 1) - 1, minlength=length + 1)[:length]
    return (counts.cumsum(0).double() / first_pos.numel()).float().cpu().numpy()


def _valid_only(stats: _QueryStats) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(first_pos, ap, inp) of valid queries; fast-reid asserts instead of raising."""
    if not bool(stats.valid.any()):
        raise ValueError(
            "no valid query: no query identity has a gallery match outside the query's camera"
        )
    v = stats.valid
    return stats.first_pos[v], stats.ap[v], stats.inp[v]


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
    ``eval_cuhk03`` unchanged and, like fast-reid, returns ``(cmc, mAP)`` only. Ties rank in gallery order (stable sort), see the module
    docstring.

    Returns:
        cmc: float32, length ``min(max_rank, num_gallery)``, averaged over valid queries.
        all_AP, all_INP: float64, one entry per valid query (queries whose identity has no
        gallery match left after same-camera removal are skipped).

    Raises:
        ValueError: no query is valid.
    """
    if use_metric_cuhk03:
        return _fastreid_cuhk03(distmat, q_pids, g_pids, q_camids, g_camids, max_rank)
    stats, num_g = _all_stats(distmat, q_pids, g_pids, q_camids, g_camids, chunk_size, device)
    first_pos, ap, inp = _valid_only(stats)
    return _cmc(first_pos, min(max_rank, num_g)), ap.cpu().numpy(), inp.cpu().numpy()


def _fastreid_cuhk03(distmat: Any, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any,
                     max_rank: int) -> tuple[np.ndarray, float]:
    """fast-reid's numpy CUHK03 evaluation as it is; like fast-reid's, it returns (cmc, mAP)."""
    from fastreid.evaluation.rank import eval_cuhk03

    arrays = [x.cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
              for x in (distmat, q_pids, g_pids, q_camids, g_camids)]
    return eval_cuhk03(*arrays, max_rank)


def rank_metrics(
    distmat: Any,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any,
    g_camids: Any,
    max_ranks: Sequence[int] = (1, 5, 10, 20),
    *,
    chunk_size: int = 256,
    device: Any = None,
) -> dict[str, float | int]:
    """Summary metrics plus how many queries were skipped for lack of a gallery match.

    Rates are fractions in [0, 1] (not percentages): ``"Rank-k"`` for each k in
    ``max_ranks``, ``"mAP"`` and ``"mINP"`` over valid queries. A rank beyond the gallery
    size reports the CMC value at the last position. Also returns ``"num_valid_queries"``
    and ``"num_skipped_queries"``. Raises ValueError when no query is valid.
    """
    stats, num_g = _all_stats(distmat, q_pids, g_pids, q_camids, g_camids, chunk_size, device)
    return _summary(stats, num_g, max_ranks)


def feature_rank_metrics(
    query: torch.Tensor,
    gallery: torch.Tensor,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any,
    g_camids: Any,
    metric: str = "cosine",
    max_ranks: Sequence[int] = (1, 5, 10, 20),
    *,
    chunk_size: int = 256,
) -> dict[str, float | int]:
    """``rank_metrics`` from features, never holding the whole distance matrix: distances are
    made ``chunk_size`` queries at a time on the features' device, so memory stays at a few
    ``chunk_size x num_gallery`` blocks (a VeRi-Wild-size 10k x 100k matrix alone is 4 GB)."""
    return chunked_rank_metrics(distance_rows(query, gallery, metric), q_pids, g_pids, q_camids,
                                g_camids, max_ranks, chunk_size=chunk_size, device=query.device)


def chunked_rank_metrics(
    distances: Callable[[int, int], torch.Tensor],
    q_pids: Any,
    g_pids: Any,
    q_camids: Any,
    g_camids: Any,
    max_ranks: Sequence[int] = (1, 5, 10, 20),
    *,
    chunk_size: int = 256,
    device: Any,
) -> dict[str, float | int]:
    """``rank_metrics`` where ``distances(start, stop)`` gives, on ``device``, the
    (stop - start, num_gallery) distance rows of those queries, asked for ``chunk_size``
    queries at a time."""
    qp, gp = _encode_labels(q_pids, g_pids, device)
    qc, gc = _encode_labels(q_camids, g_camids, device)
    return _summary(_stats_by_chunk(distances, qp, gp, qc, gc, chunk_size), gp.numel(), max_ranks)


def _summary(stats: _QueryStats, num_g: int, max_ranks: Sequence[int]) -> dict[str, float | int]:
    first_pos, ap, inp = _valid_only(stats)
    length = min(max(max_ranks), num_g)
    cmc = _cmc(first_pos, length)
    out: dict[str, float | int] = {f"Rank-{k}": float(cmc[min(k, length) - 1]) for k in max_ranks}
    out["mAP"] = float(ap.mean())
    out["mINP"] = float(inp.mean())
    out["num_valid_queries"] = first_pos.numel()
    out["num_skipped_queries"] = stats.valid.numel() - first_pos.numel()
    return out
