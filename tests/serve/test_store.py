"""The store's filtered search, for each index kind: the rows SQL selects are the rows ranked, a
few ranked exactly, many drawn from faiss until SQL keeps k of them; and a gallery's rows stay
numbered as its faiss rows through an import, adds and a reopen."""
from __future__ import annotations

import numpy as np
import pytest

from vreid.deploy import FeatureFile, GalleryIndex, Rows
from vreid.deploy.index_params import IndexParams
from vreid.deploy.provenance import Provenance
from vreid.errors import UserError
from vreid.serve import ModelChoice, open_gallery
from vreid.serve import store as store_module
from vreid.serve.fields import Filter, RowMeta
from vreid.serve.store import NewRow, create_store, open_store

DIM, ROWS = 16, 400
MODEL = Provenance("cosine", "ToyNet", "MODEL: {}\n", "cd" * 32, DIM)


def features(seed: int, count: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32)


def camera(row: int) -> str:
    return f"c{row % 5}"


def new_rows(first: int, count: int) -> list[NewRow]:
    return [NewRow(RowMeta(camera=camera(first + i), time=1000.0 + first + i), path=f"/crops/{first + i}.jpg")
            for i in range(count)]


def gallery(tmp_path, kind: str):
    """ROWS rows in a store of ``kind``: IVF-PQ built by the tools' GalleryIndex and imported (an
    empty IVF-PQ cannot train; an index records no camera or time), its last half added through
    the store with them like the other kinds' rows."""
    index = str(tmp_path / f"{kind}.faiss")
    vectors = features(0, ROWS)
    half = ROWS // 2
    if kind == "ivfpq":
        built = FeatureFile(vectors[:half], Rows([f"/crops/{i}.jpg" for i in range(half)], [None] * half), MODEL)
        GalleryIndex.build(built, IndexParams("ivfpq", nlist=4, pq_m=4, pq_nbits=4, nprobe=1), "f.npy").save(index)
        store = open_store(index, None)
        store.add(vectors[half:], new_rows(half, half))
    else:
        store = create_store(index, MODEL, IndexParams(kind), None)
        store.add(vectors, new_rows(0, ROWS))
    return store, vectors


def exact(vectors: np.ndarray, query: np.ndarray, rows: list[int], k: int) -> list[int]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit[rows] @ (query / np.linalg.norm(query))
    return [rows[i] for i in np.argsort(-scores, kind="stable")[:k]]


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_a_filter_ranks_exactly_the_rows_sql_selects(tmp_path, kind):
    store, vectors = gallery(tmp_path, kind)
    try:
        query = features(1, 1)
        where = Filter(cameras=("c1", "c3"), after=1100.0, before=1299.0)
        hits = store.search(query, [(10, where)])[0]
        selected = [r for r in range(ROWS) if camera(r) in ("c1", "c3") and 1100 <= 1000 + r <= 1299]
        assert len(hits) == 10 and {h["id"] for h in hits} <= set(selected)
        assert all(h["camera"] in ("c1", "c3") for h in hits)
        if kind != "ivfpq":  # IVF-PQ ranks by its codes: the approximation, over every list
            assert [h["id"] for h in hits] == exact(vectors, query[0], selected, 10)
        assert store.search(query, [(10, Filter(after=5000.0))])[0] == []
    finally:
        store.close()


def test_a_broad_filter_draws_faiss_candidates_until_sql_keeps_k(tmp_path, monkeypatch):
    store, vectors = gallery(tmp_path, "flat")
    try:
        query, where = features(2, 1), Filter(cameras=("c2",))
        narrow = store.search(query, [(7, where)])[0]
        monkeypatch.setattr(store_module, "EXACT_LIMIT", 5)  # c2's 80 rows are now "many"
        broad = store.search(query, [(7, where)])[0]
        assert [h["id"] for h in broad] == [h["id"] for h in narrow]
        assert [h["distance"] for h in broad] == pytest.approx([h["distance"] for h in narrow], abs=1e-5)
    finally:
        store.close()


def test_rows_stay_their_faiss_rows_through_adds_and_a_reopen(tmp_path):
    store, vectors = gallery(tmp_path, "ivfpq")
    store.close()
    reopened = open_store(str(tmp_path / "ivfpq.faiss"), None)
    try:
        assert (reopened.ntotal, reopened.replayed) == (ROWS, 0)
        ids = reopened.add(features(3, 3), new_rows(ROWS, 3))
        assert ids == [ROWS, ROWS + 1, ROWS + 2]
        assert reopened.image_path(ROWS + 2) == f"/crops/{ROWS + 2}.jpg" and reopened.image_path(ROWS + 3) is None
        assert reopened.describe() == {"rows": ROWS + 3, "snapshot_rows": ROWS, "kind": "ivfpq",
                                       "params": {"nlist": 4, "pq_m": 4, "pq_nbits": 4, "nprobe": 1}, "cameras": 5}
    finally:
        reopened.close()


def test_a_damaged_snapshot_or_a_missing_model_is_one_line(tmp_path):
    store, _ = gallery(tmp_path, "flat")
    store.close()
    snapshot = tmp_path / "flat.faiss.snapshot"
    snapshot.write_bytes(snapshot.read_bytes()[:-10])
    with pytest.raises(UserError, match=rf"^{snapshot} is not the faiss index {tmp_path / 'flat.faiss.sqlite'} "
                                        r"recorded \(\d+ bytes, SHA-256 \w+\): truncated, corrupt or replaced; "):
        open_store(str(tmp_path / "flat.faiss"), None)
    with pytest.raises(UserError, match="does not exist: to start an empty gallery there, pass --config-file CFG "):
        open_gallery(str(tmp_path / "new.faiss"), ModelChoice(None), None, IndexParams("flat"), {}, 10)
    with pytest.raises(UserError, match="^an empty IVF-PQ index has nothing to train its lists on"):
        create_store(str(tmp_path / "new.faiss"), MODEL, IndexParams("ivfpq"), None)
