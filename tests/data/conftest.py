"""Tiny copies of the vehicle benchmarks' release layouts, written by hand with known counts, and a
data root for them that FASTREID_DATASETS points at."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """An empty data root that FASTREID_DATASETS points at."""
    monkeypatch.setenv("FASTREID_DATASETS", str(tmp_path))
    return tmp_path


def write_image(path: Path, seed: int) -> None:
    """A small JPEG whose bytes differ from every other seed's (the test-set checks compare bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (12, 12, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=95)


@pytest.fixture(scope="session")
def vehicleid() -> Callable[..., Path]:
    """vehicleid(root, train={vid: images}, tests={"test_list_800.txt": {vid: images}}) writes
    vehicleid/image/<image id>.jpg and the lists, image ids counting up over the lists."""
    def write(root: Path, train: dict[int, int], tests: dict[str, dict[int, int]]) -> Path:
        base, image_id = root / "vehicleid", 0
        (base / "train_test_split").mkdir(parents=True, exist_ok=True)
        for name, vehicles in {"train_list.txt": train, **tests}.items():
            lines = []
            for vid, count in vehicles.items():
                for _ in range(count):
                    image_id += 1
                    write_image(base / "image" / f"{image_id:07d}.jpg", image_id)
                    lines.append(f"{image_id:07d} {vid}")
            (base / "train_test_split" / name).write_text("\n".join(lines) + "\n")
        return base
    return write
