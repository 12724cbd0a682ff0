"""Epoch numbers under fast-reid's real train loop and hooks (no model, no data): the learning
rate of every iteration against the papers' schedules, the epochs evaluated and model_best."""
from pathlib import Path

import math

import pytest
import torch

from fastreid.engine import hooks
from fastreid.engine.train_loop import HookBase, TrainerBase

from vreid.config import load_config
from vreid.engine import Trainer
from vreid.engine.hooks import replace_fastreid_hooks
from vreid.errors import UserError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
ITERS_PER_EPOCH = 3


class _Record(HookBase):
    def before_step(self):
        self.trainer.rates.append([g["lr"] for g in self.trainer.optimizer.param_groups])


class _Saves:
    """Stands for the Checkpointer: records what would be saved."""

    def __init__(self):
        self.saved = []

    def save(self, name, **state):
        self.saved.append((name, state["epoch"], state["best_metric"]))


class _LoopOnly(TrainerBase):
    """fast-reid's epoch loop with its LRScheduler hook and the toolkit's schedulers and
    evaluation and checkpoint hooks; the step does nothing, so each recorded rate is exactly
    what the schedule set, and ``test`` returns ``scores[epoch]`` as (Rank-1, metric) for the
    first protocol and swapped for the others."""

    best_metric = -math.inf

    def __init__(self, cfg, base_lrs=(1.0, 10.0), scores=None):
        super().__init__()
        self.max_epoch, self.model, self.scores, self.evaluated = cfg.SOLVER.MAX_EPOCH, None, scores, []
        self.checkpointer = _Saves()
        self.cfg = Trainer.scale_warmup(cfg, ITERS_PER_EPOCH)
        params = [torch.nn.Parameter(torch.zeros(1)) for _ in base_lrs]
        self.optimizer = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, base_lrs)])
        self.scheduler = Trainer.build_lr_scheduler(self.cfg, self.optimizer, ITERS_PER_EPOCH)
        self.warmup_iters, self.delay_epochs = self.cfg.SOLVER.WARMUP_ITERS, self.cfg.SOLVER.DELAY_EPOCHS
        self.grad_scaler, self.rates = None, []
        self.register_hooks([hooks.LRScheduler(self.optimizer, self.scheduler), _Record()])
        if scores is not None:
            fastreid_hooks = [hooks.EvalHook(cfg.TEST.EVAL_PERIOD, None),
                              hooks.PeriodicCheckpointer(self.checkpointer, cfg.SOLVER.CHECKPOINT_PERIOD)]
            self.register_hooks(replace_fastreid_hooks(self, fastreid_hooks))

    def test(self, cfg, model):
        self.evaluated.append(self.epoch)
        rank1, mean = self.scores[self.epoch]
        first, *others = cfg.DATASETS.TESTS
        return {first: {"Rank-1": rank1, "metric": mean},
                **{name: {"Rank-1": mean, "metric": rank1} for name in others}}

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


def _run_with_scores(config, scores, *opts):
    loop = _LoopOnly(load_config(str(CONFIGS / config), [*opts]), base_lrs=(1.0,), scores=scores)
    loop.run()
    return loop


def test_evaluation_at_the_named_epochs_and_the_last_one_competes():
    """The release evaluates after epochs 10, 20, ... 80 and keeps the best rank-1."""
    rank1 = {e: float(e % 30 + 100 * (e == 80)) for e in range(81)}
    loop = _run_with_scores("dnwild/dndm.yml", {e: (r, -r) for e, r in rank1.items()})
    assert loop.evaluated == list(range(10, 81, 10))
    best = [(e, b) for name, e, b in loop.checkpointer.saved if name == "model_best"]
    assert best == [(10, 10.0), (20, 20.0), (80, 120.0)]
    assert loop.checkpointer.saved[-1] == ("model_final", 80, 120.0)
    periodic = [e for name, e, _ in loop.checkpointer.saved if name.startswith("model_0")]
    assert periodic == list(range(9, 80, 10))


def test_last_epoch_wins_when_it_is_best_and_off_the_period():
    scores = {e: (float(e), 0.0) for e in range(86)}
    loop = _run_with_scores("dnwild/dndm.yml", scores, "SOLVER.MAX_EPOCH", 86)
    assert loop.evaluated == [*range(10, 81, 10), 85]
    assert [e for name, e, _ in loop.checkpointer.saved if name == "model_best"][-1] == 85


def test_selection_metric_and_protocol_are_config_keys():
    scores = {e: (float(e == 20), float(e == 30)) for e in range(31)}  # first protocol's
    for metric, protocol, epoch in (("Rank-1", "", 20), ("metric", "", 30),
                                    ("Rank-1", "DNWild_N2D", 30), ("metric", "DNWild_N2D", 20)):
        loop = _run_with_scores("dnwild/dndm.yml", scores, "SOLVER.MAX_EPOCH", 31,
                                "TEST.BEST_METRIC", metric, "TEST.BEST_PROTOCOL", protocol)
        assert [e for name, e, _ in loop.checkpointer.saved if name == "model_best"][-1] == epoch


@pytest.mark.parametrize("opts, key", [
    (["TEST.BEST_METRIC", "rank1"], "TEST.BEST_METRIC"),
    (["TEST.BEST_PROTOCOL", "DN348_D2N"], "TEST.BEST_PROTOCOL"),
])
def test_selection_errors_name_the_key(opts, key):
    with pytest.raises(UserError, match=key):
        _run_with_scores("dnwild/dndm.yml", {}, *opts)
