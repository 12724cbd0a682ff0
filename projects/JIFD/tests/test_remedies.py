"""What makes the branches hold what their names say, and CD-VAE's balance: the class-irrelevant
remedy on the toy setting (Gaussian identities, the project's identity, confusion,
reconstruction and MINE losses), the plain domain classifier on f_ds, the staged
reconstruction weight, the ReID gradient scale into G, DAL's ring form and the radius kept
out of weight decay."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fastreid.utils.events import EventStorage
from jifd.modeling import MINE, RingLoss
from jifd.modeling.disentangler import Disentangler
from jifd.modeling.feature_objectives import FeatureObjectives, build_feature_objectives
from jifd.modeling.grad_reverse import scale_gradient
from jifd.modeling.jifd import rec_stages
from jifd.modeling.share import BatchShare, label_share
from jifd.probe import ProbeFit, held_out_split, probe_accuracy
from vreid.engine import Trainer
from vreid.errors import UserError

from fastreid.modeling.meta_arch import build_model
from vreid.config import get_cfg

TINY = ["MODEL.META_ARCHITECTURE", "JIFD", "MODEL.DEVICE", "cpu", "MODEL.BACKBONE.DEPTH", "18x",
        "MODEL.BACKBONE.FEAT_DIM", 512, "MODEL.BACKBONE.PRETRAIN", False, "MODEL.HEADS.NUM_CLASSES", 4,
        "MODEL.JIFD.VAE.CHANNELS", [8], "MODEL.JIFD.VAE.LATENT_CHANNELS", 4, "MODEL.JIFD.DISENTANGLER_HIDDEN_DIM", 32,
        "DATASETS.NAMES", ("SynVeRi", "SynVehicleX")]


def make_cfg(*opts):
    cfg = get_cfg()
    cfg.merge_from_list([*TINY, *opts])
    return cfg


def build(*opts):
    torch.manual_seed(0)
    return build_model(make_cfg(*opts))


def batch() -> dict:
    """Eight 16x16 images of four identities from two sources."""
    images = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 255
    return {"images": images, "targets": torch.arange(4).repeat_interleave(2),
            "sources": torch.tensor([0, 1] * 4), "camids": torch.arange(8)}

DIM, HIDDEN, IDS = 32, 64, 8
TOY_STEPS, TOY_PER_ID = 400, 16  # a batch of 128: the share is estimated on 16 images per identity
WEIGHTS = {"ds_cls": 1.0, "ds_domain": 0.0, "ci_cls": 1.0, "ci_confusion": 1.0, "ci_share": 0.0,
           "di_share": 0.0, "domain": 0.0, "mine": 1e-4, "recon": 0.01, "ring": 0.0}


def train_toy(remedy: bool) -> tuple[float, float, float]:
    """(f_ci identity probe %, chance %, mean ||f_ci||) after a seeded fit of the toy: f is an
    identity mean plus noise, D_di learns identities, D_ci the class-confusion objective."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    means = 2.0 * torch.randn(IDS, DIM, generator=gen)

    def sample(per_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(IDS).repeat_interleave(per_id)
        return means[y] + torch.randn(len(y), DIM, generator=gen), y

    def linear() -> nn.Linear:
        return nn.Linear(DIM, IDS, bias=False)

    di, identity = Disentangler(DIM, HIDDEN), linear()
    objectives = FeatureObjectives(
        ds=Disentangler(DIM, HIDDEN), ds_classifier=linear(), ci=Disentangler(DIM, HIDDEN, output_affine=not remedy),
        ci_classifier=linear(), domain=None, mine_ds_ci=MINE(DIM, DIM, 32), mine_di_ci=MINE(DIM, DIM, 32),
        recon=nn.Linear(2 * DIM, DIM), ring=None, weights={**WEIGHTS, "ci_share": 1.0 if remedy else 0.0},
        ce_epsilon=0.1, ce_alpha=0.2, ci_share=BatchShare() if remedy else None)
    opt = torch.optim.Adam([*di.parameters(), *identity.parameters(), *objectives.parameters()], lr=1e-3)
    for _ in range(TOY_STEPS):
        f, y = sample(TOY_PER_ID)
        f_di = di(f)
        losses = objectives(f, f_di, y, None)
        loss = sum(losses.values()) + F.cross_entropy(identity(f_di), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    objectives.eval()
    with torch.no_grad():
        f, y = sample(32)
        f_ci = objectives.branches(f)["f_ci"]
    acc, chance = probe_accuracy(f_ci, y, held_out_split(y, 0.5, 0), ProbeFit(200, 0.05, 1e-4))
    return acc, chance, f_ci.norm(dim=1).mean().item()


def test_class_irrelevant_remedy_keeps_the_identity_probe_near_chance_without_collapse():
    cheat, chance, _ = train_toy(remedy=False)
    assert cheat == 100.0  # class confusion alone: identity stays fully readable from f_ci
    acc, chance, norm = train_toy(remedy=True)
    assert acc <= chance + 10.0, (acc, chance)
    assert norm > 0.8 * DIM ** 0.5, norm  # unit variance per dimension: no collapse


def test_label_share_is_one_for_pure_labels_and_blind_to_each_dimensions_scale():
    y = torch.arange(4).repeat_interleave(3)
    assert label_share(F.one_hot(y).float(), y).item() == pytest.approx(1.0)
    x = torch.randn(12, 6, generator=torch.Generator().manual_seed(0))
    share = label_share(x, y).item()
    assert 0.0 < share < 1.0 and label_share(1e-3 * x, y).item() == pytest.approx(share, rel=1e-4)
    same_mean = torch.cat([x[:3]] * 4)  # every label has the same samples: equal means
    assert label_share(same_mean, y).item() == pytest.approx(0.0, abs=1e-6)
    # A label in one quiet dimension weighs as much as in a loud one: a trace ratio would miss it.
    quiet, loud = (torch.cat([x[:, :5], s * y[:, None].float()], 1) for s in (1e-3, 1e3))
    assert label_share(quiet, y).item() == pytest.approx(label_share(loud, y).item(), rel=1e-4)
    assert label_share(quiet, y).item() > share
    assert label_share(torch.ones(12, 6), y).item() == 0.0  # nothing varies: nothing to read


def test_remedy_and_f_ds_domain_classifier_by_config():
    m = build("MODEL.JIFD.CI.OUTPUT_AFFINE", False, "MODEL.JIFD.CI.IDENTITY_SHARE_WEIGHT", 1.0,
              "MODEL.JIFD.DS.DOMAIN_WEIGHT", 0.5)
    assert m.objectives.ci[-1].weight is None and m.objectives.ds_domain is not None
    assert isinstance(m.objectives.ds_domain.reverse, nn.Identity)  # plain, not reversed
    m.train()
    losses = m(batch())
    assert {"loss_ci_identity_share", "loss_ds_domain"} <= set(losses)
    f_ds = torch.randn(8, 512, requires_grad=True)
    loss = m.objectives.domain_loss(m.objectives.ds_domain, f_ds, batch()["sources"])
    (grad,) = torch.autograd.grad(loss, f_ds)
    step = m.objectives.domain_loss(m.objectives.ds_domain, f_ds - 0.1 * grad, batch()["sources"])
    assert step < loss  # the features descend the domain loss: they learn to hold the domain
    only_ds = build("MODEL.JIFD.DOMAIN.ENABLED", False, "MODEL.JIFD.DS.DOMAIN_WEIGHT", 0.5)
    assert only_ds.domain_key == "sources" and only_ds.objectives.domain is None


def test_remedy_config_errors_name_the_key():
    with pytest.raises(UserError, match="MODEL.JIFD.CI.OUTPUT_AFFINE False"):
        build_feature_objectives(make_cfg("MODEL.JIFD.CI.IDENTITY_SHARE_WEIGHT", 1.0), 2)
    with pytest.raises(UserError, match="MODEL.JIFD.DS.ENABLED"):
        build_feature_objectives(make_cfg("MODEL.JIFD.DS.ENABLED", False, "MODEL.JIFD.DS.DOMAIN_WEIGHT", 1.0), 2)
    for stages in ([[5, 2.0], [3, 1.0]], [[4, 0.0]], [[4]]):
        with pytest.raises(UserError, match="MODEL.JIFD.VAE.REC_STAGES"):
            rec_stages(make_cfg("MODEL.JIFD.VAE.REC_STAGES", stages))
    with pytest.raises(UserError, match="MODEL.JIFD.RING.FORM"):
        RingLoss(form="circle")


def test_staged_reconstruction_weight_by_epoch():
    m = build("MODEL.JIFD.VAE.REC_STAGES", [[2, 10.0], [4, 5.0]])
    m.train()

    def rec_loss(epoch: int) -> float:
        with EventStorage(0) as storage:
            storage.epoch = epoch
            torch.manual_seed(0)
            return m(batch())["loss_vae_rec"].item()

    plain = rec_loss(4)
    assert rec_loss(0) == pytest.approx(10 * plain, rel=1e-5) and rec_loss(1) == pytest.approx(10 * plain, rel=1e-5)
    assert rec_loss(3) == pytest.approx(5 * plain, rel=1e-5) and rec_loss(9) == pytest.approx(plain, rel=1e-5)


def test_reid_gradient_into_g_is_scaled():
    x = torch.randn(3, 4, requires_grad=True)
    (grad,) = torch.autograd.grad(scale_gradient(x, 0.2).sum(), x)
    assert torch.allclose(grad, torch.full_like(x, 0.2)) and scale_gradient(x, 1.0) is x

    def g_grad(scale: float) -> torch.Tensor:
        m = build("MODEL.JIFD.VAE.REID_GRAD_SCALE", scale, "MODEL.JIFD.VAE.REC_WEIGHT", 0.0,
                  "MODEL.JIFD.VAE.KL_WEIGHT", 0.0)
        m.train()
        torch.manual_seed(0)
        loss = m(batch())["loss_cls"]
        return torch.autograd.grad(loss, m.vae.to_image.bias)[0]

    assert torch.allclose(g_grad(0.2), 0.2 * g_grad(1.0), rtol=1e-4, atol=1e-9)


def test_dal_ring_form_and_radius_without_weight_decay():
    f = torch.randn(16, 8) * 5
    ring = RingLoss(form="variance")
    assert ring(f).item() == pytest.approx(f.norm(dim=1).var(unbiased=False).item(), rel=1e-5)
    assert not ring.radius.requires_grad
    cfg = make_cfg("SOLVER.OPT", "Adam", "SOLVER.WEIGHT_DECAY", 5e-4, "SOLVER.WEIGHT_DECAY_NORM", 5e-4)
    m = build()
    optimizer, _ = Trainer.build_optimizer(cfg, m)
    decay = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    assert decay[id(m.objectives.ring.radius)] == 0.0
    assert decay[id(m.objectives.recon.weight)] == 5e-4


def test_mine_statistic_learns_under_the_solvers_weight_decay():
    """With the loss weight 1e-4 under Adam's L2 decay 5e-4, decay outweighs T's gradient and
    the bound collapses to 0; freed from decay, T finds the dependence of a and b."""
    cfg = make_cfg("SOLVER.OPT", "Adam", "SOLVER.BASE_LR", 1e-3, "SOLVER.WEIGHT_DECAY", 5e-4,
                   "SOLVER.WEIGHT_DECAY_NORM", 5e-4, "SOLVER.WEIGHT_DECAY_BIAS", 5e-4)

    def trained_bound(restore_decay: bool) -> float:
        torch.manual_seed(0)
        mine = MINE(16, 16, hidden_dim=64)
        optimizer, _ = Trainer.build_optimizer(cfg, mine)
        assert {g["weight_decay"] for g in optimizer.param_groups} == {0.0}
        for group in optimizer.param_groups if restore_decay else ():
            group["weight_decay"] = 5e-4
        for _ in range(300):
            a = torch.randn(64, 16)
            loss = -1e-4 * mine(a, a + 0.5 * torch.randn(64, 16))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            a = torch.randn(1024, 16)
            return mine(a, a + 0.5 * torch.randn(1024, 16)).item()

    learned, decayed = trained_bound(restore_decay=False), trained_bound(restore_decay=True)
    assert learned > 1.0
    assert abs(decayed) < 0.05
