"""JIFD's building blocks: gradient reversal, MINE, the image VAE,
ring loss, class confusion and the one-step adversarial objectives."""
import math

import pytest
import torch
import torch.nn.functional as F

from jifd.modeling import (MINE, DomainDiscriminator, GradientReversal, ImageVAE, RingLoss,
                           class_confusion_loss, grad_reverse, vae_losses)


@pytest.mark.parametrize("coeff", [1.0, 0.1, 2.5])
def test_gradient_reversal_flips_and_scales_the_gradient(coeff):
    x = torch.randn(4, 6, requires_grad=True)
    upstream = torch.randn(4, 6)
    y = grad_reverse(x, coeff)
    assert torch.equal(y, x)
    y.backward(upstream)
    assert torch.allclose(x.grad, -coeff * upstream)
    x.grad = None
    GradientReversal(coeff)(x).mul(3.0).sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, -3.0 * coeff))


def _fit_mine(dependent: bool, steps: int = 300, dim: int = 4, batch: int = 256) -> float:
    """Trains a MINE estimator on (a, b) pairs; returns its estimate on held-out batches."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)

    def pairs():
        a = torch.randn(batch, dim, generator=gen)
        b = a + 0.1 * torch.randn(batch, dim, generator=gen) if dependent else torch.randn(batch, dim, generator=gen)
        return a, b

    mine = MINE(dim, dim, hidden_dim=64)
    opt = torch.optim.Adam(mine.parameters(), lr=1e-3)
    for _ in range(steps):
        a, b = pairs()
        loss = -mine(a, b)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return sum(mine(*pairs()).item() for _ in range(10)) / 10


def test_mine_estimate_is_larger_for_dependent_pairs():
    dependent, independent = _fit_mine(True), _fit_mine(False)
    assert dependent > 1.0, dependent  # true MI is 4 * 0.5 * log(101), about 9.2 nats (bound: log 256)
    assert abs(independent) < 0.2, independent
    assert dependent > independent + 1.0


def _smooth_images(n: int = 8, size: int = 32) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    coarse = torch.randn(n, 3, 4, 4, generator=gen)
    return F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


def test_vae_starts_at_zero_and_a_short_fit_improves_reconstruction():
    torch.manual_seed(0)
    x = _smooth_images()
    vae = ImageVAE((16, 32), latent_channels=16)
    vae.eval()
    with torch.no_grad():
        recon, mu, logvar = vae(x)
    assert recon.shape == x.shape and logvar is None
    assert torch.count_nonzero(recon) == 0  # G(x) = 0: the residual starts as the image itself
    before = F.mse_loss(recon, x).item()
    vae.train()
    opt = torch.optim.Adam(vae.parameters(), lr=5e-3)
    for _ in range(60):
        recon, mu, logvar = vae(x)
        mse, kl = vae_losses(recon, x, mu, logvar)
        opt.zero_grad()
        (mse + 0.01 * kl).backward()
        opt.step()
    vae.eval()
    with torch.no_grad():
        after = F.mse_loss(vae(x)[0], x).item()
        again = vae(x)[0]
    assert after < 0.5 * before, (before, after)
    assert torch.equal(again, vae(x)[0])  # eval uses the latent mean: deterministic


def test_vae_handles_sides_not_divisible_by_its_stride():
    vae = ImageVAE((8, 8, 8), latent_channels=4).train()
    x = torch.randn(2, 3, 30, 22)
    recon, mu, logvar = vae(x)
    assert recon.shape == x.shape and mu.shape == logvar.shape == (2, 4, 4, 3)


def test_vae_losses_kl_is_zero_for_the_prior():
    mu, logvar = torch.zeros(2, 4, 3, 3), torch.zeros(2, 4, 3, 3)
    x = torch.randn(2, 3, 8, 8)
    mse, kl = vae_losses(x, x, mu, logvar)
    assert mse == 0 and kl == 0
    _, kl = vae_losses(x, x, torch.ones_like(mu), logvar)
    assert kl.item() == pytest.approx(0.5)  # 0.5 * mu^2 per element


def test_ring_loss_radius_from_first_batch_and_kept_when_restored():
    ring = RingLoss(0.0)
    f = torch.randn(16, 8) * 5
    first = ring(f)
    assert ring.radius.item() == pytest.approx(f.norm(dim=1).mean().item(), rel=1e-5)
    assert first.item() == pytest.approx(0.5 * f.norm(dim=1).var(unbiased=False).item(), rel=1e-4)
    restored = RingLoss(0.0)
    restored.load_state_dict({"radius": torch.tensor(3.0)})
    restored(f)
    assert restored.radius.item() == 3.0
    on_ring = F.normalize(torch.randn(5, 8), dim=1) * 3.0
    assert restored(on_ring).item() == pytest.approx(0.0, abs=1e-8)


def test_class_confusion_is_minimal_at_uniform_and_spares_the_classifier():
    weight = torch.randn(10, 6, requires_grad=True)
    features = torch.randn(4, 6, requires_grad=True)
    loss = class_confusion_loss(features, weight)
    loss.backward()
    assert weight.grad is None and features.grad.abs().sum() > 0
    assert loss.item() > math.log(10)
    uniform = class_confusion_loss(torch.zeros(4, 6), weight)
    assert uniform.item() == pytest.approx(math.log(10))


def test_domain_discriminator_learns_while_features_get_the_reversed_gradient():
    torch.manual_seed(0)
    disc = DomainDiscriminator(8, num_domains=2, hidden_dim=16, grl_coeff=0.1)
    features = torch.randn(32, 8, requires_grad=True)
    labels = (features[:, 0] > 0).long()
    loss = F.cross_entropy(disc(features), labels)
    loss.backward()
    plain = features.detach().requires_grad_()
    F.cross_entropy(disc.classifier(plain), labels).backward()
    assert torch.allclose(features.grad, -0.1 * plain.grad, atol=1e-7)
    opt = torch.optim.SGD(disc.parameters(), lr=0.5)
    start = loss.item()
    for _ in range(50):
        opt.zero_grad()
        F.cross_entropy(disc(features.detach()), labels).backward()
        opt.step()
    assert F.cross_entropy(disc(features.detach()), labels).item() < 0.5 * start
