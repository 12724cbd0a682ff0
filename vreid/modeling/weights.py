"""Checkpoint files read once, as tensors and plain data only, and checked to fit a model.

A weights file is read in one pass: its bytes are hashed (the SHA-256 that feature files and
gallery indexes record, to refuse queries embedded by other weights) and unpickled from the same
buffer, so a tool that loads a model and checks its provenance reads the file once.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
from dataclasses import dataclass

import torch
from torch import nn

from vreid.errors import UserError

PARTIAL_KEY = "MODEL.WEIGHTS_PARTIAL"


@dataclass(frozen=True)
class WeightsFile:
    """A checkpoint as read from disk: its dict (``model`` holds the state dict) and its SHA-256."""

    path: str
    data: dict
    sha256: str

    @property
    def state(self) -> dict[str, torch.Tensor]:
        return self.data["model"]


def read_weights(path: str) -> WeightsFile:
    """Read ``path`` once with ``weights_only=True``: tensors and plain data, never code. A bare
    state dict is accepted as the checkpoint's ``model``."""
    if not os.path.isfile(path):
        raise UserError(f"checkpoint {path} does not exist: check MODEL.WEIGHTS or the path given")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise UserError(_unreadable(path, e)) from None
    return WeightsFile(path, _unpickle(path, raw), hashlib.sha256(raw).hexdigest())


def load_checkpoint_file(path: str) -> dict:
    """The checkpoint dict of ``path`` (fast-reid's Checkpointer reads through this; see compat)."""
    return read_weights(path).data


def _unpickle(path: str, raw: bytes) -> dict:
    try:
        data = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" not in str(e):
            raise UserError(_unreadable(path, e)) from None
        raise UserError(
            f"refusing to load {path}: it holds pickled objects other than tensors and plain "
            f"data, which could run code ({str(e).splitlines()[0]}). Re-save its state_dict "
            "with torch.save({'model': model.state_dict()}, path) from a trusted session."
        ) from None
    except (RuntimeError, EOFError, KeyError, ValueError, IndexError, OSError) as e:
        raise UserError(_unreadable(path, e)) from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a checkpoint: expected a dict, got {type(data).__name__}")
    return data if "model" in data else {"model": data}


def _unreadable(path: str, error: BaseException) -> str:
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return (f"cannot load checkpoint {path}: it is empty, truncated or not a PyTorch checkpoint "
            f"({type(error).__name__}: {reason}); use another file")


def _unwrapped(model: nn.Module, state: dict) -> tuple[nn.Module, dict]:
    """The module DDP wraps, and ``state`` without the ``module.`` prefix of a DDP save."""
    return getattr(model, "module", model), {k.removeprefix("module."): v for k, v in state.items()}


def weights_fit(model: nn.Module, state: dict) -> tuple[list[str], list[str]]:
    """Entries of ``model``'s state_dict that ``state`` leaves unfilled, and those it holds in
    another shape (a ``module.`` prefix of a DDP save is ignored; extra entries are fine)."""
    model, state = _unwrapped(model, state)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    other = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    return missing, other


def _listed(names: list[str]) -> str:
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")


def check_weights_fit(model: nn.Module, state: dict, path: str, meta_arch: str, fine_tune: bool = False) -> None:
    """fast-reid's loader fills what matches and logs the rest at INFO: a checkpoint of another
    architecture "loads" a few tensors and leaves a random model, whose evaluation, features or
    export look like results. So a checkpoint that does not fill every model tensor stops here.

    Raises:
        UserError: counts and a few keys; ``fine_tune`` adds how to load part of it on purpose.
    """
    missing, other = weights_fit(model, state)
    if not missing and not other:
        return
    total = len(getattr(model, "module", model).state_dict())
    parts = [f"{len(missing)} missing ({_listed(missing)})" if missing else "",
             f"{len(other)} of another shape ({_listed(other)})" if other else ""]
    hint = f"; to fine-tune from part of it on purpose, add {PARTIAL_KEY} True" if fine_tune else ""
    raise UserError(f"MODEL.WEIGHTS {path} does not fit MODEL.META_ARCHITECTURE {meta_arch} of this config: it "
                    f"fills {total - len(missing) - len(other)} of its {total} tensors ({'; '.join(p for p in parts if p)}). "
                    f"Pass the config the weights were trained with (their run folder holds it as config.yaml){hint}")


def load_fitting(model: nn.Module, state: dict) -> None:
    """Copy every tensor of ``state`` that fits ``model`` (name and shape) into it; the rest of
    the model keeps its values. After check_weights_fit, that is the whole model."""
    module, state = _unwrapped(model, state)
    expected = module.state_dict()
    fitting = {k: v for k, v in state.items() if k in expected and tuple(v.shape) == tuple(expected[k].shape)}
    module.load_state_dict(fitting, strict=False)
