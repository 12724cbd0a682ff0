"""Atomic, weights-only checkpoints on top of fast-reid's Checkpointer."""
from __future__ import annotations

import os
import pickle
import tempfile
from typing import Any

import torch

from fastreid.utils.checkpoint import Checkpointer as _FastreidCheckpointer

from vreid.engine.finite import ADVICE, NonFiniteError, nonfinite_names
from vreid.errors import UserError


def load_checkpoint_file(path: str) -> dict:
    """Load a checkpoint with ``weights_only=True``: tensors and plain data, never code."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise UserError(
            f"refusing to load {path}: it holds pickled objects other than tensors and plain "
            f"data, which could run code ({str(e).splitlines()[0]}). Re-save its state_dict "
            "with torch.save({'model': model.state_dict()}, path) from a trusted session."
        ) from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a checkpoint: expected a dict, got {type(data).__name__}")
    if "model" not in data:
        data = {"model": data}
    return data


def _atomic_write(path: str, write) -> None:
    """Write through a temp file in the same folder, fsync, then rename over ``path``:
    a kill at any moment leaves either the old file or the new one, never half of one."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class Checkpointer(_FastreidCheckpointer):
    """fast-reid's Checkpointer with atomic saves (loads are weights-only through vreid.compat)."""

    def save(self, name: str, **kwargs: Any) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        data.update({key: obj.state_dict() for key, obj in self.checkpointables.items()})
        data.update(kwargs)
        basename = f"{name}.pth"
        path = os.path.join(self.save_dir, basename)
        bad = nonfinite_names(data["model"])
        if bad:  # never written, so last_checkpoint keeps naming the previous, finite one
            raise NonFiniteError(f"not saving {path}: {len(bad)} model tensors are NaN/inf "
                                 f"({', '.join(bad[:3])}); {ADVICE}")
        self.logger.info(f"Saving checkpoint to {path}")
        os.makedirs(self.save_dir, exist_ok=True)
        _atomic_write(path, lambda f: torch.save(data, f))
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        path = os.path.join(self.save_dir, "last_checkpoint")
        _atomic_write(path, lambda f: f.write(last_filename_basename.encode()))

