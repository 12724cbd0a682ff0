"""JIFD's datasets: VehicleX and Opri layouts (hand-made fixtures with known counts), their
errors on broken layouts, the Opri name-pattern key, and the synthetic sets including
fast-reid's own VeRi loader on the synthetic VeRi layout."""
import shutil
from types import SimpleNamespace
from pathlib import Path

import pytest

import jifd  # noqa: F401  (registers the datasets and config keys)
from vreid.config import get_cfg
from vreid.data import get_dataset
from vreid.errors import UserError
from jifd.synthetic import SIZES

VEHICLEX_DIR = "vehiclex/AIC20_ReID_Simulation/image_train"


def touch(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """An empty data root that FASTREID_DATASETS points at."""
    monkeypatch.setenv("FASTREID_DATASETS", str(tmp_path))
    return tmp_path


def make_vehiclex(root: Path) -> None:
    """3 ids over cameras 6, 7, 36: 5 images, plus a file that is not an image."""
    touch(root / VEHICLEX_DIR, ["0001_c006_1.jpg", "0001_c007_2.jpg", "0002_c006_3.jpg",
                                "0002_c036_4.jpg", "1362_c010_5.jpg", "notes.txt"])


def make_opri(root: Path) -> None:
    touch(root / "opri/image_train", ["00001_c001_1.jpg", "00001_c002_2.jpg", "00002_c064_3.jpg"])
    touch(root / "opri/image_query", ["00010_c001_1.jpg", "00011_c003_2.jpg"])
    touch(root / "opri/image_test", ["00010_c002_3.jpg", "00010_c005_4.jpg", "00011_c001_5.jpg",
                                     "00012_c001_6.jpg"])


def test_vehiclex_parses_training_set_with_prefixed_labels(root):
    make_vehiclex(root)
    data = get_dataset("VehicleX")
    assert len(data.train) == 5 and data.query == [] and data.gallery == []
    assert {r[1] for r in data.train} == {"vehiclex_1", "vehiclex_2", "vehiclex_1362"}
    assert {r[2] for r in data.train} == {"vehiclex_6", "vehiclex_7", "vehiclex_36", "vehiclex_10"}
    assert data.train[0] == (str(root / VEHICLEX_DIR / "0001_c006_1.jpg"), "vehiclex_1", "vehiclex_6")


def test_opri_parses_three_subsets(root):
    make_opri(root)
    data = get_dataset("Opri", get_cfg())
    assert [len(data.train), len(data.query), len(data.gallery)] == [3, 2, 4]
    assert {r[1] for r in data.train} == {"opri_1", "opri_2"}
    assert [(r[1], r[2]) for r in data.query] == [(10, 1), (11, 3)]
    assert [(r[1], r[2]) for r in data.gallery] == [(10, 2), (10, 5), (11, 1), (12, 1)]


def test_opri_name_pattern_is_a_config_key(root):
    touch(root / "opri/image_train", ["cam03-id0007.jpg"])
    touch(root / "opri/image_query", ["cam01-id0042.jpg"])
    touch(root / "opri/image_test", ["cam02-id0042.jpg", "cam04-id0009.jpg"])
    with pytest.raises(UserError, match=r"cam03-id0007\.jpg: file name does not match"):
        get_dataset("Opri", get_cfg())
    cfg = get_cfg()
    cfg.DATASETS.OPRI.NAME_PATTERN = r"^cam(?P<camid>\d+)-id(?P<pid>\d+)"
    data = get_dataset("Opri", cfg)
    assert data.train[0][1:] == ("opri_7", "opri_3")
    assert [(r[1], r[2]) for r in data.query + data.gallery] == [(42, 1), (42, 2), (9, 4)]


@pytest.mark.parametrize("pattern, message", [
    (r"^(?P<pid>\d+)_c(\d+)", r"lacks the named group\(s\) \['camid'\]"),
    (r"^(?P<pid>\d+", "not a valid regular expression"),
])
def test_bad_opri_pattern_names_the_key(root, pattern, message):
    make_opri(root)
    cfg = get_cfg()
    cfg.DATASETS.OPRI.NAME_PATTERN = pattern
    with pytest.raises(UserError, match=message) as e:
        get_dataset("Opri", cfg)
    assert "DATASETS.OPRI.NAME_PATTERN" in str(e.value)


def test_missing_folders_are_named(root):
    with pytest.raises(UserError, match=r"missing folder .*AIC20_ReID_Simulation/image_train.*'VehicleX'"):
        get_dataset("VehicleX")
    make_opri(root)
    shutil.rmtree(root / "opri/image_query")
    with pytest.raises(UserError, match=r"missing folder .*opri/image_query.*'Opri'"):
        get_dataset("Opri", get_cfg())


def test_malformed_file_name_and_empty_folder_are_named(root):
    make_vehiclex(root)
    touch(root / VEHICLEX_DIR, ["0003-c006-1.jpg"])
    with pytest.raises(UserError, match=r"0003-c006-1\.jpg: file name does not match"):
        get_dataset("VehicleX")
    make_opri(root)
    for image in (root / "opri/image_test").iterdir():
        image.unlink()
    with pytest.raises(UserError, match=r"opri/image_test holds no images"):
        get_dataset("Opri", get_cfg())


def test_opri_release_counts_are_checked(root, caplog):
    make_opri(root)
    get_dataset("Opri", get_cfg())
    assert "the release has (8917, 8917)" in caplog.text


def test_synthetic_sets_parse_with_the_preset_counts(data_root):
    tiny = SimpleNamespace(**{name: sizes["tiny"] for name, sizes in SIZES.items()})
    veri = get_dataset("SynVeRi")  # fast-reid's VeRi loader, synthetic folder
    assert (len({r[1] for r in veri.train}), len(veri.train)) == (tiny.veri.train_ids,
                                                                 tiny.veri.train_ids * tiny.veri.train_images)
    assert len(veri.query) == tiny.veri.test_ids * tiny.veri.query_images
    assert len(veri.gallery) == tiny.veri.test_ids * tiny.veri.gallery_images
    assert veri.train == sorted(veri.train)
    vx = get_dataset("SynVehicleX")
    assert (len({r[1] for r in vx.train}), len(vx.train)) == (tiny.vehiclex.train_ids,
                                                             tiny.vehiclex.train_ids * tiny.vehiclex.train_images)
    opri = get_dataset("SynOpri", get_cfg())
    assert len({r[1] for r in opri.train}) == tiny.opri.train_ids
    assert len(opri.query) == tiny.opri.test_ids * tiny.opri.query_images
    assert len(opri.gallery) == tiny.opri.test_ids * tiny.opri.gallery_images
    assert {r[1] for r in opri.query} <= {r[1] for r in opri.gallery}
    # Source labels never collide across datasets.
    assert not {r[1] for r in veri.train} & {r[1] for r in vx.train}
