"""JIFD's configs under fast-reid's real train loop (the root conftest's schedule loop): BoT's
drops at epochs 40 and 70, and every JIFD config's written steps."""
from pathlib import Path

import pytest
import yaml

from vreid.config import load_config

import jifd

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
ITERS_PER_EPOCH = 3  # the schedule loop's


def model_configs() -> list[Path]:
    """Every config file of the model (fast-reid's upper-case keys), not the other YAML there."""
    return [p for p in sorted(CONFIGS.rglob("*.yml"))
            if all(k == "_BASE_" or k.isupper() for k in yaml.safe_load(p.read_text()) or {})]


def owned(cfg) -> bool:
    """A JIFD config trains its model or on (or for) its datasets."""
    spec = jifd.PROJECT
    return cfg.MODEL.META_ARCHITECTURE in spec.meta_architectures or bool({*cfg.DATASETS.NAMES, *cfg.DATASETS.TESTS} & set(spec.datasets))


def test_bot_config_drops_at_epochs_40_and_70(schedule_loop, release_schedules):
    _, bot_release = release_schedules
    rates = schedule_loop(load_config(str(CONFIGS / "jifd/bot_veri2opri.yml")), base_lrs=(1.0,)).run()
    for i, (rate,) in enumerate(rates):
        assert rate == pytest.approx(bot_release(i // ITERS_PER_EPOCH, i, 10 * ITERS_PER_EPOCH), rel=1e-12), i


def test_every_jifd_config_drops_at_its_written_epochs(schedule_loop):
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
    assert {"jifd/jifd_veri2opri.yml", "jifd/bot_veri2opri.yml", "synthetic/jifd.yml"} <= set(checked)
