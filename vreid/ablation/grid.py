"""An ablation grid: named runs (a config file plus KEY VALUE overrides) crossed with seeds.

A grid is data, a YAML file::

    output: output/ablate/dndm_synthetic     # one folder per run and seed below it
    reference: dndm                          # paired differences are taken against this run,
                                             # or each of a list: [dndm, bot]
    seeds: [0, 1, 2]
    opts: [DATALOADER.NUM_WORKERS, 0]        # KEY VALUE overrides for every run
    runs:
      dndm: {config: configs/synthetic/dndm.yml}
      no_ngs: {config: configs/synthetic/dndm.yml, opts: [MODEL.DNDM.NGS.ENABLED, False]}
    path: false                              # true: each run is the one above plus one change,
                                             # and the tables pair each run against the one above
    quick:                                   # what --quick runs: a few runs, seeds and overrides
      runs: [dndm, no_ngs]
      seeds: [0]
      opts: [SOLVER.MAX_EPOCH, 1]

or the same runs given on the command line (``tools/ablate.py --run NAME CONFIG [KEY VALUE ...]``).
Relative config paths are read from the directory the tool runs in, as ``train_net.py`` reads them.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import yaml

from vreid.errors import UserError

_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")  # a run name is a folder name
_GRID_KEYS = {"output", "reference", "seeds", "opts", "runs", "quick", "path"}
_QUICK_KEYS = {"runs", "seeds", "opts"}


@dataclass(frozen=True)
class Run:
    """One configuration of the grid: ``train_net.py --config-file config`` with ``opts``."""

    name: str
    config: str
    opts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grid:
    runs: tuple[Run, ...]
    seeds: tuple[int, ...]
    output: str
    reference: str = ""  # a run name; "" for none
    opts: tuple[str, ...] = ()  # for every run, before the run's own
    quick: dict[str, Any] = field(default_factory=dict)
    # Further runs each run is also paired against, each with its own columns: a path between two
    # configs (one switch per step) reads against both of its ends.
    other_references: tuple[str, ...] = ()
    path: bool = False  # each run is the one above plus one change: the tables pair each with the one above

    @property
    def references(self) -> tuple[str, ...]:
        return (self.reference, *self.other_references) if self.reference else ()

    def jobs(self) -> list[tuple[Run, int]]:
        """Every (run, seed), seed-major: the first seed of every run finishes first, so paired
        differences are available early in a long grid."""
        return [(run, seed) for seed in self.seeds for run in self.runs]

    def folder(self, run: Run, seed: int) -> str:
        return os.path.join(self.output, run.name, f"seed{seed}")


def _opts(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or len(value) % 2:
        raise UserError(f"{where}: opts must be a list of KEY VALUE pairs, got {value!r}")
    return tuple(str(v) if not isinstance(v, (list, tuple)) else ",".join(map(str, v)) for v in value)


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(s, int) for s in value):
        raise UserError(f"{where}: seeds must be a non-empty list of integers, got {value!r}")
    if len(set(value)) != len(value):
        raise UserError(f"{where}: seeds {list(value)} repeat a seed")
    return tuple(value)


def _references(value: Any, where: str) -> tuple[str, ...]:
    """``reference: NAME`` or ``reference: [NAME, ...]`` of a grid file; the first is the main one."""
    if value is None or value == "":
        return ()
    names = value if isinstance(value, (list, tuple)) else [value]
    if not names or any(n is None or n == "" or isinstance(n, (list, tuple, dict)) for n in names):
        raise UserError(f"{where}: reference must be a run name or a list of run names, got {value!r}")
    return tuple(str(n) for n in names)


def check_grid(grid: Grid, where: str) -> Grid:
    """A grid the runner can honour: names usable as folders and unique, configs that exist, the
    references among the runs, none given twice."""
    if not grid.runs:
        raise UserError(f"{where}: the grid has no runs")
    names = [r.name for r in grid.runs]
    for name in names:
        if not _NAME.match(name):
            raise UserError(f"{where}: run name {name!r} must be letters, digits and _.+- (it names a folder)")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"{where}: run names {twice} appear twice")
    for run in grid.runs:
        if not os.path.isfile(run.config):
            raise UserError(f"{where}: run {run.name}: config file not found: {run.config}")
    if grid.other_references and not grid.reference:
        raise UserError(f"{where}: other references {list(grid.other_references)} need a first reference")
    for reference in grid.references:
        if reference not in names:
            raise UserError(f"{where}: reference {reference!r} is not one of the runs {names}")
    if len(set(grid.references)) != len(grid.references):
        raise UserError(f"{where}: references {list(grid.references)} repeat a run")
    return grid


def load_grid(path: str) -> Grid:
    """The grid of a YAML file (see the module docstring), checked."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise UserError(f"cannot read grid file {path}: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from e
    if not isinstance(data, dict):
        raise UserError(f"{path}: a grid file is a mapping with runs, seeds and output")
    unknown = sorted(set(data) - _GRID_KEYS)
    if unknown:
        raise UserError(f"{path}: unknown grid keys {unknown}; the keys are {sorted(_GRID_KEYS)}")
    runs = data.get("runs")
    if not isinstance(runs, dict):
        raise UserError(f"{path}: 'runs' must map run names to {{config: FILE, opts: [KEY, VALUE, ...]}}")
    parsed = []
    for name, spec in runs.items():
        if not isinstance(spec, dict) or "config" not in spec or set(spec) - {"config", "opts"}:
            raise UserError(f"{path}: run {name}: give {{config: FILE}} and optionally opts, got {spec!r}")
        parsed.append(Run(str(name), str(spec["config"]), _opts(spec.get("opts"), f"{path}: run {name}")))
    quick = data.get("quick") or {}
    if not isinstance(quick, dict) or set(quick) - _QUICK_KEYS:
        raise UserError(f"{path}: 'quick' may hold {sorted(_QUICK_KEYS)}, got {quick!r}")
    references = _references(data.get("reference"), path)
    if not isinstance(data.get("path", False), bool):
        raise UserError(f"{path}: path must be true or false, got {data['path']!r}")
    grid = Grid(tuple(parsed), _seeds(data.get("seeds", [0]), path), str(data.get("output", "")),
                references[0] if references else "", _opts(data.get("opts"), path), quick, references[1:],
                data.get("path", False))
    if not grid.output:
        raise UserError(f"{path}: set 'output', the folder the runs are written to")
    return check_grid(grid, path)


def quick_grid(grid: Grid, where: str) -> Grid:
    """The grid's ``quick`` variant: its runs (the first two by default), seeds (the first by
    default) and overrides after the grid's, in ``<output>/quick`` so it never mixes with a full
    grid's runs; the references among its runs (the first run when none is)."""
    quick = grid.quick
    names = quick.get("runs") or [r.name for r in grid.runs[:2]]
    by_name = {r.name: r for r in grid.runs}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise UserError(f"{where}: quick runs {missing} are not among the runs {list(by_name)}")
    seeds = _seeds(quick.get("seeds", list(grid.seeds[:1])), f"{where}: quick")
    references = [r for r in grid.references if r in names] or [names[0]]
    return replace(grid, runs=tuple(by_name[n] for n in names), seeds=seeds, reference=references[0],
                   other_references=tuple(references[1:]),
                   opts=grid.opts + _opts(quick.get("opts"), f"{where}: quick"),
                   output=os.path.join(grid.output, "quick"), quick={})


def grid_from_args(runs: Sequence[Sequence[str]], seeds: Sequence[int], output: str, reference: str) -> Grid:
    """The grid of ``--run NAME CONFIG [KEY VALUE ...]`` arguments."""
    parsed = []
    for words in runs:
        if len(words) < 2 or len(words) % 2:
            raise UserError(f"--run {' '.join(words)}: give NAME CONFIG and then KEY VALUE pairs")
        parsed.append(Run(words[0], words[1], tuple(words[2:])))
    return check_grid(Grid(tuple(parsed), _seeds(list(seeds), "--seeds"), output, reference), "--run")
