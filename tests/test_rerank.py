"""k-reciprocal re-ranking against a literal, loop-by-loop reading of the method."""
import numpy as np
import pytest
import torch

from vreid.benchmark.evaluation import clustered_features
from vreid.evaluation.evaluator import ReidEvaluator
from vreid.evaluation.rank import Labels, rank
from vreid.evaluation.rerank import KReciprocalReranker, k_reciprocal_rerank


def reference(q: np.ndarray, g: np.ndarray, k1: int, k2: int, lam: float) -> np.ndarray:
    x = np.concatenate([q, g]).astype(np.float64)
    n, nq = len(x), len(q)
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    d = d / d.max(axis=1, keepdims=True)
    order = np.argsort(d, axis=1, kind="stable")

    def reciprocal(i, k):
        return [j for j in order[i, : k + 1] if i in order[j, : k + 1]]

    v = np.zeros((n, n))
    for i in range(n):
        r = reciprocal(i, k1)
        grown = set(r)
        for c in r:
            rc = reciprocal(c, int(round(k1 / 2)))
            if len(set(rc) & set(r)) > 2 / 3 * len(rc):
                grown |= set(rc)
        idx = sorted(grown)
        w = np.exp(-d[i, idx])
        v[i, idx] = w / w.sum()
    if k2 > 1:
        v = np.stack([v[order[i, :k2]].mean(0) for i in range(n)])
    jaccard = np.zeros((nq, n - nq))
    for i in range(nq):
        for j in range(n - nq):
            shared = np.minimum(v[i], v[nq + j]).sum()
            jaccard[i, j] = 1 - shared / (2 - shared)
    return (1 - lam) * jaccard + lam * d[:nq, nq:]


@pytest.mark.parametrize("k1, k2, lam", [(6, 3, 0.3), (4, 1, 0.5)])
def test_matches_literal_reference(k1, k2, lam):
    data = clustered_features(12, 40, 16, 8, seed=1)
    ours = k_reciprocal_rerank(data["query"], data["gallery"], k1, k2, lam, chunk_size=5)
    expected = reference(data["query"].numpy(), data["gallery"].numpy(), k1, k2, lam)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_lambda_one_is_the_normalised_distance_and_bad_settings_fail():
    data = clustered_features(5, 20, 8, 4)
    x = torch.cat([data["query"], data["gallery"]])
    d = torch.cdist(x, x) ** 2
    d = d / d.max(dim=1, keepdim=True).values
    torch.testing.assert_close(k_reciprocal_rerank(data["query"], data["gallery"], 4, 2, 1.0),
                               d[:5, 5:], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="TEST.RERANK"):
        k_reciprocal_rerank(data["query"], data["gallery"], 0, 2, 0.3)


def test_evaluator_reranks_when_enabled():
    data = clustered_features(20, 80, 16, 10, seed=2)
    feats = torch.cat([data["query"], data["gallery"]])
    pids = torch.cat([data["q_pids"], data["g_pids"]])
    camids = torch.cat([data["q_camids"], data["g_camids"]])
    results = {}
    for rerank in (None, (6, 3, 0.3)):
        ev = ReidEvaluator(20, "cosine", rerank=rerank)
        ev.process({"targets": pids, "camids": camids}, feats)
        results[rerank] = ev.evaluate()
    plain, reranked = results[None], results[(6, 3, 0.3)]
    assert 0 < reranked["mAP"] <= 100 and reranked["num_queries"] == plain["num_queries"] == 20
    assert reranked["mAP"] != plain["mAP"]


def test_chunking_changes_nothing_and_encodings_stay_sparse():
    data = clustered_features(30, 170, 16, 20, seed=3)
    whole = k_reciprocal_rerank(data["query"], data["gallery"], 8, 4, 0.3, chunk_size=1000)
    torch.testing.assert_close(k_reciprocal_rerank(data["query"], data["gallery"], 8, 4, 0.3, chunk_size=7),
                               whole, rtol=1e-5, atol=1e-6)
    reranker = KReciprocalReranker(data["query"], data["gallery"], 8, 4, 0.3, chunk_size=7)
    n = 200
    assert reranker.q_vals.numel() + reranker.g_vals.numel() < n * n / 4  # never a dense V


def test_evaluator_ranks_the_reranked_distances_chunk_by_chunk():
    data = clustered_features(25, 90, 16, 10, seed=4)
    feats = torch.cat([data["query"], data["gallery"]])
    pids = torch.cat([data["q_pids"], data["g_pids"]])
    camids = torch.cat([data["q_camids"], data["g_camids"]])
    ev = ReidEvaluator(25, "euclidean", chunk_size=4, rerank=(6, 3, 0.3))
    ev.process({"targets": pids, "camids": camids}, feats)
    got = ev.evaluate()
    dist = k_reciprocal_rerank(data["query"], data["gallery"], 6, 3, 0.3)
    expected = rank(dist, Labels.of(data["q_pids"], data["g_pids"], data["q_camids"], data["g_camids"])).summary()
    assert got["mAP"] == pytest.approx(expected["mAP"] * 100, abs=1e-9)
    assert got["Rank-1"] == pytest.approx(expected["Rank-1"] * 100, abs=1e-9)
