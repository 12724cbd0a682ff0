"""Deterministic synthetic vehicle ReID datasets in the layouts the real loaders read.

Identities are fixed vehicles (type, colour, proportions, marks, plate); images are
those vehicles seen by styled cameras, by day or night with lamp glare. The same
(preset, seed) always yields byte-identical files. The layouts are the projects' own
(``ProjectSpec.synthetic_layouts``); the generator writes whichever the projects declare.
"""
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from vreid.errors import UserError
from vreid.projects import ProjectSpec, resolve, synthetic_layouts
from vreid.synthetic.layouts import (DAY_VIEWS, ImageSpec, SyntheticLayout, plan_layout, plan_reid, random_view,
                                     spread_cameras, write_layout)
from vreid.synthetic.presets import PRESETS, ReidSize, spread, with_large

__all__ = ["generate", "layout_names", "PRESETS", "VERSION", "DAY_VIEWS", "ImageSpec", "SyntheticLayout", "plan_reid",
           "random_view", "spread_cameras", "ReidSize", "spread", "with_large"]

VERSION = 1  # bump when output bytes change, so stale markers trigger regeneration
MARKER = ".complete"


def _read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None


def _ensure_layout(base: Path, layout: SyntheticLayout, preset: str, seed: int, force: bool,
                   progress: bool, workers: int) -> dict[str, int]:
    folder = base / layout.name
    marker = _read_marker(folder)
    wanted = {"preset": preset, "seed": seed, "version": VERSION}
    if not force and marker is not None and all(marker.get(k) == v for k, v in wanted.items()):
        if progress:
            print(f"synthetic {layout.name}: up to date ({sum(marker['counts'].values())} entries)", file=sys.stderr)
        return marker["counts"]

    start = time.perf_counter()
    plan = plan_layout(layout, preset, seed)
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{layout.name}-", dir=base))
    try:
        write_layout(plan, staging, workers, progress)
        counts = plan.counts()
        (staging / MARKER).write_text(json.dumps({**wanted, "counts": counts}, indent=1, sort_keys=True))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if progress:
        n = len(plan.images)
        print(f"synthetic {layout.name}: {n}/{n} images in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return counts


def _require_sizes(preset: str, chosen: Sequence[str], available: dict[str, SyntheticLayout]) -> None:
    unsized = [name for name in chosen if not available[name].has_preset(preset)]
    if unsized:
        sized = [name for name, layout in available.items() if layout.has_preset(preset)]
        raise UserError(f"the {preset} preset has no sizes for the layout(s) {', '.join(unsized)}; "
                        f"it sizes {', '.join(sized) or 'none'} (make_synthetic.py --layouts {' '.join(sized)})")


def layout_names(projects: Sequence[ProjectSpec] | None = None) -> tuple[str, ...]:
    """The layouts of ``projects`` (None: the installed ones), in their order."""
    return tuple(layout.name for layout in synthetic_layouts(resolve(projects)))


def generate(root: str | os.PathLike, preset: str = "default", seed: int = 0, layouts: Sequence[str] | None = None,
             force: bool = False, progress: bool = False,
             projects: Sequence[ProjectSpec] | None = None, workers: int = 0) -> dict[str, dict[str, int]]:
    """Writes <root>/synthetic/<layout>/ for each layout of ``projects`` (None: the installed
    ones), or those named in ``layouts``, rendering in ``workers`` processes (0: in this one);
    returns image counts per layout and split. A layout without sizes for ``preset`` is refused
    before anything is written.

    A layout whose `.complete` marker matches (preset, seed, version) is kept as is;
    otherwise it is rebuilt in a staging folder and swapped in only when finished.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    available = {layout.name: layout for layout in synthetic_layouts(resolve(projects))}
    chosen = tuple(available) if layouts is None else (layouts,) if isinstance(layouts, str) else tuple(layouts)
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise ValueError(f"unknown layout(s) {unknown}; choose from {list(available)}")
    _require_sizes(preset, chosen, available)
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    base = Path(root) / "synthetic"
    return {name: _ensure_layout(base, available[name], preset, seed, force, progress, workers) for name in chosen}
