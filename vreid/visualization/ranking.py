"""Per-query rankings of a test protocol with ground truth: which queries a model gets right,
which it gets wrong, and the rank-list rows that show them.

The ranking follows the evaluator exactly: ascending distance with ties in gallery order, and
gallery entries with the query's identity and camera dropped; so the mean of the per-query APs
is the evaluator's mAP.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from fastreid.config import CfgNode

from vreid.data import build_test_loader
from vreid.data.dataset import Record, record_meta
from vreid.deploy.features import extract_features
from vreid.errors import UserError
from vreid.evaluation import pairwise_distance
from vreid.evaluation.rank import Labels, rank, top_k
from vreid.evaluation.sanity import check_test_set
from vreid.projects import BatchKey
from vreid.visualization.ranklist import RankRow

SELECTIONS = ("best", "worst")


@dataclass
class RankedQuery:
    query: int  # index into the protocol's queries
    gallery: list[int]  # the top-k gallery indices, nearest first
    distances: list[float]
    matches: list[bool]
    ap: float  # nan when the gallery holds no match for the query
    first_match: int  # 1-based rank of the first right match; 0 when there is none


def rank_queries(dist: torch.Tensor, labels: Labels, topk: int, chunk_size: int = 256) -> list[RankedQuery]:
    """Rank the gallery for every query (rows of ``dist``), chunk by chunk to bound memory. AP
    and first-match rank come from the evaluator's ranking itself; the rank list is the
    ``top_k`` of the entries the protocol keeps (same identity and camera dropped)."""
    stats = rank(dist, labels, chunk_size, progress=False)
    first_pos, aps, valid = stats.first_pos.tolist(), stats.ap.tolist(), stats.valid.tolist()
    ranked = []
    for start in range(0, dist.shape[0], chunk_size):
        stop = min(start + chunk_size, dist.shape[0])
        same = labels.g_pids[None, :] == labels.q_pids[start:stop, None]
        dropped = same & (labels.g_camids[None, :] == labels.q_camids[start:stop, None])
        order, dists = top_k(dist[start:stop].masked_fill(dropped, math.inf), topk)  # dropped entries sort last
        kept = (~dropped.gather(1, order)).sum(1).tolist()
        rows = zip(order.tolist(), dists.tolist(), same.gather(1, order).tolist(), kept)
        for q, (gallery, distances, matches, n) in enumerate(rows, start):
            ranked.append(RankedQuery(q, gallery[:n], distances[:n], matches[:n],
                                      aps[q] if valid[q] else math.nan, first_pos[q] if valid[q] else 0))
    return ranked


def select_queries(ranked: Sequence[RankedQuery], how: str, num: int) -> list[RankedQuery]:
    """The ``num`` best (highest AP, earliest first match) or worst queries that have a match."""
    if how not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {how!r}")
    valid = [r for r in ranked if not math.isnan(r.ap)]
    best_first = sorted(valid, key=lambda r: (-r.ap, r.first_match, r.query))
    return (best_first if how == "best" else best_first[::-1])[:num]


def choose_queries(ranked: Sequence[RankedQuery], chosen: Sequence[str],
                   query_paths: Sequence[str]) -> list[RankedQuery]:
    """Queries named by index into the protocol's query list, by path, or by file name."""
    by_name = {}
    for i, path in enumerate(query_paths):
        by_name.setdefault(path, i)
        by_name.setdefault(os.path.basename(path), i)
    picked = []
    for name in chosen:
        if name.isdigit() and int(name) < len(query_paths):
            picked.append(ranked[int(name)])
        elif name in by_name:
            picked.append(ranked[by_name[name]])
        else:
            raise UserError(f"--queries {name}: not a query of this protocol; give an index below "
                            f"{len(query_paths)}, a query image path or its file name")
    return picked


def _tag(record: Record, key: BatchKey | None) -> str:
    """Identity and label of ``key`` (e.g. the domain), or camera for records without one."""
    value = record_meta(record).get(key.name) if key is not None else None
    return f"id {record[1]} {key.label(value) if value is not None else f'cam {record[2]}'}"


def ranklist_rows(ranked: Sequence[RankedQuery], queries: Sequence[Record], gallery: Sequence[Record],
                  key: BatchKey | None = None) -> list[RankRow]:
    """Rows for ``draw_ranklist``: captions carry rank, distance, identity and label of ``key``."""
    rows = []
    for r in ranked:
        ap = "no match" if math.isnan(r.ap) else f"AP {r.ap:.2f}"
        rows.append(RankRow(
            query_path=queries[r.query][0],
            query_caption=[f"query {r.query}  {ap}", _tag(queries[r.query], key)],
            gallery_paths=[gallery[g][0] for g in r.gallery],
            gallery_captions=[[f"#{k + 1}  {d:.4f}", _tag(gallery[g], key)]
                              for k, (g, d) in enumerate(zip(r.gallery, r.distances))],
            verdicts=list(r.matches),
        ))
    return rows


@dataclass
class ProtocolRanking:
    queries: list[Record]
    gallery: list[Record]
    ranked: list[RankedQuery]


def rank_protocol(cfg: CfgNode, model: nn.Module, protocol: str, topk: int, progress: bool = True) -> ProtocolRanking:
    """Embed a registered test protocol (queries then gallery) as the evaluator does and rank it,
    after the evaluator's checks of its records (vreid.evaluation.sanity): the model can read its
    images, and its ranking means something."""
    loader, num_query = build_test_loader(cfg, protocol)
    records = loader.dataset.img_items
    check_test_set(cfg, protocol, records[:num_query], records[num_query:])
    feats = extract_features(model, loader, len(records), cfg.TEST.FLIP.ENABLED, progress, desc=protocol)
    feats = feats.to(cfg.MODEL.DEVICE)
    dist = pairwise_distance(feats[:num_query], feats[num_query:], cfg.TEST.METRIC)
    pids, camids = [r[1] for r in records], [r[2] for r in records]
    labels = Labels.of(pids[:num_query], pids[num_query:], camids[:num_query], camids[num_query:], dist.device)
    ranked = rank_queries(dist, labels, topk, cfg.TEST.CHUNK_SIZE)
    return ProtocolRanking(records[:num_query], records[num_query:], ranked)
