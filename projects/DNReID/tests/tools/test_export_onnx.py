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


def test_the_tracker_graph_decides_each_crops_domain_inside(saved_model, run_tool, tiny_images, boxmot, tmp_path):
    """BoxMOT's preprocessing, one input: the graph decides day or night by the rule and routes
    each crop to that stem, as PyTorch does with the rule's labels given explicitly."""
    import cv2
    import numpy as np
    import torch.nn.functional as F

    from dnreid.domains import guess_domain
    from vreid.config import load_model_config
    from vreid.modeling import load_model

    dndm = saved_model("DNDM")
    path = tmp_path / "dndm_resnet50_tracker_fp32.onnx"
    assert run_tool("export_onnx", "--profile", "tracker", "--output", path, "--no-progress", *dndm.args()) == 0
    crops = [cv2.imread(str(p)) for pair in zip(tiny_images("night", range(25, 27))[:3],
                                                 tiny_images("day", range(25, 27))[:3]) for p in pair]
    images, got = boxmot(path, crops)
    cfg = load_model_config(dndm.config, ["MODEL.WEIGHTS", dndm.weights])
    model = load_model(cfg)
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    raw = F.interpolate((torch.from_numpy(images) * std + mean) * 255, size=tuple(cfg.INPUT.SIZE_TEST),
                        mode="bilinear", align_corners=False)
    domains = guess_domain(raw, cfg)
    assert domains.tolist() == [1, 0] * 3  # both stems in use

    def features(domains):
        with torch.no_grad():
            return F.normalize(model({"images": raw, "domains": domains}), dim=1).numpy()

    diff = np.abs(got - features(domains)).max()
    print(f"DNDM tracker graph: max abs diff {diff:.2e}")
    assert diff < 1e-4
    assert np.abs(got - features(1 - domains)).max() > 1e-3
