"""What takes the domain out of f_di and out of x - G(x): DANN's reversal schedule, the domain's
share of f_di's variance, and the domain's share of the pooled residual as G's objective. Each
is tried on a toy whose answer is known: identities that each live in one domain, plus a
domain look (an offset of the feature, a colour cast of the image). A probe fitted on the
trained identities and scored on identities training never saw reads the domain at 100 %
before and near chance after, while identity stays readable."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fastreid.modeling.meta_arch import build_model
from fastreid.utils.events import EventStorage
from jifd.modeling import DomainDiscriminator, GradientReversal, ImageVAE
from jifd.modeling.disentangler import Disentangler
from jifd.modeling.feature_objectives import FeatureObjectives
from jifd.modeling.grad_reverse import dann_ramp
from jifd.modeling.jifd import pooled_pixels
from jifd.modeling.share import BatchShare, FisherShare, label_share
from jifd.probe import ProbeFit, held_out_split, probe_accuracy
from vreid.config import check_config, get_cfg
from vreid.errors import UserError

IDS, PER_ID, DIM, HIDDEN = 64, 4, 32, 64  # a batch of 256: 32 identities in each of 2 domains; as many new
FIT = ProbeFit(200, 0.05, 1e-4)
TINY = ["MODEL.META_ARCHITECTURE", "JIFD", "MODEL.DEVICE", "cpu", "MODEL.BACKBONE.DEPTH", "18x",
        "MODEL.BACKBONE.FEAT_DIM", 512, "MODEL.BACKBONE.PRETRAIN", False, "MODEL.HEADS.NUM_CLASSES", 4,
        "MODEL.JIFD.VAE.CHANNELS", [8], "MODEL.JIFD.VAE.LATENT_CHANNELS", 4, "MODEL.JIFD.DISENTANGLER_HIDDEN_DIM", 32,
        "DATASETS.NAMES", ("SynVeRi", "SynVehicleX")]


def identities_in_domains(new: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Identity and domain labels of a batch of the trained identities, or of the new ones."""
    identity = torch.arange(IDS).repeat_interleave(PER_ID) + (IDS if new else 0)
    return identity, identity % 2


def domain_probes(trained: torch.Tensor, new: torch.Tensor) -> tuple[float, float, float]:
    """(domain % of the new identities by a probe fitted on the trained ones, its chance %,
    identity % of the trained identities on images the probe was not fitted on)."""
    (identity, domain), (new_identity, new_domain) = identities_in_domains(), identities_in_domains(new=True)
    held = torch.cat([torch.zeros(len(identity), dtype=torch.bool), torch.ones(len(new_identity), dtype=torch.bool)])
    acc, chance = probe_accuracy(torch.cat([trained, new]), torch.cat([domain, new_domain]), held, FIT)
    return acc, chance, probe_accuracy(trained, identity, held_out_split(identity, 0.5, 0), FIT)[0]


def test_dann_schedule_ramps_the_reversal_from_zero_with_training_progress():
    grl = GradientReversal(0.1, schedule="dann")

    def reversed_gradient(iteration: int) -> float:
        x = torch.ones(3, requires_grad=True)
        with EventStorage(iteration) as storage:
            storage.max_iter = 100
            grl(x).sum().backward()
        return x.grad[0].item()

    assert reversed_gradient(0) == 0.0  # a random discriminator's gradient is not passed on
    assert reversed_gradient(20) == pytest.approx(-0.1 * (2 / (1 + math.exp(-2)) - 1))
    assert reversed_gradient(100) == pytest.approx(-0.1 * dann_ramp(1.0)) and dann_ramp(1.0) > 0.999
    assert GradientReversal(0.1).current_coeff() == 0.1  # "constant" ignores progress
    cfg = get_cfg()
    cfg.merge_from_list([*TINY, "MODEL.JIFD.DOMAIN.GRL_SCHEDULE", "dann"])
    assert build_model(cfg).objectives.domain.reverse.schedule == "dann"
    cfg.merge_from_list(["MODEL.JIFD.DOMAIN.GRL_SCHEDULE", "linear"])
    with pytest.raises(UserError, match="MODEL.JIFD.DOMAIN.GRL_SCHEDULE 'linear' is not one of constant, dann"):
        check_config(cfg)


def train_feature_toy(share_weight: float = 0.0, reversal: tuple[float, float] | None = None,
                      steps: int = 600, form: str = "batch") -> tuple[float, float, float]:
    """The probes of f_di after a seeded fit: f is an identity mean plus the domain's offset
    plus noise; D_di learns identities by cross-entropy, with the domain's share of f_di (of the
    given form) as a loss of the given weight, or a domain discriminator behind gradient
    reversal (weight, coeff)."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    means, offset = 2.0 * torch.randn(2 * IDS, DIM, generator=gen), 3.0 * torch.randn(DIM, generator=gen)
    identity, domain = identities_in_domains()

    def sample(new: bool = False) -> torch.Tensor:
        ids, domains = identities_in_domains(new)
        return means[ids] + domains[:, None] * offset + torch.randn(len(ids), DIM, generator=gen)

    di, classifier = Disentangler(DIM, HIDDEN), nn.Linear(DIM, IDS)
    weight, coeff = reversal or (0.0, 0.0)
    objectives = FeatureObjectives(
        ds=None, ds_classifier=None, ci=None, ci_classifier=None,
        domain=DomainDiscriminator(DIM, 2, HIDDEN, grl_coeff=coeff) if reversal else None, mine_ds_ci=None,
        mine_di_ci=None, recon=None, ring=None, weights={"di_share": share_weight, "domain": weight}, ce_epsilon=0.0,
        ce_alpha=0.2, num_domains=2,
        di_share=(BatchShare() if form == "batch" else FisherShare(DIM, 2)) if share_weight else None)
    opt = torch.optim.Adam([*di.parameters(), *classifier.parameters(), *objectives.parameters()], lr=1e-3)
    for _ in range(steps):
        f = sample()
        f_di = di(f)
        loss = F.cross_entropy(classifier(f_di), identity) + sum(objectives(f, f_di, identity, domain).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    di.eval()
    with torch.no_grad():
        return domain_probes(di(sample()), di(sample(new=True)))


def test_domain_share_hides_the_domain_of_new_identities_in_f_di_and_keeps_identity():
    seen, chance, identity_before = train_feature_toy()
    assert seen >= 95.0  # the offset tells the domain of identities the probe never saw
    reversed_default, _, _ = train_feature_toy(reversal=(0.01, 0.1))  # MODEL.JIFD.DOMAIN's defaults
    assert reversed_default >= 95.0  # the adversary's 1e-3 share of the features' gradient barely acts
    hidden, chance, identity_after = train_feature_toy(share_weight=3.0)
    assert hidden <= chance + 10.0, (hidden, chance)
    assert identity_after >= identity_before - 5.0, (identity_after, identity_before)
    hidden, chance, identity_after = train_feature_toy(share_weight=3.0, form="fisher")
    assert hidden <= chance + 10.0, (hidden, chance)
    assert identity_after >= identity_before - 5.0, (identity_after, identity_before)


def test_fisher_share_reads_a_label_that_only_a_combination_of_dimensions_shows():
    """Dimension 0 is a large noise plus a small shift by label, dimension 1 the same noise: each
    dimension alone hardly shows the label, their difference is the label. label_share sees
    the former, FisherShare (after a few batches of statistics) the latter, and its gradient
    moves the features along the direction that tells the labels apart."""
    gen = torch.Generator().manual_seed(0)
    share = FisherShare(2, 2)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(64) % 2
        noise = 10.0 * torch.randn(64, generator=gen)
        return torch.stack([noise + 0.5 * labels, noise], dim=1), labels

    for _ in range(20):
        share(*batch())
    x, labels = batch()
    assert label_share(x, labels).item() < 0.01
    x.requires_grad_(True)
    fisher = share(x, labels)
    assert fisher.item() > 0.99
    (grad,) = torch.autograd.grad(fisher, x)
    assert torch.allclose(grad[:, 0], -grad[:, 1], atol=1e-2 * grad.abs().max().item())  # along (1, -1)
    assert share.seen.tolist() == [21.0, 21.0] and share.within[0, 0] == pytest.approx(100.0, rel=0.1)


def cast_images(gen: torch.Generator, new: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """16x16 images: each identity a fixed random pattern plus noise, domain 1 with a colour
    cast (red up, blue down) on top; with their identity and domain labels."""
    identity, domain = identities_in_domains(new)
    patterns = torch.randn(2 * IDS, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    content = F.interpolate(patterns[identity], size=16, mode="nearest")
    cast = torch.tensor([1.5, 0.0, -1.5])[None, :, None, None] * domain[:, None, None, None]
    return content + cast + 0.3 * torch.randn(content.shape, generator=gen), identity, domain


def test_domain_share_of_the_residual_teaches_g_the_domain_look():
    """G(x) starts at 0, so x - G(x) is x and shows the cast to a probe on new identities; with
    the share of the pooled residual as its loss (an identity classifier on the residual
    standing in for the ReID losses), G takes the cast out and leaves the pattern."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    vae, classifier = ImageVAE((8, 16), 8), nn.Linear(3 * 16, IDS)
    objectives = FeatureObjectives(
        ds=None, ds_classifier=None, ci=None, ci_classifier=None, domain=None, mine_ds_ci=None, mine_di_ci=None,
        recon=None, ring=None, weights={"di_share": 0.0}, ce_epsilon=0.0, ce_alpha=0.2, num_domains=2)
    before = domain_probes(pooled_pixels(cast_images(gen)[0], 4), pooled_pixels(cast_images(gen, new=True)[0], 4))
    assert before[0] == 100.0
    opt = torch.optim.Adam([*vae.parameters(), *classifier.parameters()], lr=3e-3)
    for _ in range(150):
        x, identity, domain = cast_images(gen)
        residual = pooled_pixels(x - vae(x)[0], 4)
        share = label_share(residual, objectives.checked_domains(domain))
        loss = F.cross_entropy(classifier(residual), identity) + 10.0 * share  # at 1, identity wins
        opt.zero_grad()
        loss.backward()
        opt.step()
    vae.eval()
    with torch.no_grad():
        hidden, chance, kept = domain_probes(*(pooled_pixels(x - vae(x)[0], 4)
                                               for x, _, _ in (cast_images(gen), cast_images(gen, new=True))))
    assert hidden <= chance + 10.0, (hidden, chance)
    assert kept >= before[2] - 5.0, (kept, before[2])


def test_share_objectives_by_config_and_their_gradients():
    """Each share is a loss of its own when its weight is set, the domain labels are read even
    with the discriminator off, and the residual's share trains G and nothing after it."""
    cfg = get_cfg()
    cfg.merge_from_list([*TINY, "MODEL.JIFD.DOMAIN.ENABLED", False, "MODEL.JIFD.DI.DOMAIN_SHARE_WEIGHT", 1.0,
                         "MODEL.JIFD.VAE.DOMAIN_SHARE_WEIGHT", 1.0, "MODEL.JIFD.VAE.SHARE_POOL", 4])
    torch.manual_seed(0)
    m = build_model(cfg)
    m.train()
    images = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 255
    losses = m({"images": images, "targets": torch.arange(4).repeat_interleave(2), "sources": torch.tensor([0, 1] * 4)})
    assert m.domain_key == "sources" and m.objectives.domain is None
    assert {"loss_di_domain_share", "loss_vae_domain_share"} <= set(losses)
    g_grad, backbone_grad = torch.autograd.grad(
        losses["loss_vae_domain_share"], [m.vae.to_image.weight, m.backbone.conv1.weight], allow_unused=True)
    assert g_grad.abs().sum() > 0 and backbone_grad is None
    bad = {"images": images, "targets": torch.arange(4).repeat_interleave(2), "sources": torch.tensor([0, 2] * 4)}
    with pytest.raises(UserError, match="outside the 2 domains"):
        m(bad)


def test_fisher_share_of_a_label_that_tells_nothing_stays_at_the_floor():
    """With directions fitted to the batch they score, 512 dimensions and 32 images find a
    mean difference in noise alone (a share near 0.94); from the other batches' means the share
    is label_share's floor, 1 / 31 for two labels."""
    gen = torch.Generator().manual_seed(0)
    share, labels = FisherShare(512, 2), torch.arange(32) % 2
    values = [share(torch.randn(32, 512, generator=gen), labels).item() for _ in range(60)]
    assert sum(values[20:]) / 40 == pytest.approx(1 / 31, rel=0.25)


def test_share_form_fisher_builds_every_share_with_its_dimension():
    """Each share's form key reaches its share; their running statistics are buffers, so
    they are saved and resumed with the model."""
    cfg = get_cfg()
    cfg.merge_from_list([*TINY, "MODEL.JIFD.DI.DOMAIN_SHARE_FORM", "fisher", "MODEL.JIFD.DI.DOMAIN_SHARE_WEIGHT", 1.0,
                         "MODEL.JIFD.VAE.DOMAIN_SHARE_FORM", "fisher", "MODEL.JIFD.CI.IDENTITY_SHARE_FORM", "fisher",
                         "MODEL.JIFD.VAE.DOMAIN_SHARE_WEIGHT", 1.0, "MODEL.JIFD.VAE.SHARE_POOL", 4,
                         "MODEL.JIFD.CI.OUTPUT_AFFINE", False, "MODEL.JIFD.CI.IDENTITY_SHARE_WEIGHT", 1.0])
    m = build_model(cfg)
    shares = {"vae": m.vae_share, "di": m.objectives.di_share, "ci": m.objectives.ci_share}
    assert {name: (type(s).__name__, s.within.shape[0]) for name, s in shares.items()} == {
        "vae": ("FisherShare", 3 * 4 * 4), "di": ("FisherShare", 512), "ci": ("FisherShare", 512)}
    m.train()
    images = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 255
    losses = m({"images": images, "targets": torch.arange(4).repeat_interleave(2), "sources": torch.tensor([0, 1] * 4)})
    assert all(torch.isfinite(losses[k]) for k in ("loss_vae_domain_share", "loss_di_domain_share",
                                                  "loss_ci_identity_share"))
    assert m.state_dict()["objectives.di_share.seen"].tolist() == [1.0, 1.0]
    assert m.objectives.ci_share.means.shape == (4, 512)  # one mean per training identity
    cfg.merge_from_list(["MODEL.JIFD.DI.DOMAIN_SHARE_FORM", "whitened"])
    with pytest.raises(UserError, match="MODEL.JIFD.DI.DOMAIN_SHARE_FORM 'whitened' is not one of batch, fisher"):
        check_config(cfg)
