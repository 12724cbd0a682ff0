"""ONNX export through the core alone: onnxruntime equals PyTorch on real images, at a batch size
the export never saw, for the toy project's model and fast-reid's Baseline; the raw graph takes
raw pixels, the tracker graph what BoxMOT feeds; fp16 and int8 copies stay close to PyTorch.
(Models with per-image inputs, such as DNDM's domain, are checked in their project.)"""
import cv2
import numpy as np
import onnx
import pytest
import torch

from vreid.config import load_model_config
from vreid.deploy import Embedder, build_graph, image_loader
from vreid.deploy.images import ImageEntry
from vreid.projects import batch_keys, installed_projects

from .conftest import ARCHS


@pytest.mark.parametrize("arch", ARCHS)
def test_onnxruntime_equals_pytorch(arch, saved_model, exported_onnx, toy_images):
    cfg, model, keys, session = exported_onnx(saved_model(arch))
    assert keys == ("images",)
    entries = [ImageEntry(str(p), None, "test") for p in toy_images("test", range(25, 28))[:5]]
    batch = next(iter(image_loader(cfg, entries, None)))
    with torch.no_grad():
        expected = model({"images": batch["images"]}).numpy()
    got = session.run(None, {"images": batch["images"].numpy()})[0]
    assert got.shape == expected.shape == (5, expected.shape[1])
    diff = abs(got - expected).max()
    print(f"{arch}: max abs diff {diff:.2e}")
    assert diff < 1e-4


def test_export_refuses_weights_of_another_architecture(saved_model, run_tool, tmp_path, capsys):
    toy = saved_model("ToyNet")
    code = run_tool("export_onnx", "--output", tmp_path / "x.onnx", "--no-progress", "--config-file", toy.config,
                    "MODEL.WEIGHTS", saved_model("Baseline").weights)
    err = capsys.readouterr().err
    assert code == 2 and "does not fit MODEL.META_ARCHITECTURE ToyNet" in err and "Traceback" not in err


def _metadata(path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_a_tracker_gets_the_pytorch_features_through_boxmots_preprocessing(saved_model, run_tool, tmp_path,
                                                                           toy_images, boxmot, capsys):
    saved = saved_model("Baseline")
    assert run_tool("export_onnx", "--profile", "tracker", "--output", tmp_path / "t.onnx", "--no-progress",
                    *saved.args()) == 0
    assert "dynamic batch and size" in capsys.readouterr().out
    assert "ImageNet mean" in _metadata(tmp_path / "t.onnx")["images"]
    crops = [cv2.imread(str(p)) for p in toy_images("test", range(25, 28))[:6]]  # BGR, as a tracker has them
    images, got = boxmot(tmp_path / "t.onnx", crops)
    cfg = load_model_config(saved.config, ["MODEL.WEIGHTS", saved.weights])
    embedder = Embedder(cfg)
    tracker = build_graph(cfg, embedder.model, "tracker", batch_keys(installed_projects())).module
    with torch.no_grad():
        expected = tracker(torch.from_numpy(images)).numpy()
    diff = abs(got - expected).max()
    ours = embedder.embed(crops, bgr=True)  # the toolkit's own resize, straight to the model's size
    cosine = (got * ours / np.linalg.norm(ours, axis=1, keepdims=True)).sum(axis=1)
    print(f"tracker contract: max abs diff {diff:.2e}; least cosine to extract_features' {cosine.min():.4f}")
    assert diff < 1e-4
    assert cosine.min() > 0.9


def test_the_default_file_name_says_what_a_tracker_loads(saved_model, run_tool, tmp_path):
    saved = saved_model("Baseline")
    weights = tmp_path / "model_final.pth"
    weights.write_bytes(open(saved.weights, "rb").read())
    assert run_tool("export_onnx", "--profile", "tracker", "--no-progress", *saved.args(str(weights))) == 0
    assert [p.name for p in tmp_path.glob("*.onnx")] == ["baseline_resnet18_tracker_fp32.onnx"]


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_lower_precision_graphs_stay_close_to_pytorch(precision, saved_model, run_tool, tmp_path, toy_root,
                                                      capsys):
    path = tmp_path / f"{precision}.onnx"
    assert run_tool("export_onnx", "--precision", precision, "--calibration", toy_root / "image_test",
                    "--output", path, "--no-progress", *saved_model("Baseline").args()) == 0
    print(capsys.readouterr().out)
    graph = onnx.load(str(path))
    ops = {n.op_type for n in graph.graph.node}
    weights = {onnx.helper.tensor_dtype_to_np_dtype(t.data_type).type for t in graph.graph.initializer}
    if precision == "int8":
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops and np.int8 in weights
    else:
        assert np.float16 in weights and np.float32 not in weights
    assert graph.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # fed as the fp32 graph
    assert _metadata(path)["precision"] == precision


def test_a_graph_that_fails_its_check_is_not_written(saved_model, run_tool, tmp_path, toy_root, capsys):
    path = tmp_path / "int8.onnx"
    code = run_tool("export_onnx", "--precision", "int8", "--calibration", toy_root / "image_test",
                    "--min-cosine", 1.01, "--output", path, "--no-progress", *saved_model("Baseline").args())
    err = capsys.readouterr().err
    assert code == 2 and "--min-cosine 1.01" in err and "not written" in err and not path.exists()
    assert list(tmp_path.iterdir()) == []  # nor anything it made on the way
    assert run_tool("export_onnx", "--precision", "int8", "--output", path, *saved_model("Baseline").args()) == 2
    assert "--precision int8 needs --calibration" in capsys.readouterr().err
