#!/usr/bin/env python
"""Build a faiss gallery index from feature files (tools/extract_features.py), or add to one.

    python tools/build_index.py --features feats/gallery.npy --index index/city.faiss            # exact
    python tools/build_index.py --features feats/gallery.npy --index index/city.faiss --kind ivfpq \\
        --nlist 4096 --pq-m 64 --nprobe 32
    python tools/build_index.py --features feats/gallery.npy --index index/city.faiss --kind hnsw --hnsw-m 32
    python tools/build_index.py --index index/city.faiss --add feats/monday.npy feats/tuesday.npy

The index (NAME.faiss) and its sidecar (NAME.faiss.json: image paths, labels, the model's
identity, kind and parameters) are written under temporary names and renamed when whole.
--add appends feature files of the same model without rebuilding; tools/search.py --index
searches the result.
"""
from __future__ import annotations

import argparse

from vreid.cli import add_index_build_arguments, given, index_params, run_cli, summary
from vreid.deploy import GalleryIndex, load_features, load_index
from vreid.deploy.gallery_index import sidecar_path
from vreid.deploy.index_params import BUILD_FIELDS, flag
from vreid.errors import UserError
from vreid.outputs import check_output_file
from vreid.projects import BatchKey, label_key


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--index", required=True, metavar="FILE.faiss", help="the index to write, or to add to")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--features", nargs="+", metavar="FILE.npy",
                        help="build a new index: trained on the first file, then every file added")
    source.add_argument("--add", nargs="+", metavar="FILE.npy", help="add these files to the existing --index")
    add_index_build_arguments(parser)
    return parser.parse_args(argv)


def build(args: argparse.Namespace, key: BatchKey | None) -> GalleryIndex:
    params = index_params(args)
    first, *rest = args.features
    index = GalleryIndex.build(load_features(first, key), params, first)
    for path in rest:
        index.add(load_features(path, key), path)
    return index


def extend(args: argparse.Namespace, key: BatchKey | None) -> GalleryIndex:
    """The existing index with more rows; it keeps its kind and parameters (IVF-PQ its training)."""
    building = given(args, BUILD_FIELDS)
    if building:
        raise UserError(f"{flag(next(iter(building)))} is for building; {args.index} keeps the kind and parameters "
                        "it was built with")
    index = load_index(args.index, key)
    for path in args.add:
        index.add(load_features(path, key), path)
    return index


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_output_file(args.index, "--index")
    key = label_key()
    index = build(args, key) if args.features else extend(args, key)
    index.save(args.index, key)
    print(f"{index.params.describe()} index of {index.index.ntotal} features of dimension {index.dim} -> "
          f"{args.index} (sidecar: {sidecar_path(args.index)})")
    return 0


if __name__ == "__main__":
    run_cli(main)
