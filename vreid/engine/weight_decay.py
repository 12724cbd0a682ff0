"""Parameters a module declares free of weight decay."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["skip_weight_decay"]


def skip_weight_decay(optimizer: torch.optim.Optimizer, model: nn.Module) -> int:
    """Zero the weight decay of every parameter a module names in its ``no_weight_decay``
    attribute (names relative to that module, dotted for a submodule's), e.g. a learned ring-loss
    radius that decay would pull below the norms it follows. fast-reid's optimizer puts each
    parameter in a group of its own; a group that mixes declared and other parameters is
    refused. Returns how many were freed."""
    declared = {id(m.get_parameter(name)) for m in model.modules() for name in getattr(m, "no_weight_decay", ())}
    freed = 0
    for group in optimizer.param_groups:
        marked = [id(p) in declared for p in group["params"]]
        if any(marked) and not all(marked):
            raise ValueError("a parameter group mixes parameters with and without weight decay")
        if any(marked):
            group["weight_decay"] = 0.0
            freed += len(marked)
    return freed
