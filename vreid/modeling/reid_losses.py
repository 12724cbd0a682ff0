"""BoT's identity losses (cross-entropy and triplet) for meta-architectures that build their own
loss dict; read from MODEL.LOSSES exactly as fast-reid's Baseline reads them."""
from __future__ import annotations

from torch import Tensor

from fastreid.modeling.losses import cross_entropy_loss, log_accuracy, triplet_loss
from fastreid.utils.events import get_event_storage

from vreid.errors import UserError

SUPPORTED = ("CrossEntropyLoss", "TripletLoss")


def in_trainer() -> bool:
    """True inside fast-reid's EventStorage (the trainer); unit tests and tools have none."""
    try:
        get_event_storage()
    except (AssertionError, IndexError):
        return False
    return True


def reid_loss_settings(cfg, model_name: str) -> dict:
    """The MODEL.LOSSES settings the losses need, checked once when the model is built."""
    losses = cfg.MODEL.LOSSES
    unknown = [n for n in losses.NAME if n not in SUPPORTED]
    if unknown:
        raise UserError(f"{model_name} supports MODEL.LOSSES.NAME from {SUPPORTED}, got {unknown}")
    return {
        "names": tuple(losses.NAME),
        "ce": (losses.CE.EPSILON, losses.CE.ALPHA, losses.CE.SCALE),
        "tri": (losses.TRI.MARGIN, losses.TRI.NORM_FEAT, losses.TRI.HARD_MINING, losses.TRI.SCALE),
    }


def reid_losses(outputs: dict[str, Tensor], targets: Tensor, settings: dict) -> dict[str, Tensor]:
    """CE on the head's logits and triplet on its features, in float32 so autocast does not
    round them; logs the training accuracy when a trainer is running."""
    if in_trainer():
        log_accuracy(outputs["pred_class_logits"].detach(), targets)
    losses = {}
    if "CrossEntropyLoss" in settings["names"]:
        eps, alpha, scale = settings["ce"]
        losses["loss_cls"] = scale * cross_entropy_loss(outputs["cls_outputs"].float(), targets, eps, alpha)
    if "TripletLoss" in settings["names"]:
        margin, norm_feat, hard_mining, scale = settings["tri"]
        losses["loss_triplet"] = scale * triplet_loss(
            outputs["features"].float(), targets, margin, norm_feat, hard_mining)
    return losses
