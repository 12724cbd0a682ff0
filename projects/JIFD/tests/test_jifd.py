"""The JIFD meta-architecture: losses and gradients, the inference path, domain
labels from real multi-source batches, module switches, config files and config errors."""
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Iterator

import pytest
import torch
import torch.nn.functional as F

import jifd  # noqa: F401  (registers JIFD, its datasets and config keys)
from fastreid.modeling.meta_arch import build_model
from fastreid.utils.events import EventStorage
from jifd.modeling import JIFD, domain_labels
from vreid.config import get_cfg, load_config
from vreid.data import build_train_loader, build_train_set
from vreid.errors import UserError

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
NUM_IDS, FEAT = 4, 512
ALL_LOSSES = {"loss_vae_rec", "loss_vae_kl", "loss_cls", "loss_triplet", "loss_ds_cls", "loss_ci_cls",
              "loss_ci_confusion", "loss_domain", "loss_mine", "loss_recon", "loss_ring"}
SWITCHES = ("VAE", "DI", "DS", "CI", "DOMAIN", "MINE", "RECON", "RING")


def make_cfg(*opts):
    cfg = get_cfg()
    cfg.merge_from_list([
        "MODEL.META_ARCHITECTURE", "JIFD", "MODEL.DEVICE", "cpu",
        "MODEL.BACKBONE.DEPTH", "18x", "MODEL.BACKBONE.FEAT_DIM", FEAT, "MODEL.BACKBONE.PRETRAIN", False,
        "MODEL.HEADS.NUM_CLASSES", NUM_IDS, "MODEL.HEADS.WITH_BNNECK", True,
        "MODEL.LOSSES.NAME", ("CrossEntropyLoss", "TripletLoss"), "MODEL.LOSSES.CE.EPSILON", 0.1,
        "MODEL.JIFD.VAE.CHANNELS", [8, 16, 32], "MODEL.JIFD.VAE.LATENT_CHANNELS", 8,
        "MODEL.JIFD.DISENTANGLER_HIDDEN_DIM", 64,
        "DATASETS.NAMES", ("SynVeRi", "SynVehicleX"), "DATASETS.TESTS", ("SynOpri",),
        *opts,
    ])
    return cfg


def build(*opts) -> JIFD:
    torch.manual_seed(0)
    return build_model(make_cfg(*opts))


def batch(size: int = 32, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return {"images": torch.rand(8, 3, size, size, generator=gen) * 255,
            "targets": torch.arange(NUM_IDS).repeat_interleave(2),
            "sources": torch.tensor([0, 0, 1, 1, 0, 0, 1, 1]),
            "camids": torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])}


@pytest.fixture(scope="module")
def model() -> JIFD:
    return build()


@contextmanager
def captured_inputs(module: torch.nn.Module) -> Iterator[list]:
    """The positional inputs of every forward call of ``module`` inside the block."""
    seen = []
    handle = module.register_forward_hook(lambda m, args, out: seen.append(args))
    try:
        yield seen
    finally:
        handle.remove()


def test_losses_and_every_parameter_learns(model):
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(2):  # G's output layer starts at zero: the layers before it learn from step 2
        losses = model(batch())
        assert set(losses) == ALL_LOSSES and all(torch.isfinite(v) for v in losses.values())
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    idle = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert idle == []


def test_inference_path_never_calls_training_only_modules(model):
    """Training-only modules fail when called; the test path still embeds. The same hooks
    record that training does call them, so the check cannot pass vacuously."""
    training_only = {f"objectives.{n}": m for n, m in model.objectives.named_children()}
    training_only.update({"vae.logvar": model.vae.logvar, "heads.cls_layer": model.heads.cls_layer})
    test_path = {"vae.mu": model.vae.mu, "backbone": model.backbone, "di": model.di,
                 "heads.bottleneck": model.heads.bottleneck}
    called = set()
    failing = True

    def hook(name):
        def record(*_):
            if failing:
                raise AssertionError(f"{name} ran at inference")
            called.add(name)
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in training_only.items()]
    handles += [m.register_forward_hook(lambda *_, n=n: called.add(n)) for n, m in test_path.items()]
    try:
        model.eval()
        with torch.no_grad():
            embedding = model(batch())
        assert called == set(test_path)
        assert embedding.shape == (8, FEAT) and embedding.dtype == torch.float32
        assert torch.allclose(embedding.norm(dim=1), torch.ones(8))
        failing = False
        called.clear()
        model.train()(batch())
        assert set(training_only) <= called
    finally:
        for h in handles:
            h.remove()


def test_domain_labels_reach_the_model_in_multi_source_batches(data_root):
    cfg = make_cfg("INPUT.SIZE_TRAIN", [32, 32], "DATALOADER.NUM_WORKERS", 0, "SOLVER.IMS_PER_BATCH", 16,
                   "DATALOADER.NUM_INSTANCE", 2, "DATALOADER.SAMPLER_TRAIN", "TrainingSampler")
    train_set = build_train_set(cfg)
    cfg.MODEL.HEADS.NUM_CLASSES = train_set.num_classes
    model = build_model(cfg).train()
    with captured_inputs(model.objectives) as seen:
        sources = []
        for data in islice(build_train_loader(cfg, train_set), 3):
            expected = [0 if "/synthetic/veri/" in p else 1 for p in data["img_paths"]]
            assert data["sources"].tolist() == expected
            model(data)
            assert torch.equal(seen[-1][3], data["sources"])  # (f, f_di, targets, domains)
            sources += expected
        assert set(sources) == {0, 1}


def test_one_source_uses_camera_ids():
    cfg = make_cfg("DATASETS.NAMES", ("SynVehicleX",), "MODEL.JIFD.DOMAIN.NUM_DOMAINS", 31)
    assert domain_labels(cfg) == ("camids", 31)
    model = build_model(cfg).train()
    data = batch()
    with captured_inputs(model.objectives) as seen:
        model(data)
    assert torch.equal(seen[0][3], data["camids"])


@pytest.mark.parametrize("switch", SWITCHES)
def test_each_module_can_be_switched_off(switch):
    needs_ci = {"CI": ("MODEL.JIFD.MINE.ENABLED", False, "MODEL.JIFD.RECON.ENABLED", False)}
    m = build(f"MODEL.JIFD.{switch}.ENABLED", False, *needs_ci.get(switch, ()))
    gone = {"VAE": {"loss_vae_rec", "loss_vae_kl"}, "DI": set(), "DS": {"loss_ds_cls"},
            "CI": {"loss_ci_cls", "loss_ci_confusion", "loss_mine", "loss_recon"}, "DOMAIN": {"loss_domain"},
            "MINE": {"loss_mine"}, "RECON": {"loss_recon"}, "RING": {"loss_ring"}}[switch]
    losses = m.train()(batch())
    assert set(losses) == ALL_LOSSES - gone
    module = {"VAE": m.vae, "DI": m.di, "DS": m.objectives.ds, "CI": m.objectives.ci,
              "DOMAIN": m.objectives.domain, "MINE": m.objectives.mine_di_ci, "RECON": m.objectives.recon,
              "RING": m.objectives.ring}[switch]
    assert module is None


def test_all_switches_off_is_the_bot_baseline():
    off = [x for s in SWITCHES for x in (f"MODEL.JIFD.{s}.ENABLED", False)]
    plain = build(*off)
    assert set(plain.train()(batch())) == {"loss_cls", "loss_triplet"}
    baseline = build_model(make_cfg("MODEL.META_ARCHITECTURE", "Baseline"))
    plain.load_state_dict(baseline.state_dict())  # same parameter names: backbone.*, heads.*
    plain.eval()
    baseline.eval()
    with torch.no_grad():
        ours, theirs = plain(batch()), baseline(batch())
    assert torch.allclose(ours, F.normalize(theirs, dim=1), atol=1e-6)


def test_both_inputs_double_the_reid_batch():
    m = build("MODEL.JIFD.VAE.REID_INPUT", "both").train()
    data = batch()
    with captured_inputs(m.objectives) as seen:
        m(data)
    f, f_di, targets, domains = seen[0]
    assert f.shape == (16, FEAT) and torch.equal(targets, data["targets"].repeat(2))
    assert torch.equal(domains, data["sources"].repeat(2))


def test_reconstruction_weight_is_raised_during_warmup(model):
    model.train()

    def rec_loss(iteration: int) -> float:
        with EventStorage(iteration):
            torch.manual_seed(0)
            return model(batch())["loss_vae_rec"].item()

    warmup_iters = make_cfg().SOLVER.WARMUP_ITERS
    assert rec_loss(0) == pytest.approx(10.0 * rec_loss(warmup_iters), rel=1e-5)
    assert rec_loss(warmup_iters - 1) == pytest.approx(rec_loss(0), rel=1e-5)


def test_bfloat16_autocast_gives_finite_float32_losses(model):
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = model(batch(size=16))
    assert all(torch.isfinite(v) and v.dtype == torch.float32 for v in losses.values())


def test_config_errors():
    with pytest.raises(UserError, match="MODEL.JIFD.MINE"):
        build("MODEL.JIFD.CI.ENABLED", False)
    with pytest.raises(UserError, match="MODEL.JIFD.RECON"):
        build("MODEL.JIFD.CI.ENABLED", False, "MODEL.JIFD.MINE.ENABLED", False)
    with pytest.raises(UserError, match="NUM_DOMAINS"):
        build("DATASETS.NAMES", ("SynVeRi",))
    with pytest.raises(UserError, match="at least 2 domains"):
        build("DATASETS.NAMES", ("SynVeRi",), "MODEL.JIFD.DOMAIN.LABEL", "sources")
    with pytest.raises(UserError, match="DOMAIN.LABEL"):
        build("MODEL.JIFD.DOMAIN.LABEL", "dataset")
    with pytest.raises(UserError, match="REID_INPUT"):
        build("MODEL.JIFD.VAE.REID_INPUT", "image")
    with pytest.raises(UserError, match="FEAT_DIM 512"):
        build("MODEL.BACKBONE.FEAT_DIM", 2048)
    with pytest.raises(UserError, match="NUM_CLASSES"):
        build("MODEL.HEADS.NUM_CLASSES", 0)


def test_bad_domain_labels_in_a_batch(model):
    model.train()
    with pytest.raises(UserError, match=r"domain labels \[2\] .*NUM_DOMAINS"):
        model({**batch(), "sources": torch.tensor([0, 0, 1, 1, 0, 0, 2, 2])})
    with pytest.raises(ValueError, match="sources"):
        model({k: v for k, v in batch().items() if k != "sources"})


@pytest.mark.parametrize("name, sources, domains", [
    ("vehiclex2opri", ("VehicleX",), ("camids", 31)),
    ("veri2opri", ("VeRi",), ("camids", 20)),
    ("veri_vehiclex2opri", ("VeRi", "VehicleX"), ("sources", 2)),
])
def test_config_files(name, sources, domains):
    bot = load_config(str(CONFIGS / "jifd" / f"bot_{name}.yml"))
    ours = load_config(str(CONFIGS / "jifd" / f"jifd_{name}.yml"))
    assert bot.MODEL.META_ARCHITECTURE == "Baseline" and ours.MODEL.META_ARCHITECTURE == "JIFD"
    for cfg in (bot, ours):
        assert tuple(cfg.DATASETS.NAMES) == sources and tuple(cfg.DATASETS.TESTS) == ("Opri",)
        assert cfg.INPUT.SIZE_TEST == [256, 256] and cfg.MODEL.BACKBONE.DEPTH == "50x"
    assert ours.OUTPUT_DIR == f"logs/jifd/jifd_{name}" and bot.OUTPUT_DIR == f"logs/jifd/bot_{name}"
    assert all(ours.MODEL.JIFD[s].ENABLED for s in SWITCHES)
    assert domain_labels(ours) == domains


def test_synthetic_config_builds():
    cfg = load_config(str(CONFIGS / "synthetic" / "jifd.yml"), ["MODEL.DEVICE", "cpu", "MODEL.HEADS.NUM_CLASSES", 8])
    assert domain_labels(cfg) == ("sources", 2)
    m = build_model(cfg)
    assert isinstance(m, JIFD) and m.objectives.recon.in_features == 2 * cfg.MODEL.BACKBONE.FEAT_DIM
