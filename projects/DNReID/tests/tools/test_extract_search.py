"""Feature extraction and search with DNDM: list-file domains reach the model (the same pixels
through the other domain's branch embed elsewhere), and every bad input, a domain included,
stopped with one line that names what to fix."""
import json

import pytest



def first_hit(stdout: str) -> tuple[str, float]:
    """(image, distance) of the first row of the first table search printed."""
    row = next(line for line in stdout.splitlines() if line.startswith("|      1 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    return cells[3], float(cells[1])


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
