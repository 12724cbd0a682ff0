"""ReID evaluator for fast-reid's ``inference_on_dataset``: exact ranks on the model's device."""
from __future__ import annotations

import logging
from collections import OrderedDict

import torch

from fastreid.evaluation.evaluator import DatasetEvaluator
from fastreid.utils import comm

from vreid.errors import UserError
from vreid.evaluation.chance import chance_metrics
from vreid.evaluation.distance import distance_rows
from vreid.evaluation.rank import Labels, QueryStats, rank
from vreid.evaluation.rerank import KReciprocalReranker

logger = logging.getLogger(__name__)


class ReidEvaluator(DatasetEvaluator):
    """Collects features of query then gallery images and reports CMC rank-1/5/10/20, mAP and
    mINP in percent, fast-reid's checkpoint-selection ``metric`` = (mAP + rank-1) / 2, and the
    rank-1 and mAP of a random ranking (``chance_*``) to read them against.

    A gallery entry with the query's identity and camera is dropped (fast-reid's rule), so a
    cross-domain protocol gives query and gallery different camids.
    """

    def __init__(self, num_query: int, metric: str = "cosine", chunk_size: int = 256,
                 rerank: tuple[int, int, float] | None = None):
        self._num_query = num_query
        self._metric = metric
        self._chunk_size = chunk_size
        self._rerank = rerank  # (k1, k2, lambda) for k-reciprocal re-ranking
        self.reset()

    @classmethod
    def from_config(cls, cfg, num_query: int) -> "ReidEvaluator":
        """fast-reid's TEST.AQE (query expansion) and TEST.ROC (ROC curves) are not implemented
        here; rather than report numbers that silently ignore them, a config that asks fails."""
        asked = [f"TEST.{k}" for k in ("AQE", "ROC") if cfg.TEST[k].ENABLED]
        if asked:
            raise UserError(f"{' and '.join(asked)} are not implemented by the evaluator: set "
                            f"{' and '.join(k + '.ENABLED False' for k in asked)}")
        r = cfg.TEST.RERANK
        return cls(num_query, metric=cfg.TEST.METRIC, chunk_size=cfg.TEST.CHUNK_SIZE,
                   rerank=(r.K1, r.K2, r.LAMBDA) if r.ENABLED else None)

    def reset(self) -> None:
        self._feats: list[torch.Tensor] = []
        self._pids: list[torch.Tensor] = []
        self._camids: list[torch.Tensor] = []

    def process(self, inputs: dict, outputs: torch.Tensor) -> None:
        self._feats.append(outputs.detach().float())
        self._pids.append(torch.as_tensor(inputs["targets"]).cpu())
        self._camids.append(torch.as_tensor(inputs["camids"]).cpu())

    def _collect(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        feats, pids, camids = torch.cat(self._feats), torch.cat(self._pids), torch.cat(self._camids)
        if comm.get_world_size() == 1:
            return feats, pids, camids
        parts = comm.gather((feats.cpu(), pids, camids), dst=0)
        if not comm.is_main_process():
            return None
        feats, pids, camids = (torch.cat(list(p)) for p in zip(*parts))
        return feats.to(self._feats[0].device), pids, camids

    def evaluate(self) -> dict[str, float]:
        collected = self._collect()
        if collected is None:
            return {}
        feats, pids, camids = collected
        bad = int((~feats.isfinite().all(dim=1)).sum())
        if bad:
            raise UserError(f"{bad} of {len(feats)} test features hold NaN/inf, so any metric would be "
                            f"meaningless: the model's weights (MODEL.WEIGHTS) or its training diverged")
        q, g = slice(0, self._num_query), slice(self._num_query, None)
        labels = Labels.of(pids[q], pids[g], camids[q], camids[g], feats.device)
        if self._rerank is None:  # distances made and ranked a chunk of queries at a time
            distances = distance_rows(feats[q], feats[g], self._metric)
        else:
            if self._metric == "cosine":  # squared Euclidean of unit vectors = 2 - 2 cos
                feats.div_(feats.norm(dim=1, keepdim=True).clamp_min_(1e-12))  # _collect's own copy
            distances = KReciprocalReranker(feats[q], feats[g], *self._rerank, chunk_size=self._chunk_size).distances
        m = self._summary(rank(distances, labels, self._chunk_size))
        results = OrderedDict((k, m[k] * 100) for k in ("Rank-1", "Rank-5", "Rank-10", "Rank-20", "mAP", "mINP"))
        results["metric"] = (m["mAP"] + m["Rank-1"]) / 2 * 100
        results["num_queries"] = float(m["num_valid_queries"])
        chance = chance_metrics(pids[q], pids[g], camids[q], camids[g])
        results["chance_Rank-1"], results["chance_mAP"] = chance["Rank-1"] * 100, chance["mAP"] * 100
        if m["num_skipped_queries"]:
            logger.warning(f"{m['num_skipped_queries']} of {self._num_query} queries have no match in the gallery; "
                           "skipped")
        return results

    def _summary(self, stats: QueryStats) -> dict[str, float | int]:
        """The metrics of the queries with a match. Without any, rank.py's ValueError would reach the
        user as a traceback; the trainer's check names the test set before extraction, and this line
        covers every other caller (the benchmark, a library user)."""
        if not bool(stats.valid.any()):
            raise UserError(f"none of the {self._num_query} queries has a match among the {stats.num_gallery} "
                            "gallery images (the query's identity under another camera), so there is no metric to "
                            "compute: give the test set query and gallery lists of the same identities")
        return stats.summary()
