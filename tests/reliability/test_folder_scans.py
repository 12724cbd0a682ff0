"""Every folder scan says what it skipped: the files whose extension is not an image's, counted
by extension, in one warning (vreid.data.folders) from the tools' folder inputs,
tools/check_dataset.py --folder and the dataset readers; tools/prepare_dataset.py copies such
files and counts them the same way."""
import logging

import pytest
from PIL import Image

from vreid.deploy.images import read_inputs

EXTENSIONS = "(.jpg, .jpeg, .png, .bmp, .webp, .tif, .tiff)"


@pytest.fixture
def mixed(tmp_path):
    """Five files, two of them images (one in a subfolder)."""
    folder = tmp_path / "crops"
    (folder / "cam2").mkdir(parents=True)
    Image.new("RGB", (16, 16), (200, 0, 0)).save(folder / "a.jpg")
    Image.new("RGB", (16, 16), (0, 200, 0)).save(folder / "cam2" / "b.PNG")
    Image.new("RGB", (16, 16)).save(folder / "c.gif")
    (folder / "notes.txt").write_text("where the crops come from\n")
    (folder / "cam2" / "labels.txt").write_text("b day\n")
    return folder


def skipped_line(folder) -> str:
    return (f"skipped 3 files of {folder} (.txt 2, .gif 1): not image extensions {EXTENSIONS}; convert any image "
            "among them to one of these")


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_tools_folder_input_names_what_it_skipped(mixed, caplog):
    assert [e.path for e in read_inputs([str(mixed)])] == [str(mixed / "a.jpg"), str(mixed / "cam2" / "b.PNG")]
    assert warnings_of(caplog) == [skipped_line(mixed)]


def test_extract_features_of_a_folder_says_three_files_were_skipped(mixed, saved, tool, tmp_path, caplog, capsys):
    out = tmp_path / "feats" / "crops.npy"
    assert tool("extract_features", "--input", mixed, "--output", out, "--domain", "day", "--no-progress",
                *saved("Baseline").args()) == 0
    assert capsys.readouterr().out.startswith(f"2 features of dimension 512 -> {out}")
    assert warnings_of(caplog) == [skipped_line(mixed)]


def test_check_dataset_folder_names_what_it_skipped(mixed, tool, caplog, capsys):
    assert tool("check_dataset", "--folder", mixed, "--workers", 1, "--no-progress") == 0
    assert capsys.readouterr().out == "2 of 2 images read; 0 bad\n"
    assert warnings_of(caplog) == [skipped_line(mixed)]


def test_prepare_dataset_folder_counts_the_files_it_copied_unresized(mixed, tool, tmp_path, capsys):
    out = tmp_path / "small"
    assert tool("prepare_dataset", "--folder", mixed, "--output", out, "--longer-side", 16, "--workers", 0,
                "--no-progress") == 0
    assert capsys.readouterr().out == (f"2 images -> {out} (longer side <= 16): 2 written, 0 already there, "
                                       "0 unreadable; 3 other files copied (.txt 2, .gif 1). Train on it with "
                                       f"FASTREID_DATASETS={out}\n")
    assert (out / "crops" / "c.gif").read_bytes() == (mixed / "c.gif").read_bytes()


def test_a_dataset_folder_names_what_it_skipped(tmp_path, caplog):
    from jifd.data.image_folder import read_image_folder
    from vreid.data.folders import compile_name_pattern

    folder = tmp_path / "image_train"
    folder.mkdir()
    Image.new("RGB", (8, 8)).save(folder / "0001_c001_1.jpg")
    (folder / "Thumbs.db").write_bytes(b"\0")
    (folder / "0002_c003_1.gif").write_bytes(b"GIF89a")
    records = read_image_folder(str(folder), compile_name_pattern(r"^(?P<pid>\d+)_c(?P<camid>\d+)_", "KEY"), "")
    assert records == [(str(folder / "0001_c001_1.jpg"), 1, 1)]
    assert warnings_of(caplog) == [f"skipped 2 files of {folder} (.db 1, .gif 1): not image extensions {EXTENSIONS}; "
                                   "convert any image among them to one of these"]
