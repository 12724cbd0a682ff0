"""BoT's identity losses (cross-entropy and triplet) for meta-architectures that build their own
loss dict; read from MODEL.LOSSES exactly as fast-reid's Baseline reads them."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from fastreid.modeling.losses import cross_entropy_loss, log_accuracy, triplet_loss
from fastreid.utils.events import get_event_storage

from vreid.errors import UserError

SUPPORTED = ("CrossEntropyLoss", "TripletLoss")
CE_NORMS = ("nonzero", "batch")


@dataclass(frozen=True)
class CrossEntropySettings:
    epsilon: float  # label smoothing
    alpha: float  # fast-reid's adaptive smoothing factor
    scale: float
    norm: str = "nonzero"  # MODEL.LOSSES.CE.NORM


@dataclass(frozen=True)
class TripletSettings:
    margin: float  # 0: soft margin
    norm_feat: bool
    hard_mining: bool
    scale: float


@dataclass(frozen=True)
class ReidLossSettings:
    """The MODEL.LOSSES settings, checked once when the model is built; a loss left out of
    MODEL.LOSSES.NAME is None."""

    ce: CrossEntropySettings | None
    triplet: TripletSettings | None

    @classmethod
    def from_config(cls, cfg, model_name: str) -> "ReidLossSettings":
        losses = cfg.MODEL.LOSSES
        unknown = [n for n in losses.NAME if n not in SUPPORTED]
        if unknown:
            raise UserError(f"{model_name} supports MODEL.LOSSES.NAME from {SUPPORTED}, got {unknown}")
        ce, tri = losses.CE, losses.TRI
        if ce.NORM not in CE_NORMS:
            raise UserError(f"MODEL.LOSSES.CE.NORM must be one of {CE_NORMS}, got {ce.NORM!r}")
        if ce.NORM == "batch" and ce.EPSILON < 0:
            raise UserError("MODEL.LOSSES.CE.NORM batch needs MODEL.LOSSES.CE.EPSILON >= 0 (adaptive "
                            "smoothing, EPSILON < 0, is fast-reid's only): set NORM nonzero or EPSILON >= 0")
        return cls(
            ce=CrossEntropySettings(ce.EPSILON, ce.ALPHA, ce.SCALE, ce.NORM) if "CrossEntropyLoss" in losses.NAME else None,
            triplet=TripletSettings(tri.MARGIN, tri.NORM_FEAT, tri.HARD_MINING, tri.SCALE)
            if "TripletLoss" in losses.NAME else None,
        )


def at_least_float32(t: Tensor) -> Tensor:
    """float16/bfloat16 up to float32; float32 and float64 as they are."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def in_trainer() -> bool:
    """True inside fast-reid's EventStorage (the trainer); unit tests and tools have none."""
    try:
        get_event_storage()
    except (AssertionError, IndexError):
        return False
    return True


def training_progress() -> float:
    """The share of training done, iteration / max_iter in [0, 1], for a loss whose weight
    follows training (JIFD's DANN reversal schedule); 1 outside a trainer, so a test or tool
    calling the model sees the weights training ends with."""
    if not in_trainer():
        return 1.0
    storage = get_event_storage()
    max_iter = getattr(storage, "max_iter", 0)  # set by vreid's trainer before training
    return min(storage.iter / max_iter, 1.0) if max_iter else 1.0


def reid_losses(outputs: dict[str, Tensor], targets: Tensor, settings: ReidLossSettings) -> dict[str, Tensor]:
    """CE on the head's logits and triplet on its features, in float32 so autocast does not
    round them (float64 stays float64); logs the training accuracy when a trainer is running."""
    if in_trainer():
        log_accuracy(outputs["pred_class_logits"].detach(), targets)
    losses = {}
    if settings.ce is not None:
        ce = settings.ce
        losses["loss_cls"] = ce.scale * _cross_entropy(at_least_float32(outputs["cls_outputs"]), targets, ce)
    if settings.triplet is not None:
        tri = settings.triplet
        losses["loss_triplet"] = tri.scale * triplet_loss(
            at_least_float32(outputs["features"]), targets, tri.margin, tri.norm_feat, tri.hard_mining)
    return losses


def _cross_entropy(logits: Tensor, targets: Tensor, ce: CrossEntropySettings) -> Tensor:
    """fast-reid's smoothed CE ("nonzero": the sum over the samples whose loss is not exactly 0);
    "batch" takes the plain mean over the batch instead (the DNDM release's). The two differ only
    once some samples' loss rounds to 0, which raises fast-reid's weight on the others."""
    if ce.norm == "nonzero":
        return cross_entropy_loss(logits, targets, ce.epsilon, ce.alpha)
    # Smoothing eps spread over the other classes, as fast-reid: (1 - eps) on the target.
    log_probs = F.log_softmax(logits, dim=1)
    nll = -log_probs.gather(1, targets.view(-1, 1)).squeeze(1)
    if ce.epsilon == 0:
        return nll.mean()
    others = -log_probs.sum(dim=1) - nll
    return ((1 - ce.epsilon) * nll + ce.epsilon / (logits.shape[1] - 1) * others).mean()
