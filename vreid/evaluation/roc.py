"""fast-reid's ROC figures (TEST.ROC.ENABLED): TPR at FPR 1e-4, 1e-3 and 1e-2, under its keys.

fast-reid's evaluator gathers, for every query, the distances to the gallery entries the
same-camera rule keeps, split into those of its identity and the others; it labels them 0 and 1,
takes the distances as scores for scikit-learn's ``roc_curve``, and reports ``tprs`` at the point
whose FPR is nearest each threshold, as ``TPR@FPR=1e-04`` and so on. Its positive class is thus a
pair of different vehicles, scored by distance: TPR@FPR=x is the share of different-vehicle
pairs farther than the distance beyond which a share x of same-vehicle pairs lie. The same
computation is done here from distance rows a chunk of queries at a time (fast-reid needs the
dense matrix), and the values are reported in percent like every other column (fast-reid
reports fractions). Every kept pair is held once, 4 bytes each: 5 GB at VeRi-Wild Large.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from sklearn import metrics

from vreid.evaluation.rank import Labels

FPRS = (1e-4, 1e-3, 1e-2)
__all__ = ["FPRS", "roc_keys", "roc_scores"]


def roc_scores(rows: Callable[[int, int], torch.Tensor], labels: Labels,
               chunk_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(scores, labels) as fast-reid's ``evaluate_roc`` gives them: the kept distances, 0 for a
    pair of the same identity and 1 for another (the order of the pairs does not change the curve)."""
    same, other = [], []
    for start in range(0, labels.num_query, chunk_size):
        stop = min(start + chunk_size, labels.num_query)
        dist = rows(start, stop).float()
        same_pid = labels.g_pids[None, :] == labels.q_pids[start:stop, None]
        keep = ~(same_pid & (labels.g_camids[None, :] == labels.q_camids[start:stop, None]))
        same.append(dist[same_pid & keep].cpu())
        other.append(dist[~same_pid & keep].cpu())
    same_all, other_all = torch.cat(same).numpy(), torch.cat(other).numpy()
    scores = np.concatenate([same_all, other_all])
    return scores, np.concatenate([np.zeros(len(same_all)), np.ones(len(other_all))])


def roc_keys(rows: Callable[[int, int], torch.Tensor], labels: Labels, chunk_size: int = 256) -> dict[str, float]:
    """``{"TPR@FPR=1e-04": ..., ...}`` in percent, fast-reid's definition (module docstring)."""
    scores, pair_labels = roc_scores(rows, labels, chunk_size)
    fprs, tprs, _ = metrics.roc_curve(pair_labels, scores)
    return {f"TPR@FPR={fpr:.0e}": float(tprs[np.argmin(np.abs(fprs - fpr))]) * 100 for fpr in FPRS}
