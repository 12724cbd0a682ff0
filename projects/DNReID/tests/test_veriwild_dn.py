"""VERI-Wild's day/night protocol (ours, not DN-Wild) on a tiny copy of the release's layout: each
image's domain from its capture hour by DATASETS.DAY_NIGHT, the guard band at dusk and dawn, the
training set's domains for DNDM, day queries against the night gallery and the mirror, a bad time
named with file:line, the day/night counts in tools/check_dataset.py, timestamps in your own lists
giving the domain, DNDM trained and evaluated on it, and DN-Wild without its query list refused."""
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vreid.config import get_cfg
from vreid.data import get_dataset
from vreid.engine import Trainer
from vreid.errors import UserError

from dnreid.domains import DOMAIN
from dnreid.lighting import NightWindow

DAY, NIGHT = 0, 1
# (vehicle, camera, time): night 19:00-06:00, 30 minutes either side left out by default.
TRAIN = [(101, 1, "08:00:00"), (101, 2, "21:30:00"),  # both domains
         (102, 3, "12:00:00"), (102, 3, "12:05:00"),  # day only: dropped
         (103, 4, "23:00:00"), (103, 4, "18:45:00"),  # night, and dusk (left out): dropped
         (104, 5, "05:00:00"), (104, 5, "06:20:00"), (104, 6, "07:00:00")]  # night, dawn (left out), day
QUERY = [(1, 1, "09:00:00"), (2, 2, "20:00:00"), (3, 5, "13:00:00"), (4, 1, "18:50:00")]
GALLERY = [(1, 1, "09:01:00"), (1, 3, "22:00:00"), (2, 1, "12:00:00"), (2, 2, "03:00:00"), (3, 4, "14:00:00"),
           (4, 1, "23:00:00")]


def _image(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FASTREID_DATASETS", str(tmp_path))
    return tmp_path


@pytest.fixture
def layout(root, veriwild) -> Path:
    return veriwild(root, {"train_list.txt": TRAIN, "test_10000_query.txt": QUERY, "test_10000.txt": GALLERY,
                                 "test_3000_query.txt": QUERY[:2], "test_3000.txt": GALLERY[:4]})


def _seconds(clock: str) -> int:
    hours, minutes = map(int, clock.split(":"))
    return hours * 3600 + minutes * 60


@pytest.mark.parametrize("clock, night", [("12:00", False), ("18:30", False), ("18:31", None), ("19:00", None),
                                          ("19:29", None), ("19:30", True), ("00:00", True), ("05:30", True),
                                          ("05:31", None), ("06:29", None), ("06:30", False)])
def test_the_night_window_and_its_guard_band(clock, night):
    assert NightWindow.of("19:00", "06:00", 30).is_night(_seconds(clock)) is night


def test_a_window_inside_one_day_and_no_guard():
    window = NightWindow.of("01:00", "04:00", 0)
    assert [window.is_night(_seconds(c)) for c in ("00:59", "01:00", "03:59", "04:00")] == [False, True, True, False]


@pytest.mark.parametrize("keys, message", [
    (("25:00", "06:00", 30), r"DATASETS.DAY_NIGHT.NIGHT_START '25:00' is not a time of day HH:MM"),
    (("19:00", "6h", 30), r"DATASETS.DAY_NIGHT.NIGHT_END '6h' is not a time of day"),
    (("19:00", "06:00", 330), "leaves no time for day or for night"),
    (("19:00", "19:00", 0), "leaves no time for day or for night"),
])
def test_bad_window_keys_are_named(keys, message):
    cfg = get_cfg()
    cfg.DATASETS.DAY_NIGHT.NIGHT_START, cfg.DATASETS.DAY_NIGHT.NIGHT_END, cfg.DATASETS.DAY_NIGHT.GUARD_MINUTES = keys
    with pytest.raises(UserError, match=message):
        get_dataset("VeRiWildDNTrain", cfg)


def test_the_training_set_carries_domains_from_the_hours(layout, caplog):
    with caplog.at_level(logging.INFO):
        train = get_dataset("VeRiWildDNTrain", get_cfg()).train
    assert [(Path(r[0]).name, r[1], r[2], r[3]) for r in train] == [
        ("000001.jpg", "veriwild_101", "veriwild_1", {"domains": DAY}),
        ("000002.jpg", "veriwild_101", "veriwild_2", {"domains": NIGHT}),
        ("000007.jpg", "veriwild_104", "veriwild_5", {"domains": NIGHT}),
        ("000009.jpg", "veriwild_104", "veriwild_6", {"domains": DAY})]
    assert "VeRiWildDNTrain: 4 day, 3 night, 2 left out at dusk or dawn (night 19:00-06:00, 30 min" in caplog.text
    assert "dropping 2 training identities present in only one domain: ['veriwild_102', 'veriwild_103']" in caplog.text


def test_day_queries_against_the_night_gallery_and_the_mirror(layout, caplog):
    with caplog.at_level(logging.INFO):
        d2n, n2d = get_dataset("VeRiWild_D2N", get_cfg()), get_dataset("VeRiWild_N2D", get_cfg())
    assert [(r[1], r[2], r[3]) for r in d2n.query] == [(1, DAY, {"domains": DAY})]  # vehicle 3 has no night image
    assert [(r[1], r[2]) for r in d2n.gallery] == [(1, NIGHT), (2, NIGHT), (4, NIGHT)]
    assert [(r[1], r[2]) for r in n2d.query] == [(2, NIGHT)]
    assert [(r[1], r[2]) for r in n2d.gallery] == [(1, DAY), (2, DAY), (3, DAY)]
    assert ("VeRiWild_D2N (night 19:00-06:00, 30 min either side left out): 1 day queries against 3 night gallery "
            "images; left out: 1 day queries without a night image of their vehicle in the gallery, and 1 images at "
            "dusk or dawn") in caplog.text
    small = get_dataset("VeRiWild_Small_D2N", get_cfg())
    assert [r[1] for r in small.query] == [1] and [r[1] for r in small.gallery] == [1, 2]


def test_the_night_window_is_a_config_key(layout):
    cfg = get_cfg()
    cfg.DATASETS.DAY_NIGHT.NIGHT_START = "21:00"  # 20:00 is day now, 18:45 and 18:50 no longer at dusk
    cfg.DATASETS.DAY_NIGHT.GUARD_MINUTES = 0
    n2d = get_dataset("VeRiWild_N2D", cfg)
    assert [r[1] for r in n2d.query] == []  # vehicle 2's 20:00 query is a day image now
    assert [r[1] for r in get_dataset("VeRiWild_D2N", cfg).query] == [1, 2, 4]


def test_a_time_that_cannot_be_read_is_named(layout):
    info = layout / "train_test_split" / "vehicle_info.txt"
    lines = info.read_text().splitlines()
    lines[2] = lines[2].replace("2018-03-11 21:30:00", "2018-03-11 9.30pm")
    info.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=rf"^{info}:3: capture time '2018-03-11 9.30pm' is not 'YYYY-MM-DD HH:MM:SS'"):
        get_dataset("VeRiWildDNTrain", get_cfg())
    get_dataset("VeRiWildTrain")  # the benchmark reads the camera alone


def test_check_dataset_prints_the_counts_and_day_night_per_split(layout, run_tool, capsys):
    assert run_tool("check_dataset", "--datasets", "VeRiWildDNTrain", "VeRiWild_D2N", "VeRiWild_N2D", "--workers", 1,
                    "--no-progress") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["VeRiWildDNTrain: train 2 ids / 4 images (2 day, 2 night)",
                       "VeRiWild_D2N: query 1 ids / 1 images (1 day); gallery 3 ids / 3 images (3 night)",
                       "VeRiWild_N2D: query 1 ids / 1 images (1 night); gallery 3 ids / 3 images (3 day)"]
    assert out[-1] == "12 of 12 images read; 0 bad"


def test_your_own_timestamps_give_the_domain(root):
    base = root / "mycams"
    for i in range(4):
        _image(base / f"{i}.jpg", i)
    (base / "query.txt").write_text("0.jpg 1 1 2024-05-01 23:10:00\n1.jpg 1 2 2024-05-01T10:00:00\n"
                                    "2.jpg 2 1 day 02:00\n3.jpg 2 2 2024-05-01 19:10:00\n")
    cfg = get_cfg()
    cfg.DATASETS.CUSTOM.ROOT, cfg.DATASETS.CUSTOM.QUERY = "mycams", "query.txt"
    data = get_dataset("Custom", cfg)
    assert [(Path(r[0]).name, r[3][DOMAIN.name]) for r in data.query] == [("0.jpg", NIGHT), ("1.jpg", DAY),
                                                                          ("2.jpg", DAY)]  # the column wins; 3: dusk


def test_dndm_trains_and_evaluates_on_veriwild_day_night(layout, small_dndm_cfg, tmp_path):
    cfg = small_dndm_cfg(str(tmp_path / "run"), **{"DATASETS.NAMES": ("VeRiWildDNTrain",), "SOLVER.MAX_EPOCH": 1,
                                                    "DATASETS.TESTS": ("VeRiWild_D2N", "VeRiWild_N2D"),
                                                    "SOLVER.IMS_PER_BATCH": 8, "DATALOADER.NUM_INSTANCE": 2})
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=False)
    results = trainer.train()
    assert results["VeRiWild_D2N"]["num_queries"] == 1 and results["VeRiWild_N2D"]["num_queries"] == 1


def test_dnwild_without_its_day_query_list_is_refused(root):
    for domain in ("day", "night"):
        for pid in (1, 2):
            _image(root / "dnwild" / domain / f"{pid:04d}" / "a.jpg", pid)
    split = root / "dnwild" / "train_test_split"
    split.mkdir(parents=True)
    for name in ("test_list_day", "test_list_night", "query_list_night"):
        (split / f"{name}.txt").write_text("0001/a.jpg\n0002/a.jpg\n")
    with pytest.raises(UserError, match=rf"missing list {split}/query_list_day\.txt, this protocol's queries; the day "
                                        "test list in its place would be another protocol"):
        get_dataset("DNWild_D2N")
    assert len(get_dataset("DNWild_N2D").query) == 2
