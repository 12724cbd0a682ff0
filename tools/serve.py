#!/usr/bin/env python
"""Serve one gallery over HTTP: search by image, add crops with their metadata, a page to search from.

    python tools/serve.py --index index/city.faiss                        # a tools/build_index.py index
    python tools/serve.py --index galleries/new.faiss --kind hnsw \\
        --config-file configs/synthetic/dndm.yml MODEL.WEIGHTS output/demo/dndm/model_final.pth   # starts empty
    VREID_SERVE_TOKEN=secret python tools/serve.py --index index/city.faiss --host 0.0.0.0 --port 8000

Beside the index it keeps NAME.faiss.sqlite (every row's metadata, WAL mode), NAME.faiss.snapshot
and NAME.faiss.crops/ (docs/serve.md). Queries are embedded by the model that made the gallery:
its stored config, or --config-file and KEY VALUE overrides (e.g. MODEL.DEVICE cuda); other
weights are refused. It listens on 127.0.0.1 unless --host says otherwise.
"""
from __future__ import annotations

import argparse
import os
import sys

from vreid.cli import add_index_search_arguments, given, run_cli, summary
from vreid.deploy.index_params import SEARCH_FIELDS, IndexParams
from vreid.errors import UserError
from vreid.projects import label_key

try:
    from vreid.serve import Batching, Limits, ModelChoice, open_gallery, serve
    from vreid.serve.server import bind
except ModuleNotFoundError as missing:
    if missing.name.split(".")[0] not in ("starlette", "uvicorn", "multipart", "python_multipart"):
        raise
    print(f"error: tools/serve.py needs {missing.name}, of the serve extra: pip install -e '.[serve]' "
          "-c requirements-lock.txt", file=sys.stderr)
    sys.exit(2)

TOKEN_ENV = "VREID_SERVE_TOKEN"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--index", required=True, metavar="FILE.faiss",
                        help="the gallery: a tools/build_index.py index (imported on the first start), a gallery "
                             "this tool made, or a new name (with --config-file: an empty gallery)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=int, default=8000, help="port (0: a free one, printed)")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV) or None,
                        help=f"require this token on every route (default: ${TOKEN_ENV})")
    parser.add_argument("--kind", choices=("flat", "hnsw"), default="flat", help="index kind of a new gallery")
    add_index_search_arguments(parser)
    parser.add_argument("--max-batch", type=int, default=Batching.max_batch,
                        help="searches embedded and searched together (1: one at a time)")
    parser.add_argument("--batch-wait-ms", type=float, default=Batching.wait_s * 1000,
                        help="how long a search waits for others to join its batch")
    parser.add_argument("--max-queue", type=int, default=Batching.max_queue,
                        help="requests waiting at most; more are answered 503")
    parser.add_argument("--max-k", type=int, default=Limits.max_k, help="largest k a search may ask for")
    parser.add_argument("--max-body-mb", type=float, default=Limits.max_body / 2 ** 20,
                        help="largest request body in MiB")
    parser.add_argument("--max-pixels", type=int, default=Limits.max_pixels,
                        help="largest image (width x height) an upload may claim")
    parser.add_argument("--max-images", type=int, default=Limits.max_images, help="crops in one add, at most")
    parser.add_argument("--snapshot-every", type=int, default=10000,
                        help="rows added between two saves of the faiss index (a restart replays at most these)")
    parser.add_argument("--config-file", metavar="FILE", help="model config instead of the one the gallery stores")
    parser.add_argument("--debug", action="store_true", help="on an error, print the full traceback too")
    parser.add_argument("opts", nargs=argparse.REMAINDER, metavar="KEY VALUE", help="config overrides, last")
    return parser.parse_args(argv)


def check(args: argparse.Namespace) -> None:
    """Every number in range, before the model is loaded."""
    for name in ("max_batch", "max_queue", "max_k", "max_pixels", "max_images", "snapshot_every"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.batch_wait_ms < 0 or args.max_body_mb <= 0:
        raise UserError("--batch-wait-ms must be at least 0 and --max-body-mb above 0")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be from 0 to 65535, got {args.port}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check(args)
    sock = bind(args.host, args.port)  # a port in use is said before the model is loaded
    store, embedder = open_gallery(args.index, ModelChoice(args.config_file, args.opts), label_key(),
                                   IndexParams(args.kind), given(args, SEARCH_FIELDS), args.snapshot_every)
    if store.replayed:
        print(f"{store.replayed} rows added since the last snapshot were appended again from {store.files.db}")
    batching = Batching(args.max_batch, args.batch_wait_ms / 1000, args.max_queue)
    limits = Limits(int(args.max_body_mb * 2 ** 20), args.max_pixels, args.max_k, args.max_images)
    serve(store, embedder, sock, batching, limits, args.token)
    return 0


if __name__ == "__main__":
    run_cli(main)
