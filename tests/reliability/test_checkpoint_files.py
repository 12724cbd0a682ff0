"""Broken checkpoint files are one line; --resume falls back to the newest complete one; a kill's
temp files are removed; checkpoints get the logs' file mode."""
import os
import stat

import pytest
import torch
from torch import nn

from vreid.engine.checkpoint import Checkpointer
from vreid.outputs import FILE_MODE
from vreid.modeling.weights import load_checkpoint_file
from vreid.errors import UserError


def _saved(tmp_path, *names):
    checkpointer = Checkpointer(nn.Linear(3, 2), str(tmp_path))
    for name in names:
        checkpointer.save(name)
    return checkpointer


@pytest.mark.parametrize("content", [b"", b"just some text\n", "truncated"])
def test_broken_checkpoint_files_are_one_line(tmp_path, content):
    _saved(tmp_path, "model_0001")
    good = (tmp_path / "model_0001.pth").read_bytes()
    bad = tmp_path / "bad.pth"
    bad.write_bytes(good[: len(good) // 2] if content == "truncated" else content)
    with pytest.raises(UserError) as info:
        load_checkpoint_file(str(bad))
    message = str(info.value)
    assert "\n" not in message and f"cannot load checkpoint {bad}: it is empty, truncated" in message


def test_a_missing_file_names_the_key():
    with pytest.raises(UserError, match="does not exist: check MODEL.WEIGHTS"):
        load_checkpoint_file("/no/such/model.pth")


def test_resume_falls_back_to_the_newest_complete_checkpoint(tmp_path, caplog):
    checkpointer = _saved(tmp_path, "model_0001", "model_0002")
    os.utime(tmp_path / "model_0001.pth", (1, 1))  # older
    (tmp_path / "model_0002.pth").write_bytes(b"PK\x03\x04 cut short")
    assert checkpointer.get_checkpoint_file() == str(tmp_path / "model_0001.pth")
    assert "resuming from" in caplog.text and "model_0002.pth" in caplog.text
    (tmp_path / "last_checkpoint").write_text("model_0009.pth")  # names a file that is gone
    assert checkpointer.get_checkpoint_file() == str(tmp_path / "model_0001.pth")
    (tmp_path / "model_0001.pth").unlink()
    with pytest.raises(UserError, match="no other model_\\*.pth .* is complete; start without --resume"):
        checkpointer.get_checkpoint_file()


def test_orphan_temp_files_go_and_checkpoints_get_the_logs_mode(tmp_path):
    _saved(tmp_path, "model_0001")
    (tmp_path / "model_0002.pth.k3j2.tmp").write_bytes(b"half")
    (tmp_path / "last_checkpoint.x8.tmp").write_bytes(b"half")
    (tmp_path / "notes.tmp").write_text("not ours")
    _saved(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0001.pth", "notes.tmp"]
    log = tmp_path / "log.txt"
    log.write_text("x")
    mode = stat.S_IMODE(os.stat(tmp_path / "model_0001.pth").st_mode)
    assert mode == FILE_MODE == stat.S_IMODE(os.stat(log).st_mode)
    assert torch.load(tmp_path / "model_0001.pth", weights_only=True)["model"]["weight"].shape == (2, 3)
