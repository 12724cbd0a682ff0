"""JIFD's layouts of the synthetic generator: counts per split, VeRi's names and cross-camera
queries, Opri's trucks with separate queries, one seed per layout."""
import re
from pathlib import Path

import pytest
from PIL import Image

import jifd
from jifd.synthetic import LAYOUTS, SIZES
from vreid.synthetic import generate, layout_names
from vreid.synthetic.layouts import identity, plan_layout

SEED = 3
VERI_PATTERN = re.compile(r"([\d]+)_c(\d\d\d)")
OPRI = next(layout for layout in LAYOUTS if layout.name == "opri")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("syn")
    generate(path, preset="tiny", seed=SEED, projects=(jifd.PROJECT,))
    return path


def test_counts_match_preset(root):
    counts = generate(root, preset="tiny", seed=SEED, projects=(jifd.PROJECT,))
    for name in ("veri", "opri"):
        s = SIZES[name]["tiny"]
        expected = {"train": s.train_ids * s.train_images, "test": s.test_ids * s.gallery_images,
                    "query": s.test_ids * s.query_images}
        assert counts[name] == expected
        for split, n in expected.items():
            assert len(list((root / "synthetic" / name / f"image_{split}").glob("*.jpg"))) == n
    vehiclex = SIZES["vehiclex"]["tiny"]
    vx = root / "synthetic/vehiclex/AIC20_ReID_Simulation/image_train"
    assert counts["vehiclex"] == {"train": vehiclex.train_ids * vehiclex.train_images}
    assert len(list(vx.glob("*.jpg"))) == counts["vehiclex"]["train"]
    assert all(Image.open(p).size == (64, 64) for p in list(vx.glob("*.jpg"))[:5])
    assert layout_names(projects=(jifd.PROJECT,)) == ("veri", "vehiclex", "opri")


def test_another_seed_changes_one_layout_only_where_asked(root, tmp_path):
    generate(tmp_path, preset="tiny", seed=SEED + 1, layouts=["veri"], projects=(jifd.PROJECT,))
    assert [p.name for p in (tmp_path / "synthetic").iterdir()] == ["veri"]
    mine = {p.read_bytes() for p in (root / "synthetic" / "veri").rglob("*.jpg")}
    assert mine.isdisjoint(p.read_bytes() for p in (tmp_path / "synthetic" / "veri").rglob("*.jpg"))


def test_veri_names_and_query_cameras(root):
    veri = root / "synthetic" / "veri"
    cams_of: dict[int, set[int]] = {}
    for split in ("train", "test", "query"):
        for path in (veri / f"image_{split}").glob("*.jpg"):
            assert re.fullmatch(r"\d{4}_c\d{3}_\d{8}_\d\.jpg", path.name)
            pid, cam = map(int, VERI_PATTERN.search(path.name).groups())
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
    assert {identity(OPRI, SEED, s.pid).vtype for s in plan_layout(OPRI, "tiny", SEED).images} == {"truck"}


def test_same_seed_is_byte_identical(root, tmp_path):
    generate(tmp_path, preset="tiny", seed=SEED, projects=(jifd.PROJECT,))
    files = {p.relative_to(root): p.read_bytes() for p in (root / "synthetic").rglob("*") if p.is_file()}
    assert files and all((tmp_path / name).read_bytes() == data for name, data in files.items())
