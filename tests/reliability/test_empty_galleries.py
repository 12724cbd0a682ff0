"""An empty gallery is refused in one line: a feature file of 0 rows by tools/build_index.py and
tools/search.py --features, an index of 0 vectors by tools/search.py --index (faiss asserts
on it) before any query is embedded, and by the library's search."""
import numpy as np
import pytest
from PIL import Image

from vreid.deploy import FeatureFile, GalleryIndex, Provenance, Rows, save_features
from vreid.deploy.index_params import IndexParams, new_index
from vreid.errors import UserError
from vreid.projects import label_key

DIM = 8
MODEL = Provenance("cosine", "Baseline", "MODEL:\n  META_ARCHITECTURE: Baseline\n", "0" * 64, DIM)


@pytest.fixture
def query(tmp_path) -> str:
    Image.new("RGB", (16, 16)).save(tmp_path / "car.jpg")
    return str(tmp_path / "car.jpg")


@pytest.fixture
def empty_features(tmp_path) -> str:
    path = str(tmp_path / "empty.npy")
    save_features(path, FeatureFile(np.zeros((0, DIM), np.float32), Rows(), MODEL), label_key())
    return path


@pytest.fixture
def empty_index(tmp_path) -> GalleryIndex:
    index = GalleryIndex(new_index(IndexParams(), DIM, "cosine"), IndexParams(), Rows(), MODEL, [])
    index.save(str(tmp_path / "empty.faiss"), label_key())
    return index


def test_an_empty_feature_file_is_neither_indexed_nor_searched(empty_features, tool, tmp_path, query, capsys):
    line = (f"error: {empty_features} holds no features (shape (0, {DIM})): an empty gallery can be neither "
            f"searched nor indexed; re-run tools/extract_features.py --output {empty_features} with the gallery's "
            "images\n")
    assert tool("build_index", "--features", empty_features, "--index", tmp_path / "g.faiss") == 2
    assert capsys.readouterr().err == line and not (tmp_path / "g.faiss").exists()
    assert tool("search", "--features", empty_features, "--query", query, "--no-progress") == 2
    assert capsys.readouterr().err == line


def test_an_empty_index_is_refused_before_the_queries(empty_index, tool, query, capsys):
    line = (f"{empty_index.path} is an empty gallery (0 images): nothing to search; add features to it with "
            f"tools/build_index.py --index {empty_index.path} --add FILE.npy")
    assert tool("search", "--index", empty_index.path, "--query", query, "--no-progress") == 2
    assert capsys.readouterr().err == f"error: {line}\n"
    with pytest.raises(UserError) as info:
        empty_index.search(np.ones((1, DIM), np.float32), 5)
    assert str(info.value) == line

