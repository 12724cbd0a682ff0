"""What a random ranking scores: the floor a trained model must clear."""
from __future__ import annotations

import torch


def chance_metrics(q_pids, g_pids, q_camids, g_camids) -> dict[str, float]:
    """Expected rank-1 and mAP of a uniformly random ranking, exactly, under the same
    same-id-same-camera removal as the evaluator. With N kept gallery entries of which R match,
    E[rank-1] = R/N and E[AP] = (H_N + (R-1)/(N-1) * (N - H_N)) / N (H_N the harmonic number)."""
    q_pids, g_pids, q_camids, g_camids = (torch.as_tensor(a).reshape(-1) for a in (q_pids, g_pids, q_camids, g_camids))
    rank1, ap = [], []
    for start in range(0, len(q_pids), 1024):
        qp, qc = q_pids[start:start + 1024, None], q_camids[start:start + 1024, None]
        same = g_pids[None] == qp
        keep = ~(same & (g_camids[None] == qc))
        n = keep.sum(1).double()
        r = (same & keep).sum(1).double()
        valid = r > 0
        n, r = n[valid], r[valid]
        h = torch.special.digamma(n + 1) + 0.5772156649015329  # H_N
        rank1.append(r / n)
        ap.append((h + torch.where(n > 1, (r - 1) / (n - 1).clamp(min=1), torch.zeros_like(n)) * (n - h)) / n)
    rank1, ap = torch.cat(rank1), torch.cat(ap)
    return {"Rank-1": rank1.mean().item(), "mAP": ap.mean().item()}
