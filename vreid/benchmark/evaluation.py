"""Ranking cost at a chosen query x gallery size, on features with a known cluster structure: the evaluator's
time and memory, and ``evaluate_rank`` against fast-reid's per-query numpy loop on the same distances."""
from __future__ import annotations

import time
import warnings
from typing import Any, Callable

import numpy as np
import torch

from vreid.evaluation.distance import pairwise_distance
from vreid.evaluation.evaluator import ReidEvaluator
from vreid.evaluation.rank import evaluate_rank

from .memory import current_mib, peak_mib, reset_peak


def clustered_features(num_query: int, num_gallery: int, dim: int, num_ids: int,
                       seed: int = 0) -> dict[str, torch.Tensor]:
    """Id centre + per-domain shift + noise, so rankings are non-trivial. Every id is in the
    gallery, split over two domain/camera values; queries come from a third, as in the
    cross-domain protocols."""
    gen = torch.Generator().manual_seed(seed)
    centres = 0.25 * torch.randn(num_ids, dim, generator=gen)
    domain_shift = 0.1 * torch.randn(3, dim, generator=gen)
    g_pids = torch.arange(num_gallery) % num_ids
    g_camids = torch.randint(0, 2, (num_gallery,), generator=gen)
    q_pids = torch.randint(0, num_ids, (num_query,), generator=gen)
    q_camids = torch.full((num_query,), 2)

    def feats(pids: torch.Tensor, camids: torch.Tensor) -> torch.Tensor:
        return centres[pids] + domain_shift[camids] + torch.randn(pids.numel(), dim, generator=gen)

    return {"query": feats(q_pids, q_camids), "gallery": feats(g_pids, g_camids),
            "q_pids": q_pids, "g_pids": g_pids, "q_camids": q_camids, "g_camids": g_camids}


def measure_eval(num_query: int, num_gallery: int, dim: int = 2048, num_ids: int = 712,
                 device: str | torch.device = "cpu", chunk_size: int = 256,
                 rerank: tuple[int, int, float] | None = None, seed: int = 0) -> dict:
    """Seconds and peak memory of ``ReidEvaluator.evaluate`` on extracted features: cosine
    distances and exact CMC/mAP/mINP a chunk of queries at a time, the chance level, and
    k-reciprocal re-ranking (k1, k2, lambda) when given."""
    data = clustered_features(num_query, num_gallery, dim, num_ids, seed)
    device = torch.device(device)
    evaluator = ReidEvaluator(num_query, "cosine", chunk_size=chunk_size, rerank=rerank)
    evaluator.process({"targets": torch.cat([data["q_pids"], data["g_pids"]]),
                       "camids": torch.cat([data["q_camids"], data["g_camids"]])},
                      torch.cat([data["query"], data["gallery"]]).to(device))
    del data
    reset_peak(device)
    before = current_mib(device)
    start = time.perf_counter()
    results = evaluator.evaluate()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return {"eval_s": time.perf_counter() - start, "eval_shape": [num_query, num_gallery, dim],
            "eval_rerank": list(rerank) if rerank else None, "eval_rank1": results["Rank-1"] / 100,
            "eval_peak_mib": peak_mib(device), "eval_before_mib": before}


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


def compare_with_reference(num_query: int, num_gallery: int, dim: int = 2048, num_ids: int = 712, max_rank: int = 50,
                           chunk_size: int = 256, seed: int = 0, repeat: int = 3) -> dict:
    """Seconds of (a) ``pairwise_distance`` and (b) ``evaluate_rank`` (best of ``repeat``) and (c) fast-reid's
    ``eval_market1501`` (once: it is slow) on the same cosine distances, and how far (b) and (c) differ; queries
    whose AP differs without exact distance ties would be a real disagreement, since ``np.argsort`` breaks ties
    arbitrarily and ``evaluate_rank`` by gallery order."""
    from fastreid.evaluation.rank import eval_market1501

    data = clustered_features(num_query, num_gallery, dim, num_ids, seed)
    labels = [data[k].numpy() for k in ("q_pids", "g_pids", "q_camids", "g_camids")]
    distmat, t_dist = timed(lambda: pairwise_distance(data["query"], data["gallery"], "cosine"), repeat)
    (cmc, ap, inp), t_ours = timed(lambda: evaluate_rank(distmat, *labels, max_rank, chunk_size=chunk_size), repeat)
    dist_np = distmat.numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (ref_cmc, ref_ap, ref_inp), t_ref = timed(lambda: eval_market1501(dist_np, *labels, max_rank))
    ap_diff, inp_diff = np.abs(np.asarray(ref_ap) - ap), np.abs(np.asarray(ref_inp) - inp)
    differing = np.flatnonzero((ap_diff > 1e-6) | (inp_diff > 1e-6))
    return {"shape": [num_query, num_gallery, dim], "threads": torch.get_num_threads(), "t_distance_s": t_dist,
            "t_ours_s": t_ours, "rank1": float(cmc[0]), "mAP": float(np.mean(ap)), "mINP": float(np.mean(inp)),
            "t_reference_s": t_ref, "speedup": t_ref / t_ours,
            "max_abs_diff_mAP": abs(float(np.mean(ref_ap)) - float(np.mean(ap))),
            "max_abs_diff_AP": float(ap_diff.max()), "max_abs_diff_INP": float(inp_diff.max()),
            "max_abs_diff_cmc": float(np.max(np.abs(ref_cmc - cmc))), "num_queries_differing": int(differing.size),
            "num_differing_without_ties": count_tie_free(dist_np, differing)}
