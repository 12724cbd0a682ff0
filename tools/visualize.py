#!/usr/bin/env python
"""Look at a trained model: rank lists of a test protocol, attention maps, training curves.

    python tools/visualize.py ranklist --config-file CFG --protocol SynDN_D2N --select worst MODEL.WEIGHTS W
    python tools/visualize.py ranklist --config-file CFG --protocol DNWild_D2N --queries 12 0004_c002.jpg \
        MODEL.WEIGHTS W
    python tools/visualize.py maps --config-file configs/synthetic/dndm.yml --input night/ --domain night \
        MODEL.WEIGHTS W
    python tools/visualize.py curves --metrics output/demo/bot/metrics.json

ranklist: one PNG, a row per query (best, worst or chosen), its top-k gallery images framed green
(same identity) or red, with distances and domain tags. maps: a PNG per image with the maps the
model exposes (DNDM: glare mask, NGS attention, each stage's CCA response). curves: losses,
learning rate and rank-1/mAP of a run's metrics.json.
"""
from __future__ import annotations

import argparse
import math
import os

from tabulate import tabulate

from vreid.cli import add_label_argument, add_model_arguments, label_argument, move_overrides, run_cli
from vreid.config import load_model_config
from vreid.deploy import Embedder, read_inputs
from vreid.errors import UserError
from vreid.projects import label_key
from vreid.visualization import (choose_queries, draw_ranklist, plot_curves, rank_protocol, ranklist_rows,
                                 read_metrics, select_queries, write_map_sheets)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    ranks = sub.add_parser("ranklist", help="rank lists of a test protocol, framed by ground truth")
    ranks.add_argument("--protocol", help="registered test set, e.g. SynDN_D2N (default: first of DATASETS.TESTS)")
    ranks.add_argument("--select", choices=("best", "worst"), default="worst", help="which queries (default worst)")
    ranks.add_argument("--queries", nargs="+", metavar="Q", help="these queries instead: indices, paths or file names")
    ranks.add_argument("--num", type=int, default=6, help="queries to show with --select (default 6)")
    ranks.add_argument("--topk", type=int, default=8, help="gallery images per query (default 8)")
    ranks.add_argument("--output", metavar="FILE.png",
                       help="default OUTPUT_DIR/visualize/ranklist_<protocol>_<which>.png (rows beside it as .json)")

    maps = sub.add_parser("maps", help="per-image overlays of the maps a model exposes (DNDM)")
    maps.add_argument("--input", nargs="+", required=True, metavar="PATH", help="image files, folders or list files")
    add_label_argument(maps, label_key(), "images")
    maps.add_argument("--output-dir", metavar="DIR", help="default OUTPUT_DIR/visualize/maps")

    for command in (ranks, maps):
        command.add_argument("--no-progress", action="store_true", help="no progress bar")
        add_model_arguments(command)

    curves = sub.add_parser("curves", help="training curves of a run")
    curves.add_argument("--metrics", required=True, metavar="FILE", help="the run's metrics.json")
    curves.add_argument("--output", metavar="FILE.png", help="default: curves.png beside metrics.json")

    args = parser.parse_args(argv)
    move_overrides(args, *{"ranklist": ["queries"], "maps": ["input"]}.get(args.command, []))
    return args


def ranklist(args: argparse.Namespace) -> int:
    if args.topk < 1 or args.num < 1:
        raise UserError(f"--topk and --num must be at least 1, got {args.topk} and {args.num}")
    cfg = load_model_config(args.config_file, args.opts)
    protocol = args.protocol or (cfg.DATASETS.TESTS[0] if cfg.DATASETS.TESTS else None)
    if not protocol:
        raise UserError("no protocol: pass --protocol NAME (e.g. SynDN_D2N) or set DATASETS.TESTS")
    ranking = rank_protocol(cfg, Embedder(cfg).model, protocol, args.topk, not args.no_progress)
    if args.queries:
        chosen, which = choose_queries(ranking.ranked, args.queries, [r[0] for r in ranking.queries]), "chosen"
    else:
        chosen, which = select_queries(ranking.ranked, args.select, args.num), args.select
    if not chosen:
        raise UserError(f"no query of {protocol} has a match in its gallery; nothing to rank")
    output = args.output or os.path.join(cfg.OUTPUT_DIR, "visualize", f"ranklist_{protocol}_{which}.png")
    draw_ranklist(ranklist_rows(chosen, ranking.queries, ranking.gallery, label_key()), output)
    aps = [r.ap for r in ranking.ranked if not math.isnan(r.ap)]
    print(tabulate([[r.query, ranking.queries[r.query][0], r.ap, r.first_match or "-"] for r in chosen],
                   headers=["query", "image", "AP", "first match"], floatfmt=".3f", tablefmt="github"))
    print(f"\n{protocol}: mAP {100 * sum(aps) / len(aps):.1f}% over {len(aps)} queries; "
          f"{which} {len(chosen)} -> {output}")
    return 0


def maps(args: argparse.Namespace) -> int:
    key = label_key()
    cfg = load_model_config(args.config_file, args.opts)
    entries = read_inputs(args.input, label_argument(args, key), key)
    embedder = Embedder(cfg, key=key)
    out_dir = args.output_dir or os.path.join(cfg.OUTPUT_DIR, "visualize", "maps")
    sheets = write_map_sheets(embedder.model, embedder.loader(entries), entries, out_dir, key, not args.no_progress)
    print(f"{len(sheets)} map sheets ({', '.join(next(iter(sheets.values())))}) -> {out_dir}")
    return 0


def curves(args: argparse.Namespace) -> int:
    output = args.output or os.path.join(os.path.dirname(os.path.abspath(args.metrics)), "curves.png")
    panels = plot_curves(read_metrics(args.metrics), output, title=args.metrics)
    print(f"{', '.join(panels)} -> {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return {"ranklist": ranklist, "maps": maps, "curves": curves}[args.command](args)


if __name__ == "__main__":
    run_cli(main)
