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
    return cells[3], float(cells[1])


def test_extract_folders_then_search_finds_the_image_itself(saved_model, run_tool, tiny_images, dn_root, tmp_path,
                                                           capsys):
    model_files = saved_model("Baseline")
    folders = [dn_root / "night" / f"{pid:04d}" for pid in (25, 26, 27)]
    out = tmp_path / "feats" / "night.npy"
    assert run_tool("extract_features", "--input", *folders, "--output", out, "--no-progress", *model_files.args()) == 0

    images = [str(p) for p in tiny_images("night", range(25, 28))]
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


def test_dndm_list_file_domains_reach_the_model(saved_model, run_tool, tiny_images, tmp_path, capsys):
    model_files = saved_model("DNDM")
    day, night = tiny_images("day", range(25, 27)), tiny_images("night", range(25, 27))
    listing = tmp_path / "images.txt"
    listing.write_text("# path domain\n" + "".join(f"{p} day\n" for p in day) + "".join(f"{p}\n" for p in night))
    out = tmp_path / "mixed.npy"
    assert run_tool("extract_features", "--input", listing, "--domain", "night", "--output", out,
                    "--no-progress", *model_files.args()) == 0
    index = json.loads(out.with_suffix(".json").read_text())
    assert index["domains"] == ["day"] * len(day) + ["night"] * len(night)

    capsys.readouterr()
    assert run_tool("search", "--features", out, "--query", day[2], "--domain", "day", "--no-progress") == 0
    path, distance = first_hit(capsys.readouterr().out)
    assert path == str(day[2]) and distance == pytest.approx(0, abs=1e-5)
    # The same pixels through the night branch (other stem, glare prior) embed elsewhere.
    assert run_tool("search", "--features", out, "--query", day[2], "--domain", "night", "--no-progress") == 0
    assert first_hit(capsys.readouterr().out)[1] > 1e-4


@pytest.mark.parametrize("case, message", [
    ("no_domain", "DNDM needs the domain of every image"),
    ("bad_domain", "images.txt:2: unknown domain 'dusk'"),
    ("missing_image", "images.txt:1: image"),
    ("bad_output", "must end in .npy"),
])
def test_extract_errors_name_the_problem(case, message, saved_model, run_tool, tiny_images, tmp_path, capsys):
    image = tiny_images("night", range(25, 26))[0]
    listing = tmp_path / "images.txt"
    lines = {"bad_domain": f"{image} night\n{image} dusk\n", "missing_image": "gone.jpg day\n"}
    listing.write_text(lines.get(case, f"{image}\n"))
    output = tmp_path / ("f.txt" if case == "bad_output" else "f.npy")
    code = run_tool("extract_features", "--input", listing, "--output", output, "--no-progress",
                    *saved_model("DNDM").args())
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not output.exists()


def test_search_rejects_an_index_that_does_not_fit_its_matrix(saved_model, run_tool, tiny_images, tmp_path, capsys):
    out = tmp_path / "g.npy"
    images = tiny_images("night", range(25, 26))
    assert run_tool("extract_features", "--input", *images, "--output", out, "--no-progress",
                    *saved_model("Baseline").args()) == 0
    index = json.loads(out.with_suffix(".json").read_text())
    index["paths"] = index["paths"][:-1]
    out.with_suffix(".json").write_text(json.dumps(index))
    capsys.readouterr()
    assert run_tool("search", "--features", out, "--query", images[0], "--no-progress") == 2
    err = capsys.readouterr().err
    assert "g.json lists 2 paths" in err and "re-run tools/extract_features.py" in err
