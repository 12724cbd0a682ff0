#!/usr/bin/env python
"""Embed images with a trained model: a feature matrix (.npy) and its index of paths (.json).

    python tools/extract_features.py --config-file CFG --input gallery/ --output feats/gallery.npy \\
        MODEL.WEIGHTS output/run/model_final.pth
    python tools/extract_features.py --config-file configs/synthetic/dndm.yml --input night/ --domain night \\
        --output feats/night.npy MODEL.WEIGHTS output/demo/dndm/model_final.pth

--input takes image files, folders (searched recursively, sorted) and list files with one path
per line (paths relative to the list), followed by the image's label when a project declares
one for the tools: with DNReID installed, 'path [day|night]'. DNDM needs each image's domain: a
list-file column, or --domain for the rest. Started by torchrun or srun, each process embeds its
share of the images and rank 0 writes the same files, rows in the same order:

    torchrun --nproc_per_node 4 tools/extract_features.py --config-file CFG --input gallery/ \
        --output feats/gallery.npy MODEL.WEIGHTS output/run/model_final.pth MODEL.DEVICE cuda
"""
from __future__ import annotations

import argparse

from vreid.cli import add_label_argument, add_model_arguments, label_argument, move_overrides, run_cli, summary
from vreid.config import load_model_config
from vreid.deploy import Embedder, FeatureFile, Rows, read_inputs, save_features
from vreid.deploy.feature_file import check_npy_path
from vreid.deploy.images import line_format
from vreid.engine.launch import Timeouts, launch
from vreid.projects import label_key


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser, key = argparse.ArgumentParser(description=summary(__doc__)), label_key()
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH",
                        help=f"image files, folders or list files ('{line_format(key)}' per line)")
    add_label_argument(parser, key, "images")
    parser.add_argument("--output", required=True, metavar="FILE.npy", help="feature matrix; the index goes beside it")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_model_arguments(parser)
    args = parser.parse_args(argv)
    move_overrides(args, "input")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_npy_path(args.output)
    cfg = load_model_config(args.config_file, args.opts)
    launch(extract, args=(args, cfg), timeouts=Timeouts.from_config(cfg))  # under torchrun or srun: every process
    return 0


def extract(args: argparse.Namespace, cfg) -> None:
    """Each process of the job embeds its share; rank 0 writes the files."""
    key = label_key()
    entries = read_inputs(args.input, label_argument(args, key), key)
    embedder = Embedder(cfg, key=key)
    embedded = embedder.embed_shared(entries, progress=not args.no_progress)
    if embedded is None:
        return
    feats, labels = embedded  # "auto" labels as the rule decided them
    rows = Rows([e.path for e in entries], labels)
    index = save_features(args.output, FeatureFile(feats, rows, embedder.provenance), key)
    print(f"{feats.shape[0]} features of dimension {feats.shape[1]} -> {args.output} (index: {index})")


if __name__ == "__main__":
    run_cli(main)
