"""A saved feature matrix: ``NAME.npy`` (N, dim) float32 and ``NAME.json``, its index.

The index lists the image paths row by row, with their labels under the per-image key's name
when a project declares one (e.g. "domains": "day" / "night"), plus the metric and the full
config (weights included) of the model that made the features, so queries are later embedded by
the same model: features of two different models are not comparable.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from vreid.errors import UserError
from vreid.projects import BatchKey

INDEX_KEYS = ("paths", "metric", "meta_architecture", "config")  # and the label key's name, if any


@dataclass
class FeatureFile:
    features: np.ndarray  # (N, dim) float32
    paths: list[str]
    labels: list[int | None]  # values of the per-image key, None where an image had none
    metric: str  # TEST.METRIC of the model, "cosine" or "euclidean"
    meta_architecture: str
    config: str  # the model's config as YAML, MODEL.WEIGHTS an absolute path


def index_path(npy_path: str) -> str:
    return os.path.splitext(npy_path)[0] + ".json"


def check_npy_path(npy_path: str) -> None:
    """Before any work: the output must name the .npy file (the index takes its stem)."""
    if not npy_path.endswith(".npy"):
        raise UserError(f"--output {npy_path} must end in .npy (its index is written beside it as .json)")


def save_features(npy_path: str, data: FeatureFile, key: BatchKey | None = None) -> str:
    """Write both files, the labels as words of ``key``; returns the index path."""
    check_npy_path(npy_path)
    if len(data.paths) != len(data.features) or len(data.labels) != len(data.features):
        raise ValueError(f"{len(data.features)} feature rows but {len(data.paths)} paths, {len(data.labels)} labels")
    os.makedirs(os.path.dirname(os.path.abspath(npy_path)), exist_ok=True)
    np.save(npy_path, np.ascontiguousarray(data.features, dtype=np.float32))
    index = {
        "features": os.path.basename(npy_path),
        "paths": data.paths,
        **({key.name: [key.labels[v] if v is not None else None for v in data.labels]} if key is not None else {}),
        "metric": data.metric,
        "meta_architecture": data.meta_architecture,
        "config": data.config,
    }
    with open(index_path(npy_path), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
    return index_path(npy_path)


def load_features(npy_path: str, key: BatchKey | None = None) -> FeatureFile:
    """Read and cross-check both files, the labels as words of ``key``; every problem names the
    file and what to do."""
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
    expected = (*INDEX_KEYS, key.name) if key is not None else INDEX_KEYS
    missing = [k for k in expected if k not in index] if isinstance(index, dict) else list(expected)
    if missing:
        raise UserError(f"{json_path} lacks the key(s) {', '.join(missing)}; re-run tools/extract_features.py")
    words = index[key.name] if key is not None else [None] * len(index["paths"])
    if features.ndim != 2 or len(index["paths"]) != len(features) or len(words) != len(features):
        raise UserError(f"{npy_path} has shape {features.shape} but {json_path} lists {len(index['paths'])} paths "
                        f"and {len(words)} labels; the two files do not belong together, re-run "
                        "tools/extract_features.py")
    labels = [key.parse(str(w), f"{json_path}: {key.name}[{i}]") if w is not None else None
              for i, w in enumerate(words)]
    return FeatureFile(features.astype(np.float32, copy=False), list(index["paths"]), labels,
                       index["metric"], index["meta_architecture"], index["config"])
