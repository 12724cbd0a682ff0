"""A training that fails in its last epoch writes no result: no final evaluation, no
model_final or model_best, metrics.json as of the last complete epoch; the error propagates."""
import json

import pytest

from vreid.engine import Trainer


def _metrics(folder):
    return [json.loads(line) for line in (folder / "metrics.json").read_text().splitlines()]


def _crashing(trainer, where: str):
    """The trainer, made to fail in the last epoch: in its second step, or in the final evaluation."""
    if where == "step":
        run_step = trainer.run_step

        def failing_step():
            if trainer.epoch == trainer.max_epoch - 1 and trainer.iter % trainer.iters_per_epoch == 1:
                raise OSError("image file is truncated")
            run_step()
        trainer.run_step = failing_step
    else:
        def failing_test(cfg, model):
            raise RuntimeError("evaluation ran out of memory")
        trainer.test = failing_test
    return trainer


@pytest.mark.parametrize("where", ["step", "evaluation"])
def test_a_crash_in_the_last_epoch_writes_no_result(toy_cfg, toy_installed, toy_root, monkeypatch, tmp_path, where):
    monkeypatch.setenv("FASTREID_DATASETS", str(toy_root.parents[1]))
    cfg = toy_cfg(str(tmp_path), "SOLVER.MAX_EPOCH", 2, "TEST.EVAL_PERIOD", 2)
    trainer = _crashing(Trainer(cfg), where)
    with pytest.raises((OSError, RuntimeError), match="truncated|out of memory"):
        trainer.train()
    assert not trainer.completed
    assert (tmp_path / "model_0000.pth").is_file()  # the first epoch's checkpoint stays
    assert not (tmp_path / "model_final.pth").exists() and not (tmp_path / "model_best.pth").exists()
    records = _metrics(tmp_path)
    assert records and not any(k.startswith(("Rank-", "mAP", "metric")) for r in records for k in r)
    assert max(r["iteration"] for r in records) < trainer.iters_per_epoch  # the first epoch's
