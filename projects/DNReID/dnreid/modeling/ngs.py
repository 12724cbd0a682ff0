"""NGS: night-domain glare suppression after the stem."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dnreid.domains import NIGHT

from .glare import glare_mask

__all__ = ["NGS", "glare_attention_loss"]


class NGS(nn.Module):
    """Attention A = sigmoid(ReLU(proj([x, M]))) in [0.5, 1), applied as x - 0.5 * A * x.

    The glare mask M is a prior only for night images; day images get an all-zero mask so the
    projection sees the same input statistics minus the prior.
    """

    def __init__(self, channels: int = 64, threshold: float = 220.0, init: str = "nonnegative") -> None:
        super().__init__()
        self.threshold = threshold
        # Per-pixel Linear(C + 1 -> 1, no bias), i.e. a 1x1 conv.
        self.proj = nn.Conv2d(channels + 1, 1, kernel_size=1, bias=False)
        if init == "nonnegative":
            # The stem output and the mask are >= 0, so with PyTorch's symmetric default init the
            # projection is negative almost everywhere about half the time: the ReLU then outputs 0,
            # A sticks at 0.5 and no gradient ever reaches the projection. Same magnitudes, sign +.
            with torch.no_grad():
                self.proj.weight.abs_()
        elif init != "pytorch":
            raise ValueError(f"unknown NGS init {init!r}; expected 'nonnegative' or 'pytorch'")

    def forward(self, x: Tensor, raw: Tensor, domains: Tensor) -> tuple[Tensor, Tensor]:
        """
        Args:
            x: stem output (B, C, h, w).
            raw: the 0-255 RGB batch the stem saw (B, 3, H, W), same augmentation.
            domains: (B,) long, day = 0, night = 1.

        Returns:
            (suppressed features like x, attention A of shape (B, 1, h, w)).
        """
        mask = glare_mask(raw, self.threshold)
        # Stem resolution is 1/4: two 3x3/stride-2/pad-1 max-pools keep any glare that survives.
        mask = F.max_pool2d(mask, kernel_size=3, stride=2, padding=1)
        mask = F.max_pool2d(mask, kernel_size=3, stride=2, padding=1)
        if mask.shape[-2:] != x.shape[-2:]:
            mask = F.interpolate(mask, size=x.shape[-2:], mode="nearest")
        is_night = (domains == NIGHT).view(-1, 1, 1, 1)
        mask = (mask * is_night).to(x.dtype)
        attention = torch.sigmoid(F.relu(self.proj(torch.cat([x, mask], dim=1))))
        return x * (1.0 - 0.5 * attention), attention  # x - 0.5*A*x, one pass over x


def glare_attention_loss(
    attention: Tensor, domains: Tensor, formulation: str = "double_sigmoid"
) -> Tensor:
    """L_att = 0.5 * (mean_day -log(1 - s(A)) + mean_night -log s(A)).

    "double_sigmoid" (release default) uses s = sigmoid on top of A, which lies in [0.5, 1);
    "single" uses s = identity. With a single-domain batch the present term alone is returned.
    Computed in float32 (float64 for a float64 model) with softplus forms; no host sync (mask weighting instead of indexing).
    """
    a = attention.to(torch.promote_types(attention.dtype, torch.float32)).flatten(1)
    if formulation == "double_sigmoid":
        day_pix = F.softplus(a)  # -log(1 - sigmoid(a))
        night_pix = F.softplus(-a)  # -log(sigmoid(a))
    elif formulation == "single":
        eps = 1e-6
        a = a.clamp(eps, 1.0 - eps)
        day_pix = -torch.log1p(-a)
        night_pix = -torch.log(a)
    else:
        raise ValueError(
            f"unknown glare attention loss formulation {formulation!r}; "
            "expected 'double_sigmoid' or 'single'"
        )
    night = (domains == NIGHT).float()
    day = 1.0 - night
    n_day, n_night = day.sum(), night.sum()
    # Every image has the same number of pixels, so the mean over pixels of a domain equals the
    # mean over that domain's images of per-image means.
    day_term = (day * day_pix.mean(1)).sum() / n_day.clamp(min=1.0)
    night_term = (night * night_pix.mean(1)).sum() / n_night.clamp(min=1.0)
    present = (n_day > 0).float() + (n_night > 0).float()
    return (day_term + night_term) / present
