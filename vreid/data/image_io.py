"""One image reader for training, evaluation and the tools: any file PIL opens becomes an
upright 8-bit RGB image, and a file it cannot open is one line naming the path.

Real camera dumps hold every PIL mode: palette and transparent PNGs, CMYK JPEGs from photo
software, 16-bit grey from industrial cameras, EXIF-rotated phone crops. fast-reid's reader
keeps the mode it finds (the batch collation then fails on 4-channel or 2-D arrays) and turns
16-bit grey white by clipping. Truncated, empty or mislabelled files surface only when PIL
decodes lazily, inside a loader worker, as a traceback that may not name the file. A header
claiming more pixels than PIL's limit (``Image.MAX_IMAGE_PIXELS``: a decompression bomb, or a
corrupt size) is refused too, at the limit where PIL only warns as where it raises.
"""
from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vreid.errors import UserError

# Transparent pixels are laid over the ImageNet pixel mean, which normalises to 0: "no signal".
TRANSPARENT_FILL = (124, 116, 104)
ORIENTATION_TAG = 0x0112
# The file names the tools and the dataset copier take for images (the suffix, any case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_BOMB = re.compile(r"\((\d+) pixels\) exceeds limit of (\d+) pixels")
_BOMBS = (Image.DecompressionBombError, Image.DecompressionBombWarning)


def read_rgb(path: str, origin: str | None = None, draft: tuple[int, int] | None = None) -> Image.Image:
    """``path`` decoded, EXIF orientation applied, as RGB.

    With ``draft`` (width, height), a JPEG is decoded at the smallest DCT scale (1/2, 1/4, 1/8)
    whose image still covers that size, upright, in both sides: a transform that resizes to it
    next then starts from fewer pixels, and a 4K crop decodes several times faster (see
    ``tools/benchmark.py io`` for how much that changes the resized pixels). Other formats are
    decoded in full. A file that is missing, empty, truncated, not an image or a decompression
    bomb is a UserError naming ``path`` and ``origin``, the list ``file:line`` it came from.
    """
    with opened(path, origin) as image:
        if draft is not None and image.format == "JPEG":
            image.draft(None, _stored_size(image, draft))
        image.load()  # decode now: a truncated file fails here, not later in a transform
        return to_rgb(ImageOps.exif_transpose(image))


def upright_size(path: str, origin: str | None = None) -> tuple[int, int]:
    """(width, height) of ``path`` as displayed (EXIF orientation applied), from its header alone;
    the same refusals as :func:`read_rgb`."""
    with opened(path, origin) as image:
        return _stored_size(image, image.size)  # the turn that maps one way maps back


@contextmanager
def opened(path: str, origin: str | None = None) -> Iterator[Image.Image]:
    """``path`` opened by PIL; whatever goes wrong while it is open (a missing, truncated or
    foreign file, a decompression bomb) is one UserError naming it, and ``origin`` if given."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                yield image
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, *_BOMBS) as e:
        where = f" (listed at {origin})" if origin else ""
        raise UserError(f"cannot read image {path}{where}: {_reason(e, path)}; replace or remove it "
                        f"(python tools/check_dataset.py lists every bad file at once)") from None


def _reason(error: Exception, path: str) -> str:
    """PIL's reason without the path it repeats; for a bomb, the pixel count and the limit."""
    bomb = _BOMB.search(str(error)) if isinstance(error, _BOMBS) else None
    if bomb:
        return (f"{int(bomb[1])} pixels, over PIL's limit of {int(bomb[2])} against decompression bombs "
                "(PIL.Image.MAX_IMAGE_PIXELS)")
    return str(error).replace(str(path), "").strip(" :'\"") or type(error).__name__


def _stored_size(image: Image.Image, upright: tuple[int, int]) -> tuple[int, int]:
    """The size ``upright`` as the file stores it: EXIF orientations 5-8 turn the image by 90
    degrees, so the stored width becomes the upright height."""
    return upright[::-1] if image.getexif().get(ORIENTATION_TAG, 1) in (5, 6, 7, 8) else upright


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode: alpha composited over TRANSPARENT_FILL, 16/32-bit and
    float grey rescaled to 0-255 instead of clipped, CMYK/YCbCr/LAB/palette converted."""
    if image.mode == "RGB":
        return image
    if image.mode in _WIDE_MODES:
        return Image.fromarray(_to_uint8(np.asarray(image))).convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, TRANSPARENT_FILL + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Integer images by their type's range (16-bit: >> 8), float images by their own range."""
    if np.issubdtype(values.dtype, np.floating):
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) * 255 if high > low else np.zeros_like(values)
        return scaled.round().astype(np.uint8)
    top = 65535 if values.max(initial=0) <= 65535 else np.iinfo(values.dtype).max
    return (values.astype(np.float64) * (255 / top)).round().astype(np.uint8)
