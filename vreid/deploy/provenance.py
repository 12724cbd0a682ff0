"""What every saved gallery records about its rows and about the model that embedded them.

A feature file (``NAME.npy`` + ``NAME.json``) and a gallery index (``NAME.faiss`` +
``NAME.faiss.json``) both keep the rows' image paths and labels and the model's identity: its
metric, meta-architecture, config and the SHA-256 of its weights file, and the feature dimension.
Features of two models are not comparable, so queries embedded by other weights, and features
of another model added to an index, are refused by comparing these records.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from vreid.errors import UserError
from vreid.projects import BatchKey

PROVENANCE_KEYS = ("metric", "meta_architecture", "config")  # beside "fingerprint", which holds the rest


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Provenance:
    """The model behind a set of features."""

    metric: str  # TEST.METRIC of the model, "cosine" or "euclidean"
    meta_architecture: str
    config: str  # the model's config as YAML, MODEL.WEIGHTS an absolute path
    weights_sha256: str  # of the MODEL.WEIGHTS file that made the features
    dim: int

    def record(self) -> tuple[dict, dict]:
        """The top-level entries and the fingerprint entries of a sidecar."""
        return ({"metric": self.metric, "meta_architecture": self.meta_architecture, "config": self.config},
                {"weights_sha256": self.weights_sha256, "dim": self.dim})

    @classmethod
    def from_record(cls, record: dict, dim: int) -> Provenance:
        """From a sidecar holding PROVENANCE_KEYS and a fingerprint (an old one may lack its fields)."""
        fingerprint = record["fingerprint"]
        return cls(record["metric"], record["meta_architecture"], record["config"],
                   str(fingerprint.get("weights_sha256", "")), int(fingerprint.get("dim", dim)))

    def same_model(self, other: Provenance) -> bool:
        return (self.weights_sha256, self.meta_architecture) == (other.weights_sha256, other.meta_architecture)

    def comparable(self, other: Provenance) -> bool:
        return (self.metric, self.dim) == (other.metric, other.dim)


@dataclass
class Rows:
    """The images behind a gallery's rows, in row order, and their values of the tools' per-image
    key (e.g. the domain; None where an image had none)."""

    paths: list[str] = field(default_factory=list)
    labels: list[int | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    def extend(self, other: Rows) -> None:
        self.paths.extend(other.paths)
        self.labels.extend(other.labels)

    def record(self, key: BatchKey | None) -> dict:
        """``paths`` and, with ``key``, the labels as its words under the key's name."""
        words = {key.name: [key.label(v) if v is not None else None for v in self.labels]} if key is not None else {}
        return {"paths": self.paths, **words}

    @classmethod
    def from_record(cls, record: dict, key: BatchKey | None, where: str, remake: str) -> Rows:
        paths = list(record["paths"])
        if key is not None and key.name not in record:
            raise UserError(f"{where} lacks the key(s) {key.name}; {remake}")
        words = record[key.name] if key is not None else [None] * len(paths)
        if len(words) != len(paths):
            raise UserError(f"{where} lists {len(paths)} paths but {len(words)} labels; {remake}")
        return cls(paths, [key.parse(str(w), f"{where}: {key.name}[{i}]") if w is not None else None
                           for i, w in enumerate(words)])
