"""Atomic, weights-only checkpoints on top of fast-reid's Checkpointer."""
from __future__ import annotations

import os
import zipfile
from glob import escape as glob_escape, glob
from typing import Any

import torch

from fastreid.utils.checkpoint import Checkpointer as _FastreidCheckpointer

from vreid.engine.finite import ADVICE, NonFiniteError, nonfinite_names
from vreid.errors import UserError
from vreid.modeling.weights import check_fit, load_fitting, read_weights
from vreid.outputs import atomic_write


def _looks_complete(path: str) -> bool:
    """torch.save writes a zip whose directory comes last: an empty, truncated or text file has
    none. Cheap enough to try every checkpoint of a folder on --resume."""
    return os.path.isfile(path) and zipfile.is_zipfile(path)


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

    def restore(self, meta_arch: str) -> dict:
        """--resume: the newest complete checkpoint, read once through the checked reader and
        fitted to the model (another architecture or depth is one line, not fast-reid's
        traceback); the model and every checkpointable loaded. Returns the rest (epoch, ...)."""
        path = self.get_checkpoint_file()
        data = dict(read_weights(path).data)
        check_fit(self.model, data["model"], f"--resume: the checkpoint {path}",
                  f"MODEL.META_ARCHITECTURE {meta_arch} of this config",
                  f"Resume with the config it was trained with (--config-file {os.path.join(self.save_dir, 'config.yaml')})")
        load_fitting(self.model, data.pop("model"))
        for key, obj in self.checkpointables.items():
            if key in data:
                obj.load_state_dict(data.pop(key))
        self.logger.info(f"Resumed from {path}")
        return data

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
    """atomic_write, with a failed write as one line: torch.save on a full disk raises
    ``RuntimeError: ... enforce fail``, which names neither the file nor the cause. The previous
    checkpoint stays in place (the temp file is removed)."""
    try:
        atomic_write(path, write)
    except (OSError, RuntimeError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"cannot write checkpoint {path} ({type(e).__name__}: {reason}); the disk may be full: "
                        f"free space in {os.path.dirname(path) or '.'} or set another OUTPUT_DIR, then --resume") from None

