"""Rank lists through the core alone, on the toy project's set: the per-query ranking agrees with
the evaluator, and the drawn borders follow the ground truth of the protocol's records."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vreid.errors import UserError
from vreid.evaluation import Labels, rank
from vreid.visualization import RankRow, choose_queries, rank_queries, select_queries
from vreid.visualization.canvas import MATCH, MISMATCH, QUERY, open_tile
from vreid.visualization.ranklist import ranklist_grid


def border_colours(png, grid, row, col):
    """Colours of the middle of a tile's left and top border."""
    left, top, right, bottom = grid.box(row, col)
    return {png.getpixel((left + 1, (top + bottom) // 2)), png.getpixel(((left + right) // 2, top + 1))}


def pid_of(path: str) -> int:
    """Ground truth from the toy layout's file names themselves: <pid>_c<cam>_<n>.jpg."""
    return int(Path(path).name.split("_")[0])


def test_ranklist_borders_follow_ground_truth(toy_root, saved_model, run_tool, tmp_path, capsys):
    out = tmp_path / "best.png"
    code = run_tool("visualize", "ranklist", "--protocol", "ToyReID", "--select", "best", "--num", 4,
                    "--topk", 6, "--output", out, "--no-progress", *saved_model("Baseline").args())
    assert code == 0, capsys.readouterr().err
    rows = [RankRow(**row) for row in json.loads(out.with_suffix(".json").read_text())]
    grid = ranklist_grid(rows, (96, 96))
    png = Image.open(out).convert("RGB")
    assert png.size == grid.size and len(rows) == 4
    seen = set()
    for r, row in enumerate(rows):
        assert border_colours(png, grid, r, 0) == {QUERY}
        assert "/image_query/" in row.query_path and all("/image_test/" in g for g in row.gallery_paths)
        distances = [float(c[0].split()[-1]) for c in row.gallery_captions]
        assert distances == sorted(distances) and len(distances) == 6
        for c, gallery in enumerate(row.gallery_paths, start=1):
            left, top, right, bottom = grid.box(r, c)
            inside = png.crop((left + grid.border, top + grid.border, right - grid.border, bottom - grid.border))
            assert inside.tobytes() == open_tile(gallery, grid.tile).tobytes()  # the tile shows this image
            expected = MATCH if pid_of(gallery) == pid_of(row.query_path) else MISMATCH
            assert border_colours(png, grid, r, c) == {expected}, (r, c)
            seen.add(expected)
    assert seen == {MATCH, MISMATCH}  # both kinds were drawn, so the check compared something


def test_per_query_ranking_agrees_with_the_evaluator():
    gen = torch.Generator().manual_seed(0)
    num_q, num_g = 40, 90
    dist = (torch.rand(num_q, num_g, generator=gen) * 20).round() / 20  # many exact ties
    q_pids, g_pids = torch.randint(0, 12, (num_q,), generator=gen), torch.randint(0, 12, (num_g,), generator=gen)
    q_cams, g_cams = torch.randint(0, 3, (num_q,), generator=gen), torch.randint(0, 3, (num_g,), generator=gen)
    ranked = rank_queries(dist, Labels.of(q_pids, g_pids, q_cams, g_cams), topk=10, chunk_size=16)

    valid = [r for r in ranked if not math.isnan(r.ap)]
    expected = rank(dist, Labels.of(q_pids, g_pids, q_cams, g_cams)).summary()
    assert np.mean([r.ap for r in valid]) == pytest.approx(expected["mAP"], abs=1e-9)
    assert np.mean([r.first_match == 1 for r in valid]) == pytest.approx(expected["Rank-1"], abs=1e-6)  # CMC is float32
    assert len(ranked) - len(valid) == expected["num_skipped_queries"]
    for r in ranked:
        same_id_and_cam = (g_pids == q_pids[r.query]) & (g_cams == q_cams[r.query])
        kept = [g for g in range(num_g) if not same_id_and_cam[g]]
        nearest = sorted(kept, key=lambda g: (float(dist[r.query, g]), g))[:10]  # ties: gallery order
        assert r.gallery == nearest
        assert r.matches == [bool(g_pids[g] == q_pids[r.query]) for g in nearest]


def test_best_worst_and_chosen_queries():
    gen = torch.Generator().manual_seed(1)
    dist = torch.rand(30, 60, generator=gen)
    pids_q, pids_g = torch.arange(30) % 10, torch.arange(60) % 10
    ranked = rank_queries(dist, Labels.of(pids_q, pids_g, torch.zeros(30), torch.ones(60)), topk=5)
    best, worst = select_queries(ranked, "best", 5), select_queries(ranked, "worst", 5)
    assert [r.ap for r in best] == sorted((r.ap for r in best), reverse=True)
    assert min(r.ap for r in best) >= max(r.ap for r in worst)
    assert min(r.ap for r in best) == sorted(r.ap for r in ranked)[-5]

    paths = [f"/data/day/{i:04d}/q{i}.jpg" for i in range(30)]
    picked = choose_queries(ranked, ["7", "q12.jpg", paths[3]], paths)
    assert [r.query for r in picked] == [7, 12, 3]
    with pytest.raises(UserError, match="nope.jpg"):
        choose_queries(ranked, ["nope.jpg"], paths)


def test_unknown_protocol_is_a_clear_error(toy_root, saved_model, run_tool, capsys):
    code = run_tool("visualize", "ranklist", "--protocol", "ToyReID_X", "--no-progress",
                    *saved_model("Baseline").args())
    err = capsys.readouterr().err
    assert code == 2 and "unknown dataset 'ToyReID_X'" in err and "Traceback" not in err
