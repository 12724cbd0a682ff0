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
import zipfile
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
    _check_records(path, raw)
    return WeightsFile(path, _unpickle(path, raw), hashlib.sha256(raw).hexdigest())


def _check_records(path: str, raw: bytes) -> None:
    """torch.save writes a zip archive whose records carry CRC-32s, which torch.load never
    checks: a flipped bit in a tensor loads as a wrong weight. A damaged record is named here.
    (Legacy, pre-zip checkpoints such as torchvision's ImageNet files carry no checksums.)"""
    if not raw.startswith(b"PK"):
        return
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as e:
        raise UserError(_unreadable(path, e)) from None
    if damaged is not None:
        raise UserError(f"cannot load checkpoint {path}: its record {damaged} is damaged (its CRC-32 does not "
                        "match); use another copy of the file")


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
    hint = f"; to fine-tune from part of it on purpose, add {PARTIAL_KEY} True" if fine_tune else ""
    check_fit(model, state, f"MODEL.WEIGHTS {path}", f"MODEL.META_ARCHITECTURE {meta_arch} of this config",
              f"Pass the config the weights were trained with (their run folder holds it as config.yaml){hint}")


def check_fit(model: nn.Module, state: dict, source: str, target: str, advice: str) -> None:
    """The fit rule for any weights (a checkpoint, ImageNet weights for a backbone): ``source``
    must fill every tensor of ``model`` (``target`` names it in the message), else one line with
    the counts, a few keys and ``advice``."""
    missing, other = weights_fit(model, state)
    if not missing and not other:
        return
    total = len(getattr(model, "module", model).state_dict())
    parts = [f"{len(missing)} missing ({_listed(missing)})" if missing else "",
             f"{len(other)} of another shape ({_listed(other)})" if other else ""]
    raise UserError(f"{source} does not fit {target}: it fills {total - len(missing) - len(other)} of its {total} "
                    f"tensors ({'; '.join(p for p in parts if p)}). {advice}")


def load_fitting(model: nn.Module, state: dict) -> None:
    """Copy every tensor of ``state`` that fits ``model`` (name and shape) into it; the rest of
    the model keeps its values. After check_weights_fit, that is the whole model."""
    module, state = _unwrapped(model, state)
    expected = module.state_dict()
    fitting = {k: v for k, v in state.items() if k in expected and tuple(v.shape) == tuple(expected[k].shape)}
    module.load_state_dict(fitting, strict=False)


def load_pretrained(backbone: nn.Module, path: str, partial: bool = False) -> None:
    """ImageNet (or other) weights for a freshly built backbone, through the checked reader:
    fast-reid's backbones ``torch.load`` them unchecked (a pickle runs; a file of another
    architecture fills a few tensors, logs the rest at INFO, and training starts from random
    weights). The file must fill every tensor of the backbone unless ``partial``
    (MODEL.BACKBONE.PRETRAIN_PARTIAL); its extra entries (an ImageNet classifier) are fine."""
    state = read_weights(path).state
    state = state.get("state_dict", state) if isinstance(state.get("state_dict"), dict) else state
    if not partial:
        check_fit(backbone, state, f"MODEL.BACKBONE.PRETRAIN_PATH {path}", f"the {type(backbone).__name__} backbone "
                  "of this config", "Point it at that backbone's ImageNet weights, or add "
                  "MODEL.BACKBONE.PRETRAIN_PARTIAL True to start the tensors it lacks from random values")
    load_fitting(backbone, state)
