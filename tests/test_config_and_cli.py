"""Bad input gives one actionable line (exit 2), never a wall of traceback."""
import os
import subprocess
import sys

import pytest

from vreid.config import get_cfg, load_config
from vreid.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_shared_keys_and_device_default():
    cfg = get_cfg()
    assert cfg.MODEL.DEVICE in ("cpu", "cuda")
    assert cfg.SEED == 0 and cfg.SOLVER.WARMUP_EPOCHS == 0
    assert cfg.MODEL.DNDM.NGS.THRESHOLD == 220.0  # project keys merged by registration


def test_base_inheritance_and_overrides(tmp_path):
    child = tmp_path / "child.yml"
    child.write_text(f"_BASE_: {os.path.join(REPO, 'configs', 'synthetic', 'bot.yml')}\nSOLVER:\n  MAX_EPOCH: 3\n")
    cfg = load_config(str(child), ["SOLVER.BASE_LR", "0.5"])
    assert cfg.MODEL.BACKBONE.DEPTH == "18x" and cfg.SOLVER.MAX_EPOCH == 3 and cfg.SOLVER.BASE_LR == 0.5


def test_unknown_key_names_file_and_key(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("SOLVER:\n  MAX_EPOCHS: 3\n")
    with pytest.raises(UserError, match=r"SOLVER\.MAX_EPOCHS.*bad\.yml"):
        load_config(str(bad))
    with pytest.raises(UserError, match="MODEL.NOPE"):
        load_config("", ["MODEL.NOPE", "1"])


def _cli(*args, env=None):
    return subprocess.run([sys.executable, os.path.join(REPO, "tools", "train_net.py"), *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300)


@pytest.mark.parametrize("args, env, message", [
    (["SOLVER.MAX_EPOCHS", "1"], {}, "unknown config key SOLVER.MAX_EPOCHS"),
    ([], {"FASTREID_DATASETS": "/nonexistent/data"}, "missing folder"),
    (["MODEL.BACKBONE.PRETRAIN", "True", "MODEL.BACKBONE.PRETRAIN_PATH", "/nonexistent.pth"], {}, "PRETRAIN_PATH"),
])
def test_cli_errors_are_one_line(args, env, message, data_root, tmp_path):
    env = {"FASTREID_DATASETS": data_root, **env}
    r = _cli("--config-file", os.path.join(REPO, "configs", "synthetic", "bot.yml"),
             "OUTPUT_DIR", str(tmp_path), "DATALOADER.NUM_WORKERS", "0", *args, env=env)
    assert r.returncode == 2, r.stderr[-2000:]
    assert message in r.stderr and "Traceback" not in r.stderr
