"""Benchmark the vectorised ReID evaluator against fast-reid's per-query numpy loop.

Builds random clustered features at DN-Wild scale (default 2,617 queries x 19,568 gallery,
2048-d, 712 ids). Each id's gallery images are split across two domain/camera values and
queries come from a third camera, as in the cross-domain protocol. Times
(a) ``pairwise_distance``, (b) ``vreid.evaluation.rank.evaluate_rank`` and
(c) ``fastreid.evaluation.rank.eval_market1501`` on the same distmat, checks (b) == (c).

    python tools/benchmark_eval.py [--skip-reference] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import vreid  # noqa: F401  (fast-reid compat layer; must precede fastreid imports)
import numpy as np
import torch

from vreid.benchmark.evaluation import clustered_features
from vreid.evaluation.distance import pairwise_distance
from vreid.evaluation.rank import evaluate_rank


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-query", type=int, default=2617)
    p.add_argument("--num-gallery", type=int, default=19568)
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--num-ids", type=int, default=712)
    p.add_argument("--max-rank", type=int, default=50)
    p.add_argument("--chunk-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3, help="best-of-N timing for (a) and (b)")
    p.add_argument("--skip-reference", action="store_true", help="skip fast-reid's slow numpy loop")
    p.add_argument("--json", type=Path, help="write the results here")
    return p.parse_args()


def make_data(args: argparse.Namespace) -> dict[str, torch.Tensor]:
    return clustered_features(args.num_query, args.num_gallery, args.dim, args.num_ids, args.seed)


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[Any, float]:
    """Result and best wall time of ``repeat`` runs (best-of-N damps noise on shared CPUs)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def count_tie_free(dist: np.ndarray, rows: np.ndarray) -> int:
    """How many of ``rows`` have no two exactly equal distances (ties explain differences)."""
    return sum(int(np.all(np.diff(np.sort(dist[r])) != 0)) for r in rows)


def main() -> None:
    args = parse_args()
    data = make_data(args)
    labels = [data[k].numpy() for k in ("q_pids", "g_pids", "q_camids", "g_camids")]
    distmat, t_dist = timed(lambda: pairwise_distance(data["query"], data["gallery"], "cosine"), args.repeat)
    (cmc, ap, inp), t_ours = timed(
        lambda: evaluate_rank(distmat, *labels, args.max_rank, chunk_size=args.chunk_size), args.repeat
    )
    result: dict[str, Any] = {
        "shape": [args.num_query, args.num_gallery, args.dim], "threads": torch.get_num_threads(),
        "t_distance_s": t_dist, "t_ours_s": t_ours,
        "rank1": float(cmc[0]), "mAP": float(np.mean(ap)), "mINP": float(np.mean(inp)),
    }
    rows = [("pairwise_distance (cosine)", t_dist), ("evaluate_rank (vreid, torch)", t_ours)]
    if not args.skip_reference:
        from fastreid.evaluation.rank import eval_market1501

        dist_np = distmat.numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (ref_cmc, ref_ap, ref_inp), t_ref = timed(
                lambda: eval_market1501(dist_np, *labels, args.max_rank)
            )
        rows.append(("eval_market1501 (fast-reid, numpy loop)", t_ref))
        ap_diff = np.abs(np.asarray(ref_ap) - ap)
        inp_diff = np.abs(np.asarray(ref_inp) - inp)
        differing = np.flatnonzero((ap_diff > 1e-6) | (inp_diff > 1e-6))
        result.update(
            t_reference_s=t_ref, speedup=t_ref / t_ours,
            max_abs_diff_mAP=abs(float(np.mean(ref_ap)) - result["mAP"]),
            max_abs_diff_AP=float(ap_diff.max()), max_abs_diff_INP=float(inp_diff.max()),
            max_abs_diff_cmc=float(np.max(np.abs(ref_cmc - cmc))),
            num_queries_differing=int(differing.size),
            num_differing_without_ties=count_tie_free(dist_np, differing),
        )
    print(f"{args.num_query} queries x {args.num_gallery} gallery x {args.dim}-d, "
          f"{torch.get_num_threads()} torch threads, best of {args.repeat} for ours")
    for name, seconds in rows:
        print(f"  {name:<42s} {seconds:8.2f} s")
    print(f"  Rank-1 {result['rank1']:.4f}  mAP {result['mAP']:.4f}  mINP {result['mINP']:.4f}")
    if "speedup" in result:
        print(f"  speed-up (reference / ours): {result['speedup']:.1f}x; max |diff|: "
              f"mAP {result['max_abs_diff_mAP']:.2e}, AP {result['max_abs_diff_AP']:.2e}, "
              f"INP {result['max_abs_diff_INP']:.2e}, cmc {result['max_abs_diff_cmc']:.2e}")
        print(f"  queries with AP/INP diff > 1e-6: {result['num_queries_differing']} "
              f"({result['num_differing_without_ties']} without exact distance ties; np.argsort "
              f"breaks ties arbitrarily, evaluate_rank by gallery order)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
