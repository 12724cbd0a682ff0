"""The Embedder routes each image through its domain's stem: labels given per image (words or
indices) give the features of those images embedded one domain at a time, and DNDM refuses an
image without one."""
from __future__ import annotations

import numpy as np
import pytest

from vreid.config import load_model_config
from vreid.data.image_io import read_rgb
from vreid.deploy import Embedder
from vreid.errors import UserError


def test_labels_route_each_image_as_its_own_domain(saved_model, tiny_images):
    saved = saved_model("DNDM")
    embedder = Embedder(load_model_config(saved.config, ["MODEL.WEIGHTS", saved.weights]))
    night, day = tiny_images("night", range(25, 26))[:2], tiny_images("day", range(25, 26))[:2]
    crops = [np.asarray(read_rgb(str(p))) for p in (night[0], day[0], night[1], day[1])]
    mixed = embedder.embed(crops, labels=["night", "day", 1, "0"])
    by_night, by_day = embedder.embed(crops[0::2], labels="night"), embedder.embed(crops[1::2], labels="day")
    np.testing.assert_allclose(mixed[0::2], by_night, atol=1e-5)
    np.testing.assert_allclose(mixed[1::2], by_day, atol=1e-5)
    assert np.abs(embedder.embed(crops[:1], labels="day") - by_night[:1]).max() > 1e-3  # the stem matters
    with pytest.raises(UserError, match="^DNDM needs the domain of every image, and image 1 has none"):
        embedder.embed(crops[:2], labels=["night", None])
    with pytest.raises(UserError, match="^label of image 0: unknown domain 'dusk'"):
        embedder.embed(crops[:1], labels="dusk")
