"""DNReID's configs under fast-reid's real train loop (the root conftest's schedule loop): the
release's learning rate every epoch, BoT's drops, every DN config's written steps, and the
release's evaluation epochs and model_best."""
from pathlib import Path

import pytest
import yaml

from vreid.config import load_config

import dnreid

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
ITERS_PER_EPOCH = 3  # the schedule loop's


def model_configs() -> list[Path]:
    """Every config file of the model (fast-reid's upper-case keys), not the other YAML there."""
    return [p for p in sorted(CONFIGS.rglob("*.yml"))
            if all(k == "_BASE_" or k.isupper() for k in yaml.safe_load(p.read_text()) or {})]


def owned(cfg) -> bool:
    """A DNReID config trains its model or on (or for) its datasets."""
    spec = dnreid.PROJECT
    return cfg.MODEL.META_ARCHITECTURE in spec.meta_architectures or bool({*cfg.DATASETS.NAMES, *cfg.DATASETS.TESTS} & set(spec.datasets))


@pytest.mark.parametrize("config", ["dnwild/dndm.yml", "dn348/dndm.yml", "dnwild/baseline.yml"])
def test_dndm_configs_follow_the_release_schedule_every_epoch(config, schedule_loop, release_schedules):
    dndm_release, _ = release_schedules
    rates = schedule_loop(load_config(str(CONFIGS / config))).run()
    assert len(rates) == 81 * ITERS_PER_EPOCH
    for i, (body, heads) in enumerate(rates):
        expected = dndm_release(i // ITERS_PER_EPOCH)
        assert body == pytest.approx(expected, rel=1e-12), i
        assert heads == pytest.approx(10 * expected, rel=1e-12), i


@pytest.mark.parametrize("config", ["dnwild/bot.yml", "dn348/agw.yml"])
def test_bot_configs_drop_at_epochs_40_and_70(config, schedule_loop, release_schedules):
    _, bot_release = release_schedules
    rates = schedule_loop(load_config(str(CONFIGS / config)), base_lrs=(1.0,)).run()
    for i, (rate,) in enumerate(rates):
        assert rate == pytest.approx(bot_release(i // ITERS_PER_EPOCH, i, 10 * ITERS_PER_EPOCH), rel=1e-12), i


def test_every_dn_config_drops_at_its_written_epochs(schedule_loop):
    checked = []
    for path in model_configs():
        cfg = load_config(str(path))
        if not owned(cfg):
            continue
        epoch_rates = schedule_loop(cfg, base_lrs=(1.0,)).run()[::ITERS_PER_EPOCH]
        warmup = max(cfg.SOLVER.WARMUP_EPOCHS, 1)
        drops = [e for e in range(warmup, len(epoch_rates)) if epoch_rates[e][0] < epoch_rates[e - 1][0]]
        assert drops == [s for s in cfg.SOLVER.STEPS if s < cfg.SOLVER.MAX_EPOCH], path.name
        checked.append(path.relative_to(CONFIGS).as_posix())
    assert {"dnwild/dndm.yml", "dn348/bot.yml", "synthetic/dndm.yml", "synthetic/bot.yml"} <= set(checked)


def test_release_evaluates_every_10_epochs_and_keeps_the_best_rank1(schedule_loop):
    rank1 = {e: float(e % 30 + 100 * (e == 80)) for e in range(81)}
    loop = schedule_loop(load_config(str(CONFIGS / "dnwild/dndm.yml")), base_lrs=(1.0,),
                         scores={e: (r, -r) for e, r in rank1.items()})
    loop.run()
    assert loop.evaluated == list(range(10, 81, 10))
    best = [(e, b) for name, e, b in loop.checkpointer.saved if name == "model_best"]
    assert best == [(10, 10.0), (20, 20.0), (80, 120.0)]
    assert loop.checkpointer.saved[-1] == ("model_final", 80, 120.0)
    assert [e for name, e, _ in loop.checkpointer.saved if name.startswith("model_0")] == list(range(9, 80, 10))
