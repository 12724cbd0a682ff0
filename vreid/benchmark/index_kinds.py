"""What the gallery index kinds cost and find at city scale, on synthetic features with a known
structure: build time, index size and memory, queries per second, and recall against exact search.

The features are three-level Gaussian clusters, as a city's crops are: a few thousand vehicle
types/colours, identities within a type, a handful of crops per identity. A query is a gallery
crop with a little noise (a new crop of a known vehicle), so its exact ten nearest are mostly its
identity's crops. The indexes are built and searched by the code the tools use
(``vreid.deploy.index_params``).
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, replace
from typing import Callable

import faiss
import numpy as np
import torch

from vreid.deploy.index_params import (KIND_FIELDS, SEARCH_FIELDS, IndexParams, apply_search_params, fill, new_index,
                                      prepared)

from .memory import current_mib
from .report import Column, figure

CPU = torch.device("cpu")


@dataclass(frozen=True)
class Synthetic:
    rows: int = 1_000_000
    dim: int = 512
    clusters: int = 4000
    crops_per_id: int = 10
    queries: int = 10_000
    seed: int = 0


def clustered_gallery(spec: Synthetic, chunk: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """(gallery, queries) float32, deterministic in ``spec.seed``; made a chunk at a time so a
    million 512-d rows need no float64 copy."""
    rng = np.random.default_rng(spec.seed)
    ids = -(-spec.rows // spec.crops_per_id)
    centres = rng.standard_normal((spec.clusters, spec.dim), dtype=np.float32)
    id_cluster = rng.integers(spec.clusters, size=ids)
    gallery = np.empty((spec.rows, spec.dim), np.float32)
    for start in range(0, ids, chunk):
        stop = min(start + chunk, ids)
        identity = centres[id_cluster[start:stop]] + 0.5 * rng.standard_normal((stop - start, spec.dim),
                                                                               dtype=np.float32)
        rows = slice(start * spec.crops_per_id, min(stop * spec.crops_per_id, spec.rows))
        crops = np.repeat(identity, spec.crops_per_id, axis=0)[:rows.stop - rows.start]
        gallery[rows] = crops + 0.25 * rng.standard_normal(crops.shape, dtype=np.float32)
    picked = rng.choice(spec.rows, spec.queries, replace=False)
    queries = gallery[picked] + 0.1 * rng.standard_normal((spec.queries, spec.dim), dtype=np.float32)
    return gallery, queries


def index_bytes(index: faiss.Index) -> int:
    """Size of the index as tools/build_index.py writes it (the faiss file, sidecar aside)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "index.faiss")
        faiss.write_index(index, path)
        return os.path.getsize(path)


def build(params: IndexParams, gallery: np.ndarray) -> tuple[faiss.Index, dict]:
    """The index and its build seconds, file bytes and resident-memory growth (MiB)."""
    before = current_mib(CPU)
    start = time.perf_counter()
    index = new_index(params, gallery.shape[1], "cosine")
    fill(index, gallery, params, "cosine")
    seconds = time.perf_counter() - start
    return index, {"build_s": seconds, "rss_growth_mib": current_mib(CPU) - before, "bytes": index_bytes(index)}


def searched(index: faiss.Index, params: IndexParams, queries: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """Rows of the k nearest of every query, and queries per second of one batch search."""
    apply_search_params(index, params)
    rows = prepared(queries, "cosine")
    start = time.perf_counter()
    _, found = index.search(rows, k)
    return found, len(queries) / (time.perf_counter() - start)


def recall(found: np.ndarray, exact: np.ndarray, k: int) -> float:
    """Share of the exact k nearest that the index returns among its k nearest."""
    return float(np.mean([len(np.intersect1d(f[:k], e[:k])) / k for f, e in zip(found, exact)]))


def measure_kind(params: IndexParams, search_values: list[int], gallery: np.ndarray, queries: np.ndarray,
                 exact: np.ndarray | None, k: int = 10) -> tuple[list[dict], np.ndarray]:
    """One row per search-time value (nprobe or efSearch; one row for flat), and the last result
    (the exact neighbours, when ``params`` is flat)."""
    index, cost = build(params, gallery)
    name = next((n for n in SEARCH_FIELDS if n in KIND_FIELDS[params.kind]), None)  # flat has none
    rows, found = [], None
    for value in search_values if name else [None]:
        tuned = replace(params, **{name: value}) if name else params
        found, qps = searched(index, tuned, queries, k)
        truth = exact if exact is not None else found
        rows.append({"kind": params.kind, "params": ", ".join(f"{n} {v}" for n, v in tuned.used().items()),
                     **cost, "queries_per_s": qps, "recall_at_1": recall(found, truth, 1),
                     "recall_at_10": recall(found, truth, k)})
    del index
    return rows, found


def index_columns(rows: list[dict]) -> list[Column]:
    """Kind, parameters, what building cost (once per index: the rows after the first of a kind change a search-time
    value on the same index), speed and recall."""
    built = {id(next(r for r in rows if r["kind"] == kind)) for kind in {r["kind"] for r in rows}}

    def cost(text: Callable[[dict], str], same: str = "") -> Callable[[dict], str]:
        return lambda row: text(row) if id(row) in built else same

    return [("index", lambda r: r["kind"]), ("parameters", lambda r: r["params"] or "—"),
            ("build s", cost(lambda r: f"{r['build_s']:.1f}", "same index")),
            ("index MiB", cost(lambda r: f"{r['bytes'] / 2**20:.0f}")),
            ("RSS growth MiB", cost(lambda r: f"{r['rss_growth_mib']:.0f}")),
            ("queries/s", lambda r: f"{r['queries_per_s']:,.0f}"), ("recall@1", figure("recall_at_1", ".3f")),
            ("recall@10", figure("recall_at_10", ".3f"))]
