"""Tests for the DNDM meta-architecture: ResNet-18, 64x64 inputs."""
from pathlib import Path

import pytest
import torch

import dnreid  # noqa: F401  (registers DNDM and its config keys)
from dnreid.modeling import DNDM
from fastreid.modeling.meta_arch import build_model
from fastreid.solver import build_optimizer
from vreid.config import get_cfg, load_config
from vreid.errors import UserError

P, K, NUM_IDS = 2, 2, 5
CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def make_cfg(*opts):
    cfg = get_cfg()
    cfg.merge_from_list([
        "MODEL.META_ARCHITECTURE", "DNDM", "MODEL.DEVICE", "cpu",
        "MODEL.BACKBONE.DEPTH", "18x", "MODEL.BACKBONE.FEAT_DIM", 512,
        "MODEL.BACKBONE.PRETRAIN", False, "MODEL.HEADS.NUM_CLASSES", NUM_IDS,
        "MODEL.HEADS.POOL_LAYER", "GeneralizedMeanPooling", "MODEL.HEADS.WITH_BNNECK", True,
        "MODEL.LOSSES.NAME", ("CrossEntropyLoss", "TripletLoss"), "MODEL.LOSSES.CE.EPSILON", 0.0,
        "DATALOADER.NUM_INSTANCE", K, "SOLVER.BASE_LR", 0.01, "SOLVER.HEADS_LR_FACTOR", 10.0,
        *opts,
    ])
    return cfg


def build(*opts) -> DNDM:
    torch.manual_seed(0)
    return build_model(make_cfg(*opts))


def paired_batch(size: int = 64, seed: int = 0) -> dict:
    """[day P*K | night P*K], the same identity order in both halves; night images with glare."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(2 * P * K, 3, size, size, generator=gen) * 200
    images[P * K:, :, 8:20, 8:20] = 255.0  # a headlight
    targets = torch.arange(P).repeat_interleave(K).repeat(2)
    domains = torch.tensor([0] * (P * K) + [1] * (P * K))
    return {"images": images, "targets": targets, "domains": domains}


@pytest.fixture(scope="module")
def model() -> DNDM:
    return build()


def test_train_losses_and_gradients(model):
    model.train()
    losses = model(paired_batch())
    assert set(losses) == {"loss_cls", "loss_triplet", "loss_glare"}
    assert all(torch.isfinite(v) for v in losses.values())
    model.zero_grad()
    sum(losses.values()).backward()
    reached = {
        "day stem": model.stems[0][0].weight, "night stem": model.stems[1][0].weight,
        "NGS": model.ngs.proj.weight, "classifier": model.heads.weight,
        **{f"CCA{k + 1}": c.proj.weight for k, c in enumerate(model.cca)},
    }
    for name, p in reached.items():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"


def test_stem_routing(model):
    """Zeroing the night stem changes night embeddings only (eval: per-image BN statistics)."""
    model.eval()
    batch = paired_batch()
    # Interleave domains to exercise the reordering path as well.
    perm = torch.randperm(2 * P * K, generator=torch.Generator().manual_seed(1))
    batch = {k: v[perm] for k, v in batch.items()}
    night = batch["domains"] == 1
    with torch.no_grad():
        before = model(batch)
        saved = model.stems[1][0].weight.clone()
        model.stems[1][0].weight.zero_()
        after = model(batch)
        model.stems[1][0].weight.copy_(saved)
    assert torch.allclose(before[~night], after[~night], atol=1e-5)
    assert not torch.allclose(before[night], after[night], atol=1e-3)


def test_single_domain_batch_runs_one_stem(model):
    model.eval()
    batch = paired_batch()
    day = {k: v[: P * K] for k, v in batch.items()}
    calls = []
    hook = model.stems[1].register_forward_hook(lambda *a: calls.append(1))
    try:
        with torch.no_grad():
            out = model(day)
    finally:
        hook.remove()
    assert out.shape == (P * K, 512) and not calls


@pytest.mark.parametrize("opts, absent", [
    (("MODEL.DNDM.NGS.ENABLED", False), "ngs"),
    (("MODEL.DNDM.DSE.ENABLED", False), "dse"),
    (("MODEL.DNDM.CCA.ENABLED", False), "cca"),
])
def test_module_switches(opts, absent):
    m = build(*opts)
    assert getattr(m, absent) is None
    losses = m.train()(paired_batch())
    assert ("loss_glare" in losses) == (absent != "ngs")
    assert not any(n.startswith(absent + ".") for n, _ in m.named_parameters())


def test_one_stem_and_baseline():
    one = build("MODEL.DNDM.TWO_STEMS", False)
    assert len(one.stems) == 1
    base = build("MODEL.DNDM.NGS.ENABLED", False, "MODEL.DNDM.DSE.ENABLED", False,
                 "MODEL.DNDM.CCA.ENABLED", False)
    assert set(base.train()(paired_batch())) == {"loss_cls", "loss_triplet"}


def test_eval_features_and_raw_untouched(model):
    model.eval()
    batch = paired_batch()
    raw = batch["images"].clone()
    with torch.no_grad():
        bn = model(batch)
        model.test_feat = "pool"
        pool = model(batch)
        model.test_feat = "bn"
    assert bn.shape == pool.shape == (2 * P * K, 512)
    assert not torch.allclose(bn, pool)
    assert torch.equal(batch["images"], raw)
    model.train()(batch)
    assert torch.equal(batch["images"], raw)


def test_autocast_and_channels_last(model):
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):  # 32x32: bfloat16 convs are slow on CPU
        losses = model(paired_batch(size=32))
    assert all(torch.isfinite(v) for v in losses.values())
    batch = paired_batch()
    model.eval()
    with torch.no_grad():
        ref = model(batch)
        model.to(memory_format=torch.channels_last)
        cl = model({**batch, "images": batch["images"].contiguous(memory_format=torch.channels_last)})
        model.to(memory_format=torch.contiguous_format)
    assert torch.allclose(ref, cl, atol=1e-4)


def test_heads_lr_factor(model):
    optimizer, _ = build_optimizer(make_cfg(), model, contiguous=False)
    heads = {id(p) for p in model.heads.parameters()}
    lrs = {(id(g["params"][0]) in heads): g["lr"] for g in optimizer.param_groups}
    assert lrs == {True: pytest.approx(0.1), False: pytest.approx(0.01)}
    assert all(not p.requires_grad for n, p in model.heads.named_parameters() if n.endswith("bias"))
    # vreid's --eval-only loader reads the class count from this key.
    assert model.state_dict()["heads.weight"].shape == (NUM_IDS, 512)


def test_forward_maps(model):
    model.eval()
    maps = model.forward_maps(paired_batch())
    b = 2 * P * K
    assert maps["glare"].shape == (b, 1, 64, 64)
    assert maps["glare"][: P * K].sum() == 0 and maps["glare"][P * K:].sum() > 0
    assert maps["attention"].shape == (b, 1, 16, 16)
    sides = {"cca1": 16, "cca2": 8, "cca3": 4, "cca4": 4}  # last stride 1
    assert {k: tuple(maps[k].shape) for k in sides} == {k: (b, 1, s, s) for k, s in sides.items()}


def test_config_errors():
    with pytest.raises(UserError, match="FEAT_DIM"):
        build("MODEL.BACKBONE.FEAT_DIM", 2048)
    with pytest.raises(UserError, match="TEST_FEAT"):
        build("MODEL.DNDM.TEST_FEAT", "neck")
    with pytest.raises(UserError, match="WITH_BNNECK"):
        build("MODEL.HEADS.WITH_BNNECK", False)
    with pytest.raises(UserError, match="WITH_NL"):
        build("MODEL.BACKBONE.WITH_NL", True)
    with pytest.raises(ValueError, match="domains"):
        m = build("MODEL.DNDM.CCA.ENABLED", False).eval()
        m({"images": torch.rand(2, 3, 64, 64)})


@pytest.mark.parametrize("pool, coincide", [("padded", True), ("ceil", False)])
def test_glare_blob_mask_cell_and_stem_response_coincide(pool, coincide):
    """The release's stem max-pool puts a glare blob's stem response on the cells of NGS's
    downsampled mask; fast-reid's unpadded ceil-mode pool puts it half a stem cell off."""
    model = build("MODEL.DNDM.STEM_POOL", pool).eval()
    stem = model.stems[1]
    with torch.no_grad():
        stem[0].weight.zero_()
        stem[0].weight[:, 0, 3, 3] = 1.0  # each conv1 output is the red pixel at its window's centre
        stem[1].running_mean.zero_(), stem[1].running_var.fill_(1 - stem[1].eps)
        stem[1].weight.fill_(1.0), stem[1].bias.zero_()
        model.ngs.proj.weight.zero_()
        model.ngs.proj.weight[0, -1] = 1.0  # attention above 0.5 exactly on mask cells
        raw = torch.zeros(1, 3, 64, 64)
        raw[..., 9:12, 13:16] = 255.0  # a 3x3 lamp: survives the opening
        features = stem(raw)
        _, attention = model.ngs(features, raw, torch.tensor([1]))
    response, glare = features.amax(1, keepdim=True) > 0, attention > 0.5
    assert glare.sum() == 4  # mask cells rows 2-3, columns 3-4
    assert torch.equal(response, glare) == coincide


def test_release_gem_and_switches():
    x = torch.rand(2, 512, 4, 4, dtype=torch.float64)
    release = build().heads.pool_layer
    torch.testing.assert_close(release(x), (x.pow(3).mean((2, 3), keepdim=True) + 1e-12).pow(1 / 3))
    assert type(build("MODEL.DNDM.GEM", "fastreid").heads.pool_layer).__name__ == "GeneralizedMeanPooling"
    stem_pools = [m for m in build("MODEL.DNDM.STEM_POOL", "ceil").stems[0] if isinstance(m, torch.nn.MaxPool2d)]
    assert [(m.padding, m.ceil_mode) for m in stem_pools] == [(0, True)]
    for key, value in (("MODEL.DNDM.GEM", "exact"), ("MODEL.DNDM.STEM_POOL", "same")):
        with pytest.raises(UserError, match=key):
            build(key, value)
    with pytest.raises(UserError, match="MODEL.DNDM.GEM fastreid"):
        build("MODEL.HEADS.POOL_LAYER", "GlobalAvgPool")


@pytest.mark.parametrize("name, off", [
    ("dndm", set()), ("baseline", {"NGS", "DSE", "CCA"}), ("dndm_no_ngs", {"NGS"}),
    ("dndm_no_dse", {"DSE"}), ("dndm_no_cca", {"CCA"}), ("dndm_one_stem", {"TWO_STEMS"}),
])
@pytest.mark.parametrize("dataset", ["dn348", "dnwild"])
def test_config_files(dataset, name, off):
    cfg = load_config(str(CONFIGS / dataset / f"{name}.yml"))
    dn = cfg.MODEL.DNDM
    found = {m for m in ("NGS", "DSE", "CCA") if not dn[m].ENABLED} | ({"TWO_STEMS"} - (
        {"TWO_STEMS"} if dn.TWO_STEMS else set()))
    assert cfg.MODEL.META_ARCHITECTURE == "DNDM" and found == off
    assert cfg.DATALOADER.SAMPLER_TRAIN == "PairedIdentitySampler"
    assert cfg.OUTPUT_DIR == f"logs/{dataset}/{name}"


def test_synthetic_config_builds():
    cfg = load_config(str(CONFIGS / "synthetic" / "dndm.yml"),
                      ["MODEL.DEVICE", "cpu", "MODEL.HEADS.NUM_CLASSES", NUM_IDS])
    assert cfg.SOLVER.IMS_PER_BATCH % (2 * cfg.DATALOADER.NUM_INSTANCE) == 0
    assert build_model(cfg).cca[-1].proj.out_features == cfg.MODEL.BACKBONE.FEAT_DIM


@pytest.mark.parametrize("dataset, name", [("dn348", "DN348"), ("dnwild", "DNWild")])
@pytest.mark.parametrize("method", ["bot", "agw"])
def test_comparison_configs_build_fastreid_baseline(dataset, name, method):
    """BoT and AGW rows of the paper's table: fast-reid's Baseline on the same data and protocols."""
    cfg = load_config(str(CONFIGS / dataset / f"{method}.yml"),
                      ["MODEL.DEVICE", "cpu", "MODEL.BACKBONE.PRETRAIN", False,
                       "MODEL.HEADS.NUM_CLASSES", NUM_IDS])
    assert cfg.MODEL.META_ARCHITECTURE == "Baseline"
    assert cfg.DATASETS.NAMES == (name,)
    assert cfg.DATASETS.TESTS == (f"{name}_D2N", f"{name}_N2D")
    model = build_model(cfg)
    non_local = [m for m in model.backbone.modules() if type(m).__name__ == "Non_local"]
    assert bool(non_local) == (method == "agw")
    assert type(model.heads.pool_layer).__name__ == (
        "GeneralizedMeanPoolingP" if method == "agw" else "GlobalAvgPool")
