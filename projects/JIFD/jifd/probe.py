"""Disentanglement probe: does each JIFD branch hold what its name says?

The training losses cannot answer this: the class-confusion loss sits at log C both when f_ci
carries no identity and when f_ci hides identity where its one classifier does not look (or is
simply zero). A probe can. The trained model is frozen; a fresh multinomial logistic regression
is fitted on part of the training sources' images and scored on the rest:

- identity from f_ci should fall toward chance (class-irrelevant),
- domain from f_di should fall toward chance (domain-invariant),
- domain from f_ds should stay high (domain-specific),
- identity from f_di should stay high (the test embedding),

beside the mean norm of each branch (a branch that wins its loss by shrinking shows here) and
G's reconstruction MSE and ||x - G(x)|| / ||x|| (how much of the image the ReID network sees).
The chance level is the share of the most frequent label among the held-out images.

Two splits. By image within each identity: an identity probe scores identities it was fitted on.
By identity (the ``_new_ids`` probes): the probe is fitted on some identities and scored on the
others. A domain probe needs the second wherever each identity lives in one domain, as with
source datasets: a feature that tells 320 identities apart lets a linear probe learn which
identity belongs to which source (any labelling of 320 points in 512 dimensions is linearly
separable), so a within-identity split reads the domain through identity even from a feature
with no domain look at all. Scored on new identities, the probe must find a direction that
tells the domains apart across identities: the domain look itself. The image-level probes ask
the same of the pixels, average-pooled to PIXEL_POOL x PIXEL_POOL: from x, and from x - G(x),
which should hold less of the domain than x when G takes the domain look out.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.nn.functional as F
from tabulate import tabulate
from torch import Tensor, nn
from torch.utils.data import DataLoader, Subset

from fastreid.config import configurable
from vreid.data.transforms import build_transforms
from fastreid.evaluation.evaluator import inference_context

from vreid.data import build_train_set
from vreid.errors import UserError

__all__ = ["DisentanglementProbe", "ProbeFit", "held_out_split", "held_out_identities", "probe_accuracy",
           "PROBES", "PIXEL_POOL"]

logger = logging.getLogger(__name__)

# probe name -> (branch, label, split): what each branch should and should not hold; the split
# holds out a share of each identity's images ("images") or a share of the identities ("identities").
PROBES = {"ci_identity": ("f_ci", "identity", "images"), "di_domain": ("f_di", "domain", "images"),
          "ds_domain": ("f_ds", "domain", "images"), "di_identity": ("f_di", "identity", "images"),
          "di_domain_new_ids": ("f_di", "domain", "identities"), "ds_domain_new_ids": ("f_ds", "domain", "identities"),
          "x_domain_new_ids": ("x_pixels", "domain", "identities"),
          "residual_domain_new_ids": ("residual_pixels", "domain", "identities")}
BRANCHES = ("f", "f_di", "f_ds", "f_ci")
PIXEL_POOL = 8  # side of the pooled images the image-level probes read
IMAGE_STATS = ("vae_rec_mse", "vae_residual_ratio")


@dataclass(frozen=True)
class ProbeFit:
    """Full-batch Adam on a linear softmax classifier over standardised features."""

    steps: int  # MODEL.JIFD.PROBE.STEPS
    lr: float  # MODEL.JIFD.PROBE.LR
    weight_decay: float  # MODEL.JIFD.PROBE.WEIGHT_DECAY, an L2 penalty on the weight


def held_out_split(labels: Tensor, fraction: float, seed: int) -> Tensor:
    """A boolean mask of the scored samples: a seeded ``fraction`` of each label's samples,
    rounded, while every label with two or more samples keeps at least one to fit on."""
    gen = torch.Generator().manual_seed(seed)
    held = torch.zeros(len(labels), dtype=torch.bool)
    for label in labels.unique():
        index = (labels == label).nonzero().squeeze(1)
        count = min(round(fraction * len(index)), len(index) - 1)
        held[index[torch.randperm(len(index), generator=gen)[:count]]] = True
    return held


def held_out_identities(identities: Tensor, fraction: float, seed: int) -> Tensor:
    """A boolean mask of the scored samples: every image of a seeded ``fraction`` of the
    identities, rounded, leaving at least one identity to fit on."""
    ids = identities.unique()
    count = min(max(round(fraction * len(ids)), 1), len(ids) - 1)
    chosen = ids[torch.randperm(len(ids), generator=torch.Generator().manual_seed(seed))[:count]]
    return torch.isin(identities, chosen)


def probe_accuracy(features: Tensor, labels: Tensor, held: Tensor, fit: ProbeFit) -> tuple[float, float]:
    """(accuracy %, chance %) on the ``held`` samples of a linear classifier fitted on the others.

    Features are standardised with the fitted samples' statistics, and the classifier starts at
    zero, so the result is deterministic and independent of the feature scale."""
    x, y = features.float(), labels.long()
    if held.all() or not held.any():
        raise ValueError("the probe needs samples to fit on and samples to score")
    classes, y = y.unique(return_inverse=True)
    mean, std = x[~held].mean(0), x[~held].std(0)
    x = (x - mean) / std.masked_fill(std == 0, 1.0)
    weight = torch.zeros(x.shape[1], len(classes), requires_grad=True)
    bias = torch.zeros(len(classes), requires_grad=True)
    opt = torch.optim.Adam([weight, bias], lr=fit.lr)
    with torch.enable_grad():
        for _ in range(fit.steps):
            loss = F.cross_entropy(x[~held] @ weight + bias, y[~held]) + fit.weight_decay * weight.pow(2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        correct = ((x[held] @ weight + bias).argmax(1) == y[held]).float().mean().item()
    chance = y[held].bincount().max().item() / int(held.sum())
    return 100.0 * correct, 100.0 * chance


def _probe_loader(cfg) -> DataLoader:
    """The training sources' images under the test transforms; MAX_IDENTITIES > 0 keeps a seeded
    subset of identities (a probe on a full real source would cost a long extraction)."""
    dataset = build_train_set(cfg)
    dataset.transform = build_transforms(cfg, is_train=False)
    p = cfg.MODEL.JIFD.PROBE
    indices = list(range(len(dataset)))
    if 0 < p.MAX_IDENTITIES < dataset.num_classes:
        gen = torch.Generator().manual_seed(p.SEED)
        keep = set(torch.randperm(dataset.num_classes, generator=gen)[:p.MAX_IDENTITIES].tolist())
        indices = [i for i, r in enumerate(dataset.img_items) if dataset.pid_dict[r[1]] in keep]
    return DataLoader(Subset(dataset, indices), batch_size=cfg.TEST.IMS_PER_BATCH,
                      num_workers=cfg.DATALOADER.NUM_WORKERS)


def probe_domain_key(cfg) -> str:
    """The batch key of the probe's domain label: MODEL.JIFD.DOMAIN.LABEL's choice, so the probe
    asks about the domains the discriminator is trained on."""
    label = cfg.MODEL.JIFD.DOMAIN.LABEL
    return label if label != "auto" else ("sources" if len(cfg.DATASETS.NAMES) > 1 else "camids")


class DisentanglementProbe:
    """Called with a trained JIFD model, returns ``probe/...`` metrics: ``<probe>_acc`` and
    ``chance_<probe>_acc`` for each of PROBES whose branch is on, ``<branch>_norm`` for each
    branch, and G's ``vae_rec_mse`` and ``vae_residual_ratio`` when G is on."""

    @configurable
    def __init__(self, *, loader: Iterable[dict], domain_key: str, held_out: float, seed: int, fit: ProbeFit) -> None:
        if not 0.0 < held_out < 1.0:
            raise UserError(f"MODEL.JIFD.PROBE.HELD_OUT must be in (0, 1), got {held_out}")
        self.loader, self.domain_key = loader, domain_key
        self.held_out, self.seed, self.fit = held_out, seed, fit

    @classmethod
    def from_config(cls, cfg) -> dict:
        p = cfg.MODEL.JIFD.PROBE
        return {"loader": _probe_loader(cfg), "domain_key": probe_domain_key(cfg), "held_out": p.HELD_OUT,
                "seed": p.SEED, "fit": ProbeFit(p.STEPS, p.LR, p.WEIGHT_DECAY)}

    def __call__(self, model: nn.Module) -> dict[str, float]:
        values, labels = self.extract(model)
        held = {"images": held_out_split(labels["identity"], self.held_out, self.seed),
                "identities": held_out_identities(labels["identity"], self.held_out, self.seed)}
        metrics = {}
        for name, (branch, label, split) in PROBES.items():
            if branch in values:
                acc, chance = probe_accuracy(values[branch], labels[label], held[split], self.fit)
                metrics[f"probe/{name}_acc"], metrics[f"probe/chance_{name}_acc"] = acc, chance
        metrics.update({f"probe/{b}_norm": values[b].float().norm(dim=1).mean().item() for b in BRANCHES if b in values})
        metrics.update({f"probe/{s}": values[s].float().mean().item() for s in IMAGE_STATS if s in values})
        logger.info("Disentanglement probe:\n" + probe_table(metrics))
        return metrics

    @torch.no_grad()
    def extract(self, model: nn.Module) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Every branch's features and per-image statistics of the probe images, with their
        identity and domain labels, on the CPU."""
        values, labels = defaultdict(list), defaultdict(list)
        with inference_context(model):
            for batch in self.loader:
                if self.domain_key not in batch:
                    raise ValueError(f"the probe reads batch[{self.domain_key!r}], which the train set does not set")
                for key, value in model.probe_features(batch).items():
                    values[key].append(value.cpu())
                labels["identity"].append(batch["targets"])
                labels["domain"].append(batch[self.domain_key])
        return ({k: torch.cat(v) for k, v in values.items()}, {k: torch.cat(v) for k, v in labels.items()})


def probe_table(metrics: dict[str, float]) -> str:
    """The probe metrics as two small tables: accuracies beside chance, then norms and G."""
    rows = [[name, metrics[f"probe/{name}_acc"], metrics[f"probe/chance_{name}_acc"]]
            for name in PROBES if f"probe/{name}_acc" in metrics]
    stats = [[k.removeprefix("probe/"), v] for k, v in metrics.items()
             if k.endswith("_norm") or k.removeprefix("probe/") in IMAGE_STATS]
    return (tabulate(rows, headers=["probe", "accuracy %", "chance %"], floatfmt=".1f", tablefmt="github") + "\n\n"
            + tabulate(stats, headers=["statistic", "value"], floatfmt=".4g", tablefmt="github"))
