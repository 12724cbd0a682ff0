"""tools/prepare_dataset.py on a folder: the same tree, images scaled to the longer side, other
files copied, and a second run after an interruption redoing only what is missing."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vreid.data.prepare import scaled_size
from vreid.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def load_tool():
    spec = importlib.util.spec_from_file_location("prepare_dataset", ROOT / "tools" / "prepare_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    source = root / "cams"
    for i, (name, size) in enumerate([("a/0001_c01.jpg", (400, 300)), ("a/0002_c02.jpg", (300, 400)),
                                      ("b/0003_c01.png", (50, 40))]):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(source / name)
    (source / "train_list.txt").write_text("a/0001_c01.jpg\na/0002_c02.jpg\n")
    return source


def test_scaled_size_never_enlarges():
    assert scaled_size((2160, 1800), 320) == (320, 267)
    assert scaled_size((1800, 2160), 320) == (267, 320)
    assert scaled_size((200, 100), 320) == (200, 100)


def test_folder_copy_resizes_copies_and_resumes(tmp_path, capsys):
    tool, source, out = load_tool(), make_folder(tmp_path), tmp_path / "small"
    args = ["--folder", str(source), "--output", str(out), "--longer-side", "100", "--workers", "2", "--no-progress"]
    assert tool.main(args) == 0
    assert "3 written, 0 already there, 0 unreadable; 1 other files copied" in capsys.readouterr().out
    copy = out / "cams"
    assert Image.open(copy / "a/0001_c01.jpg").size == (100, 75)
    assert Image.open(copy / "a/0002_c02.jpg").size == (75, 100)
    assert Image.open(copy / "b/0003_c01.png").size == (50, 40)
    assert (copy / "train_list.txt").read_bytes() == (source / "train_list.txt").read_bytes()

    (copy / "a/0002_c02.jpg").unlink()  # as if killed while writing it
    (copy / "a/0002_c02.jpg.part").write_bytes(b"half a jpeg")
    assert tool.main(args) == 0
    assert "1 written, 2 already there" in capsys.readouterr().out
    assert Image.open(copy / "a/0002_c02.jpg").size == (75, 100) and not list(out.rglob("*.part"))


def test_unreadable_image_is_named_and_the_rest_is_written(tmp_path, capsys):
    tool, source, out = load_tool(), make_folder(tmp_path), tmp_path / "small"
    (source / "a/0004_c03.jpg").write_bytes(b"not a jpeg")
    code = tool.main(["--folder", str(source), "--output", str(out), "--longer-side", "100", "--workers", "0",
                      "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 1 and f"error: cannot read image {source / 'a/0004_c03.jpg'}" in printed
    assert "3 written, 0 already there, 1 unreadable" in printed


def test_copy_inside_the_source_is_refused(tmp_path):
    tool, source = load_tool(), make_folder(tmp_path)
    with pytest.raises(UserError, match="must not be .* or inside it"):
        tool.main(["--folder", str(source), "--output", str(source / "copy"), "--no-progress"])
