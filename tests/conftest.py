"""The core's tests run on ToyReID (tests/toy_project), a project the tests plug in themselves,
so they know no real project: library calls get it explicitly (``projects=(TOY,)``); the tools,
which only discover projects, get it as its entry point (``toy_installed``), with no other
project discovered."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest

from vreid.projects import ENTRY_POINT_GROUP, SELECT_VARIABLE

TOY_ROOT = Path(__file__).resolve().parent / "toy_project"
TOY_CONFIG = TOY_ROOT / "configs" / "toy.yml"
sys.path.insert(0, str(TOY_ROOT))  # the toy package, importable as an installed project's is

from toyreid import PROJECT as TOY  # noqa: E402


@pytest.fixture(scope="session")
def toy_dist(tmp_path_factory) -> Path:
    """Walkthrough step 7 as `pip install` carries it out: the entry-point line of setup.py
    written into the distribution's metadata, in a folder that goes on sys.path."""
    folder = tmp_path_factory.mktemp("toy_site")
    info = folder / "toyreid-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyreid\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ntoyreid = toyreid:PROJECT\n")
    return folder


@pytest.fixture(scope="session")
def only_toy(toy_dist) -> Callable[[], Iterator[None]]:
    """``with only_toy():`` discovery finds the toy and nothing else (any scope may use it)."""
    @contextmanager
    def installed() -> Iterator[None]:
        with pytest.MonkeyPatch.context() as patch:
            patch.syspath_prepend(str(toy_dist))
            patch.setenv(SELECT_VARIABLE, TOY.name)
            yield
    return installed


@pytest.fixture
def toy_installed(only_toy) -> Iterator[None]:
    with only_toy():
        yield


@pytest.fixture(scope="session")
def toy_env(toy_dist) -> dict[str, str]:
    """The environment of a subprocess (a tool, DDP workers) that discovers the toy only."""
    path = os.pathsep.join([str(toy_dist), str(TOY_ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path.rstrip(os.pathsep), SELECT_VARIABLE: TOY.name}


@pytest.fixture(scope="session")
def toy_root(datasets_dir) -> Path:
    """The toy's synthetic set (the `tiny` preset) in the session's data root."""
    from vreid.synthetic import generate

    generate(datasets_dir, preset="tiny", seed=0, projects=(TOY,))
    return Path(datasets_dir) / "synthetic" / "toy"


def make_toy_cfg(output_dir: str, *opts):
    from vreid.config import load_config

    return load_config(str(TOY_CONFIG), ["OUTPUT_DIR", output_dir, *opts], projects=(TOY,))


@pytest.fixture(scope="session")
def toy_cfg() -> Callable:
    """Factory: toy_cfg(output_dir, KEY, VALUE, ...) -> ToyNet's config with the overrides."""
    return make_toy_cfg
