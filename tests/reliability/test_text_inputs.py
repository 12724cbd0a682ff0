"""Every list file is decoded one way (vreid.data.text): UTF-8 with or without a BOM, UTF-16
with a BOM, any line ends; anything else is one line naming the file, the line and the
encodings accepted. The tools' list files and the DN layout's lists read through it."""
import os
from pathlib import Path

import pytest
from PIL import Image

from vreid.data.text import read_lines
from vreid.deploy.images import read_inputs
from vreid.errors import UserError

LINES = ["0001/a.jpg", "", "0002/b.jpg"]
ACCEPTED = "save it as UTF-8 (with or without a BOM) or as UTF-16 with a BOM"
ENCODINGS = {"utf-8": b"", "utf-8-sig": b"", "utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_every_accepted_encoding_and_line_end_reads_the_same_lines(tmp_path, encoding, end):
    path = tmp_path / "list.txt"
    path.write_bytes(ENCODINGS[encoding] + end.join(LINES + [""]).encode(encoding))
    assert read_lines(str(path)) == LINES


@pytest.mark.parametrize("data, line, message", [
    (b"0001/a.jpg\n0002/\xe9t\xe9.jpg\n", 2, "byte 0xe9 cannot be decoded as UTF-8"),
    (b"\xff\xfea\x00\n\x00b", 2, "byte 0x62 cannot be decoded as UTF-16"),
    ("0001/a.jpg\n".encode("utf-16-le"), 1, "holds a NUL character (UTF-16 without a BOM?)"),
])
def test_undecodable_text_is_one_line_naming_file_line_and_encodings(tmp_path, data, line, message):
    path = tmp_path / "list.txt"
    path.write_bytes(data)
    with pytest.raises(UserError) as info:
        read_lines(str(path))
    assert str(info.value) == f"{path}:{line}: {message}; {ACCEPTED}"


def test_a_tools_list_file_in_utf16_with_crlf_names_its_images(tmp_path):
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    listing = tmp_path / "gallery.txt"
    listing.write_bytes("a.jpg\r\n# a comment\r\nb.jpg\r\n".encode("utf-16"))
    assert [e.path for e in read_inputs([str(listing)])] == [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")]
    listing.write_bytes(b"a.jpg\n\x93b.jpg\x94\n")  # cp1252 quotes
    with pytest.raises(UserError) as info:
        read_inputs([str(listing)])
    assert str(info.value) == f"{listing}:2: byte 0x93 cannot be decoded as UTF-8; {ACCEPTED}"


def test_an_image_format_the_tools_do_not_read_is_not_taken_for_a_list(tmp_path):
    crop = tmp_path / "crop.gif"
    Image.new("RGB", (8, 8)).save(crop)
    with pytest.raises(UserError) as info:
        read_inputs([str(crop)])
    assert str(info.value) == (f"input {crop}: .gif is not an image extension the tools read "
                               "(.jpg, .jpeg, .png, .bmp, .webp, .tif, .tiff); convert it to one of these")


def test_dn_lists_with_a_bom_or_in_utf16_read_as_utf8_ones(data_root, tmp_path):
    from dnreid.data.layout import DNLayout

    original = Path(data_root) / "synthetic" / "dn"
    copy = tmp_path / "dn"
    (copy / "train_test_split").mkdir(parents=True)
    for domain in ("day", "night"):
        os.symlink(original / domain, copy / domain)
    for listing, encoding in (("train_list_day.txt", "utf-8-sig"), ("train_list_night.txt", "utf-16")):
        text = (original / "train_test_split" / listing).read_text(encoding="utf-8")
        (copy / "train_test_split" / listing).write_bytes(text.replace("\n", "\r\n").encode(encoding))

    def relative(records, root):
        return [(os.path.relpath(r[0], root), *r[1:]) for r in records]
    assert relative(DNLayout(str(copy)).train(), copy) == relative(DNLayout(str(original)).train(), original)


def test_a_missing_input_is_reported_as_not_found(tmp_path):
    missing = tmp_path / "night_images"
    with pytest.raises(UserError) as info:
        read_inputs([str(missing)])
    assert str(info.value) == f"input {missing} not found: name an image file, a folder or a list file that exists"
