#!/usr/bin/env python
"""Decode every image of registered datasets (or of folders) and list all bad files at once.

    python tools/check_dataset.py --config-file configs/dnwild/dndm.yml     # DATASETS.NAMES and TESTS
    python tools/check_dataset.py --datasets DNWild_D2N VeRi                 # by registered name
    python tools/check_dataset.py --folder /data/opri/images --workers 16    # every image below a folder

Run it before a long training: a truncated JPEG otherwise stops the run when a loader first
draws it, one file at a time. Exit 0 when every image reads, 1 with the list otherwise.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from vreid.cli import add_dataset_arguments, check_dataset_arguments, run_cli
from vreid.config import load_config
from vreid.data.build import dataset_images
from vreid.data.folders import image_files
from vreid.data.image_check import bad_images
from vreid.errors import UserError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", nargs="+", default=[], metavar="DIR", help="every image file below these")
    add_dataset_arguments(parser, "check", "decoding")
    args = parser.parse_args(argv)
    check_dataset_arguments(parser, args)
    return args


def dataset_paths(names: list[str], config_file: str, opts: list[str]) -> list[str]:
    """Image paths of every split (train, query, gallery) of the named datasets."""
    return [path for paths in dataset_images(load_config(config_file, opts), names).values() for path in paths]


def folder_paths(folders: list[str]) -> list[str]:
    """Every image file below the folders; the other files are counted in a warning."""
    paths = []
    for folder in folders:
        if not Path(folder).is_dir():
            raise UserError(f"--folder {folder} is not a folder")
        paths += image_files(folder)
    return paths


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    paths = folder_paths(args.folder)
    if args.config_file or args.datasets:
        paths += dataset_paths(args.datasets, args.config_file, args.opts)
    if not paths:
        raise UserError("no image found to check")
    bad = bad_images(paths, args.workers, progress=not args.no_progress)
    for reason in bad:
        print(reason)
    count = len(set(paths))
    print(f"{count - len(bad)} of {count} images read; {len(bad)} bad" + (": fix or remove them" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    run_cli(main)
