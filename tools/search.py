#!/usr/bin/env python
"""Find the nearest images of query images in a saved feature file (tools/extract_features.py) or index.

    python tools/search.py --features feats/gallery.npy --query car.jpg [more ...] --topk 10 --png hits.png
    python tools/search.py --features feats/night.npy --query day_queries.txt --domain day
    python tools/search.py --index index/city.faiss --query car.jpg --nprobe 32   # tools/build_index.py

The queries are embedded by the model that made the features (its config and weights are in the
index); --config-file and KEY VALUE overrides (e.g. MODEL.DEVICE cpu) replace or amend it.
"""
from __future__ import annotations

import argparse
import os

from vreid.deploy import (add_label_argument, label_argument, load_tool_config, load_trained_model, read_inputs,
                          results_table)
from vreid.deploy.features import embed_images
from vreid.deploy.gallery_index import open_gallery
from vreid.deploy.images import line_format
from vreid.deploy.index_params import SEARCH_FIELDS, add_search_arguments, given
from vreid.deploy.model import config_from_text, move_overrides
from vreid.engine import run_cli
from vreid.errors import UserError
from vreid.projects import label_key
from vreid.visualization import RankRow, draw_ranklist


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser, key = argparse.ArgumentParser(description=__doc__.splitlines()[0]), label_key()
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--features", metavar="FILE.npy", help="gallery features and their .json index (exact search)")
    source.add_argument("--index", metavar="FILE.faiss", help="a gallery index of tools/build_index.py instead")
    parser.add_argument("--query", nargs="+", required=True, metavar="PATH",
                        help=f"query image files, folders or list files ('{line_format(key)}' per line)")
    add_label_argument(parser, key, "query images")
    parser.add_argument("--topk", type=int, default=10, help="hits per query (default 10)")
    parser.add_argument("--png", metavar="FILE.png", help="also draw the hits as a rank-list sheet")
    add_search_arguments(parser)
    parser.add_argument("--config-file", metavar="FILE", help="model config instead of the one in the index")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("opts", nargs=argparse.REMAINDER, metavar="KEY VALUE",
                        help="config overrides, last on the line")
    args = parser.parse_args(argv)
    move_overrides(args, "query")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.topk < 1:
        raise UserError(f"--topk must be at least 1, got {args.topk}")
    key, source = label_key(), args.features or args.index
    searcher = open_gallery(args.features, args.index, key, given(args, SEARCH_FIELDS))
    gallery = searcher.gallery
    if args.config_file:
        cfg = load_tool_config(args.config_file, args.opts)
        if cfg.MODEL.META_ARCHITECTURE != gallery.meta_architecture:
            raise UserError(f"{source} holds {gallery.meta_architecture} features, --config-file builds "
                            f"{cfg.MODEL.META_ARCHITECTURE}: distances between them mean nothing")
    else:
        cfg = config_from_text(gallery.config, args.opts, source)
    searcher.check_query_weights(cfg.MODEL.WEIGHTS)
    queries = read_inputs(args.query, label_argument(args, key), key)
    feats = embed_images(cfg, load_trained_model(cfg), queries, key, not args.no_progress, desc="queries").numpy()
    if feats.shape[1] != searcher.dim:
        raise UserError(f"queries embed to dimension {feats.shape[1]}, {source} to {searcher.dim}: "
                        "use the model that made the features")
    hits = searcher.search(feats, args.topk)
    for query, query_hits in zip(queries, hits):
        print(results_table(query.path, query_hits, gallery, key) + "\n")
    if args.png:
        tag = key.label if key is not None else (lambda value: "")
        rows = [RankRow(q.path, ["query", tag(q.label)], [gallery.paths[h.index] for h in hs],
                        [[f"#{h.rank}  {h.distance:.3f}", tag(gallery.labels[h.index])] for h in hs],
                        [None] * len(hs)) for q, hs in zip(queries, hits)]
        draw_ranklist(rows, args.png)
        print(f"rank lists -> {os.path.abspath(args.png)}")
    return 0


if __name__ == "__main__":
    run_cli(main)
