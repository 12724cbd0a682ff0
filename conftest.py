"""For every test folder (the core's tests/ and each project's tests/): the test process is set
up as the training entry point sets up its process (heap reuse on glibc,
vreid/engine/cpu_heap.py), so CPU training tests run at the speed of real CPU training; under
pytest-xdist each worker takes its share of the cores, as a launched training process does; and the
shared fixtures, the tiny synthetic data set and small CPU configs."""
from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import vreid  # noqa: F401  (fast-reid compat first)
from fastreid.engine import hooks
from fastreid.engine.train_loop import HookBase, TrainerBase
from vreid.config import get_cfg
from vreid.engine.cpu_heap import is_glibc, reuse_freed_memory
from vreid.engine.launch import share_cores

ROOT = Path(__file__).resolve().parent


def pytest_configure(config) -> None:
    if is_glibc():
        reuse_freed_memory()
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")  # `make test` runs the files in parallel
    if workers:
        share_cores(int(workers))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config) -> int | None:
    """`-n auto`: a worker per core, but no more than the free memory holds at 3 GiB a worker
    (a generous share for the training tests), so a many-core box with little memory does not
    swap; the variable PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    from vreid.ablation.runner import auto_jobs

    return auto_jobs(1, 3.0)


@pytest.fixture(scope="session")
def datasets_dir(tmp_path_factory) -> str:
    """The session's one data root, which every synthetic-data fixture writes its layouts into
    (so FASTREID_DATASETS, which points at it, suits them all)."""
    root = str(tmp_path_factory.mktemp("datasets"))
    previous = os.environ.get("FASTREID_DATASETS")
    os.environ["FASTREID_DATASETS"] = root
    yield root
    if previous is None:
        os.environ.pop("FASTREID_DATASETS", None)
    else:
        os.environ["FASTREID_DATASETS"] = previous


@pytest.fixture(scope="session")
def data_root(datasets_dir) -> str:
    """The `tiny` synthetic preset of the installed projects' layouts, generated once per
    session; FASTREID_DATASETS points at it."""
    from vreid.synthetic import generate

    generate(datasets_dir, preset="tiny", seed=0)
    return datasets_dir


@dataclass(frozen=True)
class SavedModel:
    """A checkpoint and the config that builds its model, as a user hands them to a tool."""

    config: str
    weights: str

    def args(self, weights: str | None = None) -> list[str]:
        """The trailing part of a tool's command line (``weights``: another checkpoint)."""
        return ["--config-file", self.config, "MODEL.WEIGHTS", weights or self.weights]


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory) -> Callable:
    """Factory: saved_models(build) -> get(name, seed=0), which saves the randomly initialised
    model of ``build(name, seed, output_dir) -> (cfg, model)`` once per session. The saved config
    has MODEL.HEADS.NUM_CLASSES 0, as a training config does: the tools read it from the checkpoint."""
    def cache(build: Callable) -> Callable[..., SavedModel]:
        folder, saved = tmp_path_factory.mktemp("models"), {}

        def get(name: str, seed: int = 0) -> SavedModel:
            if (name, seed) not in saved:
                torch.manual_seed(seed)
                cfg, model = build(name, seed, str(folder / "run"))
                weights = folder / f"{name}_{seed}.pth"
                torch.save({"model": model.state_dict()}, weights)
                cfg.MODEL.HEADS.NUM_CLASSES = 0
                config = folder / f"{name}.yaml"
                config.write_text(cfg.dump())
                saved[name, seed] = SavedModel(str(config), str(weights))
            return saved[name, seed]
        return get
    return cache


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f"tool_{name}", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def run_tool():
    """run_tool("search", *argv) -> exit code, through run_cli as on the command line."""
    from vreid.cli import run_cli

    modules = {}

    def run(name: str, *argv) -> int:
        if name not in modules:
            modules[name] = _load_tool(name)
        with pytest.raises(SystemExit) as exit_info:
            run_cli(lambda: modules[name].main([str(a) for a in argv]))
        return exit_info.value.code
    return run


@pytest.fixture(scope="session")
def small_bot_cfg():
    """Factory: fast-reid's BoT Baseline with ResNet-18 at 64x64 on the tiny day-night set, on CPU."""
    return make_small_bot_cfg


@pytest.fixture(scope="session")
def small_dndm_cfg():
    """Factory: DNDM with ResNet-18 at 64x64 on the tiny day-night set, on CPU."""
    return make_small_dndm_cfg


def make_small_dndm_cfg(output_dir: str, **overrides):
    return make_small_bot_cfg(output_dir, config="dndm.yml", **overrides)


def make_small_bot_cfg(output_dir: str, config: str = "bot.yml", **overrides):
    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(os.path.dirname(__file__), "configs", "synthetic", config))
    cfg.merge_from_list([
        "MODEL.DEVICE", "cpu",
        "INPUT.SIZE_TRAIN", [64, 64], "INPUT.SIZE_TEST", [64, 64], "INPUT.PADDING.SIZE", 4,
        "DATALOADER.NUM_WORKERS", 0,
        "SOLVER.IMS_PER_BATCH", 16, "SOLVER.MAX_EPOCH", 2, "SOLVER.WARMUP_EPOCHS", 0,
        "SOLVER.WARMUP_ITERS", 0, "SOLVER.STEPS", [100], "SOLVER.CHECKPOINT_PERIOD", 1,
        "TEST.EVAL_PERIOD", 2, "TEST.IMS_PER_BATCH", 32,
        "OUTPUT_DIR", output_dir,
    ])
    for key, value in overrides.items():
        cfg.merge_from_list([key, value])
    return cfg


ITERS_PER_EPOCH = 3  # of the schedule loop


class _RecordRates(HookBase):
    def before_step(self):
        self.trainer.rates.append([g["lr"] for g in self.trainer.optimizer.param_groups])


class _Saves:
    """Stands for the Checkpointer: records what would be saved."""

    def __init__(self):
        self.saved = []

    def save(self, name, **state):
        self.saved.append((name, state["epoch"], state["best_metric"]))


class ScheduleLoop(TrainerBase):
    """fast-reid's epoch loop with its LRScheduler hook and the toolkit's schedulers, evaluation
    and checkpoint hooks, and no model or data: the step does nothing, so each recorded rate is
    exactly what the schedule set; ``test`` returns ``scores[epoch]`` as (Rank-1, metric) for the
    first protocol and swapped for the others."""

    best_metric = -math.inf

    def __init__(self, cfg, base_lrs=(1.0, 10.0), scores=None):
        from vreid.engine import Trainer
        from vreid.engine.hooks import replace_fastreid_hooks

        super().__init__()
        self.max_epoch, self.model, self.scores, self.evaluated = cfg.SOLVER.MAX_EPOCH, None, scores, []
        self.checkpointer = _Saves()
        self.cfg = Trainer.scale_warmup(cfg, ITERS_PER_EPOCH)
        params = [torch.nn.Parameter(torch.zeros(1)) for _ in base_lrs]
        self.optimizer = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, base_lrs)])
        self.scheduler = Trainer.build_lr_scheduler(self.cfg, self.optimizer, ITERS_PER_EPOCH)
        self.warmup_iters, self.delay_epochs = self.cfg.SOLVER.WARMUP_ITERS, self.cfg.SOLVER.DELAY_EPOCHS
        self.grad_scaler, self.rates = None, []
        self.register_hooks([hooks.LRScheduler(self.optimizer, self.scheduler), _RecordRates()])
        if scores is not None:
            fastreid_hooks = [hooks.EvalHook(cfg.TEST.EVAL_PERIOD, None),
                              hooks.PeriodicCheckpointer(self.checkpointer, cfg.SOLVER.CHECKPOINT_PERIOD)]
            self.register_hooks(replace_fastreid_hooks(self, fastreid_hooks))

    def test(self, cfg, model):
        self.evaluated.append(self.epoch)
        rank1, mean = self.scores[self.epoch]
        first, *others = cfg.DATASETS.TESTS
        return {first: {"Rank-1": rank1, "metric": mean},
                **{name: {"Rank-1": mean, "metric": rank1} for name in others}}

    def run_step(self):
        self.optimizer.step()  # no gradients: changes nothing, keeps torch's order check quiet

    def run(self, start_epoch: int = 0) -> list[list[float]]:
        """The learning rate of every iteration, per parameter group."""
        self.train(start_epoch, self.cfg.SOLVER.MAX_EPOCH, ITERS_PER_EPOCH)
        return self.rates


@pytest.fixture(scope="session")
def schedule_loop():
    """ScheduleLoop(cfg, base_lrs=(1.0, 10.0), scores=None): a train loop of ITERS_PER_EPOCH
    iterations an epoch that runs the config's schedule, evaluation and checkpoint hooks."""
    return ScheduleLoop


def dndm_release(epoch: int) -> float:
    """The DNDM release's rate: (e + 1) / 10 for 10 epochs, 1 to epoch 20, x0.1 to 50, x0.01 after."""
    if epoch < 10:
        return (epoch + 1) / 10
    return 0.1 ** ((epoch >= 20) + (epoch >= 50))


def bot_release(epoch: int, iteration: int, warmup_iters: int) -> float:
    """BoT's: linear warm-up from 0.01 over 10 epochs (per iteration here), x0.1 at 40 and 70."""
    warm = 0.01 + 0.99 * iteration / warmup_iters if iteration < warmup_iters else 1.0
    return warm * 0.1 ** ((epoch >= 40) + (epoch >= 70))


@pytest.fixture(scope="session")
def release_schedules():
    """(dndm_release(epoch), bot_release(epoch, iteration, warmup_iters)): the papers' rates."""
    return dndm_release, bot_release


@pytest.fixture
def exported_onnx(run_tool, tmp_path, capsys) -> Callable:
    """exported_onnx(saved) -> (cfg, model, input keys, onnxruntime session): the model exported
    by tools/export_onnx.py, its graph checked to take the model's eval inputs, raw 0-255 images
    at any batch size."""
    import onnx
    import onnxruntime as ort

    from vreid.config import load_model_config
    from vreid.modeling import eval_inputs, load_model

    def export(saved: SavedModel):
        path = tmp_path / "model.onnx"
        assert run_tool("export_onnx", "--output", path, "--atol", 1e-4, "--no-progress", *saved.args()) == 0
        assert "onnxruntime vs PyTorch: max abs diff" in capsys.readouterr().out
        cfg = load_model_config(saved.config, ["MODEL.WEIGHTS", saved.weights])
        model = load_model(cfg)
        keys = eval_inputs(model)
        graph = onnx.load(path)
        assert [i.name for i in graph.graph.input] == list(keys)
        shape = graph.graph.input[0].type.tensor_type.shape.dim
        assert [d.dim_param or d.dim_value for d in shape] == ["batch", 3, *cfg.INPUT.SIZE_TEST]
        assert "raw 0-255" in {p.key: p.value for p in graph.metadata_props}["images"]
        return cfg, model, keys, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return export


@pytest.fixture(scope="session")
def boxmot() -> Callable:
    """boxmot(path, crops) -> (input, features): what BoxMOT's ONNX ReID backend does with a graph
    and a frame's crops, step by step: BGR uint8 crops resized with OpenCV (bilinear) to its
    256x128, converted to RGB, /255, ImageNet mean/std, NCHW float32, fed as the session's first
    input; the first output L2-normalised."""
    import cv2
    import numpy as np
    import onnxruntime as ort

    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])

    def run(path, crops):
        batch = []
        for crop in crops:
            rgb = cv2.cvtColor(cv2.resize(crop, (128, 256), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
            batch.append(((rgb / 255.0 - mean) / std).transpose(2, 0, 1))
        images = np.stack(batch).astype(np.float32)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feats = session.run([session.get_outputs()[0].name], {session.get_inputs()[0].name: images})[0]
        return images, feats / np.linalg.norm(feats, axis=-1, keepdims=True)
    return run


def _veriwild_image(path: Path, seed: int) -> None:
    """A small JPEG whose bytes differ from every other seed's (the test-set checks compare bytes)."""
    import numpy as np
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(path, quality=95)


@pytest.fixture(scope="session")
def veriwild() -> Callable[..., Path]:
    """veriwild(root, lists={"train_list.txt": [(vid, camera, "HH:MM:SS"), ...], ...}) writes
    VERI-Wild/images/<vid>/<image id>.jpg, the lists and vehicle_info.txt (with its header line)."""
    def write(root: Path, lists: dict[str, list[tuple[int, int, str]]]) -> Path:
        base, image_id = root / "VERI-Wild", 0
        (base / "train_test_split").mkdir(parents=True, exist_ok=True)
        info = ["id/image;Camera ID;Time;Model;Type;Color"]
        for name, images in lists.items():
            lines = []
            for vid, camera, clock in images:
                image_id += 1
                _veriwild_image(base / "images" / f"{vid:05d}" / f"{image_id:06d}.jpg", image_id)
                lines.append(f"{vid:05d}/{image_id:06d}")
                info.append(f"{vid:05d}/{image_id:06d};{camera};2018-03-11 {clock};Audi;SUV;white")
            (base / "train_test_split" / name).write_text("\n".join(lines) + "\n")
        (base / "train_test_split" / "vehicle_info.txt").write_text("\n".join(info) + "\n")
        return base
    return write
