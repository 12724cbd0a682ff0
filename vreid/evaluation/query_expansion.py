"""Average query expansion as fast-reid defines it (TEST.AQE: QE_TIME, QE_K, ALPHA), chunked.

fast-reid's ``aqe`` replaces every feature, query and gallery alike, by the mean of its QE_K most
cosine-similar features of the whole test set (itself among them), each weighted by its
similarity to the power ALPHA, QE_TIME times over; the weights come from the unit vectors, the
averaged features stay unnormalised. It builds the (query + gallery)^2 similarity matrix in
NumPy at once (77 GB at VeRi-Wild's size); here a chunk of rows is made and reduced at a time,
on the features' device, to the same features within float rounding.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from vreid.errors import UserError

__all__ = ["query_expansion"]


@torch.no_grad()
def query_expansion(query: torch.Tensor, gallery: torch.Tensor, times: int = 1, k: int = 5, alpha: float = 3.0,
                    chunk_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """(query, gallery) features after ``times`` rounds of expansion over ``k`` neighbours."""
    feats = torch.cat([query, gallery]).float()
    if not 1 <= k <= feats.shape[0]:
        raise UserError(f"TEST.AQE.QE_K {k} must be between 1 and the {feats.shape[0]} test images")
    for _ in range(times):
        feats = _expand(feats, k, alpha, chunk_size)
    return feats[:query.shape[0]], feats[query.shape[0]:]


def _expand(feats: torch.Tensor, k: int, alpha: float, chunk_size: int) -> torch.Tensor:
    """One round: every row the similarity-weighted mean of its k nearest rows (by cosine)."""
    unit = F.normalize(feats, p=2, dim=1)
    out = torch.empty_like(feats)
    for start in range(0, feats.shape[0], chunk_size):
        sims = unit[start:start + chunk_size] @ unit.T
        weights, nearest = sims.topk(k, dim=1)
        out[start:start + chunk_size] = (feats[nearest] * weights.pow(alpha).unsqueeze(-1)).mean(dim=1)
    return out
