#!/usr/bin/env python
"""Write a resized copy of registered datasets (or folders) under a new data root.

    python tools/prepare_dataset.py --datasets Opri --output /data/small --longer-side 320
    python tools/prepare_dataset.py --config-file configs/jifd/jifd_veri2opri.yml --output /data/small
    FASTREID_DATASETS=/data/small python tools/train_net.py --config-file configs/jifd/jifd_veri2opri.yml

The copy keeps the dataset's folder tree, file names and list files, so every loader reads it
unchanged; images are scaled so the longer side is at most --longer-side (never enlarged), in
--workers processes. Each copy is written beside its target and renamed into place when done;
interrupted, it resumes: finished files are skipped. A target holding files this tool did not
write is refused (--overwrite replaces it, deleting them).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from tqdm import tqdm

from vreid.cli import add_dataset_arguments, check_dataset_arguments, run_cli, summary
from vreid.config import load_config
from vreid.data.build import data_root, named_datasets, split_records
from vreid.data.folders import by_extension
from vreid.data.prepare import FolderCopy, copy_others, finish, plan, run_jobs, stage
from vreid.errors import UserError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--folder", default="", metavar="DIR", help="a folder below the data root, or any folder")
    parser.add_argument("--output", required=True, metavar="ROOT", help="the new data root")
    parser.add_argument("--longer-side", type=int, default=320, help="longest image side in the copy (default 320)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a target folder that holds files this tool did not write (deleting them)")
    add_dataset_arguments(parser, "copy", "resizing")
    args = parser.parse_args(argv)
    check_dataset_arguments(parser, args, min_workers=0)
    if args.longer_side < 16:
        parser.error("--longer-side must be at least 16")
    return args


def dataset_folders(names: list[str], config_file: str, opts: list[str]) -> list[Path]:
    """The folder below the data root that holds each dataset: the common folder of its images and
    of the list files it read (``list_files``, where it names them: VehicleID's images and lists
    are in sibling folders)."""
    folders = []
    for name, dataset in named_datasets(load_config(config_file, opts), names).items():
        paths = [r[0] for records in split_records(dataset).values() for r in records]
        if not paths:
            raise UserError(f"dataset {name} lists no images")
        files = [*paths, *getattr(dataset, "list_files", [])]
        folders.append(Path(os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in files])))
    return folders


def target_of(folder: Path, root: Path, output: Path) -> Path:
    """Where ``folder`` goes in the copy: at the same place below the new root."""
    try:
        return output / folder.resolve().relative_to(root.resolve())
    except ValueError:
        return output / folder.name


def outermost(folders: list[Path]) -> list[Path]:
    """``folders`` without repeats and without those inside another: each is copied once, whole."""
    resolved = [f.resolve() for f in folders]
    return [f for i, (f, r) in enumerate(zip(folders, resolved))
            if r not in resolved[:i] and not any(o in r.parents for o in resolved)]


def plan_copies(folders: list[Path], root: Path, output: Path) -> list[FolderCopy]:
    """One copy per folder; two folders that would land on one target are refused."""
    copies = [plan(folder, target_of(folder, root, output)) for folder in outermost(folders)]
    targets = {}
    for copy in copies:
        other = targets.setdefault(copy.target.resolve(), copy.source)
        if other != copy.source:
            raise UserError(f"{other} and {copy.source} would both be copied to {copy.target}; copy them one at a "
                            "time, each to its own --output")
    return copies


def resize_all(copies: list[FolderCopy], args: argparse.Namespace) -> tuple[dict[str, int], list[str]]:
    """Every image job of every copy: the outcome counts and the error lines."""
    images = [job for copy in copies for job in copy.images]
    counts, errors = {"written": 0, "skipped": 0}, []
    bar = tqdm(total=len(images), desc="resizing", unit="img", disable=args.no_progress)
    for outcome in run_jobs(images, args.longer_side, args.workers):
        if outcome in counts:
            counts[outcome] += 1
        else:
            errors.append(outcome)
        bar.update()
    bar.close()
    return counts, errors


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root, output = Path(data_root()), Path(args.output)
    folders = [Path(args.folder)] if args.folder else []
    if args.config_file or args.datasets:
        folders += dataset_folders(args.datasets, args.config_file, args.opts)
    copies = plan_copies(folders, root, output)
    for copy in copies:
        stage(copy, args.longer_side, args.overwrite)
    others = [job for copy in copies for job in copy.others]
    copy_others(others)
    counts, errors = resize_all(copies, args)
    for copy in copies:
        finish(copy)
    for line in errors:
        print(line)
    images = sum(len(copy.images) for copy in copies)
    kinds = f" ({by_extension(job.source for job in others)})" if others else ""
    print(f"{images} images -> {output} (longer side <= {args.longer_side}): {counts['written']} written, "
          f"{counts['skipped']} already there, {len(errors)} unreadable; {len(others)} other files copied{kinds}. "
          f"Train on it with FASTREID_DATASETS={output}")
    return 1 if errors else 0


if __name__ == "__main__":
    run_cli(main)
