"""Layouts as they are really unpacked: VeRi-776 as the release's ``VeRi/`` folder, its published
counts checked, and every folder read in sorted order whatever order the file system lists it in."""
import logging
import os

import pytest

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.veri import VeRi

from vreid.config import get_cfg
from vreid.data import get_dataset
from vreid.errors import UserError

NAMES = {"image_train": ["0002_c002_00030600_0.jpg", "0002_c003_00030605_1.jpg", "0010_c001_00000001_0.jpg"],
         "image_query": ["0005_c001_00000002_0.jpg"], "image_test": ["0005_c002_00000003_0.jpg",
                                                                     "0005_c001_00000004_0.jpg"]}


def _veri(folder) -> None:
    for split, names in NAMES.items():
        (folder / split).mkdir(parents=True)
        for name in names:
            (folder / split / name).write_bytes(name.encode())


def test_veri_unpacked_as_VeRi_is_read_and_its_counts_checked(root, caplog):
    _veri(root / "VeRi")
    with caplog.at_level(logging.WARNING):
        data = get_dataset("VeRi")
    assert data.dataset_dir == str(root / "VeRi") and len(data.train) == 3 and len(data.gallery) == 2
    assert "VeRi-776 train: found ids/images 2/3, the release has 576/37,778" in caplog.text
    assert "VeRi-776 gallery: found ids/images 1/2, the release has 200/11,579" in caplog.text


def test_a_copy_in_veris_layout_is_not_held_to_its_counts(root, caplog):
    class CopyOfVeRi(VeRi):
        dataset_dir, dataset_name = "copy", "copy"

    _veri(root / "copy")
    with caplog.at_level(logging.WARNING):
        CopyOfVeRi(root=str(root))
    assert "release has" not in caplog.text


def test_a_missing_or_doubled_veri_folder_is_named(root):
    with pytest.raises(UserError, match=rf"missing folder {root}/veri \(or the release's {root}/VeRi\)"):
        get_dataset("VeRi")
    _veri(root / "VeRi")
    _veri(root / "VERI")
    with pytest.raises(UserError, match=rf"found {root}/VERI, {root}/VeRi: keep one"):
        get_dataset("VeRi")


@pytest.fixture
def listed_backwards(monkeypatch):
    """os.listdir, os.scandir and os.walk hand out names in reverse order, as some file systems may."""
    listdir, scandir, walk = os.listdir, os.scandir, os.walk

    class Reversed:
        def __init__(self, path):
            self.entries = sorted(scandir(path), key=lambda e: e.name, reverse=True)

        def __iter__(self):
            return self

        def __next__(self):
            if not self.entries:
                raise StopIteration
            return self.entries.pop(0)

        def close(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(os, "listdir", lambda path=".": sorted(listdir(path), reverse=True))
    monkeypatch.setattr(os, "scandir", Reversed)
    monkeypatch.setattr(os, "walk", lambda top, *a, **k: ((d, sorted(s, reverse=True), sorted(f, reverse=True))
                                                          for d, s, f in walk(top, *a, **k)))


def test_folders_are_read_in_sorted_order(root, listed_backwards, toy_installed):
    _veri(root / "veri")
    veri = get_dataset("VeRi")
    for records in (veri.train, veri.query, veri.gallery):
        assert [r[0] for r in records] == sorted(r[0] for r in records)
    cfg = get_cfg()
    cfg.DATASETS.CUSTOM.ROOT, cfg.DATASETS.CUSTOM.TRAIN = "veri", "image_train"
    custom = get_dataset("Custom", cfg)
    assert [r[0] for r in custom.train] == sorted(r[0] for r in custom.train) and len(custom.train) == 3


def test_the_core_datasets_are_registered_and_known():
    from vreid.data.build import CORE_DATASETS, known_datasets

    assert set(CORE_DATASETS) <= set(known_datasets())
    assert all(DATASET_REGISTRY.get(name) for name in CORE_DATASETS)
