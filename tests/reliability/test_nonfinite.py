"""A diverging run stops at the first non-finite loss term, parameter or buffer, with one line;
no checkpoint holding NaN/inf is written; evaluation refuses non-finite features."""
import itertools
import os

import pytest
import torch
from torch import nn

from fastreid.utils.events import EventStorage

from vreid.engine.checkpoint import Checkpointer
from vreid.engine.finite import NonFiniteError
from vreid.engine.step import StepTrainer, TrainStep
from vreid.errors import UserError
from vreid.evaluation.evaluator import ReidEvaluator


class _Tiny(nn.Module):
    """Linear + BatchNorm; ``poison`` puts a NaN into one loss term."""

    def __init__(self, poison: str | None = None):
        super().__init__()
        self.fc, self.bn, self.poison = nn.Linear(4, 4), nn.BatchNorm1d(4), poison

    def forward(self, x):
        y = self.bn(self.fc(x))
        losses = {"loss_cls": y.square().mean(), "loss_triplet": y.abs().mean()}
        if self.poison:
            losses[self.poison] = losses[self.poison] * float("nan")
        return losses


def _trainer(model, lr, dtype=None):
    data = itertools.repeat(torch.randn(8, 4, generator=torch.Generator().manual_seed(0)))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    trainer = StepTrainer(model, data, optimizer, None, TrainStep(model, optimizer, torch.device("cpu"), dtype))
    trainer.iter = 7
    return trainer


def test_a_nan_loss_term_stops_before_the_optimizer_step(monkeypatch):
    monkeypatch.setattr("fastreid.engine.train_loop.get_event_storage", lambda: pytest.fail("metrics written"))
    model = _Tiny(poison="loss_triplet")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(NonFiniteError, match=r"iteration 7: loss loss_triplet=nan; lower SOLVER.BASE_LR"):
        _trainer(model, lr=0.1).run_step()
    assert torch.equal(before["fc.weight"], model.fc.weight) and torch.equal(before["fc.bias"], model.fc.bias)


def test_parameters_that_overflow_stop_training_naming_them():
    trainer = _trainer(_Tiny(), lr=float("inf"))  # the first update overflows
    with EventStorage(0), pytest.raises(NonFiniteError, match=r"iteration 7: \d+ model tensors became NaN/inf .*fc.weight"):
        for _ in range(3):
            trainer.run_step()


def test_amp_steps_are_checked_too():
    trainer = _trainer(_Tiny(poison="loss_cls"), lr=0.1, dtype=torch.bfloat16)
    with pytest.raises(NonFiniteError, match="loss loss_cls=nan"):
        trainer.run_step()


def test_a_checkpoint_with_inf_is_never_written(tmp_path):
    model = _Tiny()
    checkpointer = Checkpointer(model, str(tmp_path))
    checkpointer.save("model_0001")
    model.bn.running_var.fill_(float("inf"))
    with pytest.raises(NonFiniteError, match=r"not saving .*model_0002.pth: 1 model tensors are NaN/inf \(bn.running_var\)"):
        checkpointer.save("model_0002")
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0001.pth"]
    assert (tmp_path / "last_checkpoint").read_text() == "model_0001.pth"


def test_evaluation_refuses_nan_features():
    evaluator = ReidEvaluator(num_query=2)
    feats = torch.randn(6, 4)
    feats[3, 1] = float("nan")
    evaluator.process({"targets": torch.tensor([0, 1, 0, 1, 0, 1]), "camids": torch.tensor([0, 0, 1, 1, 1, 1])}, feats)
    with pytest.raises(UserError, match="1 of 6 test features hold NaN/inf"):
        evaluator.evaluate()
