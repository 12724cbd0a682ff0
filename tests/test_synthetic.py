"""The synthetic generator: determinism, layout contracts, night glare and marker logic."""
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dnreid.synthetic import SIZES as DN_SIZES
from jifd.synthetic import SIZES as JIFD_SIZES
from vreid.projects import installed_projects, synthetic_layouts
from vreid.synthetic import generate, layout_names
from vreid.synthetic.layouts import identity, plan_layout

LAYOUTS = {layout.name: layout for layout in synthetic_layouts(installed_projects())}

SEED = 3
VERI_PATTERN = re.compile(r"([\d]+)_c(\d\d\d)")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("syn")
    generate(path, preset="tiny", seed=SEED)
    return path


def _files(root: Path) -> dict[str, bytes]:
    base = root / "synthetic"
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def _luma(path: Path) -> np.ndarray:
    rgb = np.asarray(Image.open(path).convert("RGB"), np.float32)
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32)


def _has_glare_blob(path: Path, threshold: float = 220, size: int = 3) -> bool:
    """True when some size x size block is entirely brighter than threshold."""
    bright = _luma(path) > threshold
    return bool(np.lib.stride_tricks.sliding_window_view(bright, (size, size)).all(axis=(2, 3)).any())


def _read_list(path: Path) -> list[str]:
    return path.read_text().split()


def _ids_of(lines: list[str]) -> set[int]:
    return {int(line.split("/")[0]) for line in lines}


def test_same_seed_is_byte_identical_and_other_seed_differs(root, tmp_path):
    generate(tmp_path / "again", preset="tiny", seed=SEED)
    generate(tmp_path / "other", preset="tiny", seed=SEED + 1, layouts=["veri"])
    first, again = _files(root), _files(tmp_path / "again")
    assert first.keys() == again.keys()
    assert all(first[name] == again[name] for name in first)
    other = {n: b for n, b in _files(tmp_path / "other").items() if n.endswith(".jpg")}
    assert set(other.values()).isdisjoint(v for n, v in first.items() if n.startswith("veri/"))


def test_counts_match_preset(root):
    counts = generate(root, preset="tiny", seed=SEED)
    dn, veri, opri, vehiclex = DN_SIZES["tiny"], JIFD_SIZES["veri"]["tiny"], JIFD_SIZES["opri"]["tiny"], \
        JIFD_SIZES["vehiclex"]["tiny"]
    assert counts["dn"] == {
        "train_day": dn.train_ids * dn.train_day, "train_night": dn.train_ids * dn.train_night,
        "test_day": dn.test_ids * dn.test_day, "test_night": dn.test_ids * dn.test_night,
        "query_day": dn.test_ids * dn.queries, "query_night": dn.test_ids * dn.queries,
    }
    for name, s in (("veri", veri), ("opri", opri)):
        expected = {"train": s.train_ids * s.train_images, "test": s.test_ids * s.gallery_images,
                    "query": s.test_ids * s.query_images}
        assert counts[name] == expected
        for split, n in expected.items():
            assert len(list((root / "synthetic" / name / f"image_{split}").glob("*.jpg"))) == n
    vx = root / "synthetic/vehiclex/AIC20_ReID_Simulation/image_train"
    assert counts["vehiclex"] == {"train": vehiclex.train_ids * vehiclex.train_images}
    assert len(list(vx.glob("*.jpg"))) == counts["vehiclex"]["train"]
    assert all(Image.open(p).size == (64, 64) for p in list(vx.glob("*.jpg"))[:5])


def test_dn_lists_are_consistent(root):
    dn = root / "synthetic" / "dn"
    split = dn / "train_test_split"
    for domain in ("day", "night"):
        lists = {kind: _read_list(split / f"{kind}_list_{domain}.txt") for kind in ("train", "test", "query")}
        for lines in lists.values():
            assert all((dn / domain / line).is_file() for line in lines)
            assert all(int(line.split("/")[0]) > 0 for line in lines)
        assert _ids_of(lists["train"]).isdisjoint(_ids_of(lists["test"]))
        assert set(lists["query"]) <= set(lists["test"])
        assert _ids_of(lists["query"]) == _ids_of(lists["test"])
    train_day, train_night = (_ids_of(_read_list(split / f"train_list_{d}.txt")) for d in ("day", "night"))
    assert train_day == train_night and len(train_day) == DN_SIZES["tiny"].train_ids


def test_night_is_darker_and_glares(root):
    dn = root / "synthetic" / "dn"
    plan = plan_layout(LAYOUTS["dn"], "tiny", SEED)
    day = [s for s in plan.images if not s.night]
    night = [s for s in plan.images if s.night]
    brightness = {name: np.mean([_luma(dn / s.relpath).mean() for s in specs]) for name, specs in
                  (("day", day), ("night", night))}
    assert brightness["night"] < 0.6 * brightness["day"]
    lamps_facing = [s for s in night if s.view in ("front", "rear")]
    assert lamps_facing and all(_has_glare_blob(dn / s.relpath) for s in lamps_facing)
    assert np.mean([_has_glare_blob(dn / s.relpath) for s in day]) < 0.2


def test_veri_names_and_query_cameras(root):
    veri = root / "synthetic" / "veri"
    cams_of: dict[int, set[int]] = {}
    for split in ("train", "test", "query"):
        for path in (veri / f"image_{split}").glob("*.jpg"):
            assert re.fullmatch(r"\d{4}_c\d{3}_\d{8}_\d\.jpg", path.name)
            pid, cam = map(int, VERI_PATTERN.search(str(path)).groups())
            assert 1 <= pid <= 776 and 1 <= cam <= 20
            if split == "test":
                cams_of.setdefault(pid, set()).add(cam)
    for path in (veri / "image_query").glob("*.jpg"):
        pid, cam = map(int, VERI_PATTERN.search(path.name).groups())
        assert cams_of[pid] - {cam}, f"{path.name} has no cross-camera gallery match"


def test_opri_is_trucks_with_separate_queries(root):
    opri = root / "synthetic" / "opri"
    gallery = {p.name for p in (opri / "image_test").glob("*.jpg")}
    queries = [p.name for p in (opri / "image_query").glob("*.jpg")]
    assert queries and gallery.isdisjoint(queries)
    for name in queries:
        pid, cam = map(int, re.match(r"(\d{5})_c(\d{3})_\d+\.jpg", name).groups())
        assert any(g.startswith(f"{pid:05d}_") and not g.startswith(f"{pid:05d}_c{cam:03d}_") for g in gallery)
    assert {identity(LAYOUTS["opri"], SEED, s.pid).vtype for s in plan_layout(LAYOUTS["opri"], "tiny", SEED).images} == {"truck"}


def test_marker_skips_and_regenerates(tmp_path):
    folder = tmp_path / "synthetic" / "vehiclex"

    def snapshot() -> dict[Path, tuple[int, bytes]]:
        return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*.jpg")}

    generate(tmp_path, preset="tiny", seed=1, layouts=["vehiclex"])
    first = snapshot()
    generate(tmp_path, preset="tiny", seed=1, layouts=["vehiclex"])
    assert snapshot() == first
    generate(tmp_path, preset="tiny", seed=2, layouts=["vehiclex"])
    assert {b for _, b in snapshot().values()}.isdisjoint(b for _, b in first.values())
    assert '"seed": 2' in (folder / ".complete").read_text()
    assert not [p for p in (tmp_path / "synthetic").iterdir() if p.name.startswith(".")]


def test_invalid_choices_raise(tmp_path):
    with pytest.raises(ValueError, match="tiny"):
        generate(tmp_path, preset="huge")
    with pytest.raises(ValueError, match="vehiclex"):
        generate(tmp_path, preset="tiny", layouts=["market1501"])
    assert layout_names() == ("dn", "veri", "vehiclex", "opri")
