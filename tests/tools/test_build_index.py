"""tools/build_index.py and tools/search.py --index end to end: an index built from one feature
file and grown by --add searches as the exact search of the whole gallery does; another model's
features, queries or a damaged index stop with one line naming the files."""
import pytest


def hits(stdout: str) -> list[tuple[str, float]]:
    """(image, distance) of every row of every table search printed."""
    rows = [line for line in stdout.splitlines() if line.startswith("|") and line.strip("|").split("|")[0].strip()
            .isdigit()]
    return [(cells[-1].strip(), float(cells[1])) for cells in (row.strip("|").split("|") for row in rows)]


def extract(run_tool, model, inputs, out) -> None:
    assert run_tool("extract_features", "--input", *inputs, "--output", out, "--no-progress", *model.args()) == 0


def test_an_index_grown_by_add_searches_as_the_whole_feature_file(saved_model, run_tool, toy_images, tmp_path,
                                                                  capsys):
    model = saved_model("Baseline")
    query_images, test_images = toy_images("query", range(25, 31)), toy_images("test", range(25, 31))
    extract(run_tool, model, query_images, tmp_path / "first.npy")
    extract(run_tool, model, test_images, tmp_path / "second.npy")
    extract(run_tool, model, [*query_images, *test_images], tmp_path / "whole.npy")
    index = tmp_path / "city.faiss"
    assert run_tool("build_index", "--features", tmp_path / "first.npy", "--index", index) == 0
    assert run_tool("build_index", "--index", index, "--add", tmp_path / "second.npy") == 0
    assert f"flat index of {len(query_images) + len(test_images)} features" in capsys.readouterr().out

    queries = [str(test_images[0]), str(query_images[3])]
    assert run_tool("search", "--features", tmp_path / "whole.npy", "--query", *queries, "--topk", 5,
                    "--no-progress") == 0
    exact = hits(capsys.readouterr().out)
    assert run_tool("search", "--index", index, "--query", *queries, "--topk", 5, "--no-progress") == 0
    found = hits(capsys.readouterr().out)
    assert [path for path, _ in found] == [path for path, _ in exact] and len(found) == 10
    assert [d for _, d in found] == pytest.approx([d for _, d in exact], abs=2e-4)
    assert found[0][0] == queries[0]


def test_another_models_features_and_queries_are_refused(saved_model, run_tool, toy_images, tmp_path, capsys):
    images = toy_images("test", range(25, 27))
    extract(run_tool, saved_model("Baseline"), images, tmp_path / "bot.npy")
    extract(run_tool, saved_model("ToyNet"), images, tmp_path / "toy.npy")
    index = tmp_path / "bot.faiss"
    assert run_tool("build_index", "--features", tmp_path / "bot.npy", "--index", index, "--kind", "hnsw") == 0
    capsys.readouterr()

    assert run_tool("build_index", "--index", index, "--add", tmp_path / "toy.npy") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {tmp_path / 'toy.npy'} was embedded by another model "
                                                   "(ToyNet, weights SHA-256 ")
    assert f"than {index} (Baseline, " in err

    toy_weights = saved_model("ToyNet").weights
    assert run_tool("search", "--index", index, "--query", images[0], "--no-progress", "MODEL.WEIGHTS",
                    toy_weights) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: MODEL.WEIGHTS {toy_weights} (SHA-256 ")
    assert f"is not the model that embedded {index}" in err


def test_a_truncated_index_and_misplaced_flags_give_one_line(saved_model, run_tool, toy_images, tmp_path, capsys):
    images = toy_images("test", range(25, 26))
    extract(run_tool, saved_model("Baseline"), images, tmp_path / "g.npy")
    index = tmp_path / "g.faiss"
    assert run_tool("build_index", "--features", tmp_path / "g.npy", "--index", index) == 0
    assert run_tool("build_index", "--index", index, "--add", tmp_path / "g.npy", "--nlist", 8) == 2
    assert capsys.readouterr().err == (f"error: --nlist is for building; {index} keeps the kind and parameters it "
                                       "was built with\n")
    assert run_tool("build_index", "--features", tmp_path / "g.npy", "--index", tmp_path / "p.faiss",
                    "--kind", "ivfpq") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --nlist 1024 exceeds the ") and f"vectors of {tmp_path / 'g.npy'} to train on" in err
    assert not (tmp_path / "p.faiss").exists()
    index.write_bytes(index.read_bytes()[:100])
    assert run_tool("search", "--index", index, "--query", images[0], "--no-progress") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {index} (100 bytes) is not the index {index}.json was "
                                                   "written for")
