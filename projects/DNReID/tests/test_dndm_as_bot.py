"""configs/synthetic/dndm_as_bot.yml is BoT: DNDM's meta-architecture with every switch at BoT's
choice starts from BoT's weights (same seed), computes BoT's losses and gradients on a batch,
takes BoT's optimizer step and embeds as BoT does, bit for bit on the CPU. That is what lets the
on-BoT grid switch DNDM's modules on one at a time and pair them against BoT itself, and what
makes the bridge grid's last DNDM step BoT."""
from pathlib import Path

import torch
import yaml

import dnreid  # noqa: F401  (registers DNDM and its config keys)
from fastreid.solver import build_optimizer
from fastreid.utils.events import EventStorage
from vreid.config import load_config
from vreid.modeling import build_model

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
NUM_IDS = 6
# The bench's 64 px, as the grids train them.
OPTS = ["MODEL.DEVICE", "cpu", "MODEL.HEADS.NUM_CLASSES", NUM_IDS, "INPUT.SIZE_TRAIN", "64,64",
        "INPUT.SIZE_TEST", "64,64", "SOLVER.BASE_LR", 0.001]


def flat(cfg) -> dict:
    def walk(node, prefix=""):
        for key, value in node.items():
            if isinstance(value, dict):
                yield from walk(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value
    return dict(walk(yaml.safe_load(cfg.dump())))


def configs():
    return (load_config(str(CONFIGS / "synthetic" / "bot.yml"), OPTS),
            load_config(str(CONFIGS / "synthetic" / "dndm_as_bot.yml"), OPTS))


def built(cfg):
    torch.manual_seed(0)
    return build_model(cfg)


def mixed_batch() -> dict:
    """BoT's layout: identities of K = 4 images each, either domain."""
    gen = torch.Generator().manual_seed(0)
    return {"images": torch.rand(8, 3, 32, 32, generator=gen) * 255,
            "targets": torch.tensor([0, 0, 0, 0, 3, 3, 3, 3]),
            "domains": torch.tensor([1, 0, 0, 1, 0, 1, 1, 1])}


def test_the_configs_differ_only_in_what_the_baseline_never_reads():
    bot, dndm = (flat(c) for c in configs())
    differ = {k for k in bot.keys() | dndm.keys() if bot.get(k) != dndm.get(k)}
    assert differ == {"MODEL.META_ARCHITECTURE", "OUTPUT_DIR", "MODEL.DNDM.TWO_STEMS", "MODEL.DNDM.STEM_POOL",
                      "MODEL.DNDM.GEM", "MODEL.DNDM.HEAD_INIT", "MODEL.DNDM.NGS.ENABLED",
                      "MODEL.DNDM.DSE.ENABLED", "MODEL.DNDM.CCA.ENABLED"}


def test_same_seed_same_weights_losses_gradients_step_and_embedding():
    cfg_bot, cfg_dndm = configs()
    bot, dndm = built(cfg_bot), built(cfg_dndm)
    assert (type(bot).__name__, type(dndm).__name__) == ("Baseline", "DNDM")
    pairs = list(zip(bot.parameters(), dndm.parameters(), strict=True))
    assert all(torch.equal(a, b) for a, b in pairs)
    assert all(torch.equal(a, b) for a, b in zip(bot.buffers(), dndm.buffers(), strict=True))

    batch = mixed_batch()
    with EventStorage():  # the Baseline logs its accuracy there, as in the trainer
        losses = [model.train()(dict(batch)) for model in (bot, dndm)]
    assert set(losses[0]) == set(losses[1]) == {"loss_cls", "loss_triplet"}
    for name in losses[0]:
        assert torch.equal(losses[0][name], losses[1][name])
    optimizers = [build_optimizer(cfg, model, contiguous=False)[0] for cfg, model in ((cfg_bot, bot), (cfg_dndm, dndm))]
    settings = [[(g["lr"], g["weight_decay"]) for g in opt.param_groups for _ in g["params"]] for opt in optimizers]
    assert settings[0] == settings[1]
    for opt, loss in zip(optimizers, losses):
        opt.zero_grad()
        sum(loss.values()).backward()
    for a, b in pairs:  # the BNNeck's frozen bias has none
        assert (a.grad is None) == (b.grad is None) == (not a.requires_grad)
        assert a.grad is None or torch.equal(a.grad, b.grad)
    for opt in optimizers:
        opt.step()
    for a, b in pairs:
        assert torch.equal(a, b)

    with torch.no_grad():
        embeddings = [model.eval()(dict(batch)) for model in (bot, dndm)]
    assert torch.equal(embeddings[0], embeddings[1])
