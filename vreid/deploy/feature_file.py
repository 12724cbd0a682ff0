"""A saved feature matrix: ``NAME.npy`` (N, dim) float32 and ``NAME.json``, its index.

The index lists the image paths row by row, with their labels under the per-image key's name
when a project declares one (e.g. "domains": "day" / "night"), and the provenance of the model
that made the features (``vreid.deploy.provenance``), so queries are later embedded by the same
model. Its fingerprint (the SHA-256 of the weights file and of the feature matrix, rows and
dimension) lets a search notice an .npy or a weights file replaced since, or an .npy beside the
index of another model.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import BinaryIO, Callable

import numpy as np

from vreid.deploy.provenance import PROVENANCE_KEYS, Provenance, Rows
from vreid.errors import UserError
from vreid.outputs import check_output_file, writing
from vreid.projects import BatchKey

INDEX_KEYS = ("paths", *PROVENANCE_KEYS, "fingerprint")  # and the label key's name, if any
REMAKE = "re-run tools/extract_features.py"


@dataclass
class FeatureFile:
    features: np.ndarray  # (N, dim) float32
    rows: Rows
    provenance: Provenance

    @property
    def paths(self) -> list[str]:
        return self.rows.paths

    @property
    def labels(self) -> list[int | None]:
        return self.rows.labels

    @property
    def metric(self) -> str:
        return self.provenance.metric

    @property
    def meta_architecture(self) -> str:
        return self.provenance.meta_architecture


def matrix_sha256(features: np.ndarray) -> str:
    """Of the float32 values, row-major: the same for the same numbers whatever the .npy header."""
    return hashlib.sha256(np.ascontiguousarray(features, dtype=np.float32).tobytes()).hexdigest()


def index_path(npy_path: str) -> str:
    return os.path.splitext(npy_path)[0] + ".json"


def check_npy_path(npy_path: str) -> None:
    """Before any work: the output must name a writable .npy file (the index takes its stem)."""
    if not npy_path.endswith(".npy"):
        raise UserError(f"--output {npy_path} must end in .npy (its index is written beside it as .json)")
    check_output_file(npy_path, "--output")
    check_output_file(index_path(npy_path), "--output's index")


def save_features(npy_path: str, data: FeatureFile, key: BatchKey | None = None) -> str:
    """Write both files, the labels as words of ``key``; returns the index path."""
    check_npy_path(npy_path)
    if len(data.rows.paths) != len(data.features) or len(data.rows.labels) != len(data.features):
        raise ValueError(f"{len(data.features)} feature rows but {len(data.rows.paths)} paths, "
                         f"{len(data.rows.labels)} labels")
    features = np.ascontiguousarray(data.features, dtype=np.float32)
    _write_whole(npy_path, "the features", lambda f: np.save(f, features))
    model, fingerprint = data.provenance.record()
    index = {"features": os.path.basename(npy_path), **data.rows.record(key), **model,
             "fingerprint": {"weights_sha256": fingerprint["weights_sha256"],
                             "features_sha256": matrix_sha256(data.features),
                             "rows": int(data.features.shape[0]), "dim": int(data.features.shape[1])}}
    _write_whole(index_path(npy_path), "the feature index", lambda f: f.write(json.dumps(index, indent=1).encode()))
    return index_path(npy_path)


def _write_whole(path: str, what: str, write: Callable[[BinaryIO], object]) -> None:
    """``write`` into a temporary file beside ``path``, renamed over it when complete: a full disk
    or a kill leaves the previous file, never half of one (a half .npy beside a whole index would
    only be caught by the fingerprint)."""
    temporary = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        with writing(path, what):
            with open(temporary, "wb") as f:
                write(f)
            os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def load_features(npy_path: str, key: BatchKey | None = None) -> FeatureFile:
    """Read and cross-check both files, the labels as words of ``key``; every problem names the
    file and what to do. A file without rows is refused: no tool has a use for it."""
    json_path = index_path(npy_path)
    for path in (npy_path, json_path):
        if not os.path.isfile(path):
            raise UserError(f"feature file {path} not found; make it with "
                            f"tools/extract_features.py --output {npy_path}")
    try:
        features = np.load(npy_path, allow_pickle=False)
        with open(json_path, encoding="utf-8") as f:
            index = json.load(f)
    except (ValueError, OSError) as e:
        raise UserError(f"cannot read {npy_path} / {json_path}: {e}") from None
    if features.size == 0:
        raise UserError(f"{npy_path} holds no features (shape {features.shape}): an empty gallery can be neither "
                        f"searched nor indexed; {REMAKE} --output {npy_path} with the gallery's images")
    expected = (*INDEX_KEYS, key.name) if key is not None else INDEX_KEYS
    missing = [k for k in expected if k not in index] if isinstance(index, dict) else list(expected)
    if missing:
        raise UserError(f"{json_path} lacks the key(s) {', '.join(missing)}; {REMAKE} --output {npy_path}")
    words = index[key.name] if key is not None else index["paths"]
    if features.ndim != 2 or len(index["paths"]) != len(features) or len(words) != len(features):
        raise UserError(f"{npy_path} has shape {features.shape} but {json_path} lists {len(index['paths'])} paths "
                        f"and {len(words)} labels; the two files do not belong together, re-run "
                        "tools/extract_features.py")
    _check_matrix(features, index["fingerprint"], npy_path, json_path)
    rows = Rows.from_record(index, key, json_path, f"{REMAKE} --output {npy_path}")
    return FeatureFile(features.astype(np.float32, copy=False), rows,
                       Provenance.from_record(index, int(features.shape[1])))


def _check_matrix(features: np.ndarray, fingerprint: dict, npy_path: str, json_path: str) -> None:
    """The .npy is the one its index was written for: same rows, dimension and values."""
    recorded = (fingerprint.get("rows"), fingerprint.get("dim"), fingerprint.get("features_sha256"))
    found = (features.shape[0], features.shape[1], matrix_sha256(features))
    if recorded != found:
        raise UserError(f"{npy_path} ({found[0]} x {found[1]}) is not the matrix {json_path} was written for "
                        f"({recorded[0]} x {recorded[1]}, another SHA-256): it was replaced or comes from another "
                        f"run; {REMAKE} --output {npy_path}")
