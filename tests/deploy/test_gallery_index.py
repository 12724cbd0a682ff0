"""Gallery indexes on faiss: the flat index ranks as the exact search does, the approximate kinds
find nearly the same neighbours on clustered features, incremental adds equal one build, a save
stopped at any point leaves the previous index or the new one, and files or queries of another
model, truncated files and bad parameters are one line naming them."""
from __future__ import annotations

import json
import os

import faiss
import numpy as np
import pytest

from vreid.deploy.feature_file import FeatureFile
from vreid.deploy.gallery import ExactGallery
from vreid.deploy.gallery_index import GalleryIndex, load_index, open_gallery, pending_sidecar, sidecar_path
from vreid.deploy.index_params import IndexParams
from vreid.deploy.provenance import Provenance, Rows, file_sha256
from vreid.errors import UserError

DIM, ROWS, CLUSTER = 32, 4000, 10
IVFPQ = IndexParams("ivfpq", nlist=32, pq_m=16, pq_nbits=6, nprobe=8)  # 6 bits: codebooks train in a blink


def clustered(rows: int, seed: int) -> np.ndarray:
    """Well-separated clusters of CLUSTER rows each (a vehicle's crops): each row's ten nearest are
    its cluster, which an approximate index should find."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(rows // CLUSTER + 1, DIM))
    return (centres[np.arange(rows) // CLUSTER] + 0.15 * rng.normal(size=(rows, DIM))).astype(np.float32)


def near(gallery: np.ndarray, count: int) -> np.ndarray:
    """Queries a little off random gallery rows, as a new crop of a known vehicle is."""
    rng = np.random.default_rng(1)
    return gallery[rng.choice(len(gallery), count, replace=False)] + 0.05 * rng.normal(size=(count, DIM)).astype(
        np.float32)


def features(matrix: np.ndarray, weights_sha256: str = "a" * 64, name: str = "img") -> FeatureFile:
    return FeatureFile(matrix, Rows([f"{name}/{i:05d}.jpg" for i in range(len(matrix))], [None] * len(matrix)),
                       Provenance("cosine", "Baseline", "MODEL:\n  WEIGHTS: model.pth\n", weights_sha256, matrix.shape[1]))


@pytest.fixture(scope="module", autouse=True)
def _one_faiss_thread():
    """These indexes are a few thousand rows: faiss's OpenMP threads cost more in synchronisation
    than they save, and on cores another job shares an IVF-PQ build took 12 s with two threads
    and 0.5 s with one. Restored after the module (the setting is the process's, torch's too)."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(previous)


@pytest.fixture(scope="module")
def gallery() -> FeatureFile:
    return features(clustered(ROWS, seed=0))


def ids(hits) -> list[list[int]]:
    return [[h.index for h in row] for row in hits]


def recall_at(approx, exact, k: int) -> float:
    return float(np.mean([len(set(a[:k]) & set(e[:k])) / k for a, e in zip(ids(approx), ids(exact))]))


def test_the_flat_index_gives_the_exact_searchs_top_k(gallery):
    queries = near(gallery.features, 200)
    exact = ExactGallery("g.npy", features=gallery).search(queries, 10)
    flat = GalleryIndex.build(gallery, IndexParams(), "g.npy").search(queries, 10)
    assert ids(flat) == ids(exact)
    assert np.allclose([[h.distance for h in r] for r in flat], [[h.distance for h in r] for r in exact], atol=1e-5)


@pytest.mark.parametrize("params", [IVFPQ, IndexParams("hnsw", hnsw_m=16, ef_search=64)], ids=["ivfpq", "hnsw"])
def test_approximate_indexes_find_nearly_the_exact_neighbours(gallery, params):
    queries = near(gallery.features, 200)
    exact = ExactGallery("g.npy", features=gallery).search(queries, 10)
    approx = GalleryIndex.build(gallery, params, "g.npy").search(queries, 10)
    assert recall_at(approx, exact, 10) >= 0.9  # the vehicle's ten crops; PQ codes blur the order among them


@pytest.mark.parametrize("kind", ["flat", "ivfpq", "hnsw"])
def test_saved_and_loaded_the_index_searches_alike(gallery, kind, tmp_path):
    params = IVFPQ if kind == "ivfpq" else IndexParams(kind, hnsw_m=16)
    built = GalleryIndex.build(gallery, params, "g.npy")
    built.save(str(tmp_path / "g.faiss"))
    loaded = load_index(str(tmp_path / "g.faiss"))
    queries = near(gallery.features, 50)
    assert ids(loaded.search(queries, 5)) == ids(built.search(queries, 5))
    assert loaded.params.used() == params.used() and loaded.rows.paths == gallery.paths
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left


def save_stopped_at(monkeypatch, index: GalleryIndex, path: str, stop: str) -> None:
    """``index.save(path)`` interrupted (Ctrl-C, or a kill: the files are the same) as it renames
    a file onto ``stop``."""
    replace = os.replace

    def interrupted(src, dst):
        if dst == stop:
            raise KeyboardInterrupt
        replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        index.save(path)
    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("stop, rows", [("index", 100), ("sidecar", ROWS)], ids=["before-faiss", "between-renames"])
def test_a_stopped_save_leaves_the_previous_index_or_the_new_one(gallery, tmp_path, monkeypatch, stop, rows):
    path = str(tmp_path / "g.faiss")
    GalleryIndex.build(features(gallery.features[:100]), IndexParams(), "old.npy").save(path)
    save_stopped_at(monkeypatch, GalleryIndex.build(gallery, IndexParams(), "g.npy"), path,
                    path if stop == "index" else sidecar_path(path))
    assert os.path.exists(pending_sidecar(path)) == (stop == "sidecar")  # the new sidecar waits for the load
    loaded = load_index(path)
    assert loaded.index.ntotal == len(loaded.rows) == rows and loaded.sources[0]["rows"] == rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.faiss", "g.faiss.json"]  # nothing pending or half
    assert load_index(path).index.ntotal == rows


def test_adding_two_halves_equals_building_from_the_whole(gallery, tmp_path):
    half = ROWS // 2
    first = features(gallery.features[:half])
    second = FeatureFile(gallery.features[half:], Rows(gallery.paths[half:], gallery.labels[half:]), gallery.provenance)
    GalleryIndex.build(first, IndexParams(), "first.npy").save(str(tmp_path / "g.faiss"))
    grown = load_index(str(tmp_path / "g.faiss"))
    grown.add(second, "second.npy")
    whole = GalleryIndex.build(gallery, IndexParams(), "g.npy")
    queries = near(gallery.features, 200)
    assert ids(grown.search(queries, 10)) == ids(whole.search(queries, 10))
    assert grown.rows.paths == gallery.paths and [s["rows"] for s in grown.sources] == [half, half]


def test_features_of_another_model_are_not_added(gallery, tmp_path):
    index = GalleryIndex.build(gallery, IndexParams(), "g.npy")
    index.save(str(tmp_path / "g.faiss"))
    other = features(clustered(100, seed=2), weights_sha256="b" * 64)
    with pytest.raises(UserError) as error:
        index.add(other, "other.npy")
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"other.npy was embedded by another model (Baseline, weights "
                                                      f"SHA-256 bbbbbbbbbbbb) than {tmp_path / 'g.faiss'} (Baseline, "
                                                      "aaaaaaaaaaaa)")
    with pytest.raises(UserError, match="holds the same features as .*g.npy"):
        index.add(gallery, "again.npy")
    assert index.index.ntotal == ROWS


def test_queries_of_other_weights_are_refused(tmp_path):
    weights, other = tmp_path / "model.pth", tmp_path / "retrained.pth"
    weights.write_bytes(b"the weights")
    other.write_bytes(b"other weights")
    index = GalleryIndex.build(features(clustered(300, seed=0), file_sha256(str(weights))), IndexParams(), "g.npy")
    index.save(str(tmp_path / "g.faiss"))
    loaded = load_index(str(tmp_path / "g.faiss"))
    loaded.check_query_weights(str(weights), file_sha256(str(weights)))  # the weights that made it: fine
    with pytest.raises(UserError) as error:
        loaded.check_query_weights(str(other), file_sha256(str(other)))
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"MODEL.WEIGHTS {other} (SHA-256 ")
    assert f"is not the model that embedded {tmp_path / 'g.faiss'}" in message


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_index_file_is_named(gallery, damage, tmp_path):
    path = tmp_path / "g.faiss"
    GalleryIndex.build(gallery, IndexParams("hnsw", hnsw_m=8), "g.npy").save(str(path))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2] if damage == "truncated" else b"x" * len(data))
    with pytest.raises(UserError) as error:
        load_index(str(path))
    assert str(error.value).startswith(f"{path} ({path.stat().st_size} bytes) is not the index "
                                       f"{sidecar_path(str(path))} was written for")
    assert "truncated, corrupt or replaced" in str(error.value)


def test_a_sidecar_that_lies_about_the_faiss_file_still_gives_one_line(gallery, tmp_path):
    """Corruption the sidecar's size and SHA-256 agree with (a sidecar rewritten by hand) reaches
    faiss, whose error comes back as one line naming the file."""
    path = tmp_path / "g.faiss"
    GalleryIndex.build(gallery, IndexParams(), "g.npy").save(str(path))
    path.write_bytes(path.read_bytes()[:1000])
    side = json.loads(open(sidecar_path(str(path))).read())
    side["index_file"].update(bytes=1000, sha256=file_sha256(str(path)))
    open(sidecar_path(str(path)), "w").write(json.dumps(side))
    with pytest.raises(UserError, match=f"^cannot read the gallery index {path}: .*rebuild it") as error:
        load_index(str(path))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("params, message", [
    (IndexParams("ivfpq", pq_m=6, nlist=8, nprobe=4), "--pq-m 6 does not divide the feature dimension 32 of g.npy"),
    (IndexParams("ivfpq", pq_m=8, nlist=5000), "--nlist 5000 exceeds the 4000 vectors of g.npy to train on"),
    (IndexParams("ivfpq", pq_m=8, nlist=8, nprobe=9), "--nprobe 9 exceeds --nlist 8"),
    (IndexParams("hnsw", ef_search=0), "--ef-search must be at least 1, got 0"),
])
def test_bad_parameters_name_the_flag(gallery, params, message):
    with pytest.raises(UserError, match=f"^{message}"):
        GalleryIndex.build(gallery, params, "g.npy")


def test_search_time_flags_fit_the_kind(gallery, tmp_path):
    path = str(tmp_path / "g.faiss")
    GalleryIndex.build(gallery, IVFPQ, "g.npy").save(path)
    assert open_gallery(None, path, search_overrides={"nprobe": 32}).params.nprobe == 32
    with pytest.raises(UserError, match=f"^--ef-search does not apply to {path}, an index of kind ivfpq"):
        open_gallery(None, path, search_overrides={"ef_search": 10})
    with pytest.raises(UserError, match="^--nprobe 64 exceeds the 32 lists of"):
        open_gallery(None, path, search_overrides={"nprobe": 64})
    with pytest.raises(UserError, match="^--nprobe: only for an --index; g.npy is searched exactly"):
        open_gallery("g.npy", None, search_overrides={"nprobe": 4})
