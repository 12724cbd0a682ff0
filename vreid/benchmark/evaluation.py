"""Ranking cost at a chosen query x gallery size, on features with a known cluster structure."""
from __future__ import annotations

import time

import torch

from vreid.evaluation.evaluator import ReidEvaluator

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
                 rerank: tuple[int, int, float] | None = None) -> dict:
    """Seconds and peak memory of ``ReidEvaluator.evaluate`` on extracted features: cosine
    distances and exact CMC/mAP/mINP a chunk of queries at a time, the chance level, and
    k-reciprocal re-ranking (k1, k2, lambda) when given."""
    data = clustered_features(num_query, num_gallery, dim, num_ids)
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
