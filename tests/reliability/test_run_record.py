"""A run folder keeps the record of its run: config.yaml written once by the training that owns it,
never by an evaluation or a start that fails; --resume with another config is refused (or recorded
with --resume-with-changes); a resumed run equals an uninterrupted one, logged losses included;
every weights file goes through the checked reader; a signal ends training with one line."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch

from vreid.engine import Trainer
from vreid.errors import UserError
from vreid.modeling import build_model
from vreid.modeling.weights import read_weights

ROOT = Path(__file__).resolve().parents[2]
TRAIN_NET = str(ROOT / "tools" / "train_net.py")
TOY_CONFIG = str(ROOT / "tests" / "toy_project" / "configs" / "toy.yml")
TIMINGS = ("time", "data_time", "eta_seconds")


@pytest.fixture
def env(toy_env, toy_root) -> dict[str, str]:
    return {**toy_env, "FASTREID_DATASETS": str(toy_root.parents[1])}


def _train_net(env: dict, *argv: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, TRAIN_NET, *argv], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


def _logged(folder: Path) -> list[dict]:
    """metrics.json without the wall-clock figures."""
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS}
            for line in (folder / "metrics.json").read_text().splitlines()]


def test_a_resumed_run_logs_and_ends_exactly_as_the_uninterrupted_one(env, tmp_path):
    """Killed after epoch 1 of 3 (0-based: after its second checkpoint) and resumed, with random
    augmentation and two loader workers: every logged loss, rate and metric, and the final
    weights, equal the uninterrupted run's."""
    opts = ["--config-file", TOY_CONFIG, "SOLVER.MAX_EPOCH", "3", "TEST.EVAL_PERIOD", "1", "DATALOADER.NUM_WORKERS",
            "2", "INPUT.REA.ENABLED", "True", "SOLVER.STEPS", "[2]"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run = _train_net(env, *opts, "OUTPUT_DIR", str(whole))
    assert run.returncode == 0, run.stderr[-3000:]
    logged = _logged(whole)
    last_of_epoch1 = 2 * json.loads((whole / "metrics.json").read_text().splitlines()[0])["iteration"] + 1
    shutil.copytree(whole, cut, ignore=shutil.ignore_patterns("model_0002.pth", "model_final.pth", "model_best.pth",
                                                              "events.*"))
    (cut / "last_checkpoint").write_text("model_0001.pth")
    (cut / "metrics.json").write_text("".join(json.dumps(r) + "\n" for r in logged if r["iteration"] <= last_of_epoch1))
    run = _train_net(env, "--resume", *opts, "OUTPUT_DIR", str(cut))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Starting training from epoch 2" in (cut / "log.txt").read_text()
    assert _logged(cut) == logged  # exactly: losses smoothed over the history, rates, every metric
    expected, got = (torch.load(f / "model_final.pth", weights_only=True)["model"] for f in (whole, cut))
    for name in expected:
        assert torch.equal(got[name], expected[name]), name


def test_resume_with_another_config_is_refused_or_recorded(toy_cfg, toy_root, toy_installed, tmp_path):
    first = Trainer(toy_cfg(str(tmp_path), "SOLVER.MAX_EPOCH", 1))
    first.train()
    record = (tmp_path / "config.yaml").read_text()
    changed = toy_cfg(str(tmp_path), "SOLVER.MAX_EPOCH", 1, "SOLVER.BASE_LR", 0.01)
    with pytest.raises(UserError, match=rf"^--resume: this config differs from the one {tmp_path}/config.yaml "
                                        r"recorded for the run in 1 keys \(SOLVER.BASE_LR 0.001 -> 0.01\); resume "
                                        rf"with --config-file {tmp_path}/config.yaml, or pass --resume-with-changes"):
        Trainer(changed).resume_or_load(resume=True)
    resumed = Trainer(toy_cfg(str(tmp_path), "SOLVER.MAX_EPOCH", 2, "SOLVER.BASE_LR", 0.01))
    resumed.resume_or_load(resume=True, allow_changes=True)
    resumed.train()
    assert (tmp_path / "config.yaml").read_text() == record  # the first record stays
    assert "BASE_LR: 0.01" in (tmp_path / "config.resumed_epoch1.yaml").read_text()
    # the run now goes on with the new config: a plain --resume with it (what an interrupted run
    # prints) is accepted, and the first one is refused against the latest record
    Trainer(toy_cfg(str(tmp_path), "SOLVER.MAX_EPOCH", 2, "SOLVER.BASE_LR", 0.01)).resume_or_load(resume=True)
    with pytest.raises(UserError, match=rf"^--resume: .* {tmp_path}/config.resumed_epoch1.yaml recorded .*"
                                        r"\(SOLVER.BASE_LR 0.01 -> 0.001, SOLVER.MAX_EPOCH 2 -> 1\)"):
        Trainer(toy_cfg(str(tmp_path), "SOLVER.MAX_EPOCH", 1)).resume_or_load(resume=True)


def test_resume_with_weights_of_another_depth_is_one_line(toy_cfg, toy_root, toy_installed, tmp_path):
    Trainer(toy_cfg(str(tmp_path), "SOLVER.MAX_EPOCH", 1)).train()
    deeper = Trainer(toy_cfg(str(tmp_path), "SOLVER.MAX_EPOCH", 2, "MODEL.TOY.CHANNELS", [16, 32, 48]))
    with pytest.raises(UserError, match=rf"^--resume: the checkpoint {tmp_path}/model_final.pth does not fit "
                                        r"MODEL.META_ARCHITECTURE ToyNet of this config: it fills \d+ of its \d+ "
                                        r"tensors .*Resume with the config it was trained with"):
        deeper.resume_or_load(resume=True, allow_changes=True)


def test_eval_only_and_a_failed_start_leave_the_record(env, tmp_path):
    run = _train_net(env, "--config-file", TOY_CONFIG, "SOLVER.MAX_EPOCH", "1", "SOLVER.BASE_LR", "0.002",
                     "OUTPUT_DIR", str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    record = (tmp_path / "config.yaml").read_text()
    # the README's own --eval-only line: the training config without the run's overrides
    run = _train_net(env, "--config-file", TOY_CONFIG, "--eval-only", "MODEL.WEIGHTS",
                     str(tmp_path / "model_final.pth"), "OUTPUT_DIR", str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    evaluation, = (tmp_path / "eval").iterdir()
    assert json.loads((evaluation / "metrics.json").read_text())["mAP"] > 0
    assert (evaluation / "config.yaml").is_file() and (evaluation / "log.txt").is_file()
    run = _train_net(env, "--config-file", TOY_CONFIG, "MODEL.WEIGHTS", str(tmp_path / "gone.pth"),
                     "OUTPUT_DIR", str(tmp_path))  # a start that fails
    assert run.returncode == 2 and "gone.pth" in run.stderr.strip().splitlines()[-1]
    assert (tmp_path / "config.yaml").read_text() == record


def test_pretrained_weights_of_another_architecture_are_refused(small_bot_cfg, tmp_path):
    torch.save({"model": torch.nn.Linear(3, 2).state_dict()}, tmp_path / "other.pth")
    cfg = small_bot_cfg(str(tmp_path), **{"MODEL.BACKBONE.PRETRAIN": True,
                                          "MODEL.BACKBONE.PRETRAIN_PATH": str(tmp_path / "other.pth"),
                                          "MODEL.HEADS.NUM_CLASSES": 4})
    with pytest.raises(UserError, match=rf"^MODEL.BACKBONE.PRETRAIN_PATH {tmp_path}/other.pth does not fit the "
                                        r"ResNet backbone of this config: it fills 0 of its \d+ tensors .*"
                                        "MODEL.BACKBONE.PRETRAIN_PARTIAL True"):
        build_model(cfg)
    plain = small_bot_cfg(str(tmp_path), **{"MODEL.HEADS.NUM_CLASSES": 4, "MODEL.BACKBONE.PRETRAIN": False})
    backbone = build_model(plain).backbone
    torch.save(backbone.state_dict(), tmp_path / "imagenet.pth")  # a bare state dict, as torchvision's
    cfg.defrost()
    cfg.MODEL.BACKBONE.PRETRAIN_PATH = str(tmp_path / "imagenet.pth")
    loaded = build_model(cfg).backbone
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), backbone.state_dict().values()))


def test_a_damaged_record_of_a_checkpoint_is_named(tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"model": {"w": torch.arange(1000.0)}}, path)
    with zipfile.ZipFile(path) as archive:
        record = next(i for i in archive.infolist() if i.filename.endswith("/data/0"))
    data = bytearray(path.read_bytes())
    local = record.header_offset  # its local header: 30 bytes, then the name and the extra field
    start = local + 30 + int.from_bytes(data[local + 26:local + 28], "little") + int.from_bytes(data[local + 28:local + 30], "little")
    data[start + 8] ^= 0xFF  # one weight's bits
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match=rf"^cannot load checkpoint {path}: its record {record.filename} is damaged"):
        read_weights(str(path))


def test_sigint_ends_training_with_one_line_and_the_resume_command(env, tmp_path):
    argv = [sys.executable, TRAIN_NET, "--config-file", TOY_CONFIG, "SOLVER.MAX_EPOCH", "200", "OUTPUT_DIR",
            str(tmp_path)]
    run = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not (tmp_path / "model_0000.pth").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 128 + signal.SIGINT
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: interrupted at iteration ") and "Traceback" not in err
    assert f"the last complete checkpoint is {tmp_path}/model_" in last
    assert last.endswith(f"continue with: python {TRAIN_NET} --resume {' '.join(argv[2:])}")
    assert os.path.isfile(tmp_path / "last_checkpoint")


def test_random_generators_come_back_from_a_checkpoint(tmp_path):
    """What a model draws in its forward pass (JIFD's VAE samples) continues after a resume."""
    import random

    import numpy as np

    from vreid.engine.resume import gathered_rng_states, set_rng_state

    torch.save({"rng": gathered_rng_states()}, tmp_path / "state.pth")
    before = (random.random(), np.random.rand(), torch.rand(3))
    set_rng_state(torch.load(tmp_path / "state.pth", weights_only=True)["rng"][0])
    after = (random.random(), np.random.rand(), torch.rand(3))
    assert before[:2] == after[:2] and torch.equal(before[2], after[2])
