"""DNDM meta-architecture: day/night stems, NGS, and DSE + CCA after every ResNet stage,
with its losses (CE, triplet, glare attention) and test embedding."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from fastreid.config import configurable
from fastreid.modeling.backbones import build_backbone
from fastreid.modeling.heads import build_heads
from fastreid.modeling.meta_arch import META_ARCH_REGISTRY

from vreid.errors import UserError
from vreid.modeling.raw_pixels import RawPixelModel
from vreid.modeling.reid_losses import ReidLossSettings, at_least_float32, reid_losses

from dnreid.domains import DAY, DOMAIN, NIGHT

from .cca import CCA
from .dse import DSE
from .glare import glare_mask
from .pooling import gem_pool, stem_pool
from .ngs import NGS, glare_attention_loss

__all__ = ["DNDM"]

_STEM = ("conv1", "bn1", "relu", "maxpool")
_STAGES = ("layer1", "layer2", "layer3", "layer4")
HEAD_INITS = ("release", "fastreid")  # MODEL.DNDM.HEAD_INIT


@dataclass(frozen=True)
class GlareLossSettings:
    weight: float  # MODEL.DNDM.NGS.LOSS_WEIGHT
    form: str  # MODEL.DNDM.NGS.LOSS_FORM


def _out_channels(module: nn.Module) -> int:
    """Channels a ResNet stem or stage emits: its last conv's (SE blocks end in Linear layers)."""
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)][-1].out_channels


def _split_resnet(cfg) -> tuple[nn.Sequential, list[nn.Module]]:
    """The registry backbone (pretrained weights already loaded) cut into stem and four stages."""
    if cfg.MODEL.BACKBONE.WITH_NL:
        raise UserError("DNDM does not use non-local blocks (the release builds but never calls "
                        "them): set MODEL.BACKBONE.WITH_NL False")
    backbone = build_backbone(cfg)
    missing = [n for n in _STEM + _STAGES if not hasattr(backbone, n)]
    if missing:
        raise UserError(f"DNDM needs a ResNet-style backbone with {', '.join(_STEM + _STAGES)}; "
                        f"{cfg.MODEL.BACKBONE.NAME} lacks {', '.join(missing)}")
    stem = nn.Sequential(*(getattr(backbone, n) for n in _STEM))
    pool = stem_pool(cfg.MODEL.DNDM.STEM_POOL)
    if pool is not None:
        stem[-1] = pool
    return stem, [getattr(backbone, n) for n in _STAGES]


def _check_config(cfg, last_channels: int) -> None:
    """Settings DNDM cannot honour fail here, with the key to change."""
    feat_dim, dn = cfg.MODEL.BACKBONE.FEAT_DIM, cfg.MODEL.DNDM
    if last_channels != feat_dim or cfg.MODEL.HEADS.EMBEDDING_DIM > 0:
        raise UserError(
            f"DNDM's classifier (shared by CCA) acts on the last stage's {last_channels} channels: "
            f"set MODEL.BACKBONE.FEAT_DIM {last_channels} (is {feat_dim}) and "
            f"MODEL.HEADS.EMBEDDING_DIM 0 (is {cfg.MODEL.HEADS.EMBEDDING_DIM})")
    if dn.TEST_FEAT not in ("bn", "pool"):
        raise UserError(f"MODEL.DNDM.TEST_FEAT must be 'bn' or 'pool', got {dn.TEST_FEAT!r}")
    if dn.HEAD_INIT not in HEAD_INITS:
        raise UserError(f"MODEL.DNDM.HEAD_INIT must be one of {HEAD_INITS}, got {dn.HEAD_INIT!r}")
    if dn.TEST_FEAT == "bn" and not cfg.MODEL.HEADS.WITH_BNNECK:
        raise UserError("MODEL.DNDM.TEST_FEAT bn needs MODEL.HEADS.WITH_BNNECK True")
    if dn.CCA.ENABLED and cfg.MODEL.HEADS.NUM_CLASSES < 1:
        raise UserError("CCA needs the identity classifier: MODEL.HEADS.NUM_CLASSES must be set "
                        "(the trainer sets it from the data, --eval-only from the checkpoint)")


@META_ARCH_REGISTRY.register()
class DNDM(RawPixelModel):
    """Day-Night Dual-domain Modulation on a fast-reid ResNet and EmbeddingHead.

    ``heads`` is fast-reid's EmbeddingHead (GeM, BNNeck, classifier ``heads.weight``) so the
    solver's HEADS_LR_FACTOR reaches exactly the BNNeck and classifier, and CCA reuses
    ``heads.weight`` as the shared identity classifier. Images are routed to their own domain's
    stem by ``batched_inputs["domains"]`` (day 0, night 1), which is required in training and at
    test: guessing a domain would silently change the embedding.
    """

    # Batch keys the eval forward reads: tools (feature extraction, ONNX export) ask for each.
    eval_inputs = ("images", DOMAIN.name)

    @configurable
    def __init__(
        self,
        *,
        stem: nn.Module,
        stages: Sequence[nn.Module],
        heads: nn.Module,
        pixel_mean: Sequence[float],
        pixel_std: Sequence[float],
        two_stems: bool,
        test_feat: str,
        ngs: NGS | None,
        dse: DSE | None,
        cca: Sequence[CCA] | None,
        num_instances: int,
        reid_loss: ReidLossSettings,
        glare_loss: GlareLossSettings,
        head_init: str = "release",
    ):
        super().__init__(pixel_mean, pixel_std)
        # Index = domain; the night stem starts as a copy of the (pretrained) day stem.
        self.stems = nn.ModuleList([stem, copy.deepcopy(stem)] if two_stems else [stem])
        self.stages = nn.ModuleList(stages)
        self.ngs = ngs
        self.dse = dse
        self.cca = nn.ModuleList(cca) if cca is not None else None
        self.heads = heads
        self.test_feat = test_feat
        self.num_instances = num_instances
        self.reid_loss = reid_loss
        self.glare_loss = glare_loss
        if head_init == "release":
            self._init_heads()

    @classmethod
    def from_config(cls, cfg) -> dict:
        dn = cfg.MODEL.DNDM
        stem, stages = _split_resnet(cfg)
        channels = [_out_channels(s) for s in stages]
        _check_config(cfg, channels[-1])
        feat_dim = cfg.MODEL.BACKBONE.FEAT_DIM
        heads = build_heads(cfg)
        if not all(hasattr(heads, n) for n in ("weight", "pool_layer", "bottleneck")):
            raise UserError("DNDM needs MODEL.HEADS.NAME EmbeddingHead (pool_layer, bottleneck, weight)")
        pool = gem_pool(dn.GEM, cfg.MODEL.HEADS.POOL_LAYER)
        if pool is not None:
            heads.pool_layer = pool
        return {
            "stem": stem,
            "stages": stages,
            "heads": heads,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
            "two_stems": dn.TWO_STEMS,
            "test_feat": dn.TEST_FEAT,
            "ngs": NGS(_out_channels(stem), dn.NGS.THRESHOLD, dn.NGS.INIT) if dn.NGS.ENABLED else None,
            "dse": DSE(dn.DSE.WEIGHT_X, dn.DSE.WEIGHT_G) if dn.DSE.ENABLED else None,
            "cca": [CCA(c, feat_dim, dn.CCA.TEST_SCALE, dn.CCA.TRAIN_SCALE, dn.CCA.INIT) for c in channels]
            if dn.CCA.ENABLED else None,
            "num_instances": cfg.DATALOADER.NUM_INSTANCE,
            "reid_loss": ReidLossSettings.from_config(cfg, "DNDM"),
            "glare_loss": GlareLossSettings(dn.NGS.LOSS_WEIGHT, dn.NGS.LOSS_FORM),
            "head_init": dn.HEAD_INIT,
        }

    def _init_heads(self) -> None:
        """The release's init: classifier N(0, 0.001), BNNeck weight N(1, 0.01), bias 0 (frozen by
        fast-reid). MODEL.DNDM.HEAD_INIT fastreid skips it and keeps EmbeddingHead's own, as BoT's
        Baseline does; skipping it also leaves the random stream where the Baseline leaves it, so
        the same seed gives DNDM with BoT's switches BoT's initial weights."""
        nn.init.normal_(self.heads.weight, std=0.001)
        for m in self.heads.bottleneck.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm)):
                nn.init.normal_(m.weight, 1.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, batched_inputs: dict) -> dict[str, Tensor] | Tensor:
        """Training: the loss dict. Eval: the TEST_FEAT embedding (B, FEAT_DIM), float32 (float64
        for a float64 model), not normalised (the cosine evaluator normalises)."""
        raw, domains, layout = self._inputs(batched_inputs)
        paired = self.training and self._is_paired(layout)
        x, aux = self.body(self.preprocess_image(raw), raw, domains, layout, paired)
        if self.training:
            targets = batched_inputs["targets"].to(self.device)
            return self.losses(self.heads(x, targets), targets, aux, domains)
        feat = self.heads(x) if self.test_feat == "bn" else self.heads.pool_layer(x)[..., 0, 0]
        return at_least_float32(feat)

    @torch.no_grad()
    def forward_maps(self, batched_inputs: dict) -> dict[str, Tensor]:
        """Maps for visualisation (eval mode): "glare" (B,1,H,W), the opened mask NGS sees (zero
        for day images); "attention" (B,1,H/4,W/4), NGS's A; "cca1".."cca4", each stage's R.
        Keys of disabled modules are absent."""
        if self.training:
            raise RuntimeError("forward_maps runs in eval mode (call model.eval() first)")
        raw, domains, layout = self._inputs(batched_inputs)
        _, maps = self.body(self.preprocess_image(raw), raw, domains, layout, paired=False)
        if self.ngs is not None:
            night = (domains == NIGHT).view(-1, 1, 1, 1)
            maps["glare"] = glare_mask(raw, self.ngs.threshold) * night
        return maps

    def _inputs(self, batched_inputs: dict) -> tuple[Tensor, Tensor, list[int]]:
        """Raw float pixels and domains on the model's device, plus the domains on the host
        (one sync: the stem split and the paired check need them)."""
        if not isinstance(batched_inputs, dict) or DOMAIN.name not in batched_inputs:
            raise ValueError("DNDM routes every image to its domain's stem: pass a dict with "
                             "'images' (B,3,H,W, 0-255) and 'domains' (B,) with day 0, night 1")
        raw = batched_inputs["images"].to(self.device, torch.float32)
        domains = batched_inputs[DOMAIN.name].to(self.device)
        layout = domains.tolist()
        if not set(layout) <= {DAY, NIGHT}:
            raise ValueError(f"domains must be 0 (day) or 1 (night), got {sorted(set(layout))}")
        return raw, domains, layout

    def _is_paired(self, layout: list[int]) -> bool:
        """[day P*K | night P*K] as the paired sampler builds it: enables CCA's exchange."""
        half, k = len(layout) // 2, self.num_instances
        return len(layout) % (2 * k) == 0 and layout == [DAY] * half + [NIGHT] * half

    def stem_features(self, x: Tensor, domains: Tensor, layout: list[int]) -> Tensor:
        """Each image through its own domain's stem; a domain absent from the batch runs nothing."""
        if len(self.stems) == 1:
            return self.stems[0](x)
        if torch.jit.is_tracing():  # ONNX export: one graph for every batch size and domain layout
            return torch.where((domains == NIGHT).view(-1, 1, 1, 1), self.stems[NIGHT](x), self.stems[DAY](x))
        if len(set(layout)) == 1:
            return self.stems[layout[0]](x)
        n_day = layout.count(DAY)
        if layout == sorted(layout):  # day block then night block, as the paired sampler builds
            day, night = x.split([n_day, len(layout) - n_day])
            return torch.cat([self.stems[DAY](day), self.stems[NIGHT](night)])
        order = torch.argsort(domains, stable=True)
        grouped = self.stem_features(x[order], domains[order], sorted(layout))
        return grouped[torch.argsort(order)]

    def body(
        self, x: Tensor, raw: Tensor, domains: Tensor, layout: list[int], paired: bool
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Stems -> NGS -> [stage_k -> DSE -> CCA_k]; returns the final map and the auxiliary
        maps ("attention", "cca1".."cca4") of the enabled modules."""
        aux = {}
        x = self.stem_features(x, domains, layout)
        if self.ngs is not None:
            x, aux["attention"] = self.ngs(x, raw, domains)
        for k, stage in enumerate(self.stages):
            x = stage(x)
            if self.dse is not None:
                x = self.dse(x)
            if self.cca is not None:
                x, aux[f"cca{k + 1}"] = self.cca[k](x, self.heads.weight, self.num_instances, paired)
        return x, aux

    def losses(
        self, outputs: dict[str, Tensor], targets: Tensor, aux: dict[str, Tensor], domains: Tensor
    ) -> dict[str, Tensor]:
        """CE on the BNNeck logits, batch-hard triplet on f_pool (both domains together), and
        the glare-attention loss when NGS is on; in float32 so autocast does not round them."""
        loss_dict = reid_losses(outputs, targets, self.reid_loss)
        if self.ngs is not None:
            glare = self.glare_loss
            loss_dict["loss_glare"] = glare.weight * glare_attention_loss(aux["attention"], domains, glare.form)
        return loss_dict
