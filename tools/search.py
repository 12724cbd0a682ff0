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

from vreid.cli import add_index_search_arguments, add_label_argument, given, label_argument, move_overrides, run_cli, summary
from vreid.deploy import Hit, ImageEntry, SavedGallery, hits_table, open_gallery, read_inputs
from vreid.deploy.images import line_format
from vreid.deploy.index_params import SEARCH_FIELDS
from vreid.errors import UserError
from vreid.projects import BatchKey, label_key
from vreid.visualization import RankRow, draw_ranklist


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser, key = argparse.ArgumentParser(description=summary(__doc__)), label_key()
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--features", metavar="FILE.npy", help="gallery features and their .json index (exact search)")
    source.add_argument("--index", metavar="FILE.faiss", help="a gallery index of tools/build_index.py instead")
    parser.add_argument("--query", nargs="+", required=True, metavar="PATH",
                        help=f"query image files, folders or list files ('{line_format(key)}' per line)")
    add_label_argument(parser, key, "query images")
    parser.add_argument("--topk", type=int, default=10, help="hits per query (default 10)")
    parser.add_argument("--png", metavar="FILE.png", help="also draw the hits as a rank-list sheet")
    add_index_search_arguments(parser)
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
    key = label_key()
    gallery = open_gallery(args.features, args.index, key, given(args, SEARCH_FIELDS))
    embedder = gallery.query_embedder(args.config_file, args.opts, key)
    queries = read_inputs(args.query, label_argument(args, key), key)
    hits = gallery.search(embedder.embed(queries, progress=not args.no_progress, desc="queries"), args.topk)
    for query, query_hits in zip(queries, hits):
        print(hits_table(query.path, query_hits, gallery, key) + "\n")
    if args.png:
        draw_ranklist(rank_rows(queries, hits, gallery, key), args.png)
        print(f"rank lists -> {os.path.abspath(args.png)}")
    return 0


def rank_rows(queries: list[ImageEntry], hits: list[list[Hit]], gallery: SavedGallery,
              key: BatchKey | None) -> list[RankRow]:
    """One sheet row per query: its hits, captioned with rank, distance and label; no ground truth."""
    tag = key.label if key is not None else (lambda value: "")
    rows = gallery.rows
    return [RankRow(q.path, ["query", tag(q.label)], [rows.paths[h.index] for h in hs],
                    [[f"#{h.rank}  {h.distance:.3f}", tag(rows.labels[h.index])] for h in hs], [None] * len(hs))
            for q, hs in zip(queries, hits)]


if __name__ == "__main__":
    run_cli(main)
