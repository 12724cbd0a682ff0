"""A UserError anywhere, fast-reid's train loop included, ends in one line; --debug adds the
traceback."""
import logging

import pytest
from fastreid.engine.train_loop import HookBase, TrainerBase

from vreid.cli import run_cli
from vreid.errors import UserError


class _FailsBeforeTraining(HookBase):
    def before_train(self):
        raise UserError("TEST.METRIC: 'l3' is not a metric; use cosine or euclidean")


def _train_and_fail():
    trainer = TrainerBase()
    trainer.register_hooks([_FailsBeforeTraining()])
    trainer.train(0, 1, 1)


def _run(monkeypatch, argv):
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(_train_and_fail)
    return exit_info.value.code


def test_user_error_in_the_train_loop_is_one_line(monkeypatch, capsys, caplog):
    monkeypatch.delenv("VREID_DEBUG", raising=False)
    with caplog.at_level(logging.INFO):
        assert _run(monkeypatch, ["train_net.py"]) == 2
    err = capsys.readouterr().err
    assert err == "error: TEST.METRIC: 'l3' is not a metric; use cosine or euclidean\n"
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("argv, env", [(["train_net.py", "--debug"], None), (["train_net.py"], "1")])
def test_debug_adds_the_traceback(monkeypatch, capsys, caplog, argv, env):
    if env is None:
        monkeypatch.delenv("VREID_DEBUG", raising=False)
    else:
        monkeypatch.setenv("VREID_DEBUG", env)
    with caplog.at_level(logging.INFO):
        assert _run(monkeypatch, argv) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "_FailsBeforeTraining" not in err.splitlines()[-1]
    assert err.splitlines()[-1].startswith("error: TEST.METRIC")
    assert [r for r in caplog.records if r.exc_info]  # fast-reid's own exception log, kept
