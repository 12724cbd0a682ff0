"""DNDM under each fast-path switch stays within tolerance of its default fp32 path."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vreid.benchmark import synthetic_batch
from vreid.config import load_config
from vreid.modeling import build_model
from vreid.engine.step import autocast_dtype

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "synthetic" / "dndm.yml"


def build(*opts):
    cfg = load_config(str(CONFIG), ["MODEL.DEVICE", "cpu", "MODEL.HEADS.NUM_CLASSES", 8, "INPUT.SIZE_TEST", [64, 64],
                                    "TEST.IMS_PER_BATCH", 4, *opts])
    torch.manual_seed(0)
    return build_model(cfg).eval(), cfg


@pytest.fixture(scope="module")
def reference():
    model, cfg = build()
    batch = synthetic_batch(cfg, 4, train=False)
    with torch.no_grad():
        return batch, model(batch)


def test_channels_last_matches_default(reference):
    batch, expected = reference
    model, _ = build("MODEL.CHANNELS_LAST", True)
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size[0] > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(model(batch), expected, rtol=1e-4, atol=1e-4)


def test_compile_matches_default_and_keeps_parameter_names(reference):
    batch, expected = reference
    plain, _ = build()
    model, _ = build("MODEL.COMPILE.ENABLED", True, "MODEL.COMPILE.BACKEND", "aot_eager")
    assert model.state_dict().keys() == plain.state_dict().keys()  # checkpoints stay compatible
    with torch.no_grad():
        torch.testing.assert_close(model(batch), expected, rtol=1e-4, atol=1e-4)


def test_bfloat16_autocast_stays_close_to_fp32(reference):
    batch, expected = reference
    model, _ = build()
    with torch.no_grad(), torch.autocast("cpu", dtype=autocast_dtype(torch.device("cpu"), "bfloat16")):
        out = model(batch)
    assert F.cosine_similarity(out.float(), expected).min() > 0.98
