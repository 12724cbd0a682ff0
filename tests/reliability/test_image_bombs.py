"""A decompression bomb (a header claiming more pixels than PIL's limit) is one line naming the
file, its pixel count and the limit, from the one image reader: in training and the tools, and
in tools/check_dataset.py, which lists it with the other bad files instead of aborting."""
import struct
import zlib

import pytest
from PIL import Image

from vreid.data.image_io import read_rgb, upright_size
from vreid.errors import UserError

FIX = "replace or remove it (python tools/check_dataset.py lists every bad file at once)"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb(path, width: int, height: int) -> str:
    """A 45-byte PNG whose header claims width x height RGB pixels and that holds none."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IEND", b""))
    return str(path)


def limit_line(path: str, pixels: int, limit: int, origin: str = "") -> str:
    return (f"cannot read image {path}{origin}: {pixels} pixels, over PIL's limit of {limit} against decompression "
            f"bombs (PIL.Image.MAX_IMAGE_PIXELS); {FIX}")


@pytest.mark.parametrize("side, limit", [(30_000, 2 * Image.MAX_IMAGE_PIXELS),  # PIL raises
                                         (10_000, Image.MAX_IMAGE_PIXELS)])  # PIL only warns
def test_a_bomb_is_one_line_with_pixels_and_limit(tmp_path, side, limit):
    path = bomb(tmp_path / "huge.png", side, side)
    for read in (lambda: read_rgb(path, origin="train.txt:3"), lambda: upright_size(path, "train.txt:3")):
        with pytest.raises(UserError) as info:
            read()
        assert str(info.value) == limit_line(path, side * side, limit, " (listed at train.txt:3)")


def test_check_dataset_lists_a_bomb_with_the_other_bad_files(tool, tmp_path, capsys):
    Image.new("RGB", (8, 8)).save(tmp_path / "good.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    huge = bomb(tmp_path / "huge.png", 30_000, 30_000)
    assert tool("check_dataset", "--folder", tmp_path, "--workers", 1, "--no-progress") == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"cannot read image {tmp_path / 'empty.jpg'}: cannot identify image file; replace or remove it",
                   limit_line(huge, 900_000_000, 2 * Image.MAX_IMAGE_PIXELS).split(" (python tools/")[0],
                   "1 of 3 images read; 2 bad: fix or remove them"]
