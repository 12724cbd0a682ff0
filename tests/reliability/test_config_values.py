"""Impossible numbers, empty or broken config files and a batch that no identity sampler can fill
are one line naming the key or the file (and line), when the config loads or the loader is built:
not a run that trains 0 epochs and exits 0, a TypeError from yacs, or a run that waits forever
after "Starting training"."""
import subprocess
import sys

import pytest
from fastreid.data import samplers

from vreid.config import load_config
from vreid.data import build_train_loader
from vreid.errors import UserError


@pytest.mark.parametrize("key, value, expected", [
    ("SOLVER.MAX_EPOCH", "0", "SOLVER.MAX_EPOCH must be at least 1 (epochs to train), got 0"),
    ("SOLVER.MAX_EPOCH", "-2", "SOLVER.MAX_EPOCH must be at least 1 (epochs to train), got -2"),
    ("DATALOADER.NUM_WORKERS", "-1",
     "DATALOADER.NUM_WORKERS must be at least 0 (loader processes; 0 loads in the main process), got -1"),
    ("SOLVER.IMS_PER_BATCH", "0",
     "SOLVER.IMS_PER_BATCH must be at least 1 (training images per step, over all processes), got 0"),
    ("TEST.IMS_PER_BATCH", "-4",
     "TEST.IMS_PER_BATCH must be at least 1 (test images per step, over all processes), got -4"),
    ("SOLVER.CHECKPOINT_PERIOD", "0",
     "SOLVER.CHECKPOINT_PERIOD must be at least 1 (epochs between checkpoints), got 0"),
    ("TEST.CHUNK_SIZE", "0", "TEST.CHUNK_SIZE must be at least 1 (queries ranked at once), got 0"),
    ("INPUT.SIZE_TRAIN", "0,0",
     "INPUT.SIZE_TRAIN must be [height, width] or [shorter side] in pixels, each at least 1, got [0, 0]"),
    ("INPUT.SIZE_TEST", "[128,0]",
     "INPUT.SIZE_TEST must be [height, width] or [shorter side] in pixels, each at least 1, got [128, 0]"),
    ("INPUT.CROP.SIZE", "[0]",
     "INPUT.CROP.SIZE must be [height, width] or [shorter side] in pixels, each at least 1, got [0]"),
])
def test_an_impossible_value_names_its_key(key, value, expected):
    with pytest.raises(UserError) as info:
        load_config("configs/synthetic/bot.yml", [key, value])
    assert str(info.value) == expected


@pytest.mark.parametrize("text", ["", "# nothing but a comment\n"])
def test_an_empty_config_file_is_named(tmp_path, text):
    (tmp_path / "empty.yml").write_text(text)
    (tmp_path / "child.yml").write_text("_BASE_: empty.yml\nSEED: 3\n")
    for config in ("empty.yml", "child.yml"):  # itself, or as a _BASE_
        with pytest.raises(UserError) as info:
            load_config(str(tmp_path / config))
        assert str(info.value) == (f"config {tmp_path / 'empty.yml'} is empty: give it KEY: value lines (or a _BASE_: "
                                   "line), or pass another --config-file")


@pytest.mark.parametrize("text, where, problem", [
    ("MODEL:\n  DEVICE: cpu\n   BAD: 1\n", "3:7", "mapping values are not allowed here"),
    ("SOLVER:\n  STEPS: [1, 2\nSEED: 3\n", "3:5", "expected ',' or ']', but got ':' (while parsing a flow sequence)"),
    ("SOLVER:\n\tSTEPS: [1]\n", "2:1",
     "found character '\\t' that cannot start any token (while scanning for the next token)"),
])
def test_a_yaml_error_names_file_line_and_column(tmp_path, text, where, problem):
    (tmp_path / "bad.yml").write_text(text)
    (tmp_path / "child.yml").write_text("_BASE_: bad.yml\n")
    for config in ("bad.yml", "child.yml"):
        with pytest.raises(UserError) as info:
            load_config(str(tmp_path / config))
        assert str(info.value) == f"cannot read config {tmp_path / 'bad.yml'}:{where}: {problem}; fix the YAML there"


def _not_a_multiple(sampler: str, per_process: int, total: int, processes: str, fits: str) -> str:
    return (f"{sampler}: the per-process batch {per_process} (SOLVER.IMS_PER_BATCH {total} over {processes}) is not a "
            f"multiple of DATALOADER.NUM_INSTANCE 4, so no batch would ever fill and training would wait forever; "
            f"set SOLVER.IMS_PER_BATCH to {fits}")


@pytest.mark.parametrize("name", ["NaiveIdentitySampler", "BalancedIdentitySampler"])
def test_identity_samplers_refuse_a_batch_of_no_whole_identities(name, monkeypatch):
    records = [(f"{i}.jpg", i % 12, i % 2) for i in range(96)]
    with pytest.raises(UserError) as info:
        getattr(samplers, name)(records, mini_batch_size=30, num_instances=4, seed=0)
    assert str(info.value) == _not_a_multiple(name, 30, 30, "1 process", "28 or 32")
    monkeypatch.setattr("fastreid.utils.comm.get_world_size", lambda: 2)
    for per_process, fits in ((6, "8 or 16"), (2, "8")):  # a per-process batch below one identity too
        with pytest.raises(UserError) as info:
            getattr(samplers, name)(records, mini_batch_size=per_process, num_instances=4, seed=0)
        assert str(info.value) == _not_a_multiple(name, per_process, 2 * per_process, "2 processes", fits)


@pytest.mark.parametrize("arch", ["Baseline", "JIFD"])
def test_bot_and_jifd_loaders_refuse_what_would_hang(arch, arch_cfg, data_root):
    with pytest.raises(UserError) as info:
        build_train_loader(arch_cfg(arch, "SOLVER.IMS_PER_BATCH", 30))
    assert str(info.value) == _not_a_multiple("NaiveIdentitySampler", 30, 30, "1 process", "28 or 32")


def test_train_net_that_would_hang_exits_2(repo_root, data_root, tmp_path):
    run = subprocess.run([sys.executable, str(repo_root / "tools" / "train_net.py"), "--config-file",
                          str(repo_root / "configs" / "synthetic" / "bot.yml"), "MODEL.DEVICE", "cpu",
                          "SOLVER.IMS_PER_BATCH", "30", "OUTPUT_DIR", str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "Traceback" not in run.stderr + run.stdout
    assert run.stderr.splitlines()[-1] == "error: " + _not_a_multiple("NaiveIdentitySampler", 30, 30, "1 process",
                                                                     "28 or 32")
