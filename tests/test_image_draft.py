"""Draft decoding: a JPEG decodes at a reduced DCT scale that still covers the first resize,
upright, and the resized result stays close to a full decode."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vreid.config import get_cfg
from vreid.data.build import draft_size
from vreid.data.image_io import ORIENTATION_TAG, read_rgb


def photo(path, size, orientation: int = 1, fmt: str = "JPEG") -> str:
    """A noisy gradient, like a sensor's picture, with an EXIF orientation."""
    width, height = size
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], axis=-1)
    pixels = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    Image.fromarray(pixels).save(path, fmt, exif=exif.tobytes(), **({"quality": 92} if fmt == "JPEG" else {}))
    return str(path)


def test_draft_decodes_at_the_largest_scale_that_still_covers(tmp_path):
    path = photo(tmp_path / "a.jpg", (1000, 800))
    assert read_rgb(path).size == (1000, 800)
    assert read_rgb(path, draft=(128, 128)).size == (250, 200)  # 1/4: 1/8 would be 125 x 100
    assert read_rgb(path, draft=(600, 600)).size == (1000, 800)  # no scale covers 600 x 600


def test_draft_size_is_upright_under_exif_rotation(tmp_path):
    # Stored 1600 x 800, shown turned by 90 degrees: 800 x 1600. Asking the stored image for
    # 400 x 200 would decode at 1/4 (400 x 200 stored, 200 x 400 upright: too narrow).
    path = photo(tmp_path / "turned.jpg", (1600, 800), orientation=6)
    image = read_rgb(path, draft=(400, 200))
    assert image.size == (400, 800)


def test_other_formats_decode_in_full(tmp_path):
    path = photo(tmp_path / "a.png", (1000, 800), fmt="PNG")
    assert read_rgb(path, draft=(128, 128)).size == (1000, 800)


def test_resized_draft_is_close_to_the_resized_full_decode(tmp_path):
    path = photo(tmp_path / "a.jpg", (2160, 1800))
    full, draft = (np.asarray(read_rgb(path, draft=d).resize((256, 256), Image.BICUBIC), np.float32)
                   for d in (None, (256, 256)))
    assert read_rgb(path, draft=(256, 256)).size == (540, 450)
    difference = np.abs(full - draft)
    assert 0 < difference.mean() < 2.0


@pytest.mark.parametrize("size, enabled, expected", [
    ([256, 128], True, (128, 256)), ([320], True, (320, 320)), ([0], True, None), ([256, 256], False, None)])
def test_draft_size_follows_the_first_resize(size, enabled, expected):
    cfg = get_cfg(projects=())
    cfg.INPUT.SIZE_TRAIN = size
    cfg.INPUT.DRAFT_DECODE = enabled
    assert draft_size(cfg, is_train=True) == expected
