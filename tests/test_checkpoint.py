"""Checkpoints: atomic saves, weights-only loads."""
import os

import pytest
import torch

from vreid.engine.checkpoint import Checkpointer
from vreid.modeling.weights import load_checkpoint_file
from vreid.errors import UserError


def _checkpointer(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, Checkpointer(model, str(tmp_path), optimizer=opt)


def test_a_kill_during_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    model, ckpt = _checkpointer(tmp_path)
    ckpt.save("model_final", epoch=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)

    def killed(data, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save("model_final", epoch=2)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_final.pth"]  # no temp left
    loaded = load_checkpoint_file(str(tmp_path / "model_final.pth"))
    assert loaded["epoch"] == 1 and torch.equal(loaded["model"]["weight"], before["weight"])


def test_resume_restores_model_optimizer_and_extras(tmp_path):
    model, ckpt = _checkpointer(tmp_path)
    model(torch.ones(1, 3)).sum().backward()
    ckpt.checkpointables["optimizer"].step()
    ckpt.save("model_0000", epoch=0, metric=1.5)
    model2, ckpt2 = _checkpointer(tmp_path)
    extra = ckpt2.resume_or_load("", resume=True)
    assert extra["epoch"] == 0 and extra["metric"] == 1.5
    assert torch.equal(model2.weight, model.weight)
    assert ckpt2.checkpointables["optimizer"].state_dict()["state"]


class Payload:
    """Stands for any pickled object: loading it would run code."""


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model": {}, "payload": Payload()}, path)
    with pytest.raises(UserError, match="refusing to load"):
        load_checkpoint_file(str(path))
