"""The kinds of faiss gallery index, their parameters as tool flags, and the faiss index each makes.

``flat`` searches exactly (the ranking of ``vreid.deploy.ExactGallery``); ``ivfpq`` and ``hnsw`` trade
a little recall for memory (IVF-PQ keeps ``pq_m`` bytes a vector at 8 bits) or speed (HNSW keeps
the vectors and a graph). Parameters are checked against the features before any training, so a
bad flag costs one line, not minutes of k-means.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import faiss
import numpy as np

from vreid.errors import UserError

KINDS = ("flat", "ivfpq", "hnsw")
KIND_FIELDS = {"flat": (), "ivfpq": ("nlist", "pq_m", "pq_nbits", "nprobe"),
               "hnsw": ("hnsw_m", "ef_construction", "ef_search")}
SEARCH_FIELDS = ("nprobe", "ef_search")  # may change after the build, at search time
HELP = {
    "nlist": "IVF-PQ: inverted lists (k-means cells) trained on the first feature file",
    "pq_m": "IVF-PQ: sub-quantizers, bytes per vector at 8 bits; must divide the feature dimension",
    "pq_nbits": "IVF-PQ: bits per sub-quantizer code",
    "nprobe": "IVF-PQ: lists visited per query (more: higher recall, slower)",
    "hnsw_m": "HNSW: graph neighbours per vector",
    "ef_construction": "HNSW: candidate list length while building",
    "ef_search": "HNSW: candidate list length per query (more: higher recall, slower)",
}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class IndexParams:
    kind: str = "flat"
    nlist: int = 1024
    pq_m: int = 64
    pq_nbits: int = 8
    nprobe: int = 16
    hnsw_m: int = 32
    ef_construction: int = 64
    ef_search: int = 64

    def used(self) -> dict[str, int]:
        """The parameters of this kind alone: what the index file records and the tools print."""
        return {name: getattr(self, name) for name in KIND_FIELDS[self.kind]}

    def describe(self) -> str:
        return " ".join([self.kind, *(f"{flag(k)} {v}" for k, v in self.used().items())])

    def check(self, dim: int, num_train: int, source: str) -> None:
        """Every problem of these parameters with ``num_train`` vectors of dimension ``dim`` from
        ``source``, as one line naming the flag, before faiss sees them."""
        if self.kind not in KINDS:
            raise UserError(f"--kind {self.kind}: choose one of {', '.join(KINDS)}")
        for name, value in self.used().items():
            if value < 1:
                raise UserError(f"{flag(name)} must be at least 1, got {value}")
        if self.kind == "ivfpq":
            self._check_ivfpq(dim, num_train, source)

    def _check_ivfpq(self, dim: int, num_train: int, source: str) -> None:
        if dim % self.pq_m:
            divisors = [d for d in (4, 8, 16, 32, 64, 96, 128) if dim % d == 0]
            raise UserError(f"--pq-m {self.pq_m} does not divide the feature dimension {dim} of {source}; "
                            f"choose a divisor ({', '.join(map(str, divisors)) or 1})")
        if self.pq_nbits > 16:
            raise UserError(f"--pq-nbits {self.pq_nbits}: at most 16 bits per code")
        if self.nlist > num_train:
            raise UserError(f"--nlist {self.nlist} exceeds the {num_train} vectors of {source} to train on; "
                            f"use at most {num_train} (about 4 x sqrt(vectors) is usual)")
        if 2 ** self.pq_nbits > num_train:
            raise UserError(f"--pq-nbits {self.pq_nbits} needs at least {2 ** self.pq_nbits} vectors to train on, "
                            f"{source} has {num_train}; lower --pq-nbits")
        if self.nprobe > self.nlist:
            raise UserError(f"--nprobe {self.nprobe} exceeds --nlist {self.nlist}")


BUILD_FIELDS = tuple(f.name for f in fields(IndexParams))  # the build flags, --kind among them


def params_from_record(record: dict) -> IndexParams:
    """The parameters an index file recorded (its kind and that kind's fields)."""
    return IndexParams(**{k: v for k, v in record.items() if k in BUILD_FIELDS})


def record_of(params: IndexParams) -> dict:
    return {"kind": params.kind, **params.used()}


def with_search_overrides(params: IndexParams, overrides: dict[str, int], index_path: str) -> IndexParams:
    """``params`` with the search-time flags a user gave; a flag of another kind is refused, not ignored."""
    for name in overrides:
        if name not in KIND_FIELDS[params.kind]:
            raise UserError(f"{flag(name)} does not apply to {index_path}, an index of kind {params.kind}")
    tuned = replace(params, **overrides)
    for name, value in overrides.items():
        if value < 1:
            raise UserError(f"{flag(name)} must be at least 1, got {value}")
    if tuned.kind == "ivfpq" and tuned.nprobe > tuned.nlist:
        raise UserError(f"--nprobe {tuned.nprobe} exceeds the {tuned.nlist} lists of {index_path}")
    return tuned


def faiss_metric(metric: str) -> int:
    """Cosine is inner product on L2-normalised vectors; euclidean is faiss's (squared) L2."""
    return faiss.METRIC_INNER_PRODUCT if metric == "cosine" else faiss.METRIC_L2


def new_index(params: IndexParams, dim: int, metric: str) -> faiss.Index:
    """An empty faiss index of this kind, untrained where the kind trains."""
    if params.kind == "flat":
        return faiss.IndexFlat(dim, faiss_metric(metric))
    if params.kind == "ivfpq":
        quantizer = faiss.IndexFlat(dim, faiss_metric(metric))
        return faiss.IndexIVFPQ(quantizer, dim, params.nlist, params.pq_m, params.pq_nbits, faiss_metric(metric))
    index = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss_metric(metric))
    index.hnsw.efConstruction = params.ef_construction
    return index


def apply_search_params(index: faiss.Index, params: IndexParams) -> None:
    """Set the search-time parameters on a built or loaded index (a read index forgets nprobe)."""
    if params.kind == "ivfpq":
        faiss.extract_index_ivf(index).nprobe = params.nprobe
    elif params.kind == "hnsw":
        index.hnsw.efSearch = params.ef_search


def prepared(vectors: np.ndarray, metric: str) -> np.ndarray:
    """A float32 copy of the rows, L2-normalised for cosine (so inner product is cosine similarity)."""
    rows = np.array(vectors, dtype=np.float32, order="C")
    if metric == "cosine":
        faiss.normalize_L2(rows)
    return rows


def training_rows(vectors: np.ndarray, params: IndexParams) -> np.ndarray:
    """At most the 256 points per centroid faiss's k-means keeps anyway (for the IVF cells and
    the PQ codebooks), drawn with a fixed seed: the same index from the same features, and no
    normalised copy of rows faiss would drop."""
    limit = 256 * max(params.nlist, 2 ** params.pq_nbits)
    if len(vectors) <= limit:
        return vectors
    return vectors[np.sort(np.random.default_rng(0).choice(len(vectors), limit, replace=False))]


def fill(index: faiss.Index, vectors: np.ndarray, params: IndexParams, metric: str, chunk: int = 65536) -> None:
    """Train an untrained index on ``vectors``, then add them ``chunk`` rows at a time, so
    normalising never holds a second copy of a million-row gallery."""
    if not index.is_trained:
        index.train(prepared(training_rows(vectors, params), metric))
    for start in range(0, len(vectors), chunk):
        index.add(prepared(vectors[start:start + chunk], metric))
