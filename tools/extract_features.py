#!/usr/bin/env python
"""Embed images with a trained model: a feature matrix (.npy) and its index of paths (.json).

    python tools/extract_features.py --config-file CFG --input gallery/ --output feats/gallery.npy \\
        MODEL.WEIGHTS output/run/model_final.pth
    python tools/extract_features.py --config-file configs/synthetic/dndm.yml --input night/ --domain night \\
        --output feats/night.npy MODEL.WEIGHTS output/demo/dndm/model_final.pth

--input takes image files, folders (searched recursively, sorted) and list files with one
'path [day|night]' per line (paths relative to the list). DNDM needs each image's domain: a
list-file column, or --domain for the rest.
"""
from __future__ import annotations

import argparse

import dnreid  # noqa: F401  (registers DN datasets, DNDM and its config keys)
import jifd  # noqa: F401  (registers JIFD datasets, model and config keys)
from vreid.deploy import (FeatureFile, add_model_arguments, load_tool_config, load_trained_model, read_inputs,
                          save_features)
from vreid.deploy.feature_file import check_npy_path
from vreid.deploy.features import embed_images
from vreid.deploy.model import config_text, move_overrides
from vreid.engine import run_cli


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH",
                        help="image files, folders or list files ('path [day|night]' per line)")
    parser.add_argument("--domain", choices=("day", "night"),
                        help="domain of every image that a list file does not label (DNDM needs one)")
    parser.add_argument("--output", required=True, metavar="FILE.npy", help="feature matrix; the index goes beside it")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_model_arguments(parser)
    args = parser.parse_args(argv)
    move_overrides(args, "input")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_npy_path(args.output)
    cfg = load_tool_config(args.config_file, args.opts)
    entries = read_inputs(args.input, args.domain)
    model = load_trained_model(cfg)
    feats = embed_images(cfg, model, entries, progress=not args.no_progress)
    index = save_features(args.output, FeatureFile(
        feats.numpy(), [e.path for e in entries], [e.domain for e in entries], cfg.TEST.METRIC,
        cfg.MODEL.META_ARCHITECTURE, config_text(cfg)))
    print(f"{feats.shape[0]} features of dimension {feats.shape[1]} -> {args.output} (index: {index})")
    return 0


if __name__ == "__main__":
    run_cli(main)
