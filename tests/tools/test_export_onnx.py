"""ONNX export of every meta-architecture: onnxruntime equals PyTorch on real images, at a batch
size the export never saw and, for DNDM, an unsorted mix of domains; the graph takes raw pixels."""
import onnx
import onnxruntime as ort
import pytest
import torch

from fastreid.modeling.meta_arch import META_ARCH_REGISTRY
from vreid.deploy import eval_inputs, image_loader, load_tool_config, load_trained_model
from vreid.deploy.images import ImageEntry


def registered(arch: str) -> bool:
    try:
        META_ARCH_REGISTRY.get(arch)
    except KeyError:
        return False
    return True


ARCHS = [a for a in ("Baseline", "DNDM", "JIFD") if registered(a)]  # JIFD once its project registers it


@pytest.mark.parametrize("arch", ARCHS)
def test_onnxruntime_equals_pytorch(arch, saved_model, run_tool, tiny_images, tmp_path, capsys):
    model_files = saved_model(arch)
    path = tmp_path / f"{arch}.onnx"
    assert run_tool("export_onnx", "--output", path, "--atol", 1e-4, "--no-progress", *model_files.args()) == 0
    assert "max abs diff onnxruntime vs PyTorch" in capsys.readouterr().out

    cfg = load_tool_config(model_files.config, ["MODEL.WEIGHTS", model_files.weights])
    model = load_trained_model(cfg)
    keys = eval_inputs(model)
    graph = onnx.load(path)
    assert [i.name for i in graph.graph.input] == list(keys)
    assert [d.dim_param or d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim] == ["batch", 3, 64, 64]
    assert "raw 0-255" in {p.key: p.value for p in graph.metadata_props}["images"]

    night, day = tiny_images("night", range(25, 27)), tiny_images("day", range(25, 27))
    mixed = ((night[0], 1), (day[0], 0), (night[3], 1), (night[5], 1), (day[4], 0))  # unsorted domains
    entries = [ImageEntry(str(p), d, "test") for p, d in mixed]
    batch = next(iter(image_loader(cfg, entries, "domains")))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def both(domains: torch.Tensor):
        inputs = {"images": batch["images"], "domains": domains}
        with torch.no_grad():
            expected = model({k: inputs[k] for k in keys}).numpy()
        return session.run(None, {k: inputs[k].numpy() for k in keys})[0], expected

    got, expected = both(batch["domains"])
    assert got.shape == expected.shape == (5, expected.shape[1])
    diff = abs(got - expected).max()
    print(f"{arch}: max abs diff {diff:.2e}")
    assert diff < 1e-4
    if "domains" in keys:  # the domain input is live in the graph: other domains, other features
        swapped, expected_swapped = both(1 - batch["domains"])
        assert abs(swapped - expected_swapped).max() < 1e-4
        assert abs(swapped - got).max() > 1e-3


def test_export_refuses_weights_of_another_architecture(saved_model, run_tool, tmp_path, capsys):
    dndm = saved_model("DNDM")
    code = run_tool("export_onnx", "--output", tmp_path / "x.onnx", "--no-progress", "--config-file", dndm.config,
                    "MODEL.WEIGHTS", saved_model("Baseline").weights)
    err = capsys.readouterr().err
    assert code == 2 and "does not fit MODEL.META_ARCHITECTURE DNDM" in err and "Traceback" not in err
