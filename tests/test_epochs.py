"""The learning rate of every iteration under fast-reid's real train loop and LR hook (no
model, no data), against the papers' schedules written as formulas of the epoch."""
from pathlib import Path

import pytest
import torch

from fastreid.engine import hooks
from fastreid.engine.train_loop import HookBase, TrainerBase

from vreid.config import load_config
from vreid.engine import Trainer
from vreid.errors import UserError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
ITERS_PER_EPOCH = 3


class _Record(HookBase):
    def before_step(self):
        self.trainer.rates.append([g["lr"] for g in self.trainer.optimizer.param_groups])


class _LoopOnly(TrainerBase):
    """fast-reid's epoch loop with its LRScheduler hook and the toolkit's schedulers; the step
    does nothing, so each recorded rate is exactly what the schedule set."""

    def __init__(self, cfg, base_lrs=(1.0, 10.0)):
        super().__init__()
        self.cfg = Trainer.scale_warmup(cfg, ITERS_PER_EPOCH)
        params = [torch.nn.Parameter(torch.zeros(1)) for _ in base_lrs]
        self.optimizer = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, base_lrs)])
        self.scheduler = Trainer.build_lr_scheduler(self.cfg, self.optimizer, ITERS_PER_EPOCH)
        self.warmup_iters, self.delay_epochs = self.cfg.SOLVER.WARMUP_ITERS, self.cfg.SOLVER.DELAY_EPOCHS
        self.grad_scaler, self.rates = None, []
        self.register_hooks([hooks.LRScheduler(self.optimizer, self.scheduler), _Record()])

    def run_step(self):
        self.optimizer.step()  # no gradients: changes nothing, keeps torch's order check quiet

    def run(self, start_epoch: int = 0) -> list[list[float]]:
        self.train(start_epoch, self.cfg.SOLVER.MAX_EPOCH, ITERS_PER_EPOCH)
        return self.rates


def dndm_release(epoch: int) -> float:
    """The DNDM release: (e + 1) / 10 for 10 epochs, 1 to epoch 20, x0.1 to 50, x0.01 after."""
    if epoch < 10:
        return (epoch + 1) / 10
    return 0.1 ** ((epoch >= 20) + (epoch >= 50))


def bot_release(epoch: int, iteration: int, warmup_iters: int) -> float:
    """BoT: linear warm-up from 0.01 over 10 epochs (per iteration here), x0.1 at 40 and 70."""
    warm = 0.01 + 0.99 * iteration / warmup_iters if iteration < warmup_iters else 1.0
    return warm * 0.1 ** ((epoch >= 40) + (epoch >= 70))


@pytest.mark.parametrize("config", ["dnwild/dndm.yml", "dn348/dndm.yml", "dnwild/baseline.yml"])
def test_dndm_configs_follow_the_release_schedule_every_epoch(config):
    cfg = load_config(str(CONFIGS / config))
    rates = _LoopOnly(cfg).run()
    assert len(rates) == 81 * ITERS_PER_EPOCH
    for i, (body, heads) in enumerate(rates):
        expected = dndm_release(i // ITERS_PER_EPOCH)
        assert body == pytest.approx(expected, rel=1e-12), i
        assert heads == pytest.approx(10 * expected, rel=1e-12), i


@pytest.mark.parametrize("config", ["dnwild/bot.yml", "dn348/agw.yml", "jifd/bot_veri2opri.yml"])
def test_bot_configs_drop_at_epochs_40_and_70(config):
    cfg = load_config(str(CONFIGS / config))
    rates = _LoopOnly(cfg, base_lrs=(1.0,)).run()
    warmup_iters = 10 * ITERS_PER_EPOCH
    for i, (rate,) in enumerate(rates):
        assert rate == pytest.approx(bot_release(i // ITERS_PER_EPOCH, i, warmup_iters), rel=1e-12), i


def test_every_config_drops_at_its_written_epochs():
    for path in sorted(CONFIGS.rglob("*.yml")):
        cfg = load_config(str(path))
        epoch_rates = _LoopOnly(cfg, base_lrs=(1.0,)).run()[::ITERS_PER_EPOCH]
        warmup = max(cfg.SOLVER.WARMUP_EPOCHS, 1)
        drops = [e for e in range(warmup, len(epoch_rates)) if epoch_rates[e][0] < epoch_rates[e - 1][0]]
        assert drops == [s for s in cfg.SOLVER.STEPS if s < cfg.SOLVER.MAX_EPOCH], path.name


def test_resume_continues_the_schedule():
    cfg = load_config(str(CONFIGS / "dnwild/dndm.yml"), ["SOLVER.MAX_EPOCH", 30])
    full = _LoopOnly(cfg).run()
    first = _LoopOnly(load_config(str(CONFIGS / "dnwild/dndm.yml"), ["SOLVER.MAX_EPOCH", 15]))
    first.run()
    resumed = _LoopOnly(cfg)
    for name, sched in resumed.scheduler.items():
        sched.load_state_dict(first.scheduler[name].state_dict())
    resumed.optimizer.load_state_dict(first.optimizer.state_dict())
    assert resumed.run(start_epoch=15) == full[15 * ITERS_PER_EPOCH:]


@pytest.mark.parametrize("opts, key", [
    (["SOLVER.WARMUP_UNIT", "step"], "SOLVER.WARMUP_UNIT"),
    (["SOLVER.SCHED", "CosineAnnealingLR"], "SOLVER.WARMUP_UNIT iter"),
    (["SOLVER.DELAY_EPOCHS", 5], "SOLVER.DELAY_EPOCHS 0"),
])
def test_schedule_errors_name_the_key(opts, key):
    cfg = load_config(str(CONFIGS / "dnwild/dndm.yml"), opts)
    with pytest.raises(UserError, match=key):
        _LoopOnly(cfg)
