"""A prepared copy of a DN dataset reads as the original: same records, lists and domains,
smaller images."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from PIL import Image

import dnreid  # noqa: F401  (registers the DN datasets)
from vreid.data import get_dataset

ROOT = Path(__file__).resolve().parents[3]


def test_prepared_copy_has_the_same_records(data_root, tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("prepare_dataset", ROOT / "tools" / "prepare_dataset.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "small"
    assert tool.main(["--datasets", "SynDN_D2N", "--output", str(out), "--longer-side", "32", "--workers", "2",
                      "--no-progress"]) == 0
    original = get_dataset("SynDN_D2N")
    monkeypatch.setenv("FASTREID_DATASETS", str(out))
    copy = get_dataset("SynDN_D2N")

    def relative(records, root):
        return [(os.path.relpath(r[0], root), *r[1:]) for r in records]
    for split in ("train", "query", "gallery"):
        assert relative(getattr(copy, split), out) == relative(getattr(original, split), data_root)
    assert Image.open(copy.query[0][0]).size == (32, 32)
