"""Your own data by config keys alone (``Custom``, DATASETS.CUSTOM): list files, CSV files and
folders read with their counts and labels, every bad line named with file:line, duplicates and
paths leaving the folder refused, query vehicles the gallery lacks reported, the label from a
timestamp by a key's rule; then end to end: a model trained, evaluated and its features extracted."""
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from fastreid.data.datasets import DATASET_REGISTRY

from vreid.config import get_cfg
from vreid.data import get_dataset
from vreid.data.build import label_counts
from vreid.data.custom import DEFAULT_PATTERN, Columns
from vreid.errors import UserError
from vreid.projects import BatchKey

SHADE = BatchKey("shades", labels=("light", "dark"), option="shade")


def _image(path: Path, seed: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (10, 10, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def mycams(root: Path) -> Path:
    """root/mycams with train/<pid>/<pid>_c<cam>_<n>.jpg (3 vehicles x 2), and loose query and gallery
    images (vehicles 7, 8, 9) that the lists name."""
    base = root / "mycams"
    for i, (pid, cam) in enumerate([(1, 1), (1, 2), (2, 1), (2, 3), (3, 2), (3, 4)]):
        _image(base / "train" / f"{pid:04d}" / f"{pid:04d}_c{cam}_{i}.jpg", i)
    for i in range(8):
        _image(base / "images" / f"img{i}.jpg", 100 + i)
    return base


@pytest.fixture(autouse=True)
def _toy_only(toy_installed):
    """The core's tests see their toy project alone, which declares no per-image label."""


def _cfg(**keys) -> object:
    cfg = get_cfg()
    for key, value in keys.items():
        cfg.DATASETS.CUSTOM[key] = value
    return cfg


def _load(**keys):
    return get_dataset("Custom", _cfg(ROOT="mycams", **keys))


def test_the_config_default_pattern_is_the_loaders():
    assert get_cfg().DATASETS.CUSTOM.PATTERN == DEFAULT_PATTERN


def test_lists_csv_and_folders_with_counts(mycams, caplog):
    (mycams / "query.txt").write_text("# queries\nimages/img0.jpg 7 1\n\nimages/img1.jpg 8 1\n")
    (mycams / "gallery.csv").write_text("camid,path,pid\n2,images/img2.jpg,7\n3,images/img3.jpg,7\n"
                                        "2,images/img4.jpg,8\n1,images/img5.jpg,9\n")
    with caplog.at_level(logging.INFO):
        data = _load(TRAIN="train", QUERY="query.txt", GALLERY="gallery.csv")
    assert [(Path(r[0]).name, r[1], r[2]) for r in data.train] == [
        ("0001_c1_0.jpg", "custom_1", "custom_1"), ("0001_c2_1.jpg", "custom_1", "custom_2"),
        ("0002_c1_2.jpg", "custom_2", "custom_1"), ("0002_c3_3.jpg", "custom_2", "custom_3"),
        ("0003_c2_4.jpg", "custom_3", "custom_2"), ("0003_c4_5.jpg", "custom_3", "custom_4")]
    assert [r[1:] for r in data.query] == [(7, 1), (8, 1)]
    assert [r[1:] for r in data.gallery] == [(7, 2), (7, 3), (8, 2), (9, 1)]
    assert data.query[0][0] == str(mycams / "images" / "img0.jpg")
    assert "train 3 ids / 6 images; query 2 ids / 2 images; gallery 3 ids / 4 images" in caplog.text
    assert data.list_files == [str(mycams / "query.txt"), str(mycams / "gallery.csv")]


def test_a_query_vehicle_missing_from_the_gallery_is_reported(mycams, caplog):
    (mycams / "query.txt").write_text("images/img0.jpg 7 1\nimages/img1.jpg 8 1\nimages/img6.jpg 8 2\n")
    (mycams / "gallery.txt").write_text("images/img2.jpg 7 2\nimages/img3.jpg 9 2\n")
    with caplog.at_level(logging.WARNING):
        _load(QUERY="query.txt", GALLERY="gallery.txt")
    assert ("1 of the 2 query identities have no gallery image (e.g. 8): their 2 queries can never match and are "
            "skipped in evaluation") in caplog.text


@pytest.mark.parametrize("line, message", [
    ("images/img0.jpg 7", r"expected 'relative/path.jpg pid camid \[label\] \[timestamp\]', got 'images/img0.jpg 7'"),
    ("images/img0.jpg seven 1", "pid 'seven' is not an integer"),
    ("images/img0.jpg 7 c1", "camid 'c1' is not an integer"),
    ("images/nothere.jpg 7 1", r"listed image .*nothere\.jpg does not exist"),
    ("../outside.jpg 7 1", r"'\.\./outside\.jpg' resolves to .*, outside"),
    ("images/img0.jpg 7 1 dusky", r"'dusky' would be a per-image label, but no installed project declares one"),
    ("images/img0.jpg 7 1 2018-03-11 25:00:00", r"capture time '2018-03-11 25:00:00' has no such time of day"),
    ("images/img0.jpg 7 1 2018-03-11 noon", r"capture time '2018-03-11 noon' is not 'YYYY-MM-DD HH:MM:SS'"),
    ("images/img1.jpg 8 1\nimages/./img1.jpg 8 2", r"image .*img1\.jpg is listed twice, first at .*query\.txt:1;"),
])
def test_a_bad_list_line_is_named(mycams, line, message):
    (mycams.parent / "outside.jpg").write_bytes((mycams / "images" / "img0.jpg").read_bytes())
    listing = mycams / "query.txt"
    listing.write_text(line + "\n")
    lineno = line.count("\n") + 1
    with pytest.raises(UserError, match=rf"^{listing}:{lineno}: {message}"):
        _load(QUERY="query.txt")


@pytest.mark.parametrize("text, message", [
    ("path,pid\nimages/img0.jpg,7\n", r":1: the header lacks the column\(s\) camid"),
    ("path,pid,camid,colour\nimages/img0.jpg,7,1,red\n", r":1: header column 'colour' is unknown; a header names "
                                                        r"path, pid, camid and optionally label and timestamp"),
    ("path,pid,camid\nimages/img0.jpg,7\n", ":2: 2 columns where the header has 3"),
    ("", ":1: an empty CSV file"),
])
def test_a_bad_csv_is_named(mycams, text, message):
    (mycams / "query.csv").write_text(text)
    with pytest.raises(UserError, match=rf"^{mycams / 'query.csv'}{message}"):
        _load(QUERY="query.csv")


def test_check_dataset_prints_the_counts_and_names_a_bad_line(mycams, run_tool, capsys):
    (mycams / "query.txt").write_text("images/img0.jpg 7 1\n")
    (mycams / "gallery.txt").write_text("images/img1.jpg 7 2\nimages/img2.jpg 8 2\n")
    keys = ["DATASETS.CUSTOM.ROOT", "mycams", "DATASETS.CUSTOM.TRAIN", "train", "DATASETS.CUSTOM.QUERY", "query.txt",
            "DATASETS.CUSTOM.GALLERY", "gallery.txt"]
    assert run_tool("check_dataset", "--datasets", "Custom", "--workers", 1, "--no-progress", *keys) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Custom: train 3 ids / 6 images; query 1 ids / 1 images; gallery 2 ids / 2 images", "9 of 9 images read; 0 bad"]
    (mycams / "query.txt").write_text("images/img0.jpg 7 1\nimages/img0.jpg 7 1\n")
    assert run_tool("check_dataset", "--datasets", "Custom", "--workers", 1, "--no-progress", *keys) == 2
    assert f"error: {mycams / 'query.txt'}:2: image " in capsys.readouterr().err


def test_bad_keys_and_folders_are_named(mycams):
    with pytest.raises(UserError, match=r"^DATASETS.CUSTOM.ROOT is empty: set it"):
        get_dataset("Custom", _cfg())
    with pytest.raises(UserError, match=r"^DATASETS.CUSTOM.TRAIN '\.\./elsewhere' resolves to .*, outside"):
        _load(TRAIN="../elsewhere")
    with pytest.raises(UserError, match=r"^DATASETS.CUSTOM.QUERY names .*nothing, which is neither a list file nor"):
        _load(QUERY="nothing")
    with pytest.raises(UserError, match=r"lacks the named group\(s\) \['camid'\]"):
        _load(TRAIN="train", PATTERN=r"(?P<pid>\d+)_")
    with pytest.raises(UserError, match=r"img0\.jpg: 'img0\.jpg' does not match DATASETS.CUSTOM.PATTERN"):
        _load(GALLERY="images")
    with pytest.raises(UserError, match=r"img0\.jpg: camid '' is not an integer"):
        _load(GALLERY="images", PATTERN=r"img(?P<pid>\d)(?P<camid>)")


def _custom(mycams: Path, columns: Columns, **splits):
    return DATASET_REGISTRY.get("Custom")(root=str(mycams.parent), folder="mycams", columns=columns, **splits)


def test_labels_from_a_column_a_csv_a_file_name_or_a_timestamp(mycams, caplog):
    (mycams / "query.txt").write_text("images/img0.jpg 7 1 dark\nimages/img1.jpg 8 1 0 2018-03-11 12:00:00\n"
                                      "images/img2.jpg 8 2 2018-03-11 23:30:00\nimages/img3.jpg 9 2 04:59\n"
                                      "images/img4.jpg 9 3 2018-03-11T18:10:00\n")
    (mycams / "gallery.csv").write_text("path,pid,camid,shade,timestamp\nimages/img5.jpg,7,2,light,\n"
                                        "images/img6.jpg,8,3,,2018-03-11 20:00:00\n")
    rule = Columns(SHADE, lambda second: None if 17 * 3600 <= second < 19 * 3600 else int(second >= 19 * 3600 or
                                                                                          second < 6 * 3600))
    with caplog.at_level(logging.INFO):
        data = _custom(mycams, rule, query="query.txt", gallery="gallery.csv")
    assert [(r[1], r[3]["shades"]) for r in data.query] == [(7, 1), (8, 0), (8, 1), (9, 1)]
    assert [(r[1], r[3]["shades"]) for r in data.gallery] == [(7, 0), (8, 1)]
    assert "query 3 ids / 4 images (1 light, 3 dark), 1 left out by their capture time" in caplog.text
    assert label_counts(data, SHADE) == {"query": {"light": 1, "dark": 3}, "gallery": {"light": 1, "dark": 1}}
    (mycams / "shaded" / "dark" / "0004").mkdir(parents=True)
    shutil.copy(mycams / "images" / "img7.jpg", mycams / "shaded" / "dark" / "0004" / "0004_c5_x.jpg")
    data = _custom(mycams, Columns(SHADE), train="shaded", pattern=r"(?P<shade>light|dark)/(?P<pid>\d+)/\d+_c(?P<camid>\d+)")
    assert data.train[0][1:] == ("custom_4", "custom_5", {"shades": 1})
    (mycams / "query.txt").write_text("images/img0.jpg 7 1 auto\n")
    with_rule = BatchKey("shades", ("light", "dark"), option="shade", auto=lambda images, cfg: images)
    with pytest.raises(UserError, match=r"query\.txt:1: a data set gives each image's shade; 'auto' is for the tools'"):
        _custom(mycams, Columns(with_rule), query="query.txt")


def test_a_split_must_label_all_its_images_or_none(mycams):
    (mycams / "query.txt").write_text("images/img0.jpg 7 1 dark\nimages/img1.jpg 8 1\n")
    with pytest.raises(UserError, match=r"query\.txt: 1 of its 2 images have no label \(e\.g\. .*img1\.jpg\)"):
        _custom(mycams, Columns(SHADE), query="query.txt")
    (mycams / "query.txt").write_text("images/img0.jpg 7 1 dark\n")
    (mycams / "gallery.txt").write_text("images/img2.jpg 7 2\n")
    with pytest.raises(UserError, match="the query images carry a label and the gallery images do not"):
        _custom(mycams, Columns(SHADE), query="query.txt", gallery="gallery.txt")
