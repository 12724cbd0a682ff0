"""The training-only feature-level objectives of JIFD (after DAL).

Everything here serves training and is never called at test time: the domain-specific and
class-irrelevant disentanglers with their classifiers, the domain discriminator, the MINE
estimators, the reconstructor R and the ring loss. DAL's six sequential optimizer steps
become one: adversaries sit behind gradient reversal, and a classifier that must be
confused is trained on detached features while the confusion loss uses its detached weight.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fastreid.modeling.losses import cross_entropy_loss

from vreid.errors import UserError

from .disentangler import Disentangler
from .domain import DomainDiscriminator
from .grad_reverse import grad_reverse
from .mine import MINE
from .ring import RingLoss
from .share import build_share

__all__ = ["FeatureObjectives", "class_confusion_loss", "build_feature_objectives"]


def class_confusion_loss(features: Tensor, classifier_weight: Tensor) -> Tensor:
    """Cross-entropy toward the uniform distribution over identities. The classifier weight
    is detached: only the features (D_ci and the backbone) learn to confuse it."""
    log_probs = F.log_softmax(F.linear(features, classifier_weight.detach()).float(), dim=1)
    return -log_probs.mean(dim=1).mean()


def _classifier(feat_dim: int, num_classes: int) -> nn.Linear:
    layer = nn.Linear(feat_dim, num_classes, bias=False)
    nn.init.normal_(layer.weight, std=0.01)
    return layer


class FeatureObjectives(nn.Module):
    """Losses on f (pooled backbone feature) and f_di (domain-invariant branch); a part that
    is None is switched off and costs nothing."""

    def __init__(self, *, ds: Disentangler | None, ds_classifier: nn.Linear | None, ci: Disentangler | None,
                 ci_classifier: nn.Linear | None, domain: DomainDiscriminator | None,
                 mine_ds_ci: MINE | None, mine_di_ci: MINE | None, recon: nn.Linear | None,
                 ring: RingLoss | None, weights: dict[str, float], ce_epsilon: float, ce_alpha: float,
                 ds_domain: DomainDiscriminator | None = None, num_domains: int = 0,
                 ci_share: nn.Module | None = None, di_share: nn.Module | None = None) -> None:
        super().__init__()
        self.num_domains = num_domains  # labels the domain objectives accept: 0 .. num_domains - 1
        self.ds, self.ds_classifier = ds, ds_classifier
        self.ci, self.ci_classifier = ci, ci_classifier
        self.domain = domain
        self.ds_domain = ds_domain  # plain domain classifier on f_ds (no reversal)
        self.mine_ds_ci, self.mine_di_ci = mine_ds_ci, mine_di_ci
        self.recon = recon
        self.ring = ring
        self.ci_share, self.di_share = ci_share, di_share  # modeling.share, when their weight is set
        self.weights = weights
        self.ce_epsilon, self.ce_alpha = ce_epsilon, ce_alpha  # MODEL.LOSSES.CE, as the identity loss

    def forward(self, f: Tensor, f_di: Tensor, targets: Tensor, domains: Tensor | None) -> dict[str, Tensor]:
        w, eps, alpha = self.weights, self.ce_epsilon, self.ce_alpha
        losses = {}
        branches = self.branches(f)
        f_ds, f_ci = branches.get("f_ds"), branches.get("f_ci")
        if f_ds is not None:
            losses["loss_ds_cls"] = w["ds_cls"] * cross_entropy_loss(
                self.ds_classifier(f_ds).float(), targets, eps, alpha)
        if f_ci is not None:
            losses["loss_ci_cls"] = w["ci_cls"] * cross_entropy_loss(
                self.ci_classifier(f_ci.detach()).float(), targets, eps, alpha)
            losses["loss_ci_confusion"] = w["ci_confusion"] * class_confusion_loss(f_ci, self.ci_classifier.weight)
            if self.ci_share is not None:
                losses["loss_ci_identity_share"] = w["ci_share"] * self.ci_share(f_ci, targets)
        if self.di_share is not None:
            losses["loss_di_domain_share"] = w["di_share"] * self.di_share(f_di, self.checked_domains(domains))
        if self.domain is not None:
            losses["loss_domain"] = w["domain"] * self.domain_loss(self.domain, f_di, domains)
        if self.ds_domain is not None:
            losses["loss_ds_domain"] = w["ds_domain"] * self.domain_loss(self.ds_domain, f_ds, domains)
        if self.mine_di_ci is not None:
            pairs = [(self.mine_di_ci, f_di)] + ([(self.mine_ds_ci, f_ds)] if f_ds is not None else [])
            info = sum(mine(grad_reverse(a), grad_reverse(f_ci)) for mine, a in pairs)
            losses["loss_mine"] = -w["mine"] * info
        if self.recon is not None:
            target = f.detach().float()
            parts = [f_di] + ([f_ds] if f_ds is not None else [])
            losses["loss_recon"] = w["recon"] * sum(
                F.mse_loss(self.recon(torch.cat([p, f_ci], dim=1)).float(), target) for p in parts) / len(parts)
        if self.ring is not None:
            losses["loss_ring"] = w["ring"] * self.ring(f)
        return losses

    def branches(self, f: Tensor) -> dict[str, Tensor]:
        """The domain-specific and class-irrelevant features of f, those switched on."""
        parts = {"f_ds": self.ds, "f_ci": self.ci}
        return {name: module(f) for name, module in parts.items() if module is not None}

    def checked_domains(self, domains: Tensor | None) -> Tensor:
        """The batch's domain labels, checked against the discriminators' outputs: one host sync
        per step; a label past them would otherwise be a device-side assert on CUDA."""
        if domains is None:
            raise ValueError("the domain objectives need domain labels in the batch")
        outside = (domains < 0) | (domains >= self.num_domains)
        if outside.any():
            raise UserError(f"domain labels {sorted(set(domains[outside].tolist()))} are outside the "
                            f"{self.num_domains} domains: set MODEL.JIFD.DOMAIN.NUM_DOMAINS "
                            "to the number of training cameras (or sources)")
        return domains

    def domain_loss(self, classifier: DomainDiscriminator, features: Tensor, domains: Tensor | None) -> Tensor:
        return F.cross_entropy(classifier(features).float(), self.checked_domains(domains))


def _check_remedies(j) -> None:
    if j.CI.IDENTITY_SHARE_WEIGHT > 0 and j.CI.OUTPUT_AFFINE:
        raise UserError("MODEL.JIFD.CI.IDENTITY_SHARE_WEIGHT > 0 needs MODEL.JIFD.CI.OUTPUT_AFFINE False: with a "
                        "learned output scale, D_ci can meet the share by collapsing to a constant")
    if j.DS.DOMAIN_WEIGHT > 0 and not j.DS.ENABLED:
        raise UserError("MODEL.JIFD.DS.DOMAIN_WEIGHT classifies f_ds: set MODEL.JIFD.DS.ENABLED True or "
                        "MODEL.JIFD.DS.DOMAIN_WEIGHT 0")


def build_feature_objectives(cfg, num_domains: int) -> FeatureObjectives:
    """From MODEL.JIFD; switch combinations that cannot work fail with the key to change."""
    j = cfg.MODEL.JIFD
    feat_dim, hidden, classes = cfg.MODEL.BACKBONE.FEAT_DIM, j.DISENTANGLER_HIDDEN_DIM, cfg.MODEL.HEADS.NUM_CLASSES
    if (j.DS.ENABLED or j.CI.ENABLED) and classes < 1:
        raise UserError("MODEL.JIFD.DS/CI need the identity count: MODEL.HEADS.NUM_CLASSES must be set (the "
                        "trainer sets it from the data, --eval-only from the checkpoint)")
    for part in ("MINE", "RECON"):
        if j[part].ENABLED and not j.CI.ENABLED:
            raise UserError(f"MODEL.JIFD.{part} works on the class-irrelevant feature: set "
                            f"MODEL.JIFD.CI.ENABLED True or MODEL.JIFD.{part}.ENABLED False")
    _check_remedies(j)
    ds, ci = j.DS.ENABLED, j.CI.ENABLED
    mine = j.MINE.ENABLED
    d = j.DOMAIN
    return FeatureObjectives(
        ds=Disentangler(feat_dim, hidden) if ds else None,
        ds_classifier=_classifier(feat_dim, classes) if ds else None,
        ci=Disentangler(feat_dim, hidden, output_affine=j.CI.OUTPUT_AFFINE) if ci else None,
        ci_classifier=_classifier(feat_dim, classes) if ci else None,
        domain=DomainDiscriminator(feat_dim, num_domains, d.HIDDEN_DIM, d.NEG_SLOPE, d.GRL_COEFF,
                                   schedule=d.GRL_SCHEDULE) if d.ENABLED else None,
        ds_domain=DomainDiscriminator(feat_dim, num_domains, d.HIDDEN_DIM, d.NEG_SLOPE,
                                      reverse=False) if ds and j.DS.DOMAIN_WEIGHT > 0 else None,
        mine_ds_ci=MINE(feat_dim, feat_dim, j.MINE.HIDDEN_DIM) if mine and ds else None,
        mine_di_ci=MINE(feat_dim, feat_dim, j.MINE.HIDDEN_DIM) if mine else None,
        recon=nn.Linear(2 * feat_dim, feat_dim) if j.RECON.ENABLED else None,
        ring=RingLoss(j.RING.RADIUS, j.RING.FORM) if j.RING.ENABLED else None,
        ci_share=build_share(j.CI.IDENTITY_SHARE_FORM, feat_dim, classes)
        if ci and j.CI.IDENTITY_SHARE_WEIGHT > 0 else None,
        di_share=build_share(j.DI.DOMAIN_SHARE_FORM, feat_dim, num_domains) if j.DI.DOMAIN_SHARE_WEIGHT > 0 else None,
        weights={"ds_cls": j.DS.CLS_WEIGHT, "ds_domain": j.DS.DOMAIN_WEIGHT, "ci_cls": j.CI.CLS_WEIGHT,
                 "ci_confusion": j.CI.CONFUSION_WEIGHT, "ci_share": j.CI.IDENTITY_SHARE_WEIGHT,
                 "di_share": j.DI.DOMAIN_SHARE_WEIGHT, "domain": j.DOMAIN.WEIGHT, "mine": j.MINE.WEIGHT, "recon": j.RECON.WEIGHT, "ring": j.RING.WEIGHT},
        ce_epsilon=cfg.MODEL.LOSSES.CE.EPSILON,
        ce_alpha=cfg.MODEL.LOSSES.CE.ALPHA,
        num_domains=num_domains,
    )
