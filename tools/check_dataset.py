#!/usr/bin/env python
"""Decode every image of registered datasets (or of folders) and list all bad files at once.

    python tools/check_dataset.py --config-file configs/dnwild/dndm.yml     # DATASETS.NAMES and TESTS
    python tools/check_dataset.py --datasets DNWild_D2N VeRi                 # by registered name
    python tools/check_dataset.py --folder /data/opri/images --workers 16    # every image below a folder

Run it before a long training: a truncated JPEG otherwise stops the run when a loader first
draws it, one file at a time. Exit 0 when every image reads, 1 with the list otherwise. For datasets
named, it also prints what each split holds, and the per-image label's counts where the images carry
one (DNReID's day/night): "VeRiWild_D2N: query 5 ids / 5 images (5 day); gallery 4 ids / 7 images (7 night)".
"""
from __future__ import annotations

import argparse
from pathlib import Path

from vreid.cli import add_dataset_arguments, check_dataset_arguments, run_cli, summary
from vreid.config import load_config
from vreid.data.build import label_counts, named_datasets, split_records
from vreid.data.folders import image_files
from vreid.data.image_check import bad_images
from vreid.errors import UserError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--folder", nargs="+", default=[], metavar="DIR", help="every image file below these")
    add_dataset_arguments(parser, "check", "decoding")
    args = parser.parse_args(argv)
    check_dataset_arguments(parser, args)
    return args


def dataset_paths(names: list[str], config_file: str, opts: list[str]) -> tuple[list[str], list[str]]:
    """Image paths of every split (train, query, gallery) of the named datasets, and one line of
    counts per dataset (``counts_line``)."""
    datasets = named_datasets(load_config(config_file, opts), names)
    paths = [r[0] for dataset in datasets.values() for records in split_records(dataset).values() for r in records]
    return paths, [counts_line(name, dataset) for name, dataset in datasets.items()]


def counts_line(name: str, dataset) -> str:
    """'Custom: train 48 ids / 384 images; query ...': what each split holds, with the per-image
    label's counts where its records carry one (DNReID's '(2 day, 2 night)'), so that a partial
    copy, a wrong list or a domain left empty shows before a long run rather than after it."""
    labels, parts = label_counts(dataset), []
    for split, records in split_records(dataset).items():
        if records:
            words = ", ".join(f"{n} {word}" for word, n in labels.get(split, {}).items())
            parts.append(f"{split} {len({r[1] for r in records})} ids / {len(records)} images"
                         + (f" ({words})" if words else ""))
    return f"{name}: " + "; ".join(parts)


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
    paths, counts = folder_paths(args.folder), []
    if args.config_file or args.datasets:
        listed, counts = dataset_paths(args.datasets, args.config_file, args.opts)
        paths += listed
    if not paths:
        raise UserError("no image found to check")
    bad = bad_images(paths, args.workers, progress=not args.no_progress)
    for reason in bad:
        print(reason)
    for line in counts:
        print(line)
    count = len(set(paths))
    print(f"{count - len(bad)} of {count} images read; {len(bad)} bad" + (": fix or remove them" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    run_cli(main)
