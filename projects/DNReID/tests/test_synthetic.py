"""The DN layout of the synthetic generator: counts per list, consistent day and night lists,
night darker than day with lamp glare."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import dnreid
from dnreid.synthetic import LAYOUT, SIZES
from vreid.synthetic import generate, layout_names
from vreid.synthetic.layouts import plan_layout

SEED = 3


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("syn")
    generate(path, preset="tiny", seed=SEED, projects=(dnreid.PROJECT,))
    return path


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


def test_counts_match_preset(root):
    dn = SIZES["tiny"]
    assert generate(root, preset="tiny", seed=SEED, projects=(dnreid.PROJECT,))["dn"] == {
        "train_day": dn.train_ids * dn.train_day, "train_night": dn.train_ids * dn.train_night,
        "test_day": dn.test_ids * dn.test_day, "test_night": dn.test_ids * dn.test_night,
        "query_day": dn.test_ids * dn.queries, "query_night": dn.test_ids * dn.queries,
    }
    assert layout_names(projects=(dnreid.PROJECT,)) == ("dn",)


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
    assert train_day == train_night and len(train_day) == SIZES["tiny"].train_ids


def test_night_is_darker_and_glares(root):
    dn = root / "synthetic" / "dn"
    plan = plan_layout(LAYOUT, "tiny", SEED)
    day = [s for s in plan.images if not s.night]
    night = [s for s in plan.images if s.night]
    brightness = {name: np.mean([_luma(dn / s.relpath).mean() for s in specs]) for name, specs in
                  (("day", day), ("night", night))}
    assert brightness["night"] < 0.6 * brightness["day"]
    lamps_facing = [s for s in night if s.view in ("front", "rear")]
    assert lamps_facing and all(_has_glare_blob(dn / s.relpath) for s in lamps_facing)
    assert np.mean([_has_glare_blob(dn / s.relpath) for s in day]) < 0.2


def test_same_seed_is_byte_identical(root, tmp_path):
    generate(tmp_path, preset="tiny", seed=SEED, projects=(dnreid.PROJECT,))
    files = {p.relative_to(root): p.read_bytes() for p in (root / "synthetic").rglob("*") if p.is_file()}
    assert files and all((tmp_path / name).read_bytes() == data for name, data in files.items())
