"""A data root whose own path looks like a VeRi-style label (``runs/exp_0042_c007/``) changes
no identity or camera: the readers parse file names (VeRi, VehicleX, Opri) or list lines (DN)
alone, never the whole path."""
import os
from pathlib import Path

import pytest

import dnreid  # noqa: F401  (registers the DN datasets)
import jifd  # noqa: F401  (registers the VeRi-, VehicleX- and Opri-style datasets)
from vreid.config import get_cfg
from vreid.data import get_dataset

NAMES = ("SynVeRi", "SynVehicleX", "SynOpri", "SynDN_D2N")


def records(name: str, root: str) -> list[tuple]:
    """Every split's records, paths relative to ``root``."""
    dataset = get_dataset(name, get_cfg())
    return [(split, os.path.relpath(r[0], root), *r[1:3])
            for split in ("train", "query", "gallery") for r in getattr(dataset, split)]


@pytest.mark.parametrize("name", NAMES)
def test_a_label_like_data_root_changes_no_label(data_root, tmp_path, monkeypatch, name):
    expected = records(name, data_root)
    root = tmp_path / "runs" / "exp_0042_c007"
    root.mkdir(parents=True)
    os.symlink(Path(data_root) / "synthetic", root / "synthetic")
    monkeypatch.setenv("FASTREID_DATASETS", str(root))
    found = records(name, str(root))
    assert found == expected
    assert len({r[2] for r in found}) > 1 and len({r[3] for r in found}) > 1


def test_fast_reids_own_veri_reads_file_names_alone(data_root, tmp_path, monkeypatch):
    synthetic = records("SynVeRi", data_root)
    root = tmp_path / "runs" / "exp_0042_c007"
    root.mkdir(parents=True)
    os.symlink(Path(data_root) / "synthetic" / "veri", root / "veri")
    monkeypatch.setenv("FASTREID_DATASETS", str(root))
    relabelled = [(split, path.replace("synthetic/", "", 1), *(str(v).replace("synveri_", "veri_") for v in labels))
                  for split, path, *labels in synthetic]
    assert [(s, p, str(pid), str(cam)) for s, p, pid, cam in records("VeRi", str(root))] == relabelled
