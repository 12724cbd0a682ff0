"""A gallery too large for exact search: a faiss index ``NAME.faiss`` and its sidecar ``NAME.faiss.json``.

The sidecar holds what the faiss file cannot: the image paths and labels of its rows, the model
that embedded them (metric, meta-architecture, config and the weights' SHA-256, as a feature
file records them), the kind and parameters, the feature files added so far, and the size and
SHA-256 of the faiss file it belongs to. Queries embedded by other weights, and features of
another model added later, are refused: distances between two models' features mean nothing.
Both files are written under temporary names and renamed when whole, so a failed write keeps the
previous index.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Callable

import faiss
import numpy as np

from vreid.deploy.feature_file import FeatureFile, file_sha256, matrix_sha256
from vreid.deploy.index_params import (IndexParams, apply_search_params, fill, flag, new_index, params_from_record,
                                      prepared, record_of, with_search_overrides)
from vreid.deploy.search import FeatureSearch, Hit
from vreid.errors import UserError
from vreid.outputs import check_output_file, writing
from vreid.projects import BatchKey

SIDECAR_KEYS = ("index_file", "params", "metric", "meta_architecture", "config", "fingerprint", "sources", "paths")
REBUILD = "rebuild it with tools/build_index.py"


def sidecar_path(index_path: str) -> str:
    return index_path + ".json"


@dataclass
class Gallery:
    """The rows of an index as a search shows them, and the model that embedded them."""

    paths: list[str]
    labels: list[int | None]
    metric: str
    meta_architecture: str
    config: str
    weights_sha256: str
    dim: int
    sources: list[dict] = field(default_factory=list)  # per feature file added: features, features_sha256, rows


def _empty_gallery(features: FeatureFile) -> Gallery:
    return Gallery([], [], features.metric, features.meta_architecture, features.config,
                   features.weights_sha256, int(features.features.shape[1]))


class GalleryIndex:
    """A faiss index of a gallery's features with the rows' names and the model's identity."""

    def __init__(self, index: faiss.Index, params: IndexParams, gallery: Gallery, path: str = ""):
        self.index, self.params, self.gallery, self.path = index, params, gallery, path
        apply_search_params(index, params)

    @classmethod
    def build(cls, features: FeatureFile, params: IndexParams, source: str) -> GalleryIndex:
        """A new index of ``features`` (read from ``source``); IVF-PQ trains on them."""
        params.check(int(features.features.shape[1]), len(features.features), source)
        gallery = _empty_gallery(features)
        built = cls(new_index(params, gallery.dim, gallery.metric), params, gallery)
        built.add(features, source)
        return built

    @property
    def dim(self) -> int:
        return self.gallery.dim

    def add(self, features: FeatureFile, source: str) -> None:
        """Append the rows of another feature file of the same model, without rebuilding."""
        digest = matrix_sha256(features.features)
        self._check_addable(features, source, digest)
        fill(self.index, features.features, self.params, self.gallery.metric)
        self.gallery.paths.extend(features.paths)
        self.gallery.labels.extend(features.labels)
        self.gallery.sources.append({"features": os.path.abspath(source), "features_sha256": digest,
                                     "rows": len(features.features)})

    def _check_addable(self, features: FeatureFile, source: str, digest: str) -> None:
        where = self.path or "the index"
        ours, theirs = self.gallery, features
        if theirs.weights_sha256 != ours.weights_sha256 or theirs.meta_architecture != ours.meta_architecture:
            raise UserError(f"{source} was embedded by another model ({theirs.meta_architecture}, weights SHA-256 "
                            f"{theirs.weights_sha256[:12]}) than {where} ({ours.meta_architecture}, "
                            f"{ours.weights_sha256[:12]}): features of two models are not comparable; "
                            f"extract {source} again with the index's model, or build a new index")
        if theirs.metric != ours.metric or theirs.features.shape[1] != ours.dim:
            raise UserError(f"{source} holds {theirs.features.shape[1]}-d {theirs.metric} features, {where} "
                            f"{ours.dim}-d {ours.metric} ones; build a new index")
        twin = next((s["features"] for s in ours.sources if s["features_sha256"] == digest), None)
        if twin is not None:
            raise UserError(f"{source} holds the same features as {twin}, already in {where}: adding them again "
                            "would list every image twice")

    def check_query_weights(self, weights: str) -> None:
        """Queries must come from the very weights that embedded the gallery."""
        if not os.path.isfile(weights):
            raise UserError(f"MODEL.WEIGHTS {weights}, the model of {self.path}, does not exist any more; pass "
                            f"the weights that made the index, or {REBUILD} from features of the weights you have")
        found = file_sha256(weights)
        if found != self.gallery.weights_sha256:
            raise UserError(f"MODEL.WEIGHTS {weights} (SHA-256 {found[:12]}) is not the model that embedded "
                            f"{self.path} ({self.gallery.weights_sha256[:12]}): its queries are not comparable "
                            f"with the gallery; pass the weights that made the index, or {REBUILD} from "
                            "features of these weights")

    def search(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        """The k nearest rows of each query, nearest first, as distances of the gallery's metric
        (approximate for IVF-PQ, whose codes only approximate the vectors)."""
        scores, rows = self.index.search(prepared(queries, self.gallery.metric), min(k, self.index.ntotal))
        distances = 1.0 - scores if self.gallery.metric == "cosine" else np.sqrt(np.maximum(scores, 0.0))
        hits = []
        for row, dists in zip(rows.tolist(), distances.tolist()):
            found = [(i, d) for i, d in zip(row, dists) if i >= 0]  # -1: fewer than k found in the lists probed
            hits.append([Hit(rank + 1, i, d) for rank, (i, d) in enumerate(found)])
        return hits

    def save(self, path: str, key: BatchKey | None = None) -> None:
        """Both files, each renamed into place only when whole; the labels as words of ``key``."""
        check_output_file(path, "--index")
        side = sidecar_path(path)
        index_tmp, side_tmp = _temporary(path), _temporary(side)
        try:
            _write_faiss(self.index, index_tmp, path)
            record = self._record(path, index_tmp, key)
            with writing(side, "the index sidecar"), open(side_tmp, "w", encoding="utf-8") as f:
                json.dump(record, f, indent=1)
            with writing(path, "the gallery index"):
                os.replace(index_tmp, path)
                os.replace(side_tmp, side)
        finally:
            for tmp in (index_tmp, side_tmp):
                if os.path.exists(tmp):
                    os.remove(tmp)
        self.path = path

    def _record(self, path: str, written: str, key: BatchKey | None) -> dict:
        g = self.gallery
        words = {key.name: [key.labels[v] if v is not None else None for v in g.labels]} if key is not None else {}
        return {"index_file": {"name": os.path.basename(path), "bytes": os.path.getsize(written),
                               "sha256": file_sha256(written)},
                "params": record_of(self.params), "metric": g.metric, "meta_architecture": g.meta_architecture,
                "config": g.config, "fingerprint": {"weights_sha256": g.weights_sha256, "dim": g.dim,
                                                    "rows": len(g.paths)},
                "sources": g.sources, "paths": g.paths, **words}


def _temporary(path: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp{os.getpid()}")


def _write_faiss(index: faiss.Index, tmp: str, path: str) -> None:
    try:
        faiss.write_index(index, tmp)
    except RuntimeError as e:
        raise UserError(f"cannot write the gallery index {path}: {_faiss_reason(e)}; is the disk full?") from None


def _faiss_reason(error: RuntimeError) -> str:
    """faiss's message without its C++ location: the last 'Error: ...' part."""
    return str(error).strip().splitlines()[-1].split("Error: ")[-1].strip()


def load_index(path: str, key: BatchKey | None = None, tune: Callable[[IndexParams], IndexParams] | None = None
               ) -> GalleryIndex:
    """Read and cross-check both files; ``tune`` may change the search-time parameters. Every
    problem is one line naming the file."""
    side = sidecar_path(path)
    for p in (path, side):
        if not os.path.isfile(p):
            raise UserError(f"gallery index {p} not found; make it with tools/build_index.py --index {path}")
    record = _read_sidecar(side)
    _check_file(path, record["index_file"], side)
    try:
        index = faiss.read_index(path)
    except RuntimeError as e:
        raise UserError(f"cannot read the gallery index {path}: {_faiss_reason(e)}; {REBUILD}") from None
    gallery = _gallery_from(record, key, side)
    if index.ntotal != len(gallery.paths) or index.d != gallery.dim or len(gallery.labels) != len(gallery.paths):
        raise UserError(f"{path} holds {index.ntotal} vectors of dimension {index.d}, {side} lists "
                        f"{len(gallery.paths)} paths and {len(gallery.labels)} labels of dimension {gallery.dim}; "
                        f"{REBUILD}")
    params = params_from_record(record["params"])
    return GalleryIndex(index, tune(params) if tune else params, gallery, path)


def _read_sidecar(side: str) -> dict:
    try:
        with open(side, encoding="utf-8") as f:
            record = json.load(f)
    except (ValueError, OSError) as e:
        raise UserError(f"cannot read the index sidecar {side}: {e}; {REBUILD}") from None
    missing = [k for k in SIDECAR_KEYS if k not in record] if isinstance(record, dict) else list(SIDECAR_KEYS)
    if missing:
        raise UserError(f"{side} lacks the key(s) {', '.join(missing)}; {REBUILD}")
    return record


def _check_file(path: str, recorded: dict, side: str) -> None:
    """The faiss file is the one its sidecar was written for: truncated, corrupt or replaced
    files are named before faiss reads them."""
    size = os.path.getsize(path)
    if size != recorded.get("bytes") or file_sha256(path) != recorded.get("sha256"):
        raise UserError(f"{path} ({size} bytes) is not the index {side} was written for "
                        f"({recorded.get('bytes')} bytes, another SHA-256): truncated, corrupt or replaced; {REBUILD}")


def _gallery_from(record: dict, key: BatchKey | None, side: str) -> Gallery:
    paths = list(record["paths"])
    if key is not None and key.name not in record:
        raise UserError(f"{side} lacks the key {key.name}; {REBUILD}")
    words = record[key.name] if key is not None else [None] * len(paths)
    labels = [key.parse(str(w), f"{side}: {key.name}[{i}]") if w is not None else None for i, w in enumerate(words)]
    fingerprint = record["fingerprint"]
    return Gallery(paths, labels, record["metric"], record["meta_architecture"], record["config"],
                   str(fingerprint.get("weights_sha256", "")), int(fingerprint.get("dim", -1)), list(record["sources"]))


def open_gallery(features: str | None, index: str | None, key: BatchKey | None = None,
                 search_overrides: dict[str, int] | None = None) -> FeatureSearch | GalleryIndex:
    """The gallery a search tool was given: a feature file (searched exactly) or an index, with
    search-time parameters (--nprobe, --ef-search) that only an index of their kind takes."""
    overrides = search_overrides or {}
    if index is None:
        if overrides:
            raise UserError(f"{', '.join(flag(n) for n in overrides)}: only for an --index; {features} is searched "
                            "exactly")
        return FeatureSearch(features, key)
    return load_index(index, key, lambda params: with_search_overrides(params, overrides, index))
