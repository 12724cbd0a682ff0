"""The vectorised evaluator must reproduce fast-reid's Python market1501 evaluator."""
from __future__ import annotations

import warnings

import vreid  # noqa: F401  (fast-reid compat layer; must precede fastreid imports)
import numpy as np
import pytest
import torch

from vreid.evaluation.distance import pairwise_distance
from vreid.evaluation.rank import Labels, evaluate_rank, rank

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "Cython rank evaluation is unavailable"
    from fastreid.evaluation.rank import eval_market1501


def _random_case(seed: int, nq: int, ng: int, nids: int, ncams: int, disjoint_cams: bool = False):
    """Continuous distances; repeated pids/cams; some query ids absent from the gallery."""
    rng = np.random.default_rng(seed)
    dist = rng.random((nq, ng)).astype(np.float32)
    q_pids = rng.integers(0, nids + 3, nq)  # ids >= nids never appear in the gallery
    g_pids = rng.integers(0, nids, ng)
    q_cams = rng.integers(0, ncams, nq)
    g_cams = rng.integers(ncams if disjoint_cams else 0, 2 * ncams if disjoint_cams else ncams, ng)
    return dist, q_pids, g_pids, q_cams, g_cams


def _assert_equal_to_reference(case, max_rank: int = 50, **kwargs) -> None:
    ref_cmc, ref_ap, ref_inp = eval_market1501(*case, max_rank)
    cmc, ap, inp = evaluate_rank(*case, max_rank, **kwargs)
    assert cmc.dtype == np.float32 and cmc.shape == ref_cmc.shape
    assert ap.shape == (len(ref_ap),) and inp.shape == (len(ref_inp),)
    np.testing.assert_allclose(cmc, ref_cmc, atol=1e-6, rtol=0)
    np.testing.assert_allclose(ap, ref_ap, atol=1e-6, rtol=0)
    np.testing.assert_allclose(inp, ref_inp, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "seed,nq,ng,nids,ncams",
    [(0, 40, 300, 20, 3), (1, 100, 1000, 60, 4), (2, 64, 500, 300, 2), (3, 25, 120, 5, 6)],
)
def test_matches_fastreid(seed, nq, ng, nids, ncams):
    case = _random_case(seed, nq, ng, nids, ncams)
    assert not np.isin(case[1], case[2]).all(), "case should contain queries without a match"
    _assert_equal_to_reference(case)


@pytest.mark.parametrize("seed,ng,max_rank", [(4, 20, 50), (5, 7, 10), (6, 50, 50)])
def test_small_gallery_matches_fastreid(seed, ng, max_rank):
    # Disjoint cameras: nothing is removed, so fast-reid's per-query cmc rows stay equal
    # in length (it fails on ragged rows otherwise).
    case = _random_case(seed, 30, ng, 6, 2, disjoint_cams=True)
    _assert_equal_to_reference(case, max_rank)
    assert len(evaluate_rank(*case, max_rank)[0]) == min(max_rank, ng)


def test_chunk_size_does_not_change_results():
    case = _random_case(7, 50, 400, 25, 3)
    results = [evaluate_rank(*case, chunk_size=c) for c in (1, 7, 50)]
    for other in results[1:]:  # identical up to float64 summation order
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, atol=1e-12, rtol=0)


def test_hand_made_case():
    # gallery by distance: neg, pos, neg, pos -> precisions 1/2, 2/4
    cmc, ap, inp = evaluate_rank(np.array([[0.1, 0.2, 0.3, 0.4]]), [1], [2, 1, 3, 1], [0], [1, 1, 1, 1])
    np.testing.assert_allclose(ap, [0.5])
    np.testing.assert_allclose(inp, [0.5])
    np.testing.assert_array_equal(cmc, [0, 1, 1, 1])


def test_ties_follow_gallery_order():
    # All distances equal: stable order is the gallery order [pos, neg, neg, pos, neg]
    # -> AP = (1/1 + 2/4) / 2 = 0.75, INP = 2/4, rank-1 hit.
    cmc, ap, inp = evaluate_rank(np.zeros((1, 5)), [1], [1, 2, 3, 1, 4], [0], [1, 1, 1, 1, 1])
    np.testing.assert_allclose(ap, [0.75])
    np.testing.assert_allclose(inp, [0.5])
    assert cmc[0] == 1


def test_same_camera_matches_removed_other_camera_kept():
    # gallery by distance: same-id same-cam (removed), neg, same-id other cam
    # -> kept list [neg, pos]: AP = 1/2, rank-1 miss, rank-2 hit.
    cmc, ap, inp = evaluate_rank(np.array([[0.1, 0.2, 0.3]]), [5], [5, 6, 5], [0], [0, 1, 1])
    np.testing.assert_allclose(ap, [0.5])
    np.testing.assert_allclose(inp, [0.5])
    np.testing.assert_array_equal(cmc, [0, 1, 1])


def test_torch_inputs():
    case = _random_case(8, 30, 200, 15, 3)
    expected = evaluate_rank(*case)
    got = evaluate_rank(*(torch.from_numpy(np.asarray(x)) for x in case))
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)


def test_no_valid_query_raises():
    with pytest.raises(ValueError, match="no valid query"):
        evaluate_rank(np.random.rand(2, 3), [1, 2], [3, 4, 5], [0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match="no valid query"):  # only same-camera matches
        evaluate_rank(np.random.rand(1, 2), [1], [1, 1], [0], [0, 0])


def test_fastreid_positional_signature():
    """fast-reid's callers may pass (distmat, ..., max_rank, use_metric_cuhk03, use_cython)."""
    case = _random_case(3, 20, 80, 10, 3)
    expected = evaluate_rank(*case, max_rank=10)
    for got, want in zip(evaluate_rank(*case, 10, False, False), expected):
        np.testing.assert_array_equal(got, want)


def test_cuhk03_runs_fastreids_single_gallery_shot_protocol():
    from fastreid.evaluation.rank import eval_cuhk03

    case = _random_case(4, 15, 90, 12, 3)
    np.random.seed(0)
    want_cmc, want_map = eval_cuhk03(*case, 10)
    np.random.seed(0)
    cmc, mAP = evaluate_rank(*(torch.from_numpy(np.asarray(x)) for x in case), 10, True)
    np.testing.assert_array_equal(cmc, want_cmc)
    assert mAP == want_map


def test_rank_summary_agrees_with_evaluate_rank():
    case = _random_case(9, 60, 300, 20, 3)
    cmc, ap, inp = evaluate_rank(*case)
    m = rank(case[0], Labels.of(*case[1:])).summary()
    assert m["num_valid_queries"] == len(ap) and m["num_valid_queries"] + m["num_skipped_queries"] == 60
    assert m["num_skipped_queries"] > 0
    assert m["Rank-1"] == pytest.approx(cmc[0]) and m["Rank-20"] == pytest.approx(cmc[19])
    assert m["mAP"] == pytest.approx(ap.mean()) and m["mINP"] == pytest.approx(inp.mean())
    assert m["Rank-20"] <= 1.0
    small = rank(case[0][:, :8], Labels.of(case[1], case[2][:8], case[3], case[4][:8])).summary()
    assert small["Rank-10"] == small["Rank-20"]  # past the gallery: value at last position


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_pairwise_distance(metric):
    gen = torch.Generator().manual_seed(0)
    q, g = torch.randn(37, 16, generator=gen), torch.randn(53, 16, generator=gen)
    if metric == "cosine":
        expected = 1 - torch.nn.functional.cosine_similarity(q[:, None], g[None], dim=2)
    else:
        expected = torch.cdist(q.double(), g.double()).float()
    full = pairwise_distance(q, g, metric)
    assert full.dtype == torch.float32 and full.shape == (37, 53)
    torch.testing.assert_close(full, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pairwise_distance(q, g, metric, chunk_size=5), full, atol=1e-6, rtol=0)


def test_pairwise_distance_identical_points_and_bad_metric():
    x = torch.randn(4, 8)
    assert torch.all(pairwise_distance(x, x, "euclidean").diagonal() >= 0)
    with pytest.raises(ValueError, match="cosine"):
        pairwise_distance(x, x, "manhattan")


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_distance_rows_ranked_in_chunks_equal_the_full_matrix(metric):
    """Chunked distances + ranking give exactly what the whole distance matrix gives."""
    from vreid.benchmark.evaluation import clustered_features
    from vreid.evaluation.distance import distance_rows, pairwise_distance

    d = clustered_features(37, 120, 16, 12, seed=3)
    labels = Labels.of(d["q_pids"], d["g_pids"], d["q_camids"], d["g_camids"])
    full = rank(pairwise_distance(d["query"], d["gallery"], metric), labels).summary()
    chunked = rank(distance_rows(d["query"], d["gallery"], metric), labels, chunk_size=5).summary()
    assert chunked == full


def test_progress_logs_an_eta_only_once_per_period(caplog, monkeypatch):
    import logging

    from vreid import progress as progress_module

    clock = iter([0.0, 10.0, 40.0, 50.0, 100.0])
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: next(clock))
    p = progress_module.Progress("ranking queries", 100, period=30.0)  # starts at t=0
    with caplog.at_level(logging.INFO, logger=progress_module.__name__):
        for done in (10, 40, 50, 80):  # at t = 10, 40, 50, 100
            p.update(done)
    lines = [r.getMessage() for r in caplog.records]
    # t=40: 40 done in 40 s, 60 left -> 60 s; t=50 is within the period; t=100: 80 in 100 s -> 25 s.
    assert lines == ["ranking queries: 40/100, ETA 0:01:00", "ranking queries: 80/100, ETA 0:00:25"]
