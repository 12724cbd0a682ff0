"""The CUDA paths: a training step per precision, the fp16 scaler, channels-last and compiled models,
evaluation, checkpoints moved between CUDA and CPU, a one-process NCCL job, ONNX on CUDA.

Marked ``gpu`` and skipped, with the reason, where CUDA is absent; ``make test-gpu`` runs them
alone and ``make gpu-check`` on a GPU machine. ``VREID_TEST_DEVICE=cpu`` runs the same code on
the CPU (``tools/gpu_check.py --smoke``): the cases that only mean something on CUDA (fp16 and
its scaler, the NCCL job, the CUDA provider) skip there, so a dry run proves everything else.
Tolerances: a step's fp16 loss within 3 % of its fp32 loss from the same weights and batch,
bf16 within 6 %; compiled and channels-last features within 1e-3 (absolute, relative) of eager."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fastreid.solver import build_optimizer
from fastreid.utils.events import EventStorage

from vreid.benchmark import synthetic_batch
from vreid.benchmark.evaluation import clustered_features
from vreid.config import load_config
from vreid.engine import Trainer
from vreid.engine.step import TrainStep, autocast_dtype
from vreid.evaluation.evaluator import ReidEvaluator
from vreid.modeling import build_model, load_model

ROOT = Path(__file__).resolve().parents[2]
DEVICE = os.environ.get("VREID_TEST_DEVICE", "cuda")
ON_CUDA = DEVICE == "cuda"
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(ON_CUDA and not torch.cuda.is_available(),
                                 reason="no CUDA device here (make test-gpu / make gpu-check on a GPU machine)")]
cuda_only = pytest.mark.skipif(not ON_CUDA, reason="means something on CUDA only")

SMALL = ["MODEL.DEVICE", DEVICE, "MODEL.BACKBONE.PRETRAIN", "False", "MODEL.BACKBONE.DEPTH", "18x",
         "MODEL.BACKBONE.FEAT_DIM", "512", "INPUT.SIZE_TRAIN", "[64,64]", "INPUT.SIZE_TEST", "[64,64]",
         "SOLVER.IMS_PER_BATCH", "16", "TEST.IMS_PER_BATCH", "8", "MODEL.HEADS.NUM_CLASSES", "8",
         "DATALOADER.NUM_WORKERS", "0"]
JIFD_SMALL = ["MODEL.JIFD.VAE.CHANNELS", "[8,16,32]", "MODEL.JIFD.VAE.LATENT_CHANNELS", "8",
              "MODEL.JIFD.DISENTANGLER_HIDDEN_DIM", "64"]
ARCHS = {"BoT": ("bot.yml", []), "DNDM": ("dndm.yml", []), "JIFD": ("jifd.yml", JIFD_SMALL)}
TOLERANCE = {"float16": 0.03, "bfloat16": 0.06}


def config(arch: str, *opts: str):
    name, extra = ARCHS[arch]
    return load_config(str(ROOT / "configs" / "synthetic" / name), [*SMALL, *extra, *opts])


@pytest.fixture(autouse=True)
def full_float32():
    """cuDNN's TF32 convolutions (on by default) round to 10 bits: the comparisons below are of
    the fast paths against fp32, not of TF32 against fp32."""
    previous = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = previous


def step_losses(cfg, model: torch.nn.Module, batch: dict, dtype: torch.dtype | None) -> dict[str, float]:
    """One TrainStep (the trainer's) of a copy of ``model`` on ``batch``: its loss terms, with
    the same random draws for every dtype (JIFD's VAE samples)."""
    torch.manual_seed(0)
    model = copy.deepcopy(model).train()
    optimizer, _ = build_optimizer(cfg, model, contiguous=False)
    with EventStorage():
        losses = TrainStep(model, optimizer, torch.device(DEVICE), dtype)(batch)
    return {k: float(v.detach()) for k, v in losses.items()}


@pytest.mark.parametrize("arch", ARCHS)
def test_a_training_step_in_every_precision(arch):
    cfg = config(arch)
    torch.manual_seed(0)
    model = build_model(cfg)
    batch = {k: v.to(DEVICE) for k, v in synthetic_batch(cfg, 16, train=True).items()}
    reference = sum(step_losses(cfg, model, batch, None).values())
    assert torch.isfinite(torch.tensor(reference))
    for name in ("float16", "bfloat16") if ON_CUDA else ("bfloat16",):
        total = sum(step_losses(cfg, model, batch, autocast_dtype(torch.device(DEVICE), name)).values())
        assert abs(total - reference) <= TOLERANCE[name] * abs(reference), (arch, name, total, reference)


@cuda_only
def test_the_fp16_scaler_skips_an_overflowing_step_and_lowers_its_scale():
    cfg = config("BoT")
    model = build_model(cfg).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer, _ = build_optimizer(cfg, model, contiguous=False)
    step = TrainStep(model, optimizer, torch.device(DEVICE), torch.float16)
    step.grad_scaler = torch.amp.GradScaler("cuda", init_scale=2.0 ** 60)  # scaled gradients overflow fp16
    batch = {k: v.to(DEVICE) for k, v in synthetic_batch(cfg, 16, train=True).items()}
    with EventStorage():
        step(batch)
    assert step.grad_scaler.get_scale() < 2.0 ** 60
    for name, value in model.named_parameters():
        assert torch.equal(value, before[name]), name  # the optimizer step was skipped


@pytest.mark.parametrize("arch", ["BoT", "DNDM"])
def test_channels_last_and_compiled_features_equal_eager(arch):
    torch.manual_seed(0)
    eager = build_model(config(arch)).eval()
    state = eager.state_dict()
    batch = {k: v.to(DEVICE) for k, v in synthetic_batch(config(arch), 8, train=False).items()}
    switches = [["MODEL.CHANNELS_LAST", "True"]]
    if ON_CUDA:  # inductor on 2 CPU cores takes minutes; the CPU's compile is tested with aot_eager elsewhere
        switches.append(["MODEL.COMPILE.ENABLED", "True"])
    with torch.no_grad():
        expected = eager(batch)
        for switch in switches:
            model = build_model(config(arch, *switch)).eval()
            model.load_state_dict(state)
            torch.testing.assert_close(model(batch), expected, rtol=1e-3, atol=1e-3, msg=str(switch))


@pytest.mark.parametrize("rerank", [None, (20, 6, 0.3)])
def test_evaluation_on_the_device_equals_the_cpus(rerank):
    data = clustered_features(200, 1000, 128, 40, seed=1)
    labels = {"targets": torch.cat([data["q_pids"], data["g_pids"]]),
              "camids": torch.cat([data["q_camids"], data["g_camids"]])}
    feats = torch.cat([data["query"], data["gallery"]])
    results = []
    for device in ("cpu", DEVICE):
        evaluator = ReidEvaluator(200, "cosine", chunk_size=64, rerank=rerank)
        evaluator.process(labels, feats.to(device))
        results.append(evaluator.evaluate())
    cpu, device = results
    assert cpu["mAP"] > cpu["chance_mAP"]
    for key in cpu:
        assert device[key] == pytest.approx(cpu[key], abs=1e-4), key


def _toy_cfg(output_dir: Path, device: str, *opts):
    from toyreid import PROJECT

    return load_config(str(ROOT / "tests" / "toy_project" / "configs" / "toy.yml"),
                       ["MODEL.DEVICE", device, "OUTPUT_DIR", str(output_dir), "TEST.EVAL_PERIOD", "100", *opts],
                       projects=(PROJECT,))


def test_checkpoints_move_between_the_device_and_the_cpu(toy_root, toy_installed, tmp_path):
    """A run trained with AMP on the device, evaluated on the CPU from its checkpoint, and
    resumed on the CPU; a CPU run resumed on the device."""
    amp = ["SOLVER.AMP.ENABLED", "True", "SOLVER.AMP.DTYPE", "float16" if ON_CUDA else "bfloat16"]
    Trainer(_toy_cfg(tmp_path / "dev", DEVICE, "SOLVER.MAX_EPOCH", "1", *amp)).train()
    weights = ["MODEL.WEIGHTS", str(tmp_path / "dev" / "model_final.pth")]
    on_device, on_cpu = (load_model(_toy_cfg(tmp_path / "eval", d, *weights)) for d in (DEVICE, "cpu"))
    batch = synthetic_batch(_toy_cfg(tmp_path / "eval", "cpu"), 4, train=False)
    with torch.no_grad():
        torch.testing.assert_close(on_device({k: v.to(DEVICE) for k, v in batch.items()}).cpu(), on_cpu(batch),
                                   rtol=1e-3, atol=1e-3)
    for trained, resumed in ((DEVICE, "cpu"), ("cpu", DEVICE)):
        folder = tmp_path / f"{trained}_to_{resumed}"
        Trainer(_toy_cfg(folder, trained, "SOLVER.MAX_EPOCH", "1")).train()
        trainer = Trainer(_toy_cfg(folder, resumed, "SOLVER.MAX_EPOCH", "2"))
        trainer.resume_or_load(resume=True, allow_changes=True)
        trainer.train()
        assert trainer.start_epoch == 1 and (folder / "model_final.pth").is_file()


@cuda_only
def test_a_one_process_nccl_job_through_torchrun(toy_root, toy_env, tmp_path):
    env = {**toy_env, "FASTREID_DATASETS": str(toy_root.parents[1])}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
                          str(ROOT / "tools" / "train_net.py"), "--config-file",
                          str(ROOT / "tests" / "toy_project" / "configs" / "toy.yml"), "MODEL.DEVICE", "cuda",
                          "SOLVER.MAX_EPOCH", "1", "OUTPUT_DIR", str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "World size: 1" in (tmp_path / "log.txt").read_text()


@cuda_only
def test_the_onnx_graph_runs_on_onnxruntimes_cuda_provider(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("this onnxruntime has no CUDA provider (onnxruntime-gpu)")
    from vreid.deploy import build_graph, export_onnx
    from vreid.projects import batch_keys, installed_projects

    cfg = config("BoT", "MODEL.DEVICE", "cpu")
    model = build_model(cfg).eval()
    path = str(tmp_path / "bot.onnx")
    export_onnx(build_graph(cfg, model, "raw", batch_keys(installed_projects())), path, {}, progress=False)
    images = torch.rand(3, 3, 64, 64) * 255
    session = ort.InferenceSession(path, providers=["CUDAExecutionProvider"])
    with torch.no_grad():
        expected = model({"images": images}).numpy()
    got = session.run(None, {"images": images.numpy()})[0]
    assert abs(got - expected).max() < 1e-2
