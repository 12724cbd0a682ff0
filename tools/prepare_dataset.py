#!/usr/bin/env python
"""Write a resized copy of registered datasets (or folders) under a new data root.

    python tools/prepare_dataset.py --datasets Opri --output /data/small --longer-side 320
    python tools/prepare_dataset.py --config-file configs/jifd/jifd_veri2opri.yml --output /data/small
    FASTREID_DATASETS=/data/small python tools/train_net.py --config-file configs/jifd/jifd_veri2opri.yml

The copy keeps the dataset's folder tree, file names and list files, so every loader reads it
unchanged; images are scaled so the longer side is at most --longer-side (never enlarged), in
--workers processes. Interrupted, it resumes: finished files are skipped.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from tqdm import tqdm

from vreid.cli import add_dataset_arguments, check_dataset_arguments, run_cli
from vreid.config import load_config
from vreid.data.build import data_root, dataset_images
from vreid.data.prepare import copy_others, plan, run_jobs
from vreid.errors import UserError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="", metavar="DIR", help="a folder below the data root, or any folder")
    parser.add_argument("--output", required=True, metavar="ROOT", help="the new data root")
    parser.add_argument("--longer-side", type=int, default=320, help="longest image side in the copy (default 320)")
    add_dataset_arguments(parser, "copy", "resizing")
    args = parser.parse_args(argv)
    check_dataset_arguments(parser, args, min_workers=0)
    if args.longer_side < 16:
        parser.error("--longer-side must be at least 16")
    return args


def dataset_folders(names: list[str], config_file: str, opts: list[str]) -> list[Path]:
    """The folder below the data root that holds each dataset: the common folder of its images."""
    folders = []
    for name, paths in dataset_images(load_config(config_file, opts), names).items():
        if not paths:
            raise UserError(f"dataset {name} lists no images")
        folders.append(Path(os.path.commonpath([os.path.abspath(p) for p in paths])))
    return folders


def target_of(folder: Path, root: Path, output: Path) -> Path:
    """Where ``folder`` goes in the copy: at the same place below the new root."""
    try:
        return output / folder.resolve().relative_to(root.resolve())
    except ValueError:
        return output / folder.name


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root, output = Path(data_root()), Path(args.output)
    folders = [Path(args.folder)] if args.folder else []
    if args.config_file or args.datasets:
        folders += dataset_folders(args.datasets, args.config_file, args.opts)
    folders = [f for i, f in enumerate(folders) if f.resolve() not in {g.resolve() for g in folders[:i]}]
    images, others = [], []
    for folder in folders:
        found = plan(folder, target_of(folder, root, output))
        images += found[0]
        others += found[1]
    copy_others(others)
    counts, errors = {"written": 0, "skipped": 0}, []
    bar = tqdm(total=len(images), desc="resizing", unit="img", disable=args.no_progress)
    for outcome in run_jobs(images, args.longer_side, args.workers):
        if outcome in counts:
            counts[outcome] += 1
        else:
            errors.append(outcome)
        bar.update()
    bar.close()
    for leftover in output.rglob("*.part"):  # of an interrupted run whose image is now complete or gone
        leftover.unlink()
    for line in errors:
        print(line)
    print(f"{len(images)} images -> {output} (longer side <= {args.longer_side}): {counts['written']} written, "
          f"{counts['skipped']} already there, {len(errors)} unreadable; {len(others)} other files copied. "
          f"Train on it with FASTREID_DATASETS={output}")
    return 1 if errors else 0


if __name__ == "__main__":
    run_cli(main)
