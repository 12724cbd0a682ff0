"""Image uploads decoded with the limits a public endpoint needs, before any model sees them.

The toolkit's reader (``vreid.data.image_io``) names files on disk; an upload has no path, only
the name its client gave, which is quoted but never opened. The header is read first, so an
image claiming more pixels than ``max_pixels`` (a decompression bomb: a few KiB of PNG that
inflate to gigabytes) is refused before a pixel is decoded; then the whole image is decoded, so
a truncated or foreign file is refused here and not inside a batch of other clients' crops.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from vreid.data.image_io import to_rgb
from vreid.serve.errors import RequestError, bad_request, shown, too_large

# The formats the tools read (vreid.data.image_io.IMAGE_EXTENSIONS), by PIL's name, with the
# extension a stored crop gets.
FORMATS = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp", "WEBP": ".webp", "TIFF": ".tif"}
DEFAULT_MAX_PIXELS = 25_000_000  # a 4K frame is 8.3 M; a crop is far less
_BOMB = re.compile(r"\((\d+) pixels\) exceeds limit of (\d+) pixels")


@dataclass(frozen=True)
class Upload:
    name: str  # as the client named it, for messages and the row's "name"
    data: bytes  # the file as sent: what the gallery stores and serves back
    image: Image.Image  # upright 8-bit RGB
    extension: str


def decode_upload(data: bytes, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Upload:
    """``data`` as an upright RGB image, or a RequestError in one line naming ``name``."""
    what = f"upload {shown(name)}"
    if not data:
        raise bad_request(f"{what} is empty: send the image file's bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_header(image, what, max_pixels)
            image.load()
            return Upload(name, data, to_rgb(ImageOps.exif_transpose(image)), FORMATS[image.format])
    except RequestError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        claim = _BOMB.search(str(e))
        pixels = f"{claim[1]} pixels, over PIL's limit of {claim[2]}" if claim else "more pixels than PIL's limit"
        raise too_large(f"{what} claims {pixels} against decompression bombs") from None
    except UnidentifiedImageError:
        raise bad_request(f"{what} is not an image: no format PIL reads; send {', '.join(FORMATS)}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise bad_request(f"{what} cannot be decoded ({reason[:120]}): truncated or damaged?") from None


def _check_header(image: Image.Image, what: str, max_pixels: int) -> None:
    if image.format not in FORMATS:
        raise bad_request(f"{what} is {image.format or 'an unknown format'}; send {', '.join(FORMATS)}")
    width, height = image.size
    if width * height > max_pixels:
        raise too_large(f"{what} claims {width}x{height} = {width * height} pixels, over the limit of {max_pixels} "
                        "(--max-pixels): a decompression bomb, or a frame where a crop was expected")
    if width == 0 or height == 0:
        raise bad_request(f"{what} has no pixels ({width}x{height})")
