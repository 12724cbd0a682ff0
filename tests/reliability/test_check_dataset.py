"""tools/check_dataset.py decodes every image and lists all bad files in one run."""
import importlib.util
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("tool_check_dataset", ROOT / "tools" / "check_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lists_every_bad_file_and_exits_1(tmp_path, capsys):
    (tmp_path / "cam1").mkdir()
    for i in range(5):
        Image.new("RGB", (16, 12), (i, 2 * i, 3 * i)).save(tmp_path / "cam1" / f"{i}.jpg")
    Image.new("RGBA", (16, 12)).save(tmp_path / "cam1" / "alpha.png")
    good = (tmp_path / "cam1" / "0.jpg").read_bytes()
    (tmp_path / "cam1" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not an image, not checked\n")

    code = _tool().main(["--folder", str(tmp_path), "--workers", "2", "--no-progress"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert sorted(line.split(":")[0] for line in out[:-1]) == sorted(
        f"cannot read image {tmp_path / n}" for n in ("cam1/truncated.jpg", "empty.jpg"))
    assert out[-1] == "6 of 8 images read; 2 bad: fix or remove them"


def test_a_clean_folder_exits_0(tmp_path, capsys):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    assert _tool().main(["--folder", str(tmp_path), "--workers", "1", "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == "1 of 1 images read; 0 bad"
