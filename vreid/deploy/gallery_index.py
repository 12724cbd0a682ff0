"""A gallery too large for exact search: a faiss index ``NAME.faiss`` and its sidecar ``NAME.faiss.json``.

The sidecar holds what the faiss file cannot: the rows' image paths and labels and the model
that embedded them (``vreid.deploy.provenance``, as a feature file records them), the kind and
parameters, the feature files added so far, and the size and SHA-256 of the faiss file it
belongs to. Queries embedded by other weights, and features of another model added later, are
refused: distances between two models' features mean nothing. Both files are written and synced
under temporary names, then renamed into place, the faiss file first; a save stopped between the
two renames leaves its sidecar pending, and the next load puts it in place. So the pair on disk
is always the previous index or the new one. The faiss file is read once, hashed and parsed from
the same mapping.
"""
from __future__ import annotations

import hashlib
import json
import mmap
import os
from typing import Callable

import faiss
import numpy as np

from vreid.deploy.feature_file import FeatureFile, matrix_sha256
from vreid.deploy.gallery import ExactGallery, Hit, SavedGallery, hits_of
from vreid.deploy.index_params import (IndexParams, apply_search_params, fill, flag, new_index, params_from_record,
                                      prepared, record_of, with_search_overrides)
from vreid.deploy.provenance import PROVENANCE_KEYS, Provenance, Rows, file_sha256
from vreid.errors import UserError
from vreid.outputs import check_output_file, writing
from vreid.projects import BatchKey

SIDECAR_KEYS = ("index_file", "params", *PROVENANCE_KEYS, "fingerprint", "sources", "paths")
REBUILD = "rebuild it with tools/build_index.py"


def sidecar_path(index_path: str) -> str:
    return index_path + ".json"


class GalleryIndex(SavedGallery):
    """A faiss index of a gallery's features with the rows' names and the model's provenance."""

    MISSING_WEIGHTS = ("MODEL.WEIGHTS {weights}, the model of {path}, does not exist any more; pass the weights that "
                       f"made the index, or {REBUILD} from features of the weights you have")
    OTHER_WEIGHTS = ("MODEL.WEIGHTS {weights} (SHA-256 {found}) is not the model that embedded {path} ({recorded}): "
                     "its queries are not comparable with the gallery; pass the weights that made the index, or "
                     f"{REBUILD} from features of these weights")
    REFILL = "add features to it with tools/build_index.py --index {path} --add FILE.npy"

    def __init__(self, index: faiss.Index, params: IndexParams, rows: Rows, provenance, sources: list[dict],
                 path: str = ""):
        self.index, self.params, self.rows, self.provenance, self.path = index, params, rows, provenance, path
        self.sources = sources  # per feature file added: features, features_sha256, rows
        apply_search_params(index, params)

    @classmethod
    def build(cls, features: FeatureFile, params: IndexParams, source: str) -> GalleryIndex:
        """A new index of ``features`` (read from ``source``); IVF-PQ trains on them."""
        params.check(features.provenance.dim, len(features.features), source)
        built = cls(new_index(params, features.provenance.dim, features.metric), params, Rows(),
                    features.provenance, [])
        built.add(features, source)
        return built

    def add(self, features: FeatureFile, source: str) -> None:
        """Append the rows of another feature file of the same model, without rebuilding."""
        digest = matrix_sha256(features.features)
        self._check_addable(features, source, digest)
        fill(self.index, features.features, self.params, self.provenance.metric)
        self.rows.extend(features.rows)
        self.sources.append({"features": os.path.abspath(source), "features_sha256": digest,
                             "rows": len(features.features)})

    def _check_addable(self, features: FeatureFile, source: str, digest: str) -> None:
        where = self.path or "the index"
        ours, theirs = self.provenance, features.provenance
        if not theirs.same_model(ours):
            raise UserError(f"{source} was embedded by another model ({theirs.meta_architecture}, weights SHA-256 "
                            f"{theirs.weights_sha256[:12]}) than {where} ({ours.meta_architecture}, "
                            f"{ours.weights_sha256[:12]}): features of two models are not comparable; "
                            f"extract {source} again with the index's model, or build a new index")
        if not theirs.comparable(ours):
            raise UserError(f"{source} holds {theirs.dim}-d {theirs.metric} features, {where} "
                            f"{ours.dim}-d {ours.metric} ones; build a new index")
        twin = next((s["features"] for s in self.sources if s["features_sha256"] == digest), None)
        if twin is not None:
            raise UserError(f"{source} holds the same features as {twin}, already in {where}: adding them again "
                            "would list every image twice")

    def search(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        """The k nearest rows of each query, nearest first, as distances of the gallery's metric
        (approximate for IVF-PQ, whose codes only approximate the vectors)."""
        self.require_rows()
        metric = self.provenance.metric
        scores, rows = self.index.search(prepared(queries, metric), min(k, self.index.ntotal))
        distances = 1.0 - scores if metric == "cosine" else np.sqrt(np.maximum(scores, 0.0))
        found = [[(i, d) for i, d in zip(row, dists) if i >= 0]  # -1: fewer than k found in the lists probed
                 for row, dists in zip(rows.tolist(), distances.tolist())]
        return hits_of([[i for i, _ in f] for f in found], [[d for _, d in f] for f in found])

    def save(self, path: str, key: BatchKey | None = None) -> None:
        """Both files, each renamed into place only when whole; the labels as words of ``key``.
        Once the faiss file is in place its sidecar is kept pending whatever happens, for
        ``load_index`` to finish the save."""
        check_output_file(path, "--index")
        side = sidecar_path(path)
        index_tmp, pending = _temporary(path), pending_sidecar(path)
        placed = False
        try:
            _write_faiss(self.index, index_tmp, path)
            record = self._record(path, index_tmp, key)
            with writing(side, "the index sidecar"), open(pending, "w", encoding="utf-8") as f:
                json.dump(record, f, indent=1)
                _sync(f)
            with writing(path, "the gallery index"):
                os.replace(index_tmp, path)
                placed = True
                os.replace(pending, side)
        finally:
            for tmp in (index_tmp,) if placed else (index_tmp, pending):
                if os.path.exists(tmp):
                    os.remove(tmp)
        self.path = path

    def _record(self, path: str, written: str, key: BatchKey | None) -> dict:
        model, fingerprint = self.provenance.record()
        return {"index_file": {"name": os.path.basename(path), "bytes": os.path.getsize(written),
                               "sha256": file_sha256(written)},
                "params": record_of(self.params), **model, "fingerprint": {**fingerprint, "rows": len(self.rows)},
                "sources": self.sources, **self.rows.record(key)}


def _temporary(path: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp{os.getpid()}")


def pending_sidecar(index_path: str) -> str:
    """Where a save keeps the new sidecar until the faiss file it describes is in place."""
    side = sidecar_path(os.path.abspath(index_path))
    return os.path.join(os.path.dirname(side), f".{os.path.basename(side)}.pending")


def _sync(f) -> None:
    f.flush()
    os.fsync(f.fileno())


def _write_faiss(index: faiss.Index, tmp: str, path: str) -> None:
    try:
        faiss.write_index(index, tmp)
    except RuntimeError as e:
        raise UserError(f"cannot write the gallery index {path}: {_faiss_reason(e)}; is the disk full?") from None
    with writing(path, "the gallery index"), open(tmp, "rb+") as f:
        _sync(f)


def _finish_interrupted_save(path: str, side: str) -> None:
    """A save stopped between its two renames left the new faiss file beside the old sidecar and
    the new sidecar pending: put that in place when it describes the faiss file on disk. A pending
    sidecar that does not (a save stopped before its faiss file went into place) is left for the
    next save to overwrite."""
    pending = pending_sidecar(path)
    try:
        with open(pending, encoding="utf-8") as f:
            recorded = json.load(f)["index_file"]
        if os.path.getsize(path) == recorded["bytes"] and file_sha256(path) == recorded["sha256"]:
            os.replace(pending, side)
    except (OSError, ValueError, TypeError, KeyError):
        pass  # none pending, or half written: the pair on disk is the previous index


def _faiss_reason(error: RuntimeError) -> str:
    """faiss's message without its C++ location: the last 'Error: ...' part."""
    return str(error).strip().splitlines()[-1].split("Error: ")[-1].strip()


def load_index(path: str, key: BatchKey | None = None, tune: Callable[[IndexParams], IndexParams] | None = None
               ) -> GalleryIndex:
    """Read and cross-check both files; ``tune`` may change the search-time parameters. Every
    problem is one line naming the file."""
    side = sidecar_path(path)
    _finish_interrupted_save(path, side)
    for p in (path, side):
        if not os.path.isfile(p):
            raise UserError(f"gallery index {p} not found; make it with tools/build_index.py --index {path}")
    record = _read_sidecar(side)
    index = _read_faiss(path, record["index_file"], side)
    rows = Rows.from_record(record, key, side, REBUILD)
    provenance = Provenance.from_record(record, dim=-1)  # a sidecar without a dimension fits no index
    if index.ntotal != len(rows) or index.d != provenance.dim:
        raise UserError(f"{path} holds {index.ntotal} vectors of dimension {index.d}, {side} lists "
                        f"{len(rows.paths)} paths and {len(rows.labels)} labels of dimension {provenance.dim}; "
                        f"{REBUILD}")
    params = params_from_record(record["params"])
    return GalleryIndex(index, tune(params) if tune else params, rows, provenance, list(record["sources"]), path)


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


def _read_faiss(path: str, recorded: dict, side: str) -> faiss.Index:
    """The faiss file its sidecar was written for, read once: mapped, hashed, then parsed from the
    same mapping, so a truncated, corrupt or replaced file is named before faiss reads it."""
    size = os.path.getsize(path)
    refusal = UserError(f"{path} ({size} bytes) is not the index {side} was written for ({recorded.get('bytes')} "
                        f"bytes, another SHA-256): truncated, corrupt or replaced; {REBUILD}")
    if size == 0 or size != recorded.get("bytes"):
        raise refusal
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if hashlib.sha256(data).hexdigest() != recorded.get("sha256"):
            raise refusal
        position = 0

        def read(count: int) -> bytes:
            nonlocal position
            chunk = data[position:position + count]
            position += len(chunk)
            return chunk

        try:
            return faiss.read_index(faiss.PyCallbackIOReader(read))
        except RuntimeError as e:
            raise UserError(f"cannot read the gallery index {path}: {_faiss_reason(e)}; {REBUILD}") from None


def open_gallery(features: str | None, index: str | None, key: BatchKey | None = None,
                 search_overrides: dict[str, int] | None = None) -> SavedGallery:
    """The gallery a search tool was given: a feature file (searched exactly) or an index, with
    search-time parameters (--nprobe, --ef-search) that only an index of their kind takes."""
    overrides = search_overrides or {}
    if index is None:
        if overrides:
            raise UserError(f"{', '.join(flag(n) for n in overrides)}: only for an --index; {features} is searched "
                            "exactly")
        gallery = ExactGallery(features, key)
    else:
        gallery = load_index(index, key, lambda params: with_search_overrides(params, overrides, index))
    gallery.require_rows()  # before the queries are embedded
    return gallery
