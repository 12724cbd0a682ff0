"""The release's input pipeline and loss normalisation as config switches: the resize filter
(INPUT.INTERPOLATION), the random-erasing form (INPUT.REA.FORM), the CE normalisation
(MODEL.LOSSES.CE.NORM), and the epoch length of the paired sampler. The core defaults keep
fast-reid's behaviour; configs/Base-DNDM.yml sets the release's."""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image
from torchvision.transforms import InterpolationMode

import dnreid  # noqa: F401  (registers the DN datasets and the paired sampler)
from fastreid.data.transforms import build_transforms as fastreid_transforms
from vreid.config import get_cfg, load_config
from vreid.data import build_train_loader
from vreid.data.transforms import AreaRandomErasing, build_transforms
from vreid.errors import UserError
from vreid.modeling.reid_losses import ReidLossSettings, reid_losses

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def _steps(pipeline: T.Compose) -> list:
    return list(pipeline.transforms)


def _erase_boxes(eraser, draws: int, size: int = 64) -> list[tuple[int, int]]:
    """(height, width) of the rectangle each draw erased from a zero image (filled with 1)."""
    boxes = []
    for _ in range(draws):
        out = eraser(torch.zeros(3, size, size))
        rows, cols = out[0].any(dim=1), out[0].any(dim=0)
        boxes.append((int(rows.sum()), int(cols.sum())))
    return boxes


@pytest.mark.parametrize("is_train", [True, False])
def test_core_defaults_are_fastreids_pipeline(is_train):
    cfg = get_cfg()
    cfg.INPUT.REA.ENABLED = True
    ours, theirs = _steps(build_transforms(cfg, is_train)), _steps(fastreid_transforms(cfg, is_train))
    assert [type(s) for s in ours] == [type(s) for s in theirs]
    assert [repr(s) for s in ours] == [repr(s) for s in theirs]


@pytest.mark.parametrize("is_train", [True, False])
def test_base_dndm_uses_the_release_filter_and_erasing(is_train):
    cfg = load_config(str(CONFIGS / "dnwild" / "dndm.yml"))
    steps = _steps(build_transforms(cfg, is_train))
    resize = [s for s in steps if isinstance(s, T.Resize)]
    assert resize and all(s.interpolation == InterpolationMode.LANCZOS for s in resize)
    erasers = [s for s in steps if isinstance(s, (T.RandomErasing, AreaRandomErasing))]
    if is_train:
        assert len(erasers) == 1 and isinstance(erasers[0], AreaRandomErasing)
        assert erasers[0].p == cfg.INPUT.REA.PROB
        assert erasers[0].value.flatten().tolist() == pytest.approx(list(cfg.INPUT.REA.VALUE))
    else:
        assert not erasers


def test_lanczos_resize_is_what_the_pipeline_applies():
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (53, 37, 3), dtype=np.uint8))
    cfg = get_cfg()
    cfg.INPUT.SIZE_TEST = [24, 20]
    cfg.INPUT.INTERPOLATION = "lanczos"
    lanczos = build_transforms(cfg, is_train=False)(image)
    cfg.INPUT.INTERPOLATION = "bicubic"
    bicubic = build_transforms(cfg, is_train=False)(image)
    expected = np.asarray(image.resize((20, 24), Image.LANCZOS), dtype=np.float32).transpose(2, 0, 1)
    assert torch.equal(lanczos, torch.from_numpy(expected))
    assert not torch.equal(lanczos, bicubic)


def test_release_erasing_area_and_aspect_differ_from_torchvisions():
    torch.manual_seed(0)
    size, draws = 64, 500
    release = _erase_boxes(AreaRandomErasing(p=1.0, value=(1.0, 1.0, 1.0)), draws, size)
    torchvision = _erase_boxes(T.RandomErasing(p=1.0, value=1.0), draws, size)
    area = lambda boxes: np.array([h * w for h, w in boxes]) / size ** 2  # noqa: E731
    taller = lambda boxes: np.mean([h > w for h, w in boxes])  # noqa: E731
    assert all(h > 0 for h, _ in release)  # p = 1 always erases on a 64x64 image
    # Up to 40 % of the image (torchvision's stops at 33 %, up to rounding).
    assert area(release).max() > 0.36 and area(torchvision).max() < 0.36
    assert area(release).min() > 0.01
    # Aspect h/w uniform in [0.3, 3.33] is > 1 with probability 2.33 / 3.03 = 0.77;
    # torchvision's log-uniform one with probability 0.5.
    assert 0.70 < taller(release) < 0.84 and 0.40 < taller(torchvision) < 0.60


def test_release_erasing_probability_and_give_up():
    torch.manual_seed(1)
    erased = [h > 0 for h, _ in _erase_boxes(AreaRandomErasing(p=0.5, value=(1.0,) * 3), 400, 32)]
    assert 0.42 < np.mean(erased) < 0.58
    # 90-95 % of a 2x2 image needs h or w >= 2 at any aspect in [0.3, 3.33], which never fits
    # strictly inside: every try fails and the image comes back unchanged.
    image = torch.zeros(3, 2, 2)
    assert torch.equal(AreaRandomErasing(p=1.0, area=(0.9, 0.95), value=(1.0,) * 3)(image), image)


@pytest.mark.parametrize("key, value", [("INPUT.REA.FORM", "zhong"), ("INPUT.INTERPOLATION", "cubic")])
def test_unknown_forms_are_one_line_naming_the_key(key, value):
    cfg = get_cfg()
    cfg.merge_from_list([key, value])
    with pytest.raises(UserError, match=key.replace(".", r"\.")):
        build_transforms(cfg, is_train=True)


def _ce_settings(norm: str, epsilon: float = 0.0) -> ReidLossSettings:
    cfg = get_cfg()
    cfg.MODEL.LOSSES.NAME = ("CrossEntropyLoss",)
    cfg.MODEL.LOSSES.CE.EPSILON, cfg.MODEL.LOSSES.CE.NORM = epsilon, norm
    return ReidLossSettings.from_config(cfg, "test")


def _ce(logits, targets, norm: str, epsilon: float = 0.0):
    outputs = {"cls_outputs": logits, "pred_class_logits": logits}
    return reid_losses(outputs, targets, _ce_settings(norm, epsilon))["loss_cls"]


def test_ce_batch_norm_is_the_batch_mean():
    gen = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(8, 5, generator=gen), torch.randint(0, 5, (8,), generator=gen)
    assert torch.allclose(_ce(logits, targets, "batch"), F.cross_entropy(logits, targets), atol=1e-7)
    smoothed = F.cross_entropy(logits, targets, label_smoothing=0.1 * 5 / 4)  # eps spread over the others
    assert torch.allclose(_ce(logits, targets, "batch", 0.1), smoothed, atol=1e-6)
    # No sample's loss is 0: fast-reid's normalisation agrees.
    assert torch.allclose(_ce(logits, targets, "nonzero"), _ce(logits, targets, "batch"), atol=1e-7)
    assert torch.allclose(_ce(logits, targets, "nonzero", 0.1), _ce(logits, targets, "batch", 0.1), atol=1e-6)


def test_ce_norms_differ_once_a_samples_loss_is_zero():
    logits = torch.tensor([[200.0, 0.0, 0.0], [0.5, 0.2, -0.1], [0.0, 1.0, 0.3], [0.1, 0.1, 0.9]])
    targets = torch.tensor([0, 1, 2, 0])
    per_sample = F.cross_entropy(logits, targets, reduction="none")
    assert per_sample[0] == 0  # log-softmax of a 200-logit margin rounds to exactly 0
    assert torch.allclose(_ce(logits, targets, "batch"), per_sample.sum() / 4)
    assert torch.allclose(_ce(logits, targets, "nonzero"), per_sample.sum() / 3)


def test_ce_norm_errors():
    with pytest.raises(UserError, match=r"MODEL\.LOSSES\.CE\.NORM"):
        _ce_settings("mean")
    with pytest.raises(UserError, match=r"EPSILON"):
        _ce_settings("batch", epsilon=-1.0)


def test_dndm_configs_use_the_release_ce_and_others_keep_fastreids():
    assert load_config(str(CONFIGS / "dnwild" / "dndm.yml")).MODEL.LOSSES.CE.NORM == "batch"
    assert load_config(str(CONFIGS / "dnwild" / "bot.yml")).MODEL.LOSSES.CE.NORM == "nonzero"
    assert load_config(str(CONFIGS / "dnwild" / "bot.yml")).INPUT.REA.FORM == "fastreid"


def test_paired_epoch_is_the_larger_domain_over_half_the_batch(data_root, small_dndm_cfg, tmp_path):
    """The release's epoch: N // (B / 2) iterations (N // 32 at B = 64), N the larger domain's
    image count; no extra iteration."""
    cfg = small_dndm_cfg(str(tmp_path))
    loader = build_train_loader(cfg)
    domains = [r[3]["domains"] for r in loader.dataset.img_items]
    n = max(domains.count(0), domains.count(1))
    assert loader.iters_per_epoch == n // (cfg.SOLVER.IMS_PER_BATCH // 2)


def test_a_training_batch_with_the_release_forms(data_root, small_dndm_cfg, tmp_path):
    """The train loader under Base-DNDM's release filter and erasing yields a normal batch."""
    cfg = small_dndm_cfg(str(tmp_path), **{"INPUT.INTERPOLATION": "lanczos", "INPUT.REA.FORM": "release",
                                            "INPUT.REA.PROB": 1.0})
    batch = next(iter(build_train_loader(cfg)))
    images = batch["images"]
    assert images.shape == (cfg.SOLVER.IMS_PER_BATCH, 3, 64, 64)
    # Every image has an erased block filled with the pixel mean.
    mean = torch.tensor(cfg.INPUT.REA.VALUE).view(1, 3, 1, 1)
    filled = (images == mean).all(dim=1).flatten(1).sum(dim=1)
    assert bool((filled >= 0.02 * 64 * 64 * 0.5).all())
