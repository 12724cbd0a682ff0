"""Training stops at the first non-finite number, and nothing non-finite is ever saved.

A diverging run (learning rate too high, a bad image, fp16 overflow) otherwise goes on:
fast-reid checks only the summed loss, so BatchNorm running statistics can turn inf while
every loss stays finite, and the run ends with exit 0, checkpoints full of inf and chance-level
metrics. Each check costs one device sync per step (fast-reid already syncs every loss term).
"""
from __future__ import annotations

from typing import Iterable, Mapping

import torch
from torch import nn

from vreid.errors import UserError

__all__ = ["NonFiniteError", "check_losses", "check_model", "nonfinite_names"]

ADVICE = ("lower SOLVER.BASE_LR, enable SOLVER.CLIP_GRADIENTS, or run tools/check_dataset.py; "
          "the last checkpoint written is finite and --resume continues from it")


class NonFiniteError(UserError):
    """A loss term, parameter or buffer became NaN or inf."""


def nonfinite_names(tensors: Mapping[str, torch.Tensor] | Iterable[tuple[str, torch.Tensor]]) -> list[str]:
    """Names of the floating-point tensors holding a NaN or inf, in order, with one sync."""
    items = [(k, v) for k, v in (tensors.items() if isinstance(tensors, Mapping) else tensors)
             if torch.is_tensor(v) and v.is_floating_point()]
    if not items:
        return []
    finite = torch.stack([v.detach().isfinite().all() for _, v in items]).cpu()
    return [name for (name, _), ok in zip(items, finite.tolist()) if not ok]


def _listed(names: list[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_losses(loss_dict: dict[str, torch.Tensor], iteration: int) -> None:
    """Every loss term is finite (checked before the optimizer step)."""
    bad = nonfinite_names(loss_dict)
    if bad:
        values = ", ".join(f"{k}={loss_dict[k].item()}" for k in bad)
        raise NonFiniteError(f"iteration {iteration}: loss {values}; {ADVICE}")


def check_model(model: nn.Module, iteration: int) -> None:
    """Every parameter and buffer is finite (checked after the optimizer step)."""
    model = model.module if hasattr(model, "module") else model
    bad = nonfinite_names([*model.named_parameters(), *model.named_buffers()])
    if bad:
        raise NonFiniteError(f"iteration {iteration}: {len(bad)} model tensors became NaN/inf after the "
                             f"optimizer step ({_listed(bad)}); {ADVICE}")
