"""VERI-Wild under the toolkit's loader: the tiny layout's counts, cameras from vehicle_info.txt
(its header line skipped, as fast-reid's parser does), the same-camera rule of the dataset's paper,
the release's sizes checked, and file:line errors."""
import logging

import pytest
import torch

from vreid.data import get_dataset
from vreid.errors import UserError
from vreid.evaluation.evaluator import ReidEvaluator

TRAIN = [(101, 1, "08:00:00"), (101, 2, "21:30:00"), (102, 3, "12:00:00"), (102, 3, "12:05:00"), (103, 4, "23:00:00")]
QUERY = [(1, 1, "09:00:00"), (2, 2, "20:00:00"), (3, 5, "13:00:00")]
GALLERY = [(1, 1, "09:01:00"), (1, 3, "10:00:00"), (2, 1, "22:00:00"), (2, 2, "03:00:00"), (3, 4, "14:00:00"),
           (3, 6, "19:10:00")]


@pytest.fixture
def layout(root, veriwild):
    return veriwild(root, {"train_list.txt": TRAIN, "test_3000_query.txt": QUERY, "test_3000.txt": GALLERY})


def test_counts_labels_and_cameras(layout, caplog):
    with caplog.at_level(logging.WARNING):
        train = get_dataset("VeRiWildTrain").train
        test = get_dataset("VeRiWild_Small")
    assert len(train) == 5 and len({r[1] for r in train}) == 3
    assert train[0] == (str(layout / "images/00101/000001.jpg"), "veriwild_101", "veriwild_1")
    assert [(r[1], r[2]) for r in test.query] == [(1, 1), (2, 2), (3, 5)]
    assert [(r[1], r[2]) for r in test.gallery] == [(1, 1), (1, 3), (2, 1), (2, 2), (3, 4), (3, 6)]
    assert test.gallery[0][0] == str(layout / "images/00001/000009.jpg")
    assert "VERI-Wild test_3000.txt: found ids/images 3/6, the release has 3,000/38,861" in caplog.text
    assert "VERI-Wild train_list.txt: found ids/images 3/5, the release has 30,671/277,797" in caplog.text


def test_a_gallery_image_of_the_querys_vehicle_and_camera_is_left_out(layout):
    """Query 1 (camera 1) has a copy-like neighbour under its own camera and its true match under
    camera 3 far away: with the paper's rule, the first is not counted, so rank-1 misses."""
    test = get_dataset("VeRiWild_Small")
    records = test.query + test.gallery
    feats = torch.eye(9)
    feats[3] = feats[0]  # gallery (1, camera 1) equals query 1
    feats[1], feats[6] = feats[1] + feats[6], feats[1] + feats[6]  # query 2 and its camera-2 match: close
    feats[2], feats[7] = feats[2] + feats[7], feats[2] + feats[7]  # query 3 and its camera-4 match: close
    evaluator = ReidEvaluator(num_query=3)
    evaluator.process({"targets": torch.tensor([r[1] for r in records]),
                       "camids": torch.tensor([r[2] for r in records])}, feats)
    assert evaluator.evaluate()["Rank-1"] == pytest.approx(200 / 3)


@pytest.mark.parametrize("line, message", [
    ("00001-000009;1;2018-03-11 09:01:00;a;b;c", r"expected 'id/image;camera;time;model;type;color'"),
    ("00001/000009;cam1;2018-03-11 09:01:00;a;b;c", r"expected .* with integer vehicle and camera ids, got .*;cam1;"),
    ("00001/000009;1", r"expected 'id/image;camera;time"),
])
def test_a_bad_vehicle_info_line_is_named(layout, line, message):
    info = layout / "train_test_split" / "vehicle_info.txt"
    lines = info.read_text().splitlines()
    info.write_text("\n".join([*lines[:3], line, *lines[3:]]) + "\n")
    with pytest.raises(UserError, match=rf"^{info}:4: {message}"):
        get_dataset("VeRiWild_Small")


def test_a_second_vehicle_info_line_of_an_image_is_refused(layout):
    info = layout / "train_test_split" / "vehicle_info.txt"
    lines = info.read_text().splitlines()
    info.write_text("\n".join([*lines, lines[9].replace(";1;", ";7;")]) + "\n")
    with pytest.raises(UserError, match=rf"^{info}:{len(lines) + 1}: image 00001/000009 has a second line, the "
                                        rf"first at {info}:10;"):
        get_dataset("VeRiWild_Small")


def test_an_image_without_vehicle_info_and_a_bad_list_line_are_named(layout):
    info = layout / "train_test_split" / "vehicle_info.txt"
    info.write_text("\n".join(line for line in info.read_text().splitlines() if "000010;" not in line) + "\n")
    gallery = layout / "train_test_split" / "test_3000.txt"
    with pytest.raises(UserError, match=rf"^{gallery}:2: image 1/000010 has no line in {info}, so its camera"):
        get_dataset("VeRiWild_Small")
    gallery.write_text("00001/000009\n000010\n")
    with pytest.raises(UserError, match=rf"^{gallery}:2: expected '<vehicle id>/<image id>'"):
        get_dataset("VeRiWild_Small")


def test_missing_files_are_named(layout):
    (layout / "images/00003/000014.jpg").unlink()
    gallery = layout / "train_test_split" / "test_3000.txt"
    with pytest.raises(UserError, match=rf"^{gallery}:6: listed image .*000014\.jpg does not exist"):
        get_dataset("VeRiWild_Small")
    (layout / "train_test_split" / "vehicle_info.txt").unlink()
    with pytest.raises(UserError, match=r"missing .*vehicle_info\.txt \(each image's camera and time\)"):
        get_dataset("VeRiWild_Small")
    with pytest.raises(UserError, match=r"missing list .*test_5000_query\.txt"):
        get_dataset("VeRiWild_Medium")
