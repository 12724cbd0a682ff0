"""Deterministic synthetic vehicle ReID datasets in the layouts the real loaders read.

Identities are fixed vehicles (type, colour, proportions, marks, plate); images are
those vehicles seen by styled cameras, by day or night with lamp glare. The same
(preset, seed) always yields byte-identical files. The layouts are the projects' own
(``ProjectSpec.synthetic_layouts``); the generator writes whichever the projects declare.

A layout is rendered into a staging folder beside its target and renamed into place when
complete (``vreid.data.staged``). Its ``.complete`` marker lists the files the generator wrote;
a target holding any other file (a user's notes, another preset's images) is refused, not
deleted, unless the caller passes ``overwrite``.
"""
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from vreid.data.staged import refuse_foreign, swap_in
from vreid.errors import UserError
from vreid.outputs import ensure_folder, writing
from vreid.projects import ProjectSpec, resolve, synthetic_layouts
from vreid.synthetic.layouts import (DAY_VIEWS, ImageSpec, LayoutPlan, SyntheticLayout, plan_layout, plan_reid,
                                     random_view, spread_cameras, write_layout)
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


def _up_to_date(marker: dict | None, wanted: dict) -> bool:
    """The marker records this preset, seed and version: the files would be rendered the same."""
    return marker is not None and all(marker.get(k) == v for k, v in wanted.items())


def _kept(name: str, marker: dict, progress: bool) -> dict[str, int]:
    """An up-to-date layout's counts, from its marker, with nothing rendered."""
    if progress:
        print(f"synthetic {name}: up to date ({sum(marker['counts'].values())} entries)", file=sys.stderr)
    return marker["counts"]


def _build_layout(base: Path, layout: SyntheticLayout, wanted: dict, progress: bool,
                  workers: int) -> dict[str, int]:
    """Render the layout of ``wanted`` (preset, seed, version) and swap it in; its counts."""
    folder = base / layout.name
    start = time.perf_counter()
    plan = plan_layout(layout, wanted["preset"], wanted["seed"])
    ensure_folder(str(base), "--root")
    record = {**wanted, "counts": plan.counts(), "files": _planned_files(plan)}
    with writing(str(folder), f"the synthetic {layout.name} set"):
        _write_staged(plan, folder, record, workers, progress)
    if progress:
        n = len(plan.images)
        print(f"synthetic {layout.name}: {n}/{n} images in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return record["counts"]


def _planned_files(plan: LayoutPlan) -> list[str]:
    """Every file a plan writes, relative to its layout folder (the marker aside)."""
    return sorted([spec.relpath for spec in plan.images] + list(plan.lists))


def _written_files(layout: SyntheticLayout, marker: dict | None) -> set[str]:
    """The files the generator wrote into a layout folder, by its marker: listed there since
    markers list them, and planned again from its preset and seed for a marker from before."""
    if marker is None:
        return set()
    if "files" in marker:
        return {*marker["files"], MARKER}
    try:
        return {*_planned_files(plan_layout(layout, marker["preset"], marker["seed"])), MARKER}
    except (KeyError, TypeError, ValueError):  # a marker of a preset or layout that no longer exists
        return {MARKER}


def _write_staged(plan: LayoutPlan, folder: Path, record: dict, workers: int, progress: bool) -> None:
    """Render into a staging folder beside ``folder``, then swap it in: an interrupted run leaves
    the previous set whole, and the staging folder is removed whatever happens."""
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        write_layout(plan, staging, workers, progress)
        (staging / MARKER).write_text(json.dumps(record, indent=1, sort_keys=True))
        swap_in(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
             force: bool = False, progress: bool = False, projects: Sequence[ProjectSpec] | None = None,
             workers: int = 0, overwrite: bool = False) -> dict[str, dict[str, int]]:
    """Writes <root>/synthetic/<layout>/ for each layout of ``projects`` (None: the installed
    ones), or those named in ``layouts``, rendering in ``workers`` processes (0: in this one);
    returns image counts per layout and split. A layout without sizes for ``preset`` is refused
    before anything is written.

    A layout whose `.complete` marker matches (preset, seed, version) is kept as is;
    otherwise it is rebuilt in a staging folder and swapped in only when finished, unless its
    folder holds files the generator did not write: those are deleted only with ``overwrite``.
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
    wanted = {"preset": preset, "seed": seed, "version": VERSION}
    markers = {name: _read_marker(base / name) for name in chosen}
    stale = [name for name in chosen if force or not _up_to_date(markers[name], wanted)]
    if not overwrite:  # every target checked before any is written
        for name in stale:
            refuse_foreign(base / name, _written_files(available[name], markers[name]), "make_synthetic.py", "--root")
    return {name: _build_layout(base, available[name], wanted, progress, workers) if name in stale
            else _kept(name, markers[name], progress) for name in chosen}
