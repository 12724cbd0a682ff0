"""The Embedder every tool shares: image files, PIL images and uint8 arrays embed to the features
the extraction tool saves; the weights file is read once; a search reads the weights and the
gallery index once each."""
from __future__ import annotations

import builtins

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from vreid.config import load_model_config
from vreid.data.build import draft_size
from vreid.data.image_io import read_rgb
from vreid.deploy import Embedder, load_features
from vreid.errors import UserError


@pytest.fixture
def embedder(saved_model):  # per test: the tools see the toy project only inside a test
    saved = saved_model("Baseline")
    return Embedder(load_model_config(saved.config, ["MODEL.WEIGHTS", saved.weights]))


def test_paths_pil_images_and_arrays_embed_alike(embedder, saved_model, run_tool, toy_images, tmp_path):
    paths = [str(p) for p in toy_images("test", range(25, 27))[:4]]
    decoded = [read_rgb(p, draft=draft_size(embedder.cfg, is_train=False)) for p in paths]  # as the loader decodes
    from_paths = embedder.embed(paths)
    assert from_paths.shape == (4, embedder.dim) and from_paths.dtype == np.float32
    np.testing.assert_allclose(embedder.embed(decoded), from_paths, atol=1e-5)
    np.testing.assert_allclose(embedder.embed([np.asarray(image) for image in decoded]), from_paths, atol=1e-5)
    grey = np.asarray(decoded[0].convert("L"))
    assert embedder.embed([grey]).shape == (1, embedder.dim)  # (H, W) grey is taken as RGB

    out = tmp_path / "f.npy"
    assert run_tool("extract_features", "--input", *paths, "--output", out, "--no-progress",
                    *saved_model("Baseline").args()) == 0
    saved = load_features(str(out))
    np.testing.assert_allclose(saved.features, from_paths, atol=1e-6)  # the tool is the Embedder
    assert saved.provenance == embedder.provenance


def test_what_cannot_be_an_image_is_one_line(embedder):
    with pytest.raises(UserError, match=r"^image 1: an array must be uint8 of shape \(height, width, 3\)"):
        embedder.embed([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(UserError, match="^image 0: expected a path, a PIL image or a uint8 array, got list"):
        embedder.embed([[1, 2, 3]])
    with pytest.raises(UserError, match="^2 images but 3 labels"):
        embedder.embed([Image.new("RGB", (8, 8))] * 2, labels=[None] * 3)
    assert embedder.embed([]).shape == (0, embedder.dim)


def _opens(monkeypatch, *watched: str) -> dict[str, int]:
    """How many times each watched file is opened from now on."""
    counts = dict.fromkeys(watched, 0)
    real_open = builtins.open

    def counting_open(file, *args, **kwargs):
        if str(file) in counts:
            counts[str(file)] += 1
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    return counts


def test_the_weights_are_read_once(saved_model, monkeypatch):
    saved = saved_model("Baseline")
    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(1) or real_load(*a, **k))
    opens = _opens(monkeypatch, saved.weights)
    Embedder(load_model_config(saved.config, ["MODEL.WEIGHTS", saved.weights]))
    assert opens[saved.weights] == 1 and len(loads) == 1


def test_a_search_reads_the_weights_and_the_index_once(saved_model, run_tool, toy_images, tmp_path, monkeypatch,
                                                        capsys):
    saved = saved_model("Baseline")
    images = [str(p) for p in toy_images("test", range(25, 27))]
    assert run_tool("extract_features", "--input", *images, "--output", tmp_path / "g.npy", "--no-progress",
                    *saved.args()) == 0
    index = str(tmp_path / "g.faiss")
    assert run_tool("build_index", "--features", tmp_path / "g.npy", "--index", index) == 0
    capsys.readouterr()
    opens = _opens(monkeypatch, saved.weights, index)
    assert run_tool("search", "--index", index, "--query", images[0], "--topk", 2, "--no-progress") == 0
    assert opens == {saved.weights: 1, index: 1}
    assert images[0] in capsys.readouterr().out


def test_opencv_crops_embed_as_the_extraction_tool_embeds_them_saved_as_png(saved_model, run_tool, toy_images,
                                                                            tmp_path):
    saved = saved_model("Baseline")
    embedder = Embedder.from_config(saved.config, saved.weights)
    crops = [cv2.imread(str(p)) for p in toy_images("test", range(25, 27))[:4]]  # BGR, as a tracker has them
    pngs = [str(tmp_path / f"{i}.png") for i in range(len(crops))]
    for path, crop in zip(pngs, crops):
        cv2.imwrite(path, crop)
    assert run_tool("extract_features", "--input", *pngs, "--output", tmp_path / "f.npy", "--no-progress",
                    *saved.args()) == 0
    from_files = load_features(str(tmp_path / "f.npy")).features
    np.testing.assert_allclose(embedder.embed(crops, bgr=True), from_files, atol=1e-5)
    assert np.abs(embedder.embed(crops) - from_files).max() > 1e-3  # the channel order matters
