"""JIFD's ONNX export: onnxruntime equals PyTorch on real images of the synthetic VeRi-style
set, at a batch size the export never saw; the graph takes raw pixels."""
from pathlib import Path

import torch

from fastreid.modeling.meta_arch import build_model
from vreid.config import get_cfg
from vreid.deploy import image_loader
from vreid.deploy.images import ImageEntry

ROOT = Path(__file__).resolve().parents[3]
SMALL = ["MODEL.DEVICE", "cpu", "MODEL.BACKBONE.PRETRAIN", False, "INPUT.SIZE_TRAIN", [64, 64],
         "INPUT.SIZE_TEST", [64, 64], "DATALOADER.NUM_WORKERS", 0, "TEST.IMS_PER_BATCH", 32,
         "MODEL.JIFD.VAE.CHANNELS", [8, 16, 32], "MODEL.JIFD.VAE.LATENT_CHANNELS", 8,
         "MODEL.JIFD.DISENTANGLER_HIDDEN_DIM", 64, "MODEL.HEADS.NUM_CLASSES", 24]


def _build(arch: str, seed: int, output_dir: str):
    cfg = get_cfg()
    cfg.merge_from_file(str(ROOT / "configs" / "synthetic" / "jifd.yml"))
    cfg.merge_from_list([*SMALL, "OUTPUT_DIR", output_dir])
    return cfg, build_model(cfg)


def test_onnxruntime_equals_pytorch(data_root, saved_models, exported_onnx):
    cfg, model, keys, session = exported_onnx(saved_models(_build)("JIFD"))
    images = sorted((Path(data_root) / "synthetic" / "veri" / "image_test").glob("*.jpg"))[:5]
    batch = next(iter(image_loader(cfg, [ImageEntry(str(p), None, "test") for p in images])))
    with torch.no_grad():
        expected = model({k: batch[k] for k in keys}).numpy()
    got = session.run(None, {k: batch[k].numpy() for k in keys})[0]
    assert got.shape == expected.shape == (5, expected.shape[1])
    assert abs(got - expected).max() < 1e-4
