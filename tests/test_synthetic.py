"""The synthetic generator on the toy project's layout: determinism, the ReID split's contract
(plan_reid), marker logic and bad choices. The projects' layouts are checked in their tests."""
import re
from pathlib import Path

import pytest
from PIL import Image
from toyreid import PROJECT as TOY
from toyreid.synthetic import SIZES

from vreid.synthetic import generate, layout_names

SEED = 3
NAME = re.compile(r"(\d{4})_c(\d\d)_\d+\.jpg")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("syn")
    generate(path, preset="tiny", seed=SEED, projects=(TOY,))
    return path


def _files(root: Path) -> dict[str, bytes]:
    base = root / "synthetic"
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def test_same_seed_is_byte_identical_and_other_seed_differs(root, tmp_path):
    generate(tmp_path / "again", preset="tiny", seed=SEED, projects=(TOY,))
    generate(tmp_path / "other", preset="tiny", seed=SEED + 1, projects=(TOY,))
    first, again = _files(root), _files(tmp_path / "again")
    assert first.keys() == again.keys() and len(first) > 100
    assert all(first[name] == again[name] for name in first)
    other = {n: b for n, b in _files(tmp_path / "other").items() if n.endswith(".jpg")}
    assert set(other.values()).isdisjoint(first.values())


def test_counts_match_preset_and_queries_have_a_cross_camera_match(root):
    size = SIZES["tiny"]
    expected = {"train": size.train_ids * size.train_images, "test": size.test_ids * size.gallery_images,
                "query": size.test_ids * size.query_images}
    assert generate(root, preset="tiny", seed=SEED, projects=(TOY,)) == {"toy": expected}
    toy = root / "synthetic" / "toy"
    cams_of: dict[int, set[int]] = {}
    for split, n in expected.items():
        paths = sorted((toy / f"image_{split}").glob("*.jpg"))
        assert len(paths) == n and all(NAME.fullmatch(p.name) for p in paths)
        if split == "test":
            for p in paths:
                pid, cam = map(int, NAME.fullmatch(p.name).groups())
                cams_of.setdefault(pid, set()).add(cam)
    assert Image.open(paths[0]).size == (64, 64)
    for path in (toy / "image_query").glob("*.jpg"):
        pid, cam = map(int, NAME.fullmatch(path.name).groups())
        assert cams_of[pid] - {cam}, f"{path.name} has no cross-camera gallery match"


def test_marker_skips_and_regenerates(tmp_path):
    folder = tmp_path / "synthetic" / "toy"

    def snapshot() -> dict[Path, tuple[int, bytes]]:
        return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*.jpg")}

    generate(tmp_path, preset="tiny", seed=1, projects=(TOY,))
    first = snapshot()
    generate(tmp_path, preset="tiny", seed=1, projects=(TOY,))
    assert snapshot() == first
    generate(tmp_path, preset="tiny", seed=2, projects=(TOY,))
    assert {b for _, b in snapshot().values()}.isdisjoint(b for _, b in first.values())
    assert '"seed": 2' in (folder / ".complete").read_text()
    assert not [p for p in (tmp_path / "synthetic").iterdir() if p.name.startswith(".")]


def test_invalid_choices_raise(tmp_path):
    with pytest.raises(ValueError, match="tiny"):
        generate(tmp_path, preset="huge", projects=(TOY,))
    with pytest.raises(ValueError, match="toy"):
        generate(tmp_path, preset="tiny", layouts=["market1501"], projects=(TOY,))
    assert layout_names(projects=(TOY,)) == ("toy",) and layout_names(projects=()) == ()
