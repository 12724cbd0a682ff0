"""Image-level disentangler G: a small convolutional VAE with a
spatial latent that reconstructs the normalised image. G(x) is meant to hold the
identity-irrelevant appearance; the ReID network sees the residual x - G(x)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ImageVAE", "vae_losses"]


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class ImageVAE(nn.Module):
    """Encoder of stride-2 convs, 1x1 mu/logvar heads, mirrored transposed-conv decoder.

    The last layer starts at zero, so G(x) = 0 and x - G(x) = x at initialisation: the ReID
    network starts from the real image and G grows from there. In eval mode z is the mean
    and the logvar head is not run.
    """

    def __init__(self, channels: Sequence[int] = (32, 64, 128), latent_channels: int = 64) -> None:
        super().__init__()
        if not channels:
            raise ValueError("ImageVAE needs at least one encoder stage (MODEL.JIFD.VAE.CHANNELS)")
        widths = [3, *channels]
        self.encoder = nn.Sequential(*(_down(a, b) for a, b in zip(widths, widths[1:])))
        self.mu = nn.Conv2d(channels[-1], latent_channels, 1)
        self.logvar = nn.Conv2d(channels[-1], latent_channels, 1)
        up = [latent_channels, *reversed(channels[:-1])]
        self.decoder = nn.Sequential(*(_up(a, b) for a, b in zip(up, up[1:])))
        self.to_image = nn.ConvTranspose2d(up[-1], 3, 4, stride=2, padding=1)
        nn.init.zeros_(self.to_image.weight)
        nn.init.zeros_(self.to_image.bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Returns (G(x) with x's shape, mu, logvar); logvar is None in eval mode."""
        h = self.encoder(x)
        mu = self.mu(h)
        logvar = None
        z = mu
        if self.training:
            logvar = self.logvar(h)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        out = self.to_image(self.decoder(z))
        if out.shape[-2:] != x.shape[-2:]:  # sides not divisible by 2**len(CHANNELS)
            out = F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return out, mu, logvar


def vae_losses(recon: Tensor, x: Tensor, mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
    """(MSE(G(x), x), KL(q(z|x) || N(0, I)) averaged per latent element), in float32."""
    mse = F.mse_loss(recon.float(), x.float())
    mu, logvar = mu.float(), logvar.float()
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean()
    return mse, kl
