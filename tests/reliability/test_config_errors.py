"""Config mistakes are one line naming the key or file, raised when the config loads or the
trainer is built, not as a RecursionError, a ZeroDivisionError in the sampler, a ValueError at
the first step or evaluation, or a torch.cat() of no features at the end of training."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vreid.config import load_config
from vreid.cli import argument_parser
from vreid.engine import Trainer, setup
from vreid.engine.checkpoint import Checkpointer
from vreid.engine.trainer import check_test_sets
from vreid.errors import UserError


def test_a_base_cycle_names_the_files(tmp_path):
    (tmp_path / "a.yml").write_text("_BASE_: b.yml\n")
    (tmp_path / "b.yml").write_text("_BASE_: a.yml\nSEED: 3\n")
    with pytest.raises(UserError) as info:
        load_config(str(tmp_path / "a.yml"))
    a, b = tmp_path / "a.yml", tmp_path / "b.yml"
    assert str(info.value) == f"_BASE_ cycle: {a} -> {b} -> {a}; one of them must not inherit"


def test_a_missing_base_names_the_line_to_fix(tmp_path):
    (tmp_path / "a.yml").write_text("_BASE_: gone/Base.yml\n")
    with pytest.raises(UserError) as info:
        load_config(str(tmp_path / "a.yml"))
    assert str(info.value) == f"{tmp_path / 'a.yml'}: _BASE_ {tmp_path / 'gone' / 'Base.yml'} does not exist; fix the _BASE_ line"


@pytest.mark.parametrize("key, value, choices", [
    ("SOLVER.AMP.DTYPE", "fp16", "float16, bfloat16"),
    ("TEST.METRIC", "l3", "cosine, euclidean"),
    ("MODEL.DNDM.NGS.INIT", "zeros", "nonnegative, pytorch"),
    ("MODEL.DNDM.NGS.LOSS_FORM", "triple", "double_sigmoid, single"),
])
def test_a_bad_choice_names_the_key_and_the_choices(key, value, choices):
    with pytest.raises(UserError) as info:
        load_config("configs/synthetic/dndm.yml", [key, value])
    assert str(info.value) == f"{key} {value!r} is not one of {choices}; set one of them"


def test_num_instance_zero_is_refused_at_load():
    with pytest.raises(UserError, match=r"^DATALOADER.NUM_INSTANCE must be at least 1 .*got 0$"):
        load_config("configs/synthetic/bot.yml", ["DATALOADER.NUM_INSTANCE", "0"])


def test_a_trainer_built_from_a_bad_config_stops_before_training(small_bot_cfg, data_root, tmp_path):
    with pytest.raises(UserError, match="^TEST.METRIC 'l3' is not one of"):
        Trainer(small_bot_cfg(str(tmp_path), **{"TEST.METRIC": "l3"}))


@pytest.mark.parametrize("where", ["under_file", "proc"])
def test_an_output_dir_that_cannot_be_made_is_one_line(tmp_path, where):
    (tmp_path / "plain").write_text("a regular file")
    output = {"under_file": str(tmp_path / "plain" / "run"), "proc": "/proc/x"}[where]
    args = argument_parser().parse_args(["--config-file", "configs/synthetic/bot.yml", "OUTPUT_DIR", output])
    with pytest.raises(UserError) as info:
        setup(args)
    assert str(info.value).startswith(f"OUTPUT_DIR {output}: cannot create this folder")
    assert not os.path.exists(output)


def test_train_net_with_an_unusable_output_dir_exits_2(tmp_path, repo_root, data_root):
    (tmp_path / "plain").write_text("a regular file")
    run = subprocess.run([sys.executable, str(repo_root / "tools" / "train_net.py"), "--config-file",
                          str(repo_root / "configs" / "synthetic" / "bot.yml"), "MODEL.DEVICE", "cpu",
                          "OUTPUT_DIR", str(tmp_path / "plain" / "run")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "Traceback" not in run.stderr + run.stdout
    assert run.stderr == (f"error: OUTPUT_DIR {tmp_path / 'plain' / 'run'}: cannot create this folder, "
                          f"{tmp_path / 'plain'} is a file; choose another\n")


def test_a_full_disk_during_a_save_names_the_file_and_keeps_the_last(tmp_path, monkeypatch):
    checkpointer = Checkpointer(torch.nn.Linear(3, 2), str(tmp_path))
    checkpointer.save("model_0000")

    def full_disk(obj, f):
        f.write(b"PK partial")
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")
    monkeypatch.setattr("vreid.engine.checkpoint.torch.save", full_disk)
    with pytest.raises(UserError) as info:
        checkpointer.save("model_0001")
    path = tmp_path / "model_0001.pth"
    assert str(info.value).startswith(f"cannot write checkpoint {path} (RuntimeError: [enforce fail")
    assert "the disk may be full" in str(info.value) and "\n" not in str(info.value)
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0000.pth"]
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000.pth"


@pytest.fixture()
def empty_query_root(data_root, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "datasets"
    shutil.copytree(Path(data_root) / "synthetic" / "dn", root / "synthetic" / "dn")
    (root / "synthetic" / "dn" / "train_test_split" / "query_list_day.txt").write_text("\n")
    monkeypatch.setenv("FASTREID_DATASETS", str(root))
    return root


def test_an_empty_query_list_stops_before_training(empty_query_root, small_bot_cfg, tmp_path):
    cfg = small_bot_cfg(str(tmp_path / "run"))
    with pytest.raises(UserError) as info:
        check_test_sets(cfg)
    assert str(info.value).startswith("test set SynDN_D2N (DATASETS.TESTS) has no query images")
    with pytest.raises(UserError, match="^test set SynDN_D2N .* has no query images"):
        Trainer.build_test_loader(cfg, "SynDN_D2N")  # --eval-only's path
