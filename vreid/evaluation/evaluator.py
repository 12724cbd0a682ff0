"""ReID evaluator for fast-reid's ``inference_on_dataset``: exact ranks on the model's device."""
from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Sequence

import torch

from fastreid.evaluation.evaluator import DatasetEvaluator
from fastreid.utils import comm

from vreid.data.draws import GalleryDraw
from vreid.errors import UserError
from vreid.evaluation.chance import chance_metrics
from vreid.evaluation.distance import distance_rows
from vreid.evaluation.query_expansion import query_expansion
from vreid.evaluation.rank import Labels, QueryStats, rank
from vreid.evaluation.rerank import KReciprocalReranker
from vreid.evaluation.table import SD_SUFFIX, mean_and_sd

logger = logging.getLogger(__name__)
RANKS = ("Rank-1", "Rank-5", "Rank-10", "Rank-20", "mAP", "mINP")


class ReidEvaluator(DatasetEvaluator):
    """Collects features of query then gallery images and reports CMC rank-1/5/10/20, mAP and
    mINP in percent, fast-reid's checkpoint-selection ``metric`` = (mAP + rank-1) / 2, and the
    rank-1 and mAP of a random ranking (``chance_*``) to read them against.

    A gallery entry with the query's identity and camera is dropped (fast-reid's rule), so a
    cross-domain protocol gives query and gallery different camids. fast-reid's query expansion
    (``aqe``: (times, k, alpha)) runs before ranking, its ROC figures (``roc``) after it. A test
    set with several splits of its images (``draws``, VehicleID's gallery draws) is evaluated on
    each, and reported as the mean over the draws with each metric's standard deviation beside it
    (``<metric>_sd``) and their number (``draws``); each draw's seed and numbers are logged.
    """

    def __init__(self, num_query: int, metric: str = "cosine", chunk_size: int = 256,
                 rerank: tuple[int, int, float] | None = None, aqe: tuple[int, int, float] | None = None,
                 roc: bool = False, draws: Sequence[GalleryDraw] = ()):
        self._num_query = num_query
        self._metric = metric
        self._chunk_size = chunk_size
        self._rerank = rerank  # (k1, k2, lambda) for k-reciprocal re-ranking
        self._aqe = aqe  # (QE_TIME, QE_K, ALPHA) of fast-reid's average query expansion
        self._roc = roc
        self._draws = tuple(draws)
        self.reset()

    @classmethod
    def from_config(cls, cfg, num_query: int, draws: Sequence[GalleryDraw] = ()) -> "ReidEvaluator":
        r, a = cfg.TEST.RERANK, cfg.TEST.AQE
        return cls(num_query, metric=cfg.TEST.METRIC, chunk_size=cfg.TEST.CHUNK_SIZE,
                   rerank=(r.K1, r.K2, r.LAMBDA) if r.ENABLED else None,
                   aqe=(a.QE_TIME, a.QE_K, a.ALPHA) if a.ENABLED else None, roc=cfg.TEST.ROC.ENABLED, draws=draws)

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
        if not self._draws:
            q, g = slice(0, self._num_query), slice(self._num_query, None)
            return self._evaluate_split(feats[q], feats[g], pids[q], pids[g], camids[q], camids[g])
        return self._evaluate_draws(feats, pids, camids)

    def _evaluate_draws(self, feats: torch.Tensor, pids: torch.Tensor, camids: torch.Tensor) -> dict[str, float]:
        """Every draw's metrics, logged with its seed, and their mean and standard deviation."""
        per_draw = []
        for draw in self._draws:
            q, g = (torch.as_tensor(draw.query, dtype=torch.long), torch.as_tensor(draw.gallery, dtype=torch.long))
            per_draw.append(self._evaluate_split(feats[q.to(feats.device)], feats[g.to(feats.device)], pids[q],
                                                 pids[g], camids[q], camids[g]))
            logger.info(f"gallery draw seed {draw.seed}: {len(draw.query)} queries, {len(draw.gallery)} gallery; "
                        + ", ".join(f"{k} {per_draw[-1][k]:.2f}" for k in ("Rank-1", "Rank-5", "mAP")))
        results = mean_and_sd(per_draw)
        results["draws"] = float(len(per_draw))
        logger.info(f"{len(per_draw)} gallery draws (seeds {', '.join(str(d.seed) for d in self._draws)}): "
                    + ", ".join(f"{k} {results[k]:.2f} ± {results[k + SD_SUFFIX]:.2f}" for k in ("Rank-1", "mAP")))
        return results

    def _evaluate_split(self, q_feats: torch.Tensor, g_feats: torch.Tensor, q_pids: torch.Tensor,
                        g_pids: torch.Tensor, q_camids: torch.Tensor, g_camids: torch.Tensor) -> dict[str, float]:
        """The metrics of one query set against one gallery."""
        labels = Labels.of(q_pids, g_pids, q_camids, g_camids, q_feats.device)
        distances = self._distances(q_feats, g_feats)
        m = self._summary(rank(distances, labels, self._chunk_size), len(q_pids))
        results = OrderedDict((k, m[k] * 100) for k in RANKS)
        results["metric"] = (m["mAP"] + m["Rank-1"]) / 2 * 100
        results["num_queries"] = float(m["num_valid_queries"])
        chance = chance_metrics(q_pids, g_pids, q_camids, g_camids)
        results["chance_Rank-1"], results["chance_mAP"] = chance["Rank-1"] * 100, chance["mAP"] * 100
        if self._roc:
            from vreid.evaluation.roc import roc_keys  # scikit-learn, only when asked for

            results.update(roc_keys(distances, labels, self._chunk_size))
        if m["num_skipped_queries"]:
            logger.warning(f"{m['num_skipped_queries']} of {len(q_pids)} queries have no match in the gallery; "
                           "skipped")
        return results

    def _distances(self, q: torch.Tensor, g: torch.Tensor):
        """Distance rows of the queries to the gallery, made a chunk at a time: after fast-reid's
        query expansion when asked, and re-ranked when asked (in that order, as fast-reid does)."""
        if self._aqe is not None:
            q, g = query_expansion(q, g, *self._aqe, chunk_size=self._chunk_size)
        if self._rerank is None:
            return distance_rows(q, g, self._metric)
        if self._metric == "cosine":  # squared Euclidean of unit vectors = 2 - 2 cos
            for x in (q, g):  # the features are this evaluator's own copy (or slices of it)
                x.div_(x.norm(dim=1, keepdim=True).clamp_min_(1e-12))
        return KReciprocalReranker(q, g, *self._rerank, chunk_size=self._chunk_size).distances

    def _summary(self, stats: QueryStats, num_query: int) -> dict[str, float | int]:
        """The metrics of the queries with a match. Without any, rank.py's ValueError would reach the
        user as a traceback; the trainer's check names the test set before extraction, and this line
        covers every other caller (the benchmark, a library user)."""
        if not bool(stats.valid.any()):
            raise UserError(f"none of the {num_query} queries has a match among the {stats.num_gallery} "
                            "gallery images (the query's identity under another camera), so there is no metric to "
                            "compute: give the test set query and gallery lists of the same identities")
        return stats.summary()
