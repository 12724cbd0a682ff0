"""Day or night from the crop (``--domain auto``, ``TEST.AUTO_LABELS``, the tracker graph): the
rule separates the synthetic set's day and night crops, glare included, and a model wrapped in
AutoLabels reads the rule's decision, not the batch's label."""
from pathlib import Path

import pytest
import torch
from PIL import Image

import dnreid  # noqa: F401  (registers DNDM and its config keys)
from dnreid.domains import DOMAIN, guess_domain
from fastreid.data.transforms import build_transforms
from vreid.errors import UserError
from vreid.modeling.auto_labels import AutoLabels
from vreid.projects import BatchKey

from .test_dndm import build, make_cfg


def _test_view(paths: list[Path], cfg) -> torch.Tensor:
    transform = build_transforms(cfg, is_train=False)
    return torch.stack([transform(Image.open(p).convert("RGB")) for p in paths]).float()


def test_the_rule_tells_the_synthetic_sets_day_from_night(data_root):
    cfg = make_cfg("INPUT.SIZE_TEST", [64, 64])
    root = Path(data_root) / "synthetic" / "dn"
    for domain, value in (("day", 0), ("night", 1)):
        images = _test_view(sorted((root / domain).rglob("*.jpg"))[:200], cfg)
        accuracy = (guess_domain(images, cfg) == value).float().mean().item()
        print(f"{domain}: {accuracy:.1%} of {len(images)} crops")
        assert accuracy >= 0.95


def test_glare_does_not_make_a_night_crop_day():
    cfg = make_cfg()
    night = torch.full((1, 3, 64, 64), 20.0)
    night[:, :, 16:32, 8:56] = 255.0  # headlights over a fifth of the crop: the mean is that of a dim day
    day = torch.full((1, 3, 64, 64), 120.0)
    assert guess_domain(torch.cat([night, day]), cfg).tolist() == [1, 0]
    assert night.mean() > 60


def test_auto_labels_replace_the_batchs_domains_with_the_rules():
    model = build().eval()
    images = torch.rand(4, 3, 64, 64) * 255
    for share, decided in ((0.0, 0), (1.01, 1)):  # every crop lit enough / none
        cfg = make_cfg("MODEL.DNDM.AUTO_DOMAIN.LIT_SHARE", share)
        wrapped = AutoLabels(model, {"domains": DOMAIN}, cfg)
        with torch.no_grad():
            got = wrapped({"images": images, "domains": torch.tensor([1 - decided] * 4)})
            expected = model({"images": images, "domains": torch.tensor([decided] * 4)})
        torch.testing.assert_close(got, expected)


def test_a_key_without_a_rule_cannot_be_decided():
    with pytest.raises(UserError, match=r"DNDM reads \['domains'\], which no rule decides"):
        AutoLabels(build(), {"domains": BatchKey("domains", labels=("day", "night"))}, make_cfg())
