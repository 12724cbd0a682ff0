"""Epoch numbers under fast-reid's real train loop and hooks (no model, no data): the learning
rate of every iteration against the papers' schedules written as config keys, the epochs
evaluated and model_best. The projects' own configs are checked in their tests."""
from pathlib import Path

import pytest
from toyreid import PROJECT as TOY

from vreid.config import load_config
from vreid.errors import UserError

ROOT = Path(__file__).resolve().parents[1]

ITERS_PER_EPOCH = 3  # the schedule loop's (root conftest.py)
CONFIGS = ("configs/Base-BoT.yml", "configs/Base-AGW.yml", "tests/toy_project/configs/toy.yml")
# The DNDM release's schedule in keys: per-epoch warm-up (e + 1) / 10, x0.1 at 20 and 50, heads x10,
# an evaluation and a checkpoint every 10 epochs, two protocols.
RELEASE = ["SOLVER.MAX_EPOCH", 81, "SOLVER.SCHED", "MultiStepLR", "SOLVER.STEPS", [20, 50], "SOLVER.GAMMA", 0.1,
           "SOLVER.WARMUP_METHOD", "linear", "SOLVER.WARMUP_FACTOR", 0.1, "SOLVER.WARMUP_EPOCHS", 10,
           "SOLVER.WARMUP_UNIT", "epoch", "SOLVER.HEADS_LR_FACTOR", 10.0, "SOLVER.CHECKPOINT_PERIOD", 10,
           "TEST.EVAL_PERIOD", 10, "DATASETS.TESTS", ("ToyReID", "Market1501")]
# BoT's: per-iteration warm-up from 0.01 over 10 epochs, x0.1 at 40 and 70.
BOT = ["SOLVER.MAX_EPOCH", 120, "SOLVER.STEPS", [40, 70], "SOLVER.WARMUP_FACTOR", 0.01, "SOLVER.WARMUP_EPOCHS", 10]


@pytest.fixture
def release(toy_cfg, tmp_path):
    """Factory: the toy config with the release's schedule and further overrides."""
    return lambda *opts: toy_cfg(str(tmp_path), *RELEASE, *opts)


def test_epoch_warmup_follows_the_release_schedule_every_epoch(release, schedule_loop, release_schedules):
    dndm_release, _ = release_schedules
    rates = schedule_loop(release()).run()
    assert len(rates) == 81 * ITERS_PER_EPOCH
    for i, (body, heads) in enumerate(rates):
        expected = dndm_release(i // ITERS_PER_EPOCH)
        assert body == pytest.approx(expected, rel=1e-12), i
        assert heads == pytest.approx(10 * expected, rel=1e-12), i


def test_iteration_warmup_drops_at_epochs_40_and_70(toy_cfg, tmp_path, schedule_loop, release_schedules):
    _, bot_release = release_schedules
    rates = schedule_loop(toy_cfg(str(tmp_path), *BOT), base_lrs=(1.0,)).run()
    warmup_iters = 10 * ITERS_PER_EPOCH
    for i, (rate,) in enumerate(rates):
        assert rate == pytest.approx(bot_release(i // ITERS_PER_EPOCH, i, warmup_iters), rel=1e-12), i


@pytest.mark.parametrize("config", CONFIGS)
def test_core_configs_drop_at_their_written_epochs(config, schedule_loop):
    cfg = load_config(str(ROOT / config), projects=(TOY,))
    epoch_rates = schedule_loop(cfg, base_lrs=(1.0,)).run()[::ITERS_PER_EPOCH]
    warmup = max(cfg.SOLVER.WARMUP_EPOCHS, 1)
    drops = [e for e in range(warmup, len(epoch_rates)) if epoch_rates[e][0] < epoch_rates[e - 1][0]]
    assert drops == [s for s in cfg.SOLVER.STEPS if s < cfg.SOLVER.MAX_EPOCH]
    assert drops or config.endswith("toy.yml")  # the bases do drop: the comparison saw something


def test_resume_continues_the_schedule(release, schedule_loop):
    full = schedule_loop(release("SOLVER.MAX_EPOCH", 30)).run()
    first = schedule_loop(release("SOLVER.MAX_EPOCH", 15))
    first.run()
    resumed = schedule_loop(release("SOLVER.MAX_EPOCH", 30))
    for name, sched in resumed.scheduler.items():
        sched.load_state_dict(first.scheduler[name].state_dict())
    resumed.optimizer.load_state_dict(first.optimizer.state_dict())
    assert resumed.run(start_epoch=15) == full[15 * ITERS_PER_EPOCH:]


@pytest.mark.parametrize("opts, key", [
    (["SOLVER.WARMUP_UNIT", "step"], "SOLVER.WARMUP_UNIT"),
    (["SOLVER.SCHED", "CosineAnnealingLR"], "SOLVER.WARMUP_UNIT iter"),
    (["SOLVER.DELAY_EPOCHS", 5], "SOLVER.DELAY_EPOCHS 0"),
])
def test_schedule_errors_name_the_key(opts, key, release, schedule_loop):
    with pytest.raises(UserError, match=key):
        schedule_loop(release(*opts))


def _run_with_scores(loop_class, cfg, scores):
    loop = loop_class(cfg, base_lrs=(1.0,), scores=scores)
    loop.run()
    return loop


def test_evaluation_at_the_named_epochs_and_the_last_one_competes(release, schedule_loop):
    """The release evaluates after epochs 10, 20, ... 80 and keeps the best rank-1."""
    rank1 = {e: float(e % 30 + 100 * (e == 80)) for e in range(81)}
    loop = _run_with_scores(schedule_loop, release("TEST.BEST_METRIC", "Rank-1"), {e: (r, -r) for e, r in rank1.items()})
    assert loop.evaluated == list(range(10, 81, 10))
    best = [(e, b) for name, e, b in loop.checkpointer.saved if name == "model_best"]
    assert best == [(10, 10.0), (20, 20.0), (80, 120.0)]
    assert loop.checkpointer.saved[-1] == ("model_final", 80, 120.0)
    periodic = [e for name, e, _ in loop.checkpointer.saved if name.startswith("model_0")]
    assert periodic == list(range(9, 80, 10))


def test_last_epoch_wins_when_it_is_best_and_off_the_period(release, schedule_loop):
    scores = {e: (float(e), 0.0) for e in range(86)}
    loop = _run_with_scores(schedule_loop, release("SOLVER.MAX_EPOCH", 86, "TEST.BEST_METRIC", "Rank-1"), scores)
    assert loop.evaluated == [*range(10, 81, 10), 85]
    assert [e for name, e, _ in loop.checkpointer.saved if name == "model_best"][-1] == 85


def test_selection_metric_and_protocol_are_config_keys(release, schedule_loop):
    scores = {e: (float(e == 20), float(e == 30)) for e in range(31)}  # first protocol's
    for metric, protocol, epoch in (("Rank-1", "", 20), ("metric", "", 30),
                                    ("Rank-1", "Market1501", 30), ("metric", "Market1501", 20)):
        cfg = release("SOLVER.MAX_EPOCH", 31, "TEST.BEST_METRIC", metric, "TEST.BEST_PROTOCOL", protocol)
        loop = _run_with_scores(schedule_loop, cfg, scores)
        assert [e for name, e, _ in loop.checkpointer.saved if name == "model_best"][-1] == epoch


@pytest.mark.parametrize("opts, key", [
    (["TEST.BEST_METRIC", "rank1"], "TEST.BEST_METRIC"),
    (["TEST.BEST_PROTOCOL", "DukeMTMC"], "TEST.BEST_PROTOCOL"),
])
def test_selection_errors_name_the_key(opts, key, release, schedule_loop):
    with pytest.raises(UserError, match=key):
        _run_with_scores(schedule_loop, release(*opts), {})
