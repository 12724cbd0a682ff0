"""fast-reid's query expansion (TEST.AQE) and ROC figures (TEST.ROC) are computed, equal to
fast-reid's own functions and evaluator on the same features and distances, instead of refused."""
import numpy as np
import pytest
import torch
from sklearn import metrics

from fastreid.evaluation.query_expansion import aqe
from fastreid.evaluation.roc import evaluate_roc_py

from vreid.config import get_cfg
from vreid.errors import UserError
from vreid.evaluation.evaluator import ReidEvaluator
from vreid.evaluation.query_expansion import query_expansion
from vreid.evaluation.rank import Labels
from vreid.evaluation.roc import roc_keys, roc_scores


def _features(seed: int = 0, ids: int = 12, shots: int = 4, dim: int = 16):
    """Clustered features of ``ids`` identities x ``shots`` images: the first shot of each is a query
    on camera 0, the rest the gallery on camera 1 and 2."""
    rng = torch.Generator().manual_seed(seed)
    pids = torch.arange(ids).repeat(shots)
    feats = torch.nn.functional.one_hot(pids, ids).float() @ torch.randn(ids, dim, generator=rng)
    feats += 0.9 * torch.randn(len(pids), dim, generator=rng)
    camids = torch.cat([torch.zeros(ids, dtype=torch.long), torch.arange(ids * (shots - 1)) % 2 + 1])
    return feats, pids, camids


@pytest.mark.parametrize("times, k, alpha", [(1, 5, 3.0), (2, 3, 1.0), (1, 1, 3.0)])
def test_query_expansion_equals_fastreids_aqe(times, k, alpha):
    feats, _, _ = _features()
    theirs = aqe(feats[:12].clone(), feats[12:].clone(), times, k, alpha)
    ours = query_expansion(feats[:12], feats[12:], times, k, alpha, chunk_size=5)  # chunks that split rows
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b.float(), rtol=1e-5, atol=1e-6)


def test_roc_equals_fastreids_on_a_fixed_distance_matrix():
    feats, pids, camids = _features(seed=1)
    q, g = torch.nn.functional.normalize(feats[:12], dim=1), torch.nn.functional.normalize(feats[12:], dim=1)
    dist = (1 - q @ g.T).numpy()
    dist[0, :3] = dist[0, 3]  # ties, which fast-reid's order and ours break differently
    args = [a.numpy() for a in (pids[:12], pids[12:], camids[:12], camids[12:])]
    scores, labels = evaluate_roc_py(dist, *args)
    ours_scores, ours_labels = roc_scores(lambda s, e: torch.from_numpy(dist[s:e]), Labels.of(*args), chunk_size=5)
    assert sorted(zip(ours_labels, ours_scores)) == sorted(zip(labels, scores))
    fprs, tprs, _ = metrics.roc_curve(labels, scores)
    expected = {f"TPR@FPR={f:.0e}": tprs[np.argmin(np.abs(fprs - f))] * 100 for f in (1e-4, 1e-3, 1e-2)}
    assert roc_keys(lambda s, e: torch.from_numpy(dist[s:e]), Labels.of(*args), chunk_size=5) == expected
    assert list(expected) == ["TPR@FPR=1e-04", "TPR@FPR=1e-03", "TPR@FPR=1e-02"]


@pytest.mark.parametrize("aqe_on, roc_on", [(True, True), (True, False), (False, True)])
def test_the_evaluator_equals_fastreids_with_aqe_and_roc(aqe_on, roc_on):
    """Both evaluators on the same features; fast-reid's ranks with vreid's evaluate_rank (vreid.compat),
    its ROC figures are fractions where ours are percent."""
    from fastreid.evaluation.reid_evaluation import ReidEvaluator as FastReidEvaluator

    feats, pids, camids = _features(seed=2)
    cfg = get_cfg()
    cfg.TEST.AQE.ENABLED, cfg.TEST.ROC.ENABLED = aqe_on, roc_on
    cfg.TEST.AQE.QE_K = 4
    ours, theirs = ReidEvaluator.from_config(cfg, num_query=12), FastReidEvaluator(cfg, num_query=12)
    for evaluator in (ours, theirs):
        evaluator.process({"targets": pids, "camids": camids}, feats.clone())
    got, expected = ours.evaluate(), theirs.evaluate()
    for key in ("Rank-1", "Rank-5", "Rank-10", "mAP", "mINP"):
        assert got[key] == pytest.approx(expected[key], abs=1e-4), key
    tpr = [k for k in expected if k.startswith("TPR@FPR=")]
    assert len(tpr) == (3 if roc_on else 0)
    for key in tpr:
        assert got[key] == pytest.approx(expected[key] * 100, abs=1e-6), key


def test_query_expansion_needs_as_many_test_images_as_neighbours():
    feats, _, _ = _features(ids=2, shots=2)
    with pytest.raises(UserError, match="TEST.AQE.QE_K 5 must be between 1 and the 4 test images"):
        query_expansion(feats[:2], feats[2:], 1, 5, 3.0)


def test_query_expansion_comes_before_reranking():
    """As in fast-reid: the expanded features are what the k-reciprocal re-ranking sees (whose blend is
    the paper's, vreid.evaluation.rerank, not fast-reid's)."""
    from vreid.evaluation.rank import rank
    from vreid.evaluation.rerank import KReciprocalReranker

    feats, pids, camids = _features(seed=3)
    cfg = get_cfg()
    cfg.TEST.AQE.ENABLED = cfg.TEST.RERANK.ENABLED = True
    evaluator = ReidEvaluator.from_config(cfg, num_query=12)
    evaluator.process({"targets": pids, "camids": camids}, feats.clone())
    q, g = (torch.nn.functional.normalize(x, dim=1) for x in aqe(feats[:12], feats[12:], 1, 5, 3.0))
    stats = rank(KReciprocalReranker(q, g, 20, 6, 0.3).distances, Labels.of(pids[:12], pids[12:], camids[:12],
                                                                              camids[12:]))
    assert evaluator.evaluate()["mAP"] == pytest.approx(stats.summary()["mAP"] * 100, abs=1e-4)
