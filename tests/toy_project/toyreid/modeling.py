"""Step 4: a meta-architecture registered in fast-reid's META_ARCH_REGISTRY, on fast-reid's
conventions: ``@configurable`` with ``from_config``, raw 0-255 pixels normalised by
``preprocess_image`` (``vreid.modeling.raw_pixels.RawPixelModel``), a dict of losses in training
and the embedding in eval."""
from __future__ import annotations

import torch
from torch import nn

from fastreid.config import configurable
from fastreid.modeling.heads import build_heads
from fastreid.modeling.losses import cross_entropy_loss, triplet_loss
from fastreid.modeling.meta_arch import META_ARCH_REGISTRY

from vreid.modeling.raw_pixels import RawPixelModel


def _stages(widths: list[int]) -> nn.Sequential:
    """3x3 stride-2 conv, BN, ReLU per width: 64x64 pixels become an 8x8 map with three."""
    layers, previous = [], 3
    for width in widths:
        layers += [nn.Conv2d(previous, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width),
                   nn.ReLU(inplace=True)]
        previous = width
    return nn.Sequential(*layers)


@META_ARCH_REGISTRY.register()
class ToyNet(RawPixelModel):
    """Conv stages, then fast-reid's EmbeddingHead (pooling, BNNeck, classifier), trained with
    label-smoothed cross-entropy and hard-mined triplet loss as BoT."""

    @configurable
    def __init__(self, *, backbone: nn.Module, heads: nn.Module, pixel_mean: list[float], pixel_std: list[float],
                 ce_epsilon: float, triplet_margin: float):
        super().__init__(pixel_mean, pixel_std)
        self.backbone, self.heads = backbone, heads
        self.ce_epsilon, self.triplet_margin = ce_epsilon, triplet_margin

    @classmethod
    def from_config(cls, cfg) -> dict:
        return {"backbone": _stages([*cfg.MODEL.TOY.CHANNELS, cfg.MODEL.BACKBONE.FEAT_DIM]),
                "heads": build_heads(cfg), "pixel_mean": cfg.MODEL.PIXEL_MEAN, "pixel_std": cfg.MODEL.PIXEL_STD,
                "ce_epsilon": cfg.MODEL.LOSSES.CE.EPSILON, "triplet_margin": cfg.MODEL.LOSSES.TRI.MARGIN}

    def forward(self, batched_inputs: dict) -> dict[str, torch.Tensor] | torch.Tensor:
        features = self.backbone(self.preprocess_image(batched_inputs))
        if not self.training:
            return self.heads(features)
        targets = batched_inputs["targets"]
        outputs = self.heads(features, targets)
        return {"loss_cls": cross_entropy_loss(outputs["cls_outputs"], targets, self.ce_epsilon),
                "loss_triplet": triplet_loss(outputs["features"], targets, self.triplet_margin, False, True)}
