"""Weights of another architecture (or another shape) are refused wherever a model is loaded
for use: --eval-only, the tools, and training from MODEL.WEIGHTS; MODEL.WEIGHTS_PARTIAL True
fine-tunes from the part that fits, on purpose."""
import logging
import os
import subprocess
import sys

import pytest

from vreid.modeling import load_model
from vreid.engine import Trainer
from vreid.errors import UserError


def test_eval_refuses_weights_of_another_architecture(saved, arch_cfg, data_root):
    cfg = arch_cfg("DNDM", "MODEL.WEIGHTS", saved("JIFD").weights)
    with pytest.raises(UserError) as info:
        load_model(cfg)
    message = str(info.value)
    assert message.startswith(f"MODEL.WEIGHTS {saved('JIFD').weights} does not fit MODEL.META_ARCHITECTURE DNDM ")
    filled, total = (int(n) for n in message.split(" fills ")[1].split(" tensors")[0].split(" of its "))
    assert 0 < filled < total and " missing (" in message
    assert "\n" not in message and "config.yaml" in message


def test_eval_refuses_other_shapes(saved, arch_cfg):
    cfg = arch_cfg("Baseline", "MODEL.WEIGHTS", saved("Baseline").weights, "MODEL.HEADS.NUM_CLASSES", 10)
    with pytest.raises(UserError, match=r"Baseline of this config: it fills \d+ of its \d+ tensors \(1 of another shape \(heads\.weight\)\)"):
        load_model(cfg)
    cfg = arch_cfg("Baseline", "MODEL.WEIGHTS", saved("Baseline").weights, "MODEL.BACKBONE.DEPTH", "34x")
    with pytest.raises(UserError, match=r"tensors \(\d+ missing \(backbone\.layer1\.2\."):
        load_model(cfg)
    load_model(arch_cfg("Baseline", "MODEL.WEIGHTS", saved("Baseline").weights))  # its own config loads


def test_train_net_eval_only_exits_2_without_metrics(saved, repo_root, data_root, tmp_path):
    out = tmp_path / "run"
    run = subprocess.run(
        [sys.executable, str(repo_root / "tools" / "train_net.py"), "--config-file", saved("DNDM").config,
         "--eval-only", "MODEL.WEIGHTS", saved("JIFD").weights, "OUTPUT_DIR", str(out)],
        capture_output=True, text=True, env={**os.environ, "FASTREID_DATASETS": data_root}, timeout=300)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr + run.stdout
    assert run.stderr.strip().splitlines()[-1].startswith(f"error: MODEL.WEIGHTS {saved('JIFD').weights} does not fit ")
    assert "Evaluation results" not in run.stdout + run.stderr


def test_training_from_partial_weights_needs_the_key(saved, small_dndm_cfg, data_root, tmp_path, caplog):
    cfg = small_dndm_cfg(str(tmp_path / "a"), **{"MODEL.WEIGHTS": saved("JIFD").weights})
    trainer = Trainer(cfg)
    with pytest.raises(UserError, match="add MODEL.WEIGHTS_PARTIAL True$"):
        trainer.resume_or_load(resume=False)
    cfg = small_dndm_cfg(str(tmp_path / "b"), **{"MODEL.WEIGHTS": saved("JIFD").weights, "MODEL.WEIGHTS_PARTIAL": True})
    trainer = Trainer(cfg)
    with caplog.at_level(logging.WARNING):
        trainer.resume_or_load(resume=False)
    assert "MODEL.WEIGHTS_PARTIAL" in caplog.text and "tensors missing" in caplog.text
