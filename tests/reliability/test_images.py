"""Every PIL mode a camera dump may hold reads as upright 8-bit RGB; a broken file is one
line naming it, also when it fails inside a loader worker."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from vreid.data.image_io import TRANSPARENT_FILL, read_rgb
from vreid.errors import UserError, one_line


def _save(path, image, **kwargs):
    image.save(path, **kwargs)
    return str(path)


def test_colour_modes_become_rgb(tmp_path):
    red = Image.new("RGB", (6, 4), (200, 10, 10))
    cases = {
        "rgba.png": red.convert("RGBA"),
        "la.png": Image.new("LA", (6, 4), (90, 255)),
        "palette.png": red.convert("P"),
        "cmyk.jpg": red.convert("CMYK"),
        "grey.png": Image.new("L", (6, 4), 90),
        "bilevel.png": Image.new("1", (6, 4), 1),
    }
    for name, image in cases.items():
        out = read_rgb(_save(tmp_path / name, image))
        assert out.mode == "RGB" and out.size == (6, 4), name
    assert np.asarray(read_rgb(str(tmp_path / "rgba.png")))[0, 0].tolist() == [200, 10, 10]
    assert np.asarray(read_rgb(str(tmp_path / "la.png")))[0, 0].tolist() == [90, 90, 90]
    cmyk = np.asarray(read_rgb(str(tmp_path / "cmyk.jpg"))).astype(int)[0, 0]
    assert cmyk[0] > 150 and cmyk[1] < 60 and cmyk[2] < 60  # still red, not inverted


def test_transparency_is_laid_over_the_pixel_mean(tmp_path):
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red
    out = read_rgb(_save(tmp_path / "clear.png", image))
    assert np.asarray(out)[0, 0].tolist() == list(TRANSPARENT_FILL)
    palette = Image.new("P", (4, 4), 0)
    palette.info["transparency"] = 0
    assert np.asarray(read_rgb(_save(tmp_path / "clear_p.png", palette, transparency=0)))[0, 0].tolist() \
        == list(TRANSPARENT_FILL)


def test_16_bit_grey_is_rescaled_not_clipped(tmp_path):
    values = np.array([[0, 4096, 32768, 65535]], dtype=np.uint16)
    out = np.asarray(read_rgb(_save(tmp_path / "wide.png", Image.fromarray(values))))
    assert out[0, :, 0].tolist() == [0, 16, 128, 255]


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (8, 2), (0, 0, 0))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = _save(tmp_path / "rotated.jpg", image, exif=exif)
    assert read_rgb(path).size == (2, 8)


def _broken_files(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, format="JPEG")
    (tmp_path / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image\n")
    return [str(tmp_path / n) for n in ("truncated.jpg", "empty.jpg", "text.jpg", "missing.jpg")]


def test_broken_files_are_one_line_naming_the_file_and_its_list_line(tmp_path):
    for path in _broken_files(tmp_path):
        with pytest.raises(UserError) as info:
            read_rgb(path, origin="train_list_day.txt:7")
        message = str(info.value)
        assert "\n" not in message and path in message and "train_list_day.txt:7" in message, message


class _Reads(torch.utils.data.Dataset):
    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return torch.from_numpy(np.asarray(read_rgb(self.paths[index])).copy())


def test_a_worker_failure_keeps_its_one_line(tmp_path):
    path = _broken_files(tmp_path)[1]
    loader = torch.utils.data.DataLoader(_Reads([path]), num_workers=1)
    with pytest.raises(UserError) as info:
        next(iter(loader))
    assert "Traceback" in str(info.value)  # how torch re-raises a worker's exception
    line = one_line(info.value)
    assert line.startswith(f"cannot read image {path}") and "\n" not in line
