"""A feature file that no longer matches is refused by search with what to re-run: an .npy
replaced (or beside another model's index), a weights file replaced since the extraction, an
index made before fingerprints. Outputs that cannot be written stop before the work."""
import json
import shutil
from pathlib import Path

import pytest

from vreid.deploy import load_features


@pytest.fixture(scope="module")
def images(data_root) -> list[str]:
    return [str(p) for p in sorted((Path(data_root) / "synthetic" / "dn" / "night").rglob("*.jpg"))[:4]]


@pytest.fixture(scope="module")
def extracted(saved, tool, images, tmp_path_factory):
    """Features of the same four images by two Baseline models (seeds 0 and 1), in their own folders."""
    out = tmp_path_factory.mktemp("features")
    files = {}
    for seed in (0, 1):
        model = saved("Baseline", seed)
        weights = out / f"model_{seed}.pth"
        shutil.copy(model.weights, weights)  # a private copy a test may replace
        npy = out / f"gallery_{seed}.npy"
        assert tool("extract_features", "--input", *images, "--output", npy, "--no-progress",
                    *model.args(str(weights))) == 0
        files[seed] = (npy, weights)
    return files


def _search(tool, npy, query, *extra):
    return tool("search", "--features", npy, "--query", query, "--topk", 2, "--no-progress", *extra)


def test_the_index_records_the_fingerprints(extracted):
    npy, weights = extracted[0]
    fingerprint = json.loads(npy.with_suffix(".json").read_text())["fingerprint"]
    assert fingerprint["rows"] == 4 and fingerprint["dim"] == 512
    assert len(fingerprint["weights_sha256"]) == len(fingerprint["features_sha256"]) == 64
    assert load_features(str(npy)).features.shape == (4, 512)


def test_an_npy_beside_another_models_index_is_refused(extracted, tool, images, tmp_path, capsys):
    mixed = tmp_path / "mixed.npy"
    shutil.copy(extracted[0][0], mixed)
    shutil.copy(extracted[1][0].with_suffix(".json"), tmp_path / "mixed.json")
    capsys.readouterr()
    assert _search(tool, mixed, images[0]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "Traceback" not in out.err
    assert out.err == (f"error: {mixed} (4 x 512) is not the matrix {tmp_path / 'mixed.json'} was written for "
                       f"(4 x 512, another SHA-256): it was replaced or comes from another run; re-run "
                       f"tools/extract_features.py --output {mixed}\n")


def test_replaced_weights_are_refused(extracted, saved, tool, images, capsys):
    npy, weights = extracted[0]
    capsys.readouterr()
    assert _search(tool, npy, images[0]) == 0  # as extracted: fine
    original = weights.read_bytes()
    try:
        shutil.copy(saved("Baseline", 1).weights, weights)  # retrained under the same name
        capsys.readouterr()
        assert _search(tool, npy, images[0]) == 2
        out = capsys.readouterr()
        assert out.out == "" and out.err.startswith(f"error: MODEL.WEIGHTS {weights} is not the weights file that made ")
        assert "re-run tools/extract_features.py --output" in out.err
        # another config file with other weights: the same refusal
        assert _search(tool, npy, images[0], "--config-file", saved("Baseline", 1).config, "MODEL.WEIGHTS",
                       saved("Baseline", 1).weights) == 2
        assert "is not the weights file that made" in capsys.readouterr().err
    finally:
        weights.write_bytes(original)


def test_an_index_without_fingerprint_asks_for_a_new_extraction(extracted, tool, images, tmp_path, capsys):
    old = tmp_path / "old.npy"
    shutil.copy(extracted[0][0], old)
    index = json.loads(extracted[0][0].with_suffix(".json").read_text())
    del index["fingerprint"]
    (tmp_path / "old.json").write_text(json.dumps(index))
    capsys.readouterr()
    assert _search(tool, old, images[0]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'old.json'} lacks the key(s) fingerprint; re-run "
                                       f"tools/extract_features.py --output {old}\n")


@pytest.mark.parametrize("where", ["folder", "under_file"])
def test_extract_to_an_unwritable_output_stops_before_the_work(saved, tool, images, tmp_path, capsys, where):
    (tmp_path / "plain").write_text("a regular file")
    output = {"folder": tmp_path / "is_a_dir.npy", "under_file": tmp_path / "plain" / "feats.npy"}[where]
    if where == "folder":
        output.mkdir()
    capsys.readouterr()
    assert tool("extract_features", "--input", *images, "--output", output, "--no-progress",
                *saved("Baseline").args()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    expected = {"folder": f"error: --output {output} is a folder; name a file",
                "under_file": f"error: --output {tmp_path / 'plain'}: cannot create this folder, {tmp_path / 'plain'} is a file"}[where]
    assert err.startswith(expected)


@pytest.mark.parametrize("where", ["folder", "under_file"])
def test_export_to_an_unwritable_output_is_one_line(saved, tool, tmp_path, capsys, where):
    pytest.importorskip("onnx")
    (tmp_path / "plain").write_text("a regular file")
    output = {"folder": tmp_path, "under_file": tmp_path / "plain" / "model.onnx"}[where]
    capsys.readouterr()
    assert tool("export_onnx", "--output", output, "--no-progress", *saved("Baseline").args()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --output ") and "Traceback" not in err
    assert not list(tmp_path.glob("*.onnx"))
