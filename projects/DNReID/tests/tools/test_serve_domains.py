"""The search service with DNDM, which routes each crop through its domain's stem: crops added
with a domain, or "auto", keep the domain the model read; a search is embedded as the domain it
is given, or the one "auto" decides, and says which."""
from __future__ import annotations

import asyncio

import numpy as np

from vreid.config import load_model_config
from vreid.data.image_io import read_rgb
from vreid.deploy import Embedder
from vreid.deploy.index_params import IndexParams
from vreid.projects import label_key
from vreid.serve import Engine, Filter, RowMeta, create_store
from vreid.serve.uploads import decode_upload


def test_domains_given_or_decided_are_kept_per_row_and_said_per_search(saved_model, tiny_images, tmp_path):
    saved = saved_model("DNDM")
    embedder = Embedder(load_model_config(saved.config, ["MODEL.WEIGHTS", saved.weights]))
    night, day = tiny_images("night", range(25, 27))[:2], tiny_images("day", range(25, 27))[:2]
    uploads = [decode_upload(p.read_bytes(), p.name) for p in (*night, *day)]
    store = create_store(str(tmp_path / "g.faiss"), embedder.provenance, IndexParams("flat"), label_key())
    engine = Engine(store, embedder)
    engine.start()
    try:
        metas = [RowMeta(camera="c1", label=label) for label in ("night", "auto", "day", "auto")]
        assert asyncio.run(engine.add(uploads, metas)) == [0, 1, 2, 3]
        found = asyncio.run(engine.search(uploads[1].image, "auto", 4, Filter()))
        assert found["label"] == "night"  # decided from the pixels
        assert [h["domain"] for h in sorted(found["hits"], key=lambda h: h["id"])] == ["night", "night", "day", "day"]
        first = found["hits"][0]
        assert first["id"] == 1 and abs(first["distance"]) < 1e-5
        as_day = asyncio.run(engine.search(uploads[1].image, "day", 4, Filter()))
        assert as_day["label"] == "day" and as_day["hits"][0]["distance"] > 1e-3  # the other stem: other features
        crop = np.asarray(read_rgb(str(night[1])))
        np.testing.assert_allclose(store.index.reconstruct(1), _unit(embedder.embed([crop], labels="night")[0]),
                                   atol=1e-5)
    finally:
        engine.close()


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)
