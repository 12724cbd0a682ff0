"""JIFD meta-architecture: joint image- and feature-level disentanglement for generalizable
vehicle ReID.

Training: x -> G -> x_r = x - G(x) -> backbone -> pool -> f -> D_di -> f_di -> BNNeck
+ classifier (CE, triplet), plus G's VAE losses and the feature-level objectives on f and
f_di. Test: x -> x_r -> backbone -> pool -> D_di -> BNNeck -> L2-normalised embedding; the
training-only modules are never called.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fastreid.config import configurable
from fastreid.layers import pooling
from fastreid.modeling.backbones import build_backbone
from fastreid.modeling.heads import build_heads
from fastreid.modeling.meta_arch import META_ARCH_REGISTRY
from fastreid.utils.events import get_event_storage

from vreid.errors import UserError
from vreid.modeling.raw_pixels import RawPixelModel
from vreid.modeling.reid_losses import ReidLossSettings, in_trainer, reid_losses

from jifd.data.datasets import SOURCES
from jifd.probe import PIXEL_POOL, DisentanglementProbe

from .disentangler import Disentangler
from .feature_objectives import FeatureObjectives, build_feature_objectives
from .grad_reverse import scale_gradient
from .image_vae import ImageVAE, vae_losses
from .share import build_share

__all__ = ["JIFD", "domain_labels"]

_REID_INPUTS = ("residual", "both")
_DOMAIN_LABELS = ("auto", SOURCES.name, "camids")


@dataclass(frozen=True)
class VAELossSettings:
    rec_weight: float  # MODEL.JIFD.VAE.REC_WEIGHT, lambda_rec
    rec_warmup_factor: float  # lambda_rec's multiplier while iteration < warmup_iters
    warmup_iters: int  # SOLVER.WARMUP_ITERS
    kl_weight: float  # MODEL.JIFD.VAE.KL_WEIGHT, lambda_kl
    rec_stages: tuple[tuple[int, float], ...] = ()  # MODEL.JIFD.VAE.REC_STAGES: (end epoch, factor)
    reid_grad_scale: float = 1.0  # MODEL.JIFD.VAE.REID_GRAD_SCALE
    domain_share_weight: float = 0.0  # MODEL.JIFD.VAE.DOMAIN_SHARE_WEIGHT
    share_pool: int = 8  # MODEL.JIFD.VAE.SHARE_POOL


def domain_labels(cfg) -> tuple[str, int]:
    """(batch key of the domain label, number of discriminator outputs) from MODEL.JIFD.DOMAIN.

    Several sources: the source-dataset index; one source: the camera id.
    """
    d, sources = cfg.MODEL.JIFD.DOMAIN, len(cfg.DATASETS.NAMES)
    if d.LABEL not in _DOMAIN_LABELS:
        raise UserError(f"MODEL.JIFD.DOMAIN.LABEL must be one of {_DOMAIN_LABELS}, got {d.LABEL!r}")
    key = d.LABEL if d.LABEL != "auto" else (SOURCES.name if sources > 1 else "camids")
    num = d.NUM_DOMAINS or (sources if key == SOURCES.name else 0)
    if key == "camids" and num == 0:
        raise UserError("MODEL.JIFD.DOMAIN uses camera ids as domain labels (one source dataset): set "
                        "MODEL.JIFD.DOMAIN.NUM_DOMAINS to the number of training cameras (VeRi-776 20, "
                        "VehicleX 31), or MODEL.JIFD.DOMAIN.ENABLED False")
    if num < 2:
        raise UserError(f"MODEL.JIFD.DOMAIN needs at least 2 domains, got {num} ({key}); train on several "
                        "DATASETS.NAMES, use LABEL camids, or set MODEL.JIFD.DOMAIN.ENABLED False")
    return key, num


def rec_stages(cfg) -> tuple[tuple[int, float], ...]:
    """MODEL.JIFD.VAE.REC_STAGES as (end epoch, factor) pairs, checked."""
    stages = cfg.MODEL.JIFD.VAE.REC_STAGES
    try:
        pairs = tuple((int(end), float(factor)) for end, factor in stages)
    except (TypeError, ValueError):
        raise UserError(f"MODEL.JIFD.VAE.REC_STAGES must be [[end_epoch, factor], ...], got {stages!r}") from None
    ends = [end for end, _ in pairs]
    if any(b <= a for a, b in zip([0, *ends], ends)) or any(f <= 0 for _, f in pairs):
        raise UserError(f"MODEL.JIFD.VAE.REC_STAGES needs increasing positive end epochs and positive factors, "
                        f"got {stages!r}")
    return pairs


def _check_config(cfg, backbone: nn.Module) -> None:
    j = cfg.MODEL.JIFD
    if j.VAE.REID_INPUT not in _REID_INPUTS:
        raise UserError(f"MODEL.JIFD.VAE.REID_INPUT must be one of {_REID_INPUTS}, got {j.VAE.REID_INPUT!r}")
    if not hasattr(pooling, cfg.MODEL.HEADS.POOL_LAYER):
        raise UserError(f"unknown MODEL.HEADS.POOL_LAYER {cfg.MODEL.HEADS.POOL_LAYER!r}; choose from {pooling.__all__}")
    convs = [m for m in backbone.modules() if isinstance(m, nn.Conv2d)]
    if convs and convs[-1].out_channels != cfg.MODEL.BACKBONE.FEAT_DIM:
        raise UserError(f"the backbone emits {convs[-1].out_channels} channels: set MODEL.BACKBONE.FEAT_DIM "
                        f"{convs[-1].out_channels} (is {cfg.MODEL.BACKBONE.FEAT_DIM})")


@META_ARCH_REGISTRY.register()
class JIFD(RawPixelModel):
    """``heads`` is fast-reid's EmbeddingHead built with an Identity pool: it receives f_di
    (already pooled) and applies BNNeck and the identity classifier, so the solver's
    HEADS_LR_FACTOR reaches exactly those. ``vae`` or ``di`` None switches G or D_di off."""

    @configurable
    def __init__(
        self,
        *,
        backbone: nn.Module,
        pool: nn.Module,
        heads: nn.Module,
        vae: ImageVAE | None,
        di: Disentangler | None,
        objectives: FeatureObjectives,
        vae_share: nn.Module | None,
        domain_key: str | None,
        reid_input: str,
        pixel_mean: Sequence[float],
        pixel_std: Sequence[float],
        reid_loss: ReidLossSettings,
        vae_loss: VAELossSettings,
    ):
        super().__init__(pixel_mean, pixel_std)
        self.vae = vae
        self.backbone = backbone
        self.pool = pool
        self.di = di
        self.heads = heads
        self.objectives = objectives
        self.vae_share = vae_share  # the domain's share of the pooled residual (modeling.share)
        self.domain_key = domain_key
        self.reid_input = reid_input
        self.reid_loss = reid_loss
        self.vae_loss = vae_loss

    @classmethod
    def from_config(cls, cfg) -> dict:
        j = cfg.MODEL.JIFD
        backbone = build_backbone(cfg)
        _check_config(cfg, backbone)
        head_cfg = cfg.clone()
        head_cfg.defrost()
        head_cfg.MODEL.HEADS.POOL_LAYER = "Identity"  # the head receives f_di, already pooled
        needs_domains = (j.DOMAIN.ENABLED or (j.DS.ENABLED and j.DS.DOMAIN_WEIGHT > 0) or j.DI.DOMAIN_SHARE_WEIGHT > 0
                         or (j.VAE.ENABLED and j.VAE.DOMAIN_SHARE_WEIGHT > 0))
        domain_key, num_domains = domain_labels(cfg) if needs_domains else (None, 0)
        return {
            "backbone": backbone,
            "pool": getattr(pooling, cfg.MODEL.HEADS.POOL_LAYER)(),
            "heads": build_heads(head_cfg),
            "vae": ImageVAE(j.VAE.CHANNELS, j.VAE.LATENT_CHANNELS) if j.VAE.ENABLED else None,
            "di": Disentangler(cfg.MODEL.BACKBONE.FEAT_DIM, j.DISENTANGLER_HIDDEN_DIM) if j.DI.ENABLED else None,
            "objectives": build_feature_objectives(cfg, num_domains),
            "vae_share": build_share(j.VAE.DOMAIN_SHARE_FORM, 3 * j.VAE.SHARE_POOL ** 2, num_domains)
            if j.VAE.ENABLED and j.VAE.DOMAIN_SHARE_WEIGHT > 0 else None,
            "domain_key": domain_key,
            "reid_input": j.VAE.REID_INPUT,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
            "reid_loss": ReidLossSettings.from_config(cfg, "JIFD"),
            "vae_loss": VAELossSettings(j.VAE.REC_WEIGHT, j.VAE.REC_WARMUP_FACTOR, cfg.SOLVER.WARMUP_ITERS,
                                        j.VAE.KL_WEIGHT, rec_stages(cfg), j.VAE.REID_GRAD_SCALE,
                                        j.VAE.DOMAIN_SHARE_WEIGHT, j.VAE.SHARE_POOL),
        }

    def forward(self, batched_inputs: dict | Tensor) -> dict[str, Tensor] | Tensor:
        """Training: the loss dict. Eval: the L2-normalised embedding (B, dim), float32."""
        x = self.preprocess_image(batched_inputs)
        if not self.training:
            return self.embed(x)
        targets = batched_inputs["targets"].to(self.device)
        domains = self._domain_labels(batched_inputs)
        losses = {}
        x_r = x
        if self.vae is not None:
            recon, mu, logvar = self.vae(x)
            x_r = x - scale_gradient(recon, self.vae_loss.reid_grad_scale)
            losses.update(self.image_losses(recon, x, mu, logvar, domains))
        if self.reid_input == "both":
            x_r = torch.cat([x, x_r])
            targets = targets.repeat(2)
            domains = domains.repeat(2) if domains is not None else None
        f, f_di = self.features(x_r)
        outputs = self.heads(f_di[..., None, None], targets)
        losses.update(reid_losses(outputs, targets, self.reid_loss))  # BoT's, on the domain-invariant branch
        losses.update(self.objectives(f, f_di, targets, domains))
        return losses

    def features(self, x_r: Tensor) -> tuple[Tensor, Tensor]:
        """(f, f_di): the pooled backbone feature and its domain-invariant part."""
        f = self.pool(self.backbone(x_r))[..., 0, 0]
        return f, (self.di(f) if self.di is not None else f)

    @classmethod
    def extra_evaluations(cls, cfg) -> list[DisentanglementProbe]:
        """What the trainer runs beside ranking, with the test sets: the disentanglement probe
        when MODEL.JIFD.PROBE.ENABLED."""
        return [DisentanglementProbe(cfg)] if cfg.MODEL.JIFD.PROBE.ENABLED else []

    @torch.no_grad()
    def probe_features(self, batched_inputs: dict | Tensor) -> dict[str, Tensor]:
        """For the probe, in eval mode: every branch (f, f_di, and f_ds, f_ci where on), the
        pooled pixels of x and, with G, of x - G(x), and G's MSE(G(x), x) and
        ||x - G(x)|| / ||x|| per image."""
        x = self.preprocess_image(batched_inputs)
        out = {"x_pixels": pooled_pixels(x, PIXEL_POOL)}
        if self.vae is not None:
            recon = self.vae(x)[0]
            out["vae_rec_mse"] = (recon - x).pow(2).flatten(1).mean(1)
            out["vae_residual_ratio"] = (x - recon).flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)
            x = x - recon
            out["residual_pixels"] = pooled_pixels(x, PIXEL_POOL)
        out["f"], out["f_di"] = self.features(x)
        out.update(self.objectives.branches(out["f"]))
        return out

    def embed(self, x: Tensor) -> Tensor:
        """The test path: G (latent mean), backbone, D_di, BNNeck, L2 normalisation."""
        if self.vae is not None:
            x = x - self.vae(x)[0]
        _, f_di = self.features(x)
        return F.normalize(self.heads(f_di[..., None, None]).float(), dim=1)

    def _domain_labels(self, batched_inputs: dict) -> Tensor | None:
        if self.domain_key is None:
            return None
        if self.domain_key not in batched_inputs:
            raise ValueError(f"JIFD's domain discriminator reads batch[{self.domain_key!r}] (set by "
                             "vreid.data.build_train_loader); pass it with the images")
        return batched_inputs[self.domain_key].to(self.device, torch.long)

    def _rec_factor(self) -> float:
        """lambda_rec's multiplier at the trainer's current epoch (REC_STAGES) or iteration (the
        warm-up factor); 1 outside a trainer."""
        if not in_trainer():
            return 1.0
        storage, settings = get_event_storage(), self.vae_loss
        if settings.rec_stages:
            epoch = getattr(storage, "epoch", 0)  # set by the trainer before each epoch
            return next((factor for end, factor in settings.rec_stages if epoch < end), 1.0)
        return settings.rec_warmup_factor if storage.iter < settings.warmup_iters else 1.0

    def image_losses(self, recon: Tensor, x: Tensor, mu: Tensor, logvar: Tensor,
                     domains: Tensor | None = None) -> dict[str, Tensor]:
        """G's reconstruction and KL, and with VAE.DOMAIN_SHARE_WEIGHT the domain's share of
        the pooled residual x - G(x): G learns to carry what tells the domains apart."""
        settings = self.vae_loss
        mse, kl = vae_losses(recon, x, mu, logvar)
        losses = {"loss_vae_rec": settings.rec_weight * self._rec_factor() * mse, "loss_vae_kl": settings.kl_weight * kl}
        if self.vae_share is not None:
            residual = pooled_pixels(x - recon, settings.share_pool)
            losses["loss_vae_domain_share"] = settings.domain_share_weight * self.vae_share(
                residual, self.objectives.checked_domains(domains))
        return losses


def pooled_pixels(images: Tensor, side: int) -> Tensor:
    """(B, 3 * side * side): each image average-pooled to side x side, the scale at which light,
    colour cast and background differ between domains and a vehicle's details do not."""
    return F.adaptive_avg_pool2d(images.float(), side).flatten(1)
