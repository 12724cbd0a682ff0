"""Atomic, weights-only checkpoints on top of fast-reid's Checkpointer."""
from __future__ import annotations

import os
import tempfile
import zipfile
from glob import escape as glob_escape, glob
from typing import Any

import torch

from fastreid.utils.checkpoint import Checkpointer as _FastreidCheckpointer

from vreid.engine.finite import ADVICE, NonFiniteError, nonfinite_names
from vreid.errors import UserError


def _looks_complete(path: str) -> bool:
    """torch.save writes a zip whose directory comes last: an empty, truncated or text file has
    none. Cheap enough to try every checkpoint of a folder on --resume."""
    return os.path.isfile(path) and zipfile.is_zipfile(path)


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()  # what open() gives the logs and config.yaml beside the checkpoints


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
        os.chmod(tmp, FILE_MODE)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class Checkpointer(_FastreidCheckpointer):
    """fast-reid's Checkpointer with atomic saves (loads are weights-only through vreid.compat),
    and a --resume that survives a last_checkpoint naming a missing or truncated file."""

    def __init__(self, model, save_dir: str = "", **kwargs: Any) -> None:
        super().__init__(model, save_dir, **kwargs)
        if self.save_dir and self.save_to_disk:  # temp files of saves a kill interrupted
            for orphan in glob(os.path.join(glob_escape(self.save_dir), "*.tmp")):
                if os.path.basename(orphan).startswith(("model_", "last_checkpoint.")):
                    os.remove(orphan)

    def get_checkpoint_file(self) -> str:
        """The file last_checkpoint names, or else the newest complete ``model_*.pth``."""
        named = super().get_checkpoint_file()
        if _looks_complete(named):
            return named
        candidates = [f for f in self.get_all_checkpoint_files()
                      if os.path.basename(f).startswith("model_") and f != named and not f.endswith("model_best.pth")]
        for candidate in sorted(candidates, key=os.path.getmtime, reverse=True):
            if _looks_complete(candidate):
                self.logger.warning(f"last_checkpoint names {named}, which is missing or incomplete; "
                                    f"resuming from {candidate}, the newest complete checkpoint")
                return candidate
        raise UserError(f"--resume: last_checkpoint names {named}, which is missing or incomplete, and no "
                        f"other model_*.pth in {self.save_dir} is complete; start without --resume")

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
        _saving(path, lambda f: torch.save(data, f))
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        path = os.path.join(self.save_dir, "last_checkpoint")
        _saving(path, lambda f: f.write(last_filename_basename.encode()))


def _saving(path: str, write) -> None:
    """_atomic_write, with a failed write as one line: torch.save on a full disk raises
    ``RuntimeError: ... enforce fail``, which names neither the file nor the cause. The previous
    checkpoint stays in place (the temp file is removed)."""
    try:
        _atomic_write(path, write)
    except (OSError, RuntimeError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"cannot write checkpoint {path} ({type(e).__name__}: {reason}); the disk may be full: "
                        f"free space in {os.path.dirname(path) or '.'} or set another OUTPUT_DIR, then --resume") from None

