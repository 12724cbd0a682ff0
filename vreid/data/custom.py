"""Your own data, named by config keys alone: ``Custom``, whose train, query and gallery are list
files or folders (DATASETS.CUSTOM; the walkthrough is docs/your_data.md).

    DATASETS.CUSTOM.ROOT     the data set's folder: relative to the data root, or absolute
    DATASETS.CUSTOM.TRAIN    a split, relative to ROOT; '' for none. Each is one of:
    DATASETS.CUSTOM.QUERY      a list file, one image a line:  relative/path.jpg pid camid [label] [timestamp]
    DATASETS.CUSTOM.GALLERY    a .csv file with a header:      path,pid,camid[,<label>][,timestamp]
                               a folder, every image below it read by DATASETS.CUSTOM.PATTERN
    DATASETS.CUSTOM.PATTERN  a regular expression searched in each image's path relative to its folder,
                             with the named groups pid and camid (and the label's, optionally)

Paths are relative to ROOT and must stay inside it; pid and camid are integers. The label is the
per-image key a project declares for the tools (``vreid.projects.label_key()``: DNReID's day or
night, in its column ``domain``), so a model that reads it (DNDM) trains and evaluates on it. A
timestamp ('2018-03-11 12:48:25') gives the label where a line has none and the key has a rule for
it (DNReID: DATASETS.DAY_NIGHT); images that rule leaves out (dusk, dawn) are counted and dropped.
Every list line is checked (``file:line``): columns, an image that does not exist, one that leaves
ROOT, one named twice. Folders and lists are read in sorted and line order.
"""
from __future__ import annotations

import csv
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from vreid.data.folders import compile_name_pattern, image_files
from vreid.data.paths import SeenOnce, inside
from vreid.data.text import read_lines
from vreid.data.times import looks_like_time, second_of_day
from vreid.errors import UserError
from vreid.projects import AUTO, BatchKey, label_key

logger = logging.getLogger(__name__)

KEYS = "DATASETS.CUSTOM"
SPLITS = ("TRAIN", "QUERY", "GALLERY")
DEFAULT_PATTERN = r"(?P<pid>\d+)_c(?P<camid>\d+)[^/]*$"
HELP = "See docs/your_data.md."
NAMES = ("Custom",)
TimeRule = Callable[[int], "int | None"]


@dataclass
class Listing:
    """What one split's file or folder holds: records ``(path, pid, camid[, {key: label}])``, and
    the images a time rule left out."""

    records: list[tuple]
    left_out: int = 0


@dataclass(frozen=True)
class Columns:
    """How to read one split: the per-image label key (None when no project declares one) and the
    rule that turns a capture time into that label (None when the key has none)."""

    key: BatchKey | None = None
    time_rule: TimeRule | None = None

    def label(self, word: str | None, time: str | None, where: str) -> tuple[bool, int | None]:
        """(kept, label value) of one image from its label word and its timestamp, either possibly
        absent: the word wins, else the time rule decides; an image the rule leaves out is not kept."""
        second = second_of_day(time, where) if time is not None else None
        if word is not None:
            if self.key is None:
                raise UserError(f"{where}: {word!r} would be a per-image label, but no installed project declares "
                                f"one; remove that column. {HELP}")
            value = self.key.parse(word, where)
            if value == AUTO:
                raise UserError(f"{where}: a data set gives each image's {self.key.option}; 'auto' is for the tools' "
                                f"inputs: write {' or '.join(self.key.labels)}")
            return True, value
        if second is not None and self.time_rule is not None:
            value = self.time_rule(second)
            return value is not None, value
        return True, None

    def record(self, path: str, pid: int, camid: int, value: int | None) -> tuple:
        return (path, pid, camid) if value is None else (path, pid, camid, {self.key.name: value})


def _integer(text: str, what: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"{where}: {what} {text!r} is not an integer; write each vehicle's id and camera as "
                        f"integers. {HELP}") from None


def _image(root: str, relative: str, where: str, seen: SeenOnce) -> str:
    path = inside(root, relative, where)
    if not os.path.isfile(path):
        raise UserError(f"{where}: listed image {path} does not exist; fix the path (relative to "
                        f"{KEYS}.ROOT {root}). {HELP}")
    seen.add(path, where)
    return path


def read_list(root: str, path: str, columns: Columns) -> Listing:
    """A whitespace-separated list: 'path pid camid [label] [timestamp]'; blank and '#' lines skipped."""
    listing, seen = Listing([]), SeenOnce()
    for lineno, line in enumerate(read_lines(path), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        where = f"{path}:{lineno}"
        if len(fields) < 3:
            raise UserError(f"{where}: expected 'relative/path.jpg pid camid [label] [timestamp]', got "
                            f"{line.strip()!r}; fix the line. {HELP}")
        rest = fields[3:]
        word = rest.pop(0) if rest and not looks_like_time(rest[0]) else None
        _add(listing, columns, root, seen, where, fields[0], fields[1], fields[2], word, " ".join(rest) or None)
    return listing


def _add(listing: Listing, columns: Columns, root: str, seen: SeenOnce, where: str, relative: str, pid: str,
         camid: str, word: str | None, time: str | None) -> None:
    pid_value, camid_value = _integer(pid, "pid", where), _integer(camid, "camid", where)
    kept, value = columns.label(word, time, where)
    image = _image(root, relative, where, seen)
    if kept:
        listing.records.append(columns.record(image, pid_value, camid_value, value))
    else:
        listing.left_out += 1


def _csv_columns(header: list[str], columns: Columns, where: str) -> dict[str, int]:
    """Column positions by role (path, pid, camid, label, timestamp) from a CSV header."""
    label_names = {"label", *((columns.key.option,) if columns.key is not None else ())}
    roles = {"path": "path", "pid": "pid", "camid": "camid", "timestamp": "timestamp", "time": "timestamp",
             **{name: "label" for name in label_names}}
    found: dict[str, int] = {}
    for index, name in enumerate(h.strip().lower() for h in header):
        if name not in roles or roles[name] in found:
            raise UserError(f"{where}: header column {name!r} is {'repeated' if name in roles else 'unknown'}; a "
                            f"header names path, pid, camid and optionally {' or '.join(sorted(label_names))} and "
                            f"timestamp. {HELP}")
        found[roles[name]] = index
    missing = [r for r in ("path", "pid", "camid") if r not in found]
    if missing:
        raise UserError(f"{where}: the header lacks the column(s) {', '.join(missing)}. {HELP}")
    return found


def read_csv(root: str, path: str, columns: Columns) -> Listing:
    """A CSV list whose first line is a header naming its columns (any order)."""
    rows = list(csv.reader(read_lines(path)))
    if not rows:
        raise UserError(f"{path}:1: an empty CSV file; give it a header 'path,pid,camid' and one line per image")
    at = _csv_columns(rows[0], columns, f"{path}:1")
    listing, seen = Listing([]), SeenOnce()
    for lineno, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}:{lineno}"
        if len(row) != len(rows[0]):
            raise UserError(f"{where}: {len(row)} columns where the header has {len(rows[0])}; fix the line. {HELP}")
        cell = {role: row[i].strip() or None for role, i in at.items()}
        _add(listing, columns, root, seen, where, row[at["path"]].strip(), row[at["pid"]], row[at["camid"]],
             cell.get("label"), cell.get("timestamp"))
    return listing


def _label_group(pattern: re.Pattern, columns: Columns) -> str | None:
    names = ["label", *((columns.key.option,) if columns.key is not None else ())]
    return next((n for n in names if n in pattern.groupindex), None)


def read_folder(root: str, folder: str, pattern: re.Pattern, columns: Columns) -> Listing:
    """Every image below ``folder`` (sorted), its pid, camid and label read by ``pattern`` from the
    path relative to the folder; a path it does not match is refused."""
    listing, seen, group = Listing([]), SeenOnce(), _label_group(pattern, columns)
    paths = image_files(folder)
    if not paths:
        raise UserError(f"{folder} holds no image; put the split's crops there or name a list file. {HELP}")
    for path in paths:
        relative = os.path.relpath(path, folder).replace(os.sep, "/")
        match = pattern.search(relative)
        if match is None:
            raise UserError(f"{path}: {relative!r} does not match {KEYS}.PATTERN {pattern.pattern!r}; rename the "
                            f"file or set the pattern. {HELP}")
        word = match.group(group) if group is not None else None
        _add(listing, columns, root, seen, path, os.path.relpath(path, root), match["pid"], match["camid"], word, None)
    return listing


def read_split(root: str, key: str, spec: str, pattern: str, columns: Columns) -> tuple[Listing, str]:
    """(listing, the file or folder read) of one DATASETS.CUSTOM split; an empty spec is no split."""
    if not spec:
        return Listing([]), ""
    path = os.path.normpath(os.path.join(root, spec))
    if os.path.commonpath([os.path.abspath(root), os.path.abspath(path)]) != os.path.abspath(root):
        raise UserError(f"{KEYS}.{key} {spec!r} resolves to {path}, outside {KEYS}.ROOT {root}; keep the splits "
                        "inside the data set's folder")
    if os.path.isdir(path):
        return read_folder(root, path, compile_name_pattern(pattern, f"{KEYS}.PATTERN"), columns), path
    if not os.path.isfile(path):
        raise UserError(f"{KEYS}.{key} names {path}, which is neither a list file nor a folder. {HELP}")
    read = read_csv if path.lower().endswith(".csv") else read_list
    return read(root, path, columns), path


def _check_labels(name: str, records: list[tuple], source: str) -> None:
    """Either every image of a split carries the label or none does (a batch needs one or the other)."""
    carrying = [len(r) > 3 for r in records]
    if any(carrying) and not all(carrying):
        missing = records[carrying.index(False)][0]
        raise UserError(f"{source}: {carrying.count(False)} of its {len(records)} images have no label (e.g. "
                        f"{missing}) while the others do; give every image of the {name} split a label or none")


def _identities(records: list[tuple]) -> set:
    return {r[1] for r in records}


def report_unmatched(query: list[tuple], gallery: list[tuple]) -> None:
    """A query vehicle that the gallery does not hold can never be found: named here, since the
    evaluator skips its queries."""
    missing = sorted(_identities(query) - _identities(gallery))
    if missing and gallery:
        images = sum(r[1] in set(missing) for r in query)
        logger.warning(f"Custom: {len(missing)} of the {len(_identities(query))} query identities have no gallery "
                       f"image (e.g. {', '.join(map(str, missing[:5]))}): their {images} queries can never match and "
                       "are skipped in evaluation; add their gallery images or drop those queries")


@DATASET_REGISTRY.register()
class Custom(ImageDataset):
    """Your own train, query and gallery, named by DATASETS.CUSTOM (module docstring)."""

    dataset_name = "custom"

    def __init__(self, root: str = "datasets", folder: str = "", train: str = "", query: str = "",
                 gallery: str = "", pattern: str = DEFAULT_PATTERN, columns: Columns | None = None, **kwargs):
        if not folder:
            raise UserError(f"{KEYS}.ROOT is empty: set it to your data set's folder (relative to the data root "
                            f"or absolute), and {KEYS}.TRAIN, QUERY and GALLERY to its lists or folders. {HELP}")
        base = os.path.join(root, folder)
        if not os.path.isdir(base):
            raise UserError(f"{KEYS}.ROOT {folder!r}: {base} is not a folder. {HELP}")
        columns = columns or Columns()
        parts, self.list_files = {}, []
        for key, spec in zip(SPLITS, (train, query, gallery)):
            listing, source = read_split(base, key, spec, pattern, columns)
            _check_labels(key.lower(), listing.records, source)
            parts[key] = listing
            self.list_files += [source] if os.path.isfile(source) else []
        self._report(base, parts, columns)
        train_records = [(r[0], f"{self.dataset_name}_{r[1]}", f"{self.dataset_name}_{r[2]}", *r[3:])
                         for r in parts["TRAIN"].records]
        query_records, gallery_records = parts["QUERY"].records, parts["GALLERY"].records
        if query_records and gallery_records and (len(query_records[0]) > 3) != (len(gallery_records[0]) > 3):
            raise UserError(f"{KEYS}: the query images carry a label and the gallery images do not, or the other "
                            "way round; label both or neither")
        report_unmatched(query_records, gallery_records)
        super().__init__(train_records, query_records, gallery_records, **kwargs)

    @staticmethod
    def _report(base: str, parts: dict[str, Listing], columns: Columns) -> None:
        """One line of counts per data set: ids and images of each split, and what a time rule left out."""
        counts = []
        for key, listing in parts.items():
            labels = Counter(v for r in listing.records if len(r) > 3 for v in r[3].values())
            words = ", ".join(f"{n} {columns.key.label(v)}" for v, n in sorted(labels.items())) if labels else ""
            extra = f" ({words})" if words else ""
            left = f", {listing.left_out} left out by their capture time" if listing.left_out else ""
            counts.append(f"{key.lower()} {len(_identities(listing.records))} ids / {len(listing.records)} images"
                          f"{extra}{left}")
        logger.info(f"Custom {base}: {'; '.join(counts)}")

    @classmethod
    def config_kwargs(cls, cfg) -> dict:
        node, key = cfg.DATASETS.CUSTOM, label_key()
        rule = key.from_time(cfg) if key is not None and key.from_time is not None else None
        return {"folder": node.ROOT, "train": node.TRAIN, "query": node.QUERY, "gallery": node.GALLERY,
                "pattern": node.PATTERN, "columns": Columns(key, rule)}

    @classmethod
    def data_folder(cls, cfg, root: str) -> str:
        """The data set's folder (DATASETS.CUSTOM.ROOT under the data root ``root``), for the test-set
        checks that compare a training set and a test set of one folder."""
        return os.path.join(root, cfg.DATASETS.CUSTOM.ROOT)
