"""A saved feature matrix: ``NAME.npy`` (N, dim) float32 and ``NAME.json``, its index.

The index lists the image paths and domains row by row, plus the metric and the full config
(weights included) of the model that made the features, so queries are later embedded by the
same model: features of two different models are not comparable.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from vreid.deploy.images import DOMAIN_NAMES, parse_domain
from vreid.errors import UserError

INDEX_KEYS = ("paths", "domains", "metric", "meta_architecture", "config")


@dataclass
class FeatureFile:
    features: np.ndarray  # (N, dim) float32
    paths: list[str]
    domains: list[int | None]
    metric: str  # TEST.METRIC of the model, "cosine" or "euclidean"
    meta_architecture: str
    config: str  # the model's config as YAML, MODEL.WEIGHTS an absolute path


def index_path(npy_path: str) -> str:
    return os.path.splitext(npy_path)[0] + ".json"


def check_npy_path(npy_path: str) -> None:
    """Before any work: the output must name the .npy file (the index takes its stem)."""
    if not npy_path.endswith(".npy"):
        raise UserError(f"--output {npy_path} must end in .npy (its index is written beside it as .json)")


def save_features(npy_path: str, data: FeatureFile) -> str:
    """Write both files; returns the index path."""
    check_npy_path(npy_path)
    if len(data.paths) != len(data.features) or len(data.domains) != len(data.features):
        raise ValueError(f"{len(data.features)} feature rows but {len(data.paths)} paths, {len(data.domains)} domains")
    os.makedirs(os.path.dirname(os.path.abspath(npy_path)), exist_ok=True)
    np.save(npy_path, np.ascontiguousarray(data.features, dtype=np.float32))
    index = {
        "features": os.path.basename(npy_path),
        "paths": data.paths,
        "domains": [DOMAIN_NAMES[d] if d is not None else None for d in data.domains],
        "metric": data.metric,
        "meta_architecture": data.meta_architecture,
        "config": data.config,
    }
    with open(index_path(npy_path), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
    return index_path(npy_path)


def load_features(npy_path: str) -> FeatureFile:
    """Read and cross-check both files; every problem names the file and what to do."""
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
    missing = [k for k in INDEX_KEYS if k not in index] if isinstance(index, dict) else list(INDEX_KEYS)
    if missing:
        raise UserError(f"{json_path} lacks the key(s) {', '.join(missing)}; re-run tools/extract_features.py")
    if features.ndim != 2 or len(index["paths"]) != len(features) or len(index["domains"]) != len(features):
        raise UserError(f"{npy_path} has shape {features.shape} but {json_path} lists {len(index['paths'])} paths "
                        f"and {len(index['domains'])} domains; the two files do not belong together, re-run "
                        "tools/extract_features.py")
    domains = [parse_domain(str(d), f"{json_path}: domains[{i}]") if d is not None else None
               for i, d in enumerate(index["domains"])]
    return FeatureFile(features.astype(np.float32, copy=False), list(index["paths"]), domains,
                       index["metric"], index["meta_architecture"], index["config"])
