"""Parity of the toolkit's DNDM with a literal, independent re-implementation of the release's
forward, in float64, with identical weights.

The reference below is written from the method's definition with plain tensor operations and
calls none of dnreid's modules: each stem is applied to its own domain's images (a batch per
domain in training, image by image at test), the glare mask is thresholded luma with a 3x3
opening done with explicit windows, NGS's attention is an explicit sum over channels, DSE's
filter is an explicit 5x5 neighbourhood sum, and CCA materialises what the release does: the
per-position embedding P_k x and the per-position classifier W applied to it (the class
activation maps of every class, (B, #ids, h, w)), the class picked by the spatial mean of those
maps, and in training the means of the picked maps over the K images of each identity, taken
from the other domain. Only the ResNet stages (fast-reid's residual blocks, not DNDM code) are
the toolkit's modules, run from a copy.

Every feature, logit, loss and parameter gradient must agree within 1e-8 (relative to the
tensor's largest magnitude when that exceeds 1). The mutants at the end show the comparison
catches a wrong exchange, wrong stem routing or a missing glare prior.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import dnreid  # noqa: F401  (registers DNDM and its config keys)
from fastreid.modeling.meta_arch import build_model
from vreid.config import get_cfg

P, K, NUM_IDS, SIZE = 2, 2, 5, 64
TOL = 1e-8
CONFIGS = Path(__file__).resolve().parents[3] / "configs"
LUMA = (0.299, 0.587, 0.114)


def _cfg():
    cfg = get_cfg()
    cfg.merge_from_file(str(CONFIGS / "Base-DNDM.yml"))  # the release's settings
    cfg.merge_from_list([
        "MODEL.DEVICE", "cpu", "MODEL.BACKBONE.DEPTH", "18x", "MODEL.BACKBONE.FEAT_DIM", 512,
        "MODEL.BACKBONE.PRETRAIN", False, "MODEL.HEADS.NUM_CLASSES", NUM_IDS,
        "DATALOADER.NUM_INSTANCE", K, "MODEL.DNDM.NGS.INIT", "pytorch",
    ])
    return cfg


def _batchnorms(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


@pytest.fixture(scope="module")
def models():
    """The toolkit's DNDM in float64 with weights large enough that every map matters (the
    release's N(0, 0.001) inits would make CCA's maps constant to 1e-5), a night stem that
    differs from the day stem, random BN statistics; and an identical copy for the reference."""
    torch.manual_seed(0)
    model = build_model(_cfg()).double()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for weight in [model.heads.weight, model.ngs.proj.weight, *(c.proj.weight for c in model.cca)]:
            weight.copy_(torch.randn(weight.shape, generator=gen, dtype=weight.dtype) * 0.05)
        for p in model.stems[1].parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.05)
        for bn in _batchnorms(model):
            bn.running_mean.copy_(torch.randn(bn.running_mean.shape, generator=gen, dtype=torch.float64) * 0.1)
            bn.running_var.copy_(torch.rand(bn.running_var.shape, generator=gen, dtype=torch.float64) + 0.5)
            bn.weight.copy_(torch.rand(bn.weight.shape, generator=gen, dtype=torch.float64) + 0.5)
    return model


def _batch(domains: list[int], seed: int = 0) -> dict:
    """Integer pixels (exact in float32, which the model casts the raw batch to); a saturated
    lamp in every image (NGS must see it on night images only) and a lone bright pixel the
    opening must drop."""
    gen = torch.Generator().manual_seed(seed)
    n = len(domains)
    images = torch.randint(0, 200, (n, 3, SIZE, SIZE), generator=gen).double()
    for i in range(n):
        top, left = 4 + 7 * i % 40, 6 + 11 * i % 40
        images[i, :, top:top + 9, left:left + 12] = 255.0
        images[i, :, 60, 3] = 255.0
    targets = torch.arange(P).repeat_interleave(K).repeat(2)
    return {"images": images, "targets": targets, "domains": torch.tensor(domains)}


PAIRED = [0] * (P * K) + [1] * (P * K)
MIXED = [1, 0, 0, 1, 0, 1, 1, 0]


# ---------------------------------------------------------------- the literal reference


@dataclass(frozen=True)
class Variant:
    """Deliberate departures, to show the comparison catches them."""

    exchange_other: bool = True  # CCA's training exchange uses the other domain's identity means
    swap_stems: bool = False
    night_prior: bool = True  # night images get their glare mask


def _stem(stem, x: Tensor, training: bool) -> Tensor:
    conv, bn = stem[0], stem[1]
    y = F.conv2d(x, conv.weight, stride=2, padding=3)  # ResNet's 7x7/2 conv1
    y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, training, bn.momentum, bn.eps)
    return F.max_pool2d(F.relu(y), kernel_size=3, stride=2, padding=1)


def _windows(x: Tensor, size: int, pad_value: float) -> Tensor:
    """(B, C, H, W) -> (B, C, H, W, size*size): each pixel's neighbourhood, outside = pad_value."""
    r = size // 2
    padded = F.pad(x, (r, r, r, r), value=pad_value)
    return padded.unfold(2, size, 1).unfold(3, size, 1).flatten(-2)


def _glare_prior(raw: Tensor, night: Tensor, variant: Variant) -> Tensor:
    luma = sum(w * raw[:, c:c + 1] for c, w in enumerate(LUMA))
    bright = (luma > 220.0).double()
    eroded = _windows(bright, 3, 0.0).min(dim=-1).values  # all 9 bright (outside is dark)
    opened = _windows(eroded, 3, 0.0).max(dim=-1).values  # any of 9 survives
    stem_res = F.max_pool2d(F.max_pool2d(opened, 3, 2, 1), 3, 2, 1)
    keep = night if variant.night_prior else torch.zeros_like(night)
    return stem_res * keep.view(-1, 1, 1, 1).double()


def _ngs(x: Tensor, prior: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    w = weight.view(-1)  # (C + 1,): channels, then the prior
    z = torch.einsum("c,bchw->bhw", w[:-1], x) + w[-1] * prior[:, 0]
    attention = torch.sigmoid(torch.relu(z)).unsqueeze(1)
    return x - 0.5 * attention * x, attention


def _dse(x: Tensor) -> Tensor:
    centre = x
    neighbours = _windows(x, 5, 0.0).sum(dim=-1) - centre  # the 24 off-centre taps
    response = neighbours - 24.0 * centre
    return 0.9 * x + 0.25 * torch.relu(response) / 24.0


def _cca(x: Tensor, proj: Tensor, classifier: Tensor, training: bool, variant: Variant) -> tuple[Tensor, Tensor]:
    embedding = torch.einsum("dc,bchw->bdhw", proj, x)  # P_k at every position
    class_maps = torch.einsum("nd,bdhw->bnhw", classifier, embedding)  # (B, #ids, h, w)
    chosen = class_maps.mean(dim=(2, 3)).argmax(dim=1)
    r = torch.sigmoid(torch.relu(torch.stack([class_maps[b, c] for b, c in enumerate(chosen.tolist())])))
    r = r.unsqueeze(1)  # (B, 1, h, w)
    if not training:
        return x + 0.1 * r * x, r
    half = P * K
    means = [r[d * half:(d + 1) * half].reshape(P, K, *r.shape[1:]).mean(dim=1) for d in (0, 1)]
    out = []
    for d in (0, 1):
        source = means[1 - d] if variant.exchange_other else means[d]
        mean_map = source.repeat_interleave(K, dim=0)
        xd, rd = x[d * half:(d + 1) * half], r[d * half:(d + 1) * half]
        out.append(xd + 0.05 * xd * mean_map + 0.05 * rd * xd)
    return torch.cat(out), r


def _triplet(features: Tensor, targets: Tensor, margin: float = 0.3) -> Tensor:
    sq = (features ** 2).sum(dim=1)
    dist = (sq[:, None] + sq[None, :] - 2 * features @ features.t()).clamp(min=1e-12).sqrt()
    same = targets[:, None] == targets[None, :]
    hardest_pos = torch.stack([dist[i][same[i]].max() for i in range(len(targets))])
    hardest_neg = torch.stack([dist[i][~same[i]].min() for i in range(len(targets))])
    return torch.relu(hardest_pos - hardest_neg + margin).mean()


def _glare_loss(attention: Tensor, night: Tensor) -> Tensor:
    s = torch.sigmoid(attention)
    day_term = -torch.log(1 - s[~night]).mean()
    night_term = -torch.log(s[night]).mean()
    return 0.5 * (day_term + night_term)


def release_forward(ref, batch: dict, training: bool, variant: Variant = Variant()) -> dict[str, Tensor]:
    ref.train(training)  # the ResNet stages' BN: batch statistics in training, running ones at test
    raw, domains = batch["images"], batch["domains"]
    night = domains == 1
    x = (raw - ref.pixel_mean) / ref.pixel_std
    stems = list(ref.stems)[::-1] if variant.swap_stems else list(ref.stems)
    if training:  # the paired batch: all day images, then all night images, one batch per stem
        assert domains.tolist() == sorted(domains.tolist())
        x = torch.cat([_stem(stems[0], x[~night], True), _stem(stems[1], x[night], True)])
    else:
        x = torch.cat([_stem(stems[d], x[i:i + 1], False) for i, d in enumerate(domains.tolist())])
    x, attention = _ngs(x, _glare_prior(raw, night, variant), ref.ngs.proj.weight)
    out = {"attention": attention}
    classifier = ref.heads.weight
    for k, stage in enumerate(ref.stages):
        x = _dse(stage(x))
        x, out[f"cca{k + 1}"] = _cca(x, ref.cca[k].proj.weight, classifier, training, variant)
    pooled = (x.pow(3).mean(dim=(2, 3)) + 1e-12).pow(1.0 / 3.0)  # GeM, p = 3
    bn = _batchnorms(ref.heads.bottleneck)[0]
    neck = F.batch_norm(pooled, bn.running_mean, bn.running_var, bn.weight, bn.bias, training, bn.momentum, bn.eps)
    out.update(pooled=pooled, neck=neck)
    if training:
        targets = batch["targets"]
        logits = neck @ classifier.t()
        out.update(logits=logits,
                   loss_cls=-F.log_softmax(logits, dim=1)[torch.arange(len(targets)), targets].mean(),
                   loss_triplet=_triplet(pooled, targets),
                   loss_glare=_glare_loss(attention, night))
    return out


# ---------------------------------------------------------------- the comparison


def _diff(a: Tensor, b: Tensor) -> float:
    """Max |a - b|, relative to max |b| when that exceeds 1."""
    assert a.shape == b.shape and a.dtype == b.dtype == torch.float64
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / max(1.0, float(b.abs().max())))


def _toolkit_train(model, batch) -> tuple[dict, dict]:
    captured = {}
    hook = model.heads.register_forward_hook(lambda module, args, output: captured.update(output))
    try:
        model.train()
        losses = model(batch)
    finally:
        hook.remove()
    return losses, captured


def _report(name: str, diffs: dict[str, float]) -> None:
    print(f"\n{name}: max differences " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))


def test_training_step_matches_the_release(models):
    model = models
    ref = copy.deepcopy(model)
    batch = _batch(PAIRED)
    model.zero_grad()
    losses, heads = _toolkit_train(model, batch)
    sum(losses.values()).backward()
    expected = release_forward(ref, batch, training=True)
    sum(expected[k] for k in losses).backward()

    diffs = {"f_pool": _diff(heads["features"], expected["pooled"]),
             "logits": _diff(heads["pred_class_logits"], expected["logits"])}
    diffs.update({k: _diff(losses[k], expected[k]) for k in ("loss_cls", "loss_triplet", "loss_glare")})
    grads = dict(ref.named_parameters())
    named = {"W": "heads.weight", "NGS proj": "ngs.proj.weight", "day stem": "stems.0.0.weight",
             "night stem": "stems.1.0.weight", **{f"P_{k + 1}": f"cca.{k}.proj.weight" for k in range(4)}}
    for label, name in named.items():
        diffs[f"grad {label}"] = _diff(dict(model.named_parameters())[name].grad, grads[name].grad)
    every = max(_diff(p.grad, grads[n].grad) for n, p in model.named_parameters() if p.grad is not None)
    diffs["grad (every parameter)"] = every
    _report("training (paired batch)", diffs)
    assert all(float(losses[k].detach()) > 1e-3 for k in losses)  # the comparison is not of zeros
    assert all(float(grads[n].grad.abs().max()) > 1e-6 for n in named.values())
    assert max(diffs.values()) <= TOL, diffs


def test_eval_embedding_and_maps_match_the_release(models):
    model = models
    ref = copy.deepcopy(model)
    batch = _batch(MIXED, seed=3)
    model.eval()
    with torch.no_grad():
        feat, maps = model(batch), model.forward_maps(batch)
        expected = release_forward(ref, batch, training=False)
    diffs = {"f_bn": _diff(feat, expected["neck"]), "NGS attention": _diff(maps["attention"], expected["attention"])}
    diffs.update({f"R_{k}": _diff(maps[f"cca{k}"], expected[f"cca{k}"]) for k in range(1, 5)})
    _report("eval (mixed domains)", diffs)
    # Not a comparison of constants: NGS's ReLU is open on some cells and closed on others, the
    # night images' prior marks the lamps, and every CCA map varies over the image.
    a = expected["attention"]
    assert (a > 0.5 + 1e-3).any() and (a == 0.5).any()
    assert _glare_prior(batch["images"], batch["domains"] == 1, Variant()).sum() > 0
    assert all(float(expected[f"cca{k}"].std()) > 1e-2 for k in range(1, 5))
    assert max(diffs.values()) <= TOL, diffs


@pytest.mark.parametrize("variant, training", [
    (Variant(exchange_other=False), True),
    (Variant(swap_stems=True), False),
    (Variant(night_prior=False), False),
])
def test_the_comparison_catches_a_departure(models, variant, training):
    model = models
    ref = copy.deepcopy(model)
    batch = _batch(PAIRED if training else MIXED, seed=5)
    with torch.no_grad():
        if training:
            got = _toolkit_train(model, batch)[1]["features"]
            wrong = release_forward(ref, batch, True, variant)["pooled"]
        else:
            model.eval()
            got, wrong = model(batch), release_forward(ref, batch, False, variant)["neck"]
    assert _diff(got, wrong) > 1e3 * TOL
