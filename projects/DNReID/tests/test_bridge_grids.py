"""The bridge from DNDM without its modules to BoT, DNDM's modules on BoT, and the deciding runs at
a longer schedule: each switch the grids step through does what its key says (and its default
keeps DNDM as it was), each bridge step is the step before plus exactly its one switch, each
on-BoT row is BoT plus its modules, each long run is its dndm_bench run at twice the schedule,
and every run of the three grids loads and builds."""
import importlib.util
from collections import Counter
from pathlib import Path

import pytest
import torch

import dnreid  # noqa: F401  (registers DNDM, its config keys and the paired sampler)
from dnreid.modeling.pooling import ReleaseGeM
from fastreid.layers.pooling import GlobalAvgPool
from vreid.ablation import load_grid
from vreid.config import load_config
from vreid.data.samplers import build_sampler
from vreid.modeling import build_model

from .test_dndm_as_bot import flat

ROOT = Path(__file__).resolve().parents[3]
GRIDS = ROOT / "configs" / "ablations"
BRIDGE, ON_BOT = GRIDS / "dndm_bridge_bench.yml", GRIDS / "dndm_on_bot_bench.yml"
LONG, FIVE_SEEDS = GRIDS / "dndm_long_bench.yml", GRIDS / "dndm_5seeds_bench.yml"
DNDM_YML = str(ROOT / "configs" / "synthetic" / "dndm.yml")
BUILD = ["MODEL.DEVICE", "cpu", "MODEL.HEADS.NUM_CLASSES", 6]
# Keys that differ between the bridge's ends and change nothing the tables report: the model's
# name, the output, TEST.BEST_METRIC (it picks model_best.pth; the tables take the last
# evaluation) and SOLVER.NESTEROV (fast-reid hands it to SGD only; both ends train with Adam).
# MODEL.DNDM.* differ too, and fast-reid's Baseline reads none of them.
INERT = {"MODEL.META_ARCHITECTURE", "OUTPUT_DIR", "TEST.BEST_METRIC", "SOLVER.NESTEROV"}
# What each bridge step switches, in path order.
STEPS = {
    "b1_one_stem": {"MODEL.DNDM.TWO_STEMS"},
    "b2_avg_pool": {"MODEL.HEADS.POOL_LAYER", "MODEL.DNDM.GEM"},
    "b3_8ids_paired": {"DATALOADER.NUM_INSTANCE"},
    "b4_mixed_domains": {"DATALOADER.SAMPLER_TRAIN", "DATALOADER.NUM_INSTANCE"},
    "b5_label_smoothing": {"MODEL.LOSSES.CE.EPSILON"},
    "b6_warmup_factor": {"SOLVER.WARMUP_FACTOR"},
    "b7_stem_pool": {"MODEL.DNDM.STEM_POOL"},
    "b8_head_init": {"MODEL.DNDM.HEAD_INIT"},
    "b9_last_stride1": {"MODEL.BACKBONE.LAST_STRIDE"},
}


def run_configs(path: Path) -> dict:
    grid = load_grid(str(path))
    return {run.name: load_config(run.config, [*grid.opts, *run.opts]) for run in grid.runs}


def bench_runs() -> dict:
    """The 16-epoch bench runs by name: the on-BoT grid's and dndm_bench's (both hold the same bot)."""
    return {**run_configs(ON_BOT), **run_configs(GRIDS / "dndm_bench.yml")}


def differ(a, b) -> set:
    a, b = flat(a), flat(b)
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


def ablate_main():
    spec = importlib.util.spec_from_file_location("ablate_tool", ROOT / "tools" / "ablate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


# --- the switches ---------------------------------------------------------------------------

def dndm(*opts):
    torch.manual_seed(0)
    return build_model(load_config(DNDM_YML, [*BUILD, "MODEL.DNDM.NGS.ENABLED", False, *opts]))


def test_head_init_switch_defaults_to_the_release():
    release, fastreid = dndm().heads, dndm("MODEL.DNDM.HEAD_INIT", "fastreid").heads
    assert release.weight.std().item() == pytest.approx(0.001, rel=0.2)
    assert fastreid.weight.std().item() == pytest.approx(0.01, rel=0.2)
    bn_release, bn_fastreid = release.bottleneck[0].weight, fastreid.bottleneck[0].weight
    assert not torch.all(bn_release == 1.0) and bn_release.std().item() == pytest.approx(0.01, rel=0.2)
    assert torch.all(bn_fastreid == 1.0)


def test_average_pooling_on_dndm_and_gem_by_default():
    assert type(dndm().heads.pool_layer) is ReleaseGeM
    pool = dndm("MODEL.HEADS.POOL_LAYER", "GlobalAvgPool", "MODEL.DNDM.GEM", "fastreid").heads.pool_layer
    x = torch.rand(2, 512, 4, 4)
    assert type(pool) is GlobalAvgPool and torch.allclose(pool(x), x.mean((2, 3), keepdim=True))


class Records:
    """A training set's records as the samplers read them: 20 identities, 10 day and 10 night
    images each."""
    img_items = [(f"{pid}_{domain}_{i}.jpg", pid, 0, {"domains": domain})
                 for pid in range(20) for domain in (0, 1) for i in range(10)]


def batches(*opts, count: int = 6) -> list[list[tuple[int, int]]]:
    """The first batches of 32 of the bench's sampler with ``opts``, as (pid, domain) per image."""
    cfg = load_config(DNDM_YML, list(opts))
    stream = iter(build_sampler(cfg, Records(), 32, seed=0))
    records = [[Records.img_items[next(stream)] for _ in range(32)] for _ in range(count)]
    return [[(pid, meta["domains"]) for _, pid, _, meta in batch] for batch in records]


def per_identity(batch) -> dict[int, Counter]:
    counts: dict[int, Counter] = {}
    for pid, domain in batch:
        counts.setdefault(pid, Counter())[domain] += 1
    return counts


@pytest.mark.parametrize("opts, ids, day, night", [
    ((), 4, 4, 4),  # DNDM's: 4 x (4 day + 4 night)
    (("DATALOADER.NUM_INSTANCE", 2), 8, 2, 2),  # step 3: BoT's 8 identities, still paired
])
def test_paired_sampler_layouts(opts, ids, day, night):
    for batch in batches(*opts):
        counts = per_identity(batch)
        assert len(counts) == ids and all(c == Counter({0: day, 1: night}) for c in counts.values())
        assert [d for _, d in batch] == [0] * (ids * day) + [1] * (ids * night)  # [day | night] blocks


def test_identity_sampler_mixes_the_domains():
    """Step 4: BoT's 8 identities of 4 images of either domain: an identity's 4 images are
    not forced half day, half night, so its triplet positives need not cross domains."""
    found = [per_identity(b) for b in batches("DATALOADER.SAMPLER_TRAIN", "NaiveIdentitySampler")]
    assert all(len(c) == 8 and all(sum(n.values()) == 4 for n in c.values()) for c in found)
    assert any(n[0] != n[1] for c in found for n in c.values())


# --- the grids ------------------------------------------------------------------------------

@pytest.mark.parametrize("grid", [BRIDGE, ON_BOT, LONG, FIVE_SEEDS])
def test_ablate_checks_every_run_of_the_grid(grid, capsys):
    main = ablate_main()
    assert main(["--grid", str(grid), "--check"]) == 0
    assert main(["--grid", str(grid), "--check", "--quick"]) == 0
    assert "every config loads" in capsys.readouterr().out


def test_bridge_steps_one_switch_at_a_time_from_modules_off_to_bot():
    grid = load_grid(str(BRIDGE))
    names = [run.name for run in grid.runs]
    assert names == ["dndm_modules_off", *STEPS, "bot"] and grid.references == ("dndm_modules_off", "bot")
    assert grid.path  # each step read against the step before it
    configs = run_configs(BRIDGE)
    opts = {run.name: run.opts for run in grid.runs}
    for before, step in zip(names, names[1:-1]):
        assert differ(configs[before], configs[step]) == STEPS[step], step
        assert opts[step][:len(opts[before])] == opts[before]  # the step above plus its switch
    last = differ(configs["b9_last_stride1"], configs["bot"])
    assert {k for k in last if not k.startswith("MODEL.DNDM.")} == INERT
    assert {cfg.SOLVER.OPT for cfg in configs.values()} == {"Adam"}
    # The bridge starts at dndm_bench's dndm_modules_off, and b8 is its bot_last_stride2.
    bench = run_configs(GRIDS / "dndm_bench.yml")
    assert differ(bench["dndm_modules_off"], configs["dndm_modules_off"]) == set()
    assert differ(bench["bot"], configs["bot"]) == set()
    stride2 = differ(configs["b8_head_init"], bench["bot_last_stride2"])
    assert {k for k in stride2 if not k.startswith("MODEL.DNDM.")} == INERT


def test_on_bot_rows_are_bot_plus_their_modules():
    configs = run_configs(ON_BOT)
    grid = load_grid(str(ON_BOT))
    assert grid.references == ("bot", "bot_paired")
    base = load_config(str(ROOT / "configs" / "synthetic" / "dndm_as_bot.yml"), list(grid.opts))
    sampler = {"DATALOADER.SAMPLER_TRAIN", "DATALOADER.NUM_INSTANCE"}
    modules = {name: {f"MODEL.DNDM.{m}.ENABLED" for m in ms} for name, ms in
               (("bot_dse", ["DSE"]), ("bot_ngs", ["NGS"]), ("bot_cca", ["CCA"]), ("bot_paired", []),
                ("bot_all", ["NGS", "DSE", "CCA"]), ("bot_two_stems", []))}
    modules["bot_two_stems"] |= {"MODEL.DNDM.TWO_STEMS"}
    modules["bot_all"] |= {"MODEL.DNDM.TWO_STEMS"}
    for name in ("bot_cca", "bot_paired", "bot_all"):  # CCA's exchange needs [day | night] batches
        modules[name] |= sampler
    for name, keys in modules.items():
        assert differ(base, configs[name]) == keys, name
    dndm = load_config(DNDM_YML, list(grid.opts))
    assert differ(dndm, configs["dndm_8ids"]) == {"DATALOADER.NUM_INSTANCE"}  # DNDM at BoT's 8 identities
    # The paired sampler's [day 8x2 | night 8x2] batches switch CCA's cross-domain exchange on.
    run = next(r for r in grid.runs if r.name == "bot_cca")
    cca = build_model(load_config(run.config, [*grid.opts, *run.opts, *BUILD]))
    assert cca.cca is not None and cca._is_paired([0] * 16 + [1] * 16)


def test_long_runs_are_bench_runs_at_twice_the_schedule():
    """Each long run is its dndm_bench (or on-BoT) run with only the schedule changed, and every
    evaluation of the last period (the convergence check) falls after the rate step."""
    long, bench = run_configs(LONG), bench_runs()
    assert set(long) == {"dndm", "dndm_modules_off", "bot", "dndm_8ids"}
    for name, cfg in long.items():
        assert differ(bench[name], cfg) == {"SOLVER.MAX_EPOCH", "SOLVER.STEPS"}, name
        assert cfg.SOLVER.MAX_EPOCH == 2 * bench[name].SOLVER.MAX_EPOCH
        assert cfg.SOLVER.MAX_EPOCH - 2 * cfg.TEST.EVAL_PERIOD >= max(cfg.SOLVER.STEPS)


def test_five_seed_runs_are_the_bench_grids_runs():
    """Their seeds 0-2 are copied from dndm_bench and the on-BoT grid, so the commands must agree."""
    five, bench = run_configs(FIVE_SEEDS), bench_runs()
    assert set(five) == {"bot", "dndm", "dndm_8ids", "bot_all"}
    for name, cfg in five.items():
        assert differ(bench[name], cfg) == set(), name
    assert list(load_grid(str(FIVE_SEEDS)).seeds) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("grid", [BRIDGE, ON_BOT, LONG, FIVE_SEEDS])
def test_every_run_builds_its_model(grid):
    """Model-level checks (a pool layer and GeM form that do not fit, DNDM's checks) run at the
    build, which --check does not reach."""
    grid_ = load_grid(str(grid))
    for run in grid_.runs:
        cfg = load_config(run.config, [*grid_.opts, *run.opts, *BUILD])
        model = build_model(cfg)
        assert type(model).__name__ == cfg.MODEL.META_ARCHITECTURE, run.name
