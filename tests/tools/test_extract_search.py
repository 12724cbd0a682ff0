"""Feature extraction and search: files written, indices kept, the image itself found at rank 1,
and every bad input stopped with one line that names what to fix."""
import json

import numpy as np
import pytest
from PIL import Image

from vreid.deploy import load_features
from vreid.visualization import RankRow
from vreid.visualization.canvas import QUERY, UNKNOWN
from vreid.visualization.ranklist import ranklist_grid


def first_hit(stdout: str) -> tuple[str, float]:
    """(image, distance) of the first row of the first table search printed."""
    row = next(line for line in stdout.splitlines() if line.startswith("|      1 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    return cells[-1], float(cells[1])  # the image is the last column, after any label column


def test_extract_folders_then_search_finds_the_image_itself(saved_model, run_tool, toy_images, toy_root, tmp_path,
                                                           capsys):
    model_files = saved_model("Baseline")
    folders = [toy_root / "image_query", toy_root / "image_test"]
    out = tmp_path / "feats" / "gallery.npy"
    assert run_tool("extract_features", "--input", *folders, "--output", out, "--no-progress", *model_files.args()) == 0

    images = [str(p) for split in ("query", "test") for p in toy_images(split, range(25, 37))]
    saved = load_features(str(out))
    assert saved.paths == images and saved.features.shape == (len(images), 512)
    assert saved.meta_architecture == "Baseline" and saved.metric == "cosine"
    assert np.isfinite(saved.features).all() and len(np.unique(saved.features.round(4), axis=0)) == len(images)

    query = images[5]
    capsys.readouterr()
    png = tmp_path / "hits.png"
    assert run_tool("search", "--features", out, "--query", query, "--topk", 3, "--png", png, "--no-progress") == 0
    path, distance = first_hit(capsys.readouterr().out)
    assert path == query and distance == pytest.approx(0, abs=1e-5)
    grid = ranklist_grid([RankRow(query, [], [""] * 3, [[]] * 3, [None] * 3)], (96, 96))
    sheet = Image.open(png).convert("RGB")
    assert sheet.size == grid.size
    for col, colour in enumerate([QUERY, UNKNOWN, UNKNOWN, UNKNOWN]):  # no ground truth: grey frames
        left, top, _, bottom = grid.box(0, col)
        assert sheet.getpixel((left + 1, (top + bottom) // 2)) == colour


@pytest.mark.parametrize("case, message", [
    ("missing_image", "images.txt:1: image"),
    ("bad_output", "must end in .npy"),
])
def test_extract_errors_name_the_problem(case, message, saved_model, run_tool, toy_images, tmp_path, capsys):
    image = toy_images("test", range(25, 26))[0]
    listing = tmp_path / "images.txt"
    listing.write_text("gone.jpg\n" if case == "missing_image" else f"{image}\n")
    output = tmp_path / ("f.txt" if case == "bad_output" else "f.npy")
    code = run_tool("extract_features", "--input", listing, "--output", output, "--no-progress",
                    *saved_model("ToyNet").args())
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not output.exists()


def test_search_rejects_an_index_that_does_not_fit_its_matrix(saved_model, run_tool, toy_images, tmp_path, capsys):
    out = tmp_path / "g.npy"
    images = toy_images("test", range(25, 26))
    assert run_tool("extract_features", "--input", *images, "--output", out, "--no-progress",
                    *saved_model("Baseline").args()) == 0
    index = json.loads(out.with_suffix(".json").read_text())
    index["paths"] = index["paths"][:-1]
    out.with_suffix(".json").write_text(json.dumps(index))
    capsys.readouterr()
    assert run_tool("search", "--features", out, "--query", images[0], "--no-progress") == 2
    err = capsys.readouterr().err
    assert "g.json lists 2 paths" in err and "re-run tools/extract_features.py" in err
