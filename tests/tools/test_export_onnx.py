"""ONNX export through the core alone: onnxruntime equals PyTorch on real images, at a batch size
the export never saw, for the toy project's model and fast-reid's Baseline; the graph takes raw
pixels. (Models with per-image inputs, such as DNDM's domain, are checked in their project.)"""
import pytest
import torch

from vreid.deploy import image_loader
from vreid.deploy.images import ImageEntry

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
