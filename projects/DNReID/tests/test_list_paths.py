"""List files name each image once and only inside their folder: a line that climbs out of the
data set ('0001/../../secret.jpg') or repeats another is refused with file:line (both lines for a
repeat), in the DN lists and in the tools' list files; the tools read images with the one reader."""
import shutil
from pathlib import Path

import pytest
from PIL import Image

from dnreid.data.layout import DNLayout
from vreid.deploy.images import ImageDataset, read_inputs
from vreid.errors import UserError
from vreid.projects import label_key


@pytest.fixture(scope="module")
def dn_copy(data_root, tmp_path_factory) -> Path:
    """A private copy of the tiny DN set whose lists a test may rewrite; a file sits outside it."""
    top = tmp_path_factory.mktemp("dn_copy")
    root = top / "data" / "dn"
    shutil.copytree(Path(data_root) / "synthetic" / "dn", root)
    Image.new("RGB", (8, 8)).save(top / "outside_secret.jpg")
    return root


def _rewrite(root: Path, name: str, edit) -> Path:
    path = root / "train_test_split" / name
    original = path.read_text()
    lines = original.splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")
    return path, original


@pytest.mark.parametrize("line", ["0001/../../../../outside_secret.jpg", "0001/" + "../" * 12 + "etc/hostname"])
def test_a_dn_line_leaving_the_data_set_is_refused(dn_copy, line):
    path, original = _rewrite(dn_copy, "test_list_day.txt", lambda lines: lines[:2] + [line] + lines[2:])
    try:
        with pytest.raises(UserError) as info:
            DNLayout(str(dn_copy)).protocol("night")  # the day test list is the gallery
    finally:
        path.write_text(original)
    message = str(info.value)
    assert message.startswith(f"{path}:3: {line!r} resolves to ") and "outside" in message
    assert "\n" not in message
    DNLayout(str(dn_copy)).protocol("night")  # the restored list reads


def test_a_repeated_dn_line_names_both_lines(dn_copy):
    path, original = _rewrite(dn_copy, "train_list_night.txt", lambda lines: lines + [lines[1]])
    count = len(original.splitlines())
    try:
        with pytest.raises(UserError) as info:
            DNLayout(str(dn_copy)).train()
    finally:
        path.write_text(original)
    assert str(info.value).startswith(f"{path}:{count + 1}: image ")
    assert f"is listed twice, first at {path}:2;" in str(info.value)


@pytest.fixture()
def tool_images(dn_copy, tmp_path):
    """Two day images copied beside a list folder, and that folder."""
    images = sorted((dn_copy / "day").rglob("*.jpg"))[:2]
    folder = tmp_path / "lists"
    folder.mkdir()
    for image in images:
        shutil.copy(image, folder / image.name)
    return folder, [image.name for image in images]


def test_a_tool_list_line_leaving_its_folder_is_refused(tool_images):
    folder, names = tool_images
    (folder.parent / "outside_secret.jpg").write_bytes((folder / names[0]).read_bytes())
    listing = folder / "gallery.txt"
    listing.write_text(f"{names[0]} day\n../outside_secret.jpg day\n")
    with pytest.raises(UserError, match=rf"^{listing}:2: '\.\./outside_secret\.jpg' resolves to .*outside"):
        read_inputs([str(listing)], key=label_key())
    listing.write_text(f"{names[0]} day\n{folder.parent / 'outside_secret.jpg'} day\n")  # absolute: the user's choice
    assert len(read_inputs([str(listing)], key=label_key())) == 2


def test_a_tool_image_named_twice_is_refused(tool_images):
    folder, names = tool_images
    listing = folder / "gallery.txt"
    listing.write_text(f"{names[0]} day\n{names[1]} day\n./{names[0]} night\n")
    with pytest.raises(UserError, match=rf"^{listing}:3: image .*{names[0]} is listed twice, first at {listing}:1;"):
        read_inputs([str(listing)], key=label_key())
    with pytest.raises(UserError, match="is listed twice"):  # a folder and a file in it
        read_inputs([str(folder), str(folder / names[1])], label="day", key=label_key())


def test_a_tool_reads_images_with_the_one_reader(tool_images, small_bot_cfg, tmp_path):
    folder, names = tool_images
    broken = folder / "broken.jpg"
    broken.write_bytes((folder / names[0]).read_bytes()[:200])  # truncated
    listing = folder / "gallery.txt"
    listing.write_text(f"{names[0]}\nbroken.jpg\n")
    dataset = ImageDataset(read_inputs([str(listing)]), small_bot_cfg(str(tmp_path)), None)
    assert dataset[0]["images"].shape == (3, 64, 64)
    with pytest.raises(UserError) as info:
        dataset[1]
    assert str(info.value).startswith(f"cannot read image {broken} (listed at {listing}:2): ")
