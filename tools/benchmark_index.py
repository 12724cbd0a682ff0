#!/usr/bin/env python
"""Benchmark the gallery index kinds (exact flat, IVF-PQ, HNSW) at city scale on synthetic features.

Builds a clustered synthetic gallery (default 1,000,000 x 512-d: 4,000 vehicle types, identities
of 10 crops), draws 10,000 queries near gallery crops, and reports per kind: build time, the size
of the index file, resident-memory growth, queries/s of one batch search, and recall@1/@10
against the exact (flat) search. Search-time values (--nprobe, --ef-search) take several values
each: one row per value, on the same index.

    python tools/benchmark_index.py                                   # 1M x 512, all kinds
    python tools/benchmark_index.py --rows 200000 --kinds flat hnsw   # a smaller HNSW run
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import faiss

from vreid.benchmark.gallery_index import Synthetic, clustered_gallery, markdown, measure_kind
from vreid.deploy.index_params import IndexParams


def parse_args() -> argparse.Namespace:
    d, s = IndexParams(), Synthetic()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=s.rows, help="gallery rows")
    p.add_argument("--dim", type=int, default=s.dim)
    p.add_argument("--clusters", type=int, default=s.clusters, help="vehicle types the identities fall in")
    p.add_argument("--crops-per-id", type=int, default=s.crops_per_id)
    p.add_argument("--queries", type=int, default=s.queries)
    p.add_argument("--seed", type=int, default=s.seed)
    p.add_argument("--threads", type=int, default=faiss.omp_get_max_threads(), help="faiss (OpenMP) threads")
    p.add_argument("--kinds", nargs="+", choices=("flat", "ivfpq", "hnsw"), default=["flat", "ivfpq", "hnsw"],
                   help="flat is always measured: it gives the exact neighbours recall is counted against")
    p.add_argument("--nlist", type=int, default=d.nlist)
    p.add_argument("--pq-m", type=int, default=d.pq_m)
    p.add_argument("--pq-nbits", type=int, default=d.pq_nbits)
    p.add_argument("--nprobe", type=int, nargs="+", default=[8, d.nprobe, 64])
    p.add_argument("--hnsw-m", type=int, default=d.hnsw_m)
    p.add_argument("--ef-construction", type=int, default=d.ef_construction)
    p.add_argument("--ef-search", type=int, nargs="+", default=[32, d.ef_search, 128])
    p.add_argument("--json", type=Path, help="also write the rows here")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    faiss.omp_set_num_threads(args.threads)
    spec = Synthetic(args.rows, args.dim, args.clusters, args.crops_per_id, args.queries, args.seed)
    gallery, queries = clustered_gallery(spec)
    params = {"flat": IndexParams(), "ivfpq": IndexParams("ivfpq", nlist=args.nlist, pq_m=args.pq_m,
                                                          pq_nbits=args.pq_nbits),
              "hnsw": IndexParams("hnsw", hnsw_m=args.hnsw_m, ef_construction=args.ef_construction)}
    search_values = {"flat": [], "ivfpq": args.nprobe, "hnsw": args.ef_search}
    for kind in ("ivfpq", "hnsw"):
        params[kind].check(args.dim, args.rows, "the synthetic gallery")
    rows, exact = measure_kind(params["flat"], [], gallery, queries, None)
    for kind in (k for k in ("ivfpq", "hnsw") if k in args.kinds):
        rows += measure_kind(params[kind], search_values[kind], gallery, queries, exact)[0]
        print(f"{kind} measured", flush=True)
    print(f"{args.rows} x {args.dim}-d gallery ({args.clusters} types, {args.crops_per_id} crops per identity), "
          f"{args.queries} queries in one batch, top-10, {args.threads} faiss threads")
    print(markdown(rows, args.rows))
    if args.json:
        args.json.write_text(json.dumps({"synthetic": vars(spec), "threads": args.threads, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
