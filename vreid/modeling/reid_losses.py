"""BoT's identity losses (cross-entropy and triplet) for meta-architectures that build their own
loss dict; read from MODEL.LOSSES exactly as fast-reid's Baseline reads them."""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from fastreid.modeling.losses import cross_entropy_loss, log_accuracy, triplet_loss
from fastreid.utils.events import get_event_storage

from vreid.errors import UserError

SUPPORTED = ("CrossEntropyLoss", "TripletLoss")


@dataclass(frozen=True)
class CrossEntropySettings:
    epsilon: float  # label smoothing
    alpha: float  # fast-reid's adaptive smoothing factor
    scale: float


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
        return cls(
            ce=CrossEntropySettings(ce.EPSILON, ce.ALPHA, ce.SCALE) if "CrossEntropyLoss" in losses.NAME else None,
            triplet=TripletSettings(tri.MARGIN, tri.NORM_FEAT, tri.HARD_MINING, tri.SCALE)
            if "TripletLoss" in losses.NAME else None,
        )


def in_trainer() -> bool:
    """True inside fast-reid's EventStorage (the trainer); unit tests and tools have none."""
    try:
        get_event_storage()
    except (AssertionError, IndexError):
        return False
    return True


def reid_losses(outputs: dict[str, Tensor], targets: Tensor, settings: ReidLossSettings) -> dict[str, Tensor]:
    """CE on the head's logits and triplet on its features, in float32 so autocast does not
    round them; logs the training accuracy when a trainer is running."""
    if in_trainer():
        log_accuracy(outputs["pred_class_logits"].detach(), targets)
    losses = {}
    if settings.ce is not None:
        ce = settings.ce
        losses["loss_cls"] = ce.scale * cross_entropy_loss(outputs["cls_outputs"].float(), targets, ce.epsilon, ce.alpha)
    if settings.triplet is not None:
        tri = settings.triplet
        losses["loss_triplet"] = tri.scale * triplet_loss(
            outputs["features"].float(), targets, tri.margin, tri.norm_feat, tri.hard_mining)
    return losses
