"""Config keys come from the projects given, and bad input gives one actionable line (exit 2),
never a wall of traceback."""
import os
import subprocess
import sys

import pytest
import yaml
from toyreid import PROJECT as TOY

from vreid.config import get_cfg, load_config, readable_dump
from vreid.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOY_CONFIG = os.path.join(REPO, "tests", "toy_project", "configs", "toy.yml")


def test_shared_keys_device_default_and_the_projects_keys():
    cfg = get_cfg(projects=(TOY,))
    assert cfg.MODEL.DEVICE in ("cpu", "cuda")
    assert cfg.SEED == 0 and cfg.SOLVER.WARMUP_EPOCHS == 0
    assert cfg.MODEL.TOY.CHANNELS == [16, 32]  # the project's hook added its keys
    assert "TOY" not in get_cfg(projects=()).MODEL  # and only the projects given add keys


def test_base_inheritance_and_overrides(tmp_path):
    child = tmp_path / "child.yml"
    child.write_text(f"_BASE_: {TOY_CONFIG}\nSOLVER:\n  MAX_EPOCH: 3\n")
    cfg = load_config(str(child), ["SOLVER.BASE_LR", "0.5"], projects=(TOY,))
    assert cfg.MODEL.BACKBONE.FEAT_DIM == 64 and cfg.SOLVER.MAX_EPOCH == 3 and cfg.SOLVER.BASE_LR == 0.5
    assert cfg.MODEL.HEADS.WITH_BNNECK  # from the toy's own base, configs/Base-BoT.yml


def test_unknown_key_names_file_and_key(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("SOLVER:\n  MAX_EPOCHS: 3\n")
    with pytest.raises(UserError, match=r"SOLVER\.MAX_EPOCHS.*bad\.yml"):
        load_config(str(bad), projects=())
    with pytest.raises(UserError, match="MODEL.NOPE"):
        load_config("", ["MODEL.NOPE", "1"], projects=())
    with pytest.raises(UserError, match="MODEL.TOY.CHANNELS"):  # a project's key without the project
        load_config(TOY_CONFIG, ["MODEL.TOY.CHANNELS", "[8]"], projects=())


def _cli(*args, env):
    return subprocess.run([sys.executable, os.path.join(REPO, "tools", "train_net.py"), *args],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("args, env, message", [
    (["SOLVER.MAX_EPOCHS", "1"], {}, "unknown config key SOLVER.MAX_EPOCHS"),
    ([], {"FASTREID_DATASETS": "/nonexistent/data"}, "missing folder"),
    (["MODEL.BACKBONE.PRETRAIN", "True", "MODEL.BACKBONE.PRETRAIN_PATH", "/nonexistent.pth"], {}, "PRETRAIN_PATH"),
])
def test_cli_errors_are_one_line(args, env, message, toy_root, toy_env, tmp_path):
    env = {**toy_env, "FASTREID_DATASETS": str(toy_root.parents[1]), **env}
    r = _cli("--config-file", TOY_CONFIG, "OUTPUT_DIR", str(tmp_path), *args, env=env)
    assert r.returncode == 2, r.stderr[-2000:]
    assert message in r.stderr and "Traceback" not in r.stderr


def test_the_printed_defaults_write_every_value_out():
    cfg = get_cfg()
    text = readable_dump(cfg)
    assert "&id" not in text and "*id" not in text  # fast-reid's NAMES and TESTS share one tuple
    assert yaml.safe_load(text) == yaml.safe_load(cfg.dump())
