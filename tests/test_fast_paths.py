"""Each fast-path switch leaves the model's outputs within tolerance of the default fp32 path
(the toy project's model here; DNDM's in DNReID's tests)."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from toyreid import PROJECT as TOY

from vreid.benchmark import synthetic_batch
from vreid.config import load_config
from vreid.modeling import build_model
from vreid.engine.step import autocast_dtype
from vreid.engine.fast_paths import configure_process

TOY_CONFIG = Path(__file__).resolve().parent / "toy_project" / "configs" / "toy.yml"


def build(*opts):
    cfg = load_config(str(TOY_CONFIG), ["MODEL.HEADS.NUM_CLASSES", 8, "TEST.IMS_PER_BATCH", 4, *opts], projects=(TOY,))
    torch.manual_seed(0)
    return build_model(cfg).eval(), cfg


@pytest.fixture(scope="module")
def reference(only_toy):
    model, cfg = build()
    with only_toy():
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
    dtype = autocast_dtype(torch.device("cpu"), "bfloat16")
    with torch.no_grad(), torch.autocast("cpu", dtype=dtype):
        out = model(batch)
    assert F.cosine_similarity(out.float(), expected).min() > 0.98


def test_cudnn_benchmark_switch_is_applied():
    previous = torch.backends.cudnn.benchmark
    try:
        configure_process(build("CUDNN_BENCHMARK", True)[1])
        assert torch.backends.cudnn.benchmark is True
        configure_process(build("CUDNN_BENCHMARK", False)[1])
        assert torch.backends.cudnn.benchmark is False
    finally:
        torch.backends.cudnn.benchmark = previous


def test_building_a_model_leaves_the_process_settings_alone():
    """Post-training tools build models too; only the entry point that owns the process switches."""
    previous = torch.backends.cudnn.benchmark
    build("CUDNN_BENCHMARK", not previous)
    assert torch.backends.cudnn.benchmark is previous
