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


def test_auto_decides_each_crops_domain_from_its_pixels(saved_model, tiny_images):
    saved = saved_model("DNDM")
    embedder = Embedder.from_config(saved.config, saved.weights)
    night, day = tiny_images("night", range(25, 27))[:3], tiny_images("day", range(25, 27))[:3]
    crops = [np.asarray(read_rgb(str(p))) for pair in zip(night, day) for p in pair]
    features, decided = embedder.embed_with_labels(crops, domains="auto")
    assert decided == [1, 0] * 3
    np.testing.assert_allclose(features, embedder.embed(crops, labels=decided), atol=1e-5)
    np.testing.assert_allclose(embedder.embed(crops, labels=["auto", "day"] * 3),
                               embedder.embed(crops, labels=decided), atol=1e-5)  # "auto" per image too


@pytest.mark.parametrize("share, domain", [(0.0, 0), (1.01, 1)])
def test_the_rules_threshold_is_a_config_key(share, domain, saved_model, tiny_images):
    saved = saved_model("DNDM")
    embedder = Embedder.from_config(saved.config, saved.weights, ["MODEL.DNDM.AUTO_DOMAIN.LIT_SHARE", share])
    crops = [np.asarray(read_rgb(str(p))) for p in tiny_images("night", range(25, 26))[:2]
             + tiny_images("day", range(25, 26))[:2]]
    assert embedder.embed_with_labels(crops, domains="auto")[1] == [domain] * 4
