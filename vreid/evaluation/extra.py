"""Evaluations a meta-architecture declares beside ranking, run by the trainer with the test sets.

A meta-architecture class may define ``extra_evaluations(cfg)``, returning callables that take
the model and return ``{metric: value}`` (JIFD's disentanglement probe, say). Their metrics
go where the ranking results go in training: into the event storage, so metrics.json and
``tools/visualize.py curves`` carry them.
"""
from __future__ import annotations

from fastreid.modeling.meta_arch import META_ARCH_REGISTRY
from fastreid.utils import comm
from fastreid.utils.events import get_event_storage
from torch import nn

from vreid.modeling.reid_losses import in_trainer

__all__ = ["run_extra_evaluations"]


def run_extra_evaluations(cfg, model: nn.Module) -> dict[str, float]:
    """Run the declared evaluations on the main process (they are local: no collective calls)
    and return their metrics; in training they are also put in the event storage."""
    declare = getattr(META_ARCH_REGISTRY.get(cfg.MODEL.META_ARCHITECTURE), "extra_evaluations", None)
    if declare is None or not comm.is_main_process():
        return {}
    model = getattr(model, "module", model)  # DistributedDataParallel
    metrics = {}
    for evaluate in declare(cfg):
        metrics.update(evaluate(model))
    if metrics and in_trainer():
        get_event_storage().put_scalars(**metrics, smoothing_hint=False)
    return metrics
