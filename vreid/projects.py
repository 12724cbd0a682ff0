"""The project plug-in interface: the one declaration through which the core and the tools use
a project without naming it.

A project is a package that registers its meta-architectures, datasets and samplers on import
(fast-reid's way) and exposes a :class:`ProjectSpec` as ``PROJECT``; ``setup.py`` lists it under
the ``vreid.projects`` entry-point group. The core reads the declarations generically: config
keys (``get_cfg``), loggers (``setup``), per-source batch keys (the train loader), per-image
labels and their vocabulary (the post-training tools), sampler batch layouts (the benchmark),
synthetic layouts (the generator) and the rows of the GPU check (``tools/benchmark.py gpu``).
Discovery sorts by entry-point name, so what a process imported before never changes which
projects, or which config keys, it gets; the environment variable ``VREID_PROJECTS``
(comma-separated entry-point names) narrows it to some of them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import EntryPoint, distributions
from typing import TYPE_CHECKING, Any, Callable, Sequence

from fastreid.config import CfgNode

from vreid.errors import UserError

if TYPE_CHECKING:
    from vreid.synthetic.layouts import SyntheticLayout

ENTRY_POINT_GROUP = "vreid.projects"
SELECT_VARIABLE = "VREID_PROJECTS"


AUTO = -1  # the value of a label left to the key's rule ("auto" in list files and options)


@dataclass(frozen=True)
class BatchKey:
    """Per-image metadata that travels in the batch dict beside ``images`` and ``targets``, so a
    meta-architecture reads it with no side channel."""

    name: str  # the batch-dict key, plural like fast-reid's "targets" and "camids"
    labels: tuple[str, ...] = ()  # value i stands for labels[i]; () when the values are not named
    per_source: bool = False  # the train loader sets it: the record's index in DATASETS.NAMES
    option: str = ""  # the tools' word for one value: their --<option>, the list files' column
    # A rule that reads the label from the image itself, for deployment where nobody gives it:
    # ``auto(images, cfg)`` takes raw 0-255 RGB (B, 3, H, W) as the model sees them and returns
    # the values (B,) with traceable torch ops, so an exported graph can decide them inside.
    auto: Callable[[Any, CfgNode], Any] | None = None
    # A rule that reads the label from the capture time, for datasets whose lists give one:
    # ``from_time(cfg)`` returns a function of the second of the day (0-86399) that gives the value,
    # or None for an image the rule leaves out (a day/night key's dusk, say).
    from_time: Callable[[CfgNode], Callable[[int], int | None]] | None = None

    def words(self) -> tuple[str, ...]:
        """What a user may write: the labels, and "auto" where the key has a rule."""
        return (*self.labels, "auto") if self.auto is not None else self.labels

    def parse(self, text: str, where: str) -> int:
        """A label or its index, or "auto" (AUTO) where the key has a rule, as a user writes it."""
        word = text.strip().lower()
        if word in self.labels:
            return self.labels.index(word)
        if word in map(str, range(len(self.labels))):
            return int(word)
        if word == "auto" and self.auto is not None:
            return AUTO
        raise UserError(f"{where}: unknown {self.option} {text!r}; use {' or '.join(self.words())} "
                        f"({' or '.join(map(str, range(len(self.labels))))})")

    def label(self, value: int | None) -> str:
        if value is None:
            return ""
        return "auto" if value == AUTO else self.labels[value]


@dataclass(frozen=True)
class SamplerSpec:
    """A training sampler a project registers in ``vreid.data.SAMPLER_REGISTRY``. ``blocks_of``
    names a labelled batch key when the sampler lays a batch out as one block per label, with the
    same identities in each block; synthetic benchmark batches follow that layout."""

    name: str
    blocks_of: str = ""


@dataclass(frozen=True)
class BenchmarkRow:
    """A row of the GPU check (``tools/benchmark.py gpu``): a config entry, "PATH [KEY VALUE ...]"
    with PATH from the repository root, whose training step it times (``train``), or whose
    training loader it times (``loader``) on the synthetic sets the check generates, so a loader
    row's config reads one of the project's synthetic layouts."""

    label: str  # the table's name of the row
    entry: str
    measure: str = "train"


@dataclass(frozen=True)
class ProjectSpec:
    """Everything the core needs to know about a project. Its meta-architectures list the batch
    keys their eval forward reads in an ``eval_inputs`` class attribute (default: images). Its
    ``benchmark_rows`` are what the GPU check measures: the first training row of the installed
    projects is the one the others are compared with, a training row with overrides of its own is
    also compared with the row of its config alone, and training rows without overrides are timed
    compiled too."""

    name: str  # the package; also the name of its logger
    add_config: Callable[[CfgNode], None]  # adds the project's keys with their defaults
    meta_architectures: tuple[str, ...] = ()  # registered in fast-reid's META_ARCH_REGISTRY
    datasets: tuple[str, ...] = ()  # registered in fast-reid's DATASET_REGISTRY
    samplers: tuple[SamplerSpec, ...] = ()
    batch_keys: tuple[BatchKey, ...] = ()  # the per-image metadata its datasets and models use
    synthetic_layouts: tuple[SyntheticLayout, ...] = ()  # written by tools/make_synthetic.py
    benchmark_rows: tuple[BenchmarkRow, ...] = ()  # measured by tools/benchmark.py gpu


def _entry_points() -> dict[str, EntryPoint]:
    """The group's entry points by name. Every distribution on the path is read, not only the
    first of each name, so stale metadata in a source tree (an old ``*.egg-info``) cannot hide
    the installed one's."""
    points: dict[str, EntryPoint] = {}
    for dist in distributions():
        for point in dist.entry_points:
            if point.group == ENTRY_POINT_GROUP:
                points.setdefault(point.name, point)
    return points


def _load(point: EntryPoint):
    """The entry point's object; a package that is gone (its folder deleted, setup.py edited without
    `make venv`) is one line, while an import error inside a present package keeps its traceback."""
    try:
        return point.load()
    except ModuleNotFoundError as e:
        if e.name is None or not point.module.startswith(e.name):
            raise
        raise UserError(f"the installed entry point {point.name} = {point.value} names module {e.name}, which is "
                        "gone: run `make venv` after removing a project (or pip uninstall its package)") from None


def installed_projects() -> tuple[ProjectSpec, ...]:
    """Every project under the ``vreid.projects`` entry points (those ``VREID_PROJECTS`` names,
    when it is set), in entry-point name order."""
    points = _entry_points()
    chosen = sorted(points)
    if SELECT_VARIABLE in os.environ:
        chosen = [n.strip() for n in os.environ[SELECT_VARIABLE].split(",") if n.strip()]
        missing = [n for n in chosen if n not in points]
        if missing:
            raise UserError(f"{SELECT_VARIABLE} names {', '.join(missing)}, which no installed package "
                            f"declares; installed projects: {', '.join(sorted(points)) or 'none'}")
    found = []
    for point in (points[n] for n in sorted(chosen)):
        spec = _load(point)
        if not isinstance(spec, ProjectSpec):
            raise TypeError(f"entry point {point.name} = {point.value} is a {type(spec).__name__}, "
                            "not a vreid.projects.ProjectSpec")
        found.append(spec)
    check_projects(found)
    return tuple(found)


def resolve(projects: Sequence[ProjectSpec] | None) -> tuple[ProjectSpec, ...]:
    """``projects`` as given, or the installed ones for None."""
    return installed_projects() if projects is None else tuple(projects)


def _eval_inputs(meta_architecture: str) -> tuple[str, ...]:
    from fastreid.modeling.meta_arch import META_ARCH_REGISTRY

    return tuple(getattr(META_ARCH_REGISTRY.get(meta_architecture), "eval_inputs", ("images",)))


def check_projects(projects: Sequence[ProjectSpec]) -> None:
    """A declaration that the core could not honour fails at discovery, not in some later tool."""
    from fastreid.data.datasets import DATASET_REGISTRY

    from vreid.data.samplers import SAMPLER_REGISTRY

    for spec in projects:
        keys = {k.name for k in spec.batch_keys}
        for name in spec.datasets:
            DATASET_REGISTRY.get(name)  # KeyError: declared but not registered
        for sampler in spec.samplers:
            if sampler.name not in SAMPLER_REGISTRY:
                raise KeyError(f"project {spec.name} declares sampler {sampler.name} but never registers it")
        for arch in spec.meta_architectures:
            unknown = set(_eval_inputs(arch)) - keys - {"images"}
            if unknown:
                raise ValueError(f"{arch} reads {sorted(unknown)}, which project {spec.name} does not declare")
    layouts = synthetic_layouts(projects)
    for what, values in (("project", [p.name for p in projects]), ("synthetic layout", [s.name for s in layouts]),
                         ("synthetic stream id", [s.stream_id for s in layouts])):
        twice = sorted({v for v in values if values.count(v) > 1}, key=str)
        if twice:
            raise ValueError(f"{what} declared twice: {twice}")
    named = batch_keys(projects)
    differing = sorted({k.name for p in projects for k in p.batch_keys if named[k.name] != k})
    if differing:
        raise ValueError(f"batch keys declared differently by two projects: {differing}")
    labelled = [k.name for k in named.values() if k.option]
    if len(labelled) > 1:
        raise ValueError(f"more than one per-image label for the tools: {labelled}")


def batch_keys(projects: Sequence[ProjectSpec]) -> dict[str, BatchKey]:
    """Every declared batch key by name (two projects may share a key if they declare it alike)."""
    return {k.name: k for p in projects for k in p.batch_keys}


def label_key(projects: Sequence[ProjectSpec] | None = None) -> BatchKey | None:
    """The per-image label the tools read from list files and their option (a day/night domain,
    say), or None when no project declares one."""
    return next((k for k in batch_keys(resolve(projects)).values() if k.option), None)


def label_readers(key: BatchKey, projects: Sequence[ProjectSpec] | None = None) -> list[str]:
    """The meta-architectures whose eval forward reads ``key``."""
    return [arch for p in resolve(projects) for arch in p.meta_architectures if key.name in _eval_inputs(arch)]


def source_keys(projects: Sequence[ProjectSpec] | None = None) -> list[str]:
    return [k.name for k in batch_keys(resolve(projects)).values() if k.per_source]


def sampler_spec(name: str, projects: Sequence[ProjectSpec] | None = None) -> SamplerSpec | None:
    return next((s for p in resolve(projects) for s in p.samplers if s.name == name), None)


def synthetic_layouts(projects: Sequence[ProjectSpec]) -> list[SyntheticLayout]:
    return [layout for p in projects for layout in p.synthetic_layouts]


def declared_datasets(projects: Sequence[ProjectSpec] | None = None) -> list[str]:
    return [name for p in resolve(projects) for name in p.datasets]
