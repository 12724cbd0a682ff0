"""DNDM's ONNX export: onnxruntime equals PyTorch on real images, at a batch size the export
never saw and an unsorted mix of domains; the domain input is live in the graph."""
import torch

from vreid.deploy import image_loader
from vreid.deploy.images import ImageEntry


def test_onnxruntime_equals_pytorch_on_mixed_domains(saved_model, exported_onnx, tiny_images):
    cfg, model, keys, session = exported_onnx(saved_model("DNDM"))
    assert keys == ("images", "domains")
    night, day = tiny_images("night", range(25, 27)), tiny_images("day", range(25, 27))
    mixed = ((night[0], 1), (day[0], 0), (night[3], 1), (night[5], 1), (day[4], 0))  # unsorted domains
    batch = next(iter(image_loader(cfg, [ImageEntry(str(p), d, "test") for p, d in mixed], "domains")))

    def both(domains: torch.Tensor):
        inputs = {"images": batch["images"], "domains": domains}
        with torch.no_grad():
            expected = model(inputs).numpy()
        return session.run(None, {k: inputs[k].numpy() for k in keys})[0], expected

    got, expected = both(batch["domains"])
    assert got.shape == expected.shape == (5, expected.shape[1])
    diff = abs(got - expected).max()
    print(f"DNDM: max abs diff {diff:.2e}")
    assert diff < 1e-4
    swapped, expected_swapped = both(1 - batch["domains"])  # other domains, other features
    assert abs(swapped - expected_swapped).max() < 1e-4
    assert abs(swapped - got).max() > 1e-3


def test_export_refuses_weights_of_another_architecture(saved_model, run_tool, tmp_path, capsys):
    dndm = saved_model("DNDM")
    code = run_tool("export_onnx", "--output", tmp_path / "x.onnx", "--no-progress", "--config-file", dndm.config,
                    "MODEL.WEIGHTS", saved_model("Baseline").weights)
    err = capsys.readouterr().err
    assert code == 2 and "does not fit MODEL.META_ARCHITECTURE DNDM" in err and "Traceback" not in err
