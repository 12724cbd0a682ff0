"""Glare prior for NGS: which stem cells may hold a saturated light.

The mask marks saturated light sources (headlights, street lamps) in night images. It is computed
from the same augmented 0-255 pixels the stem sees, with correct RGB luma (the release's BGR weights
and un-augmented source image are defects we do not reproduce).
"""
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["glare_mask"]

# ITU-R BT.601 luma weights for R, G, B.
_LUMA_RGB = (0.299, 0.587, 0.114)


@torch.no_grad()
def glare_mask(raw: Tensor, threshold: float = 220.0) -> Tensor:
    """Opened binary glare mask.

    Args:
        raw: RGB pixels on the 0-255 scale, (B, 3, H, W).
        threshold: luma above which a pixel counts as glare (220, the release's).

    Returns:
        (B, 1, H, W) float32 mask in {0, 1}: [Y > threshold] after a 3x3 opening. The opening drops
        bright specks smaller than 3x3; pixels outside the image count as dark, so the erosion
        clears the 1-pixel border.
    """
    raw = raw.detach().float()
    luma = _LUMA_RGB[0] * raw[:, 0:1] + _LUMA_RGB[1] * raw[:, 1:2] + _LUMA_RGB[2] * raw[:, 2:3]
    bright = (luma > threshold).float()
    # Erosion as "no dark pixel in the 3x3 window"; padding the dark indicator with 1s makes the
    # outside of the image dark.
    dark = F.pad(1.0 - bright, (1, 1, 1, 1), value=1.0)
    eroded = 1.0 - F.max_pool2d(dark, kernel_size=3, stride=1)
    # Dilation: max-pool pads with -inf, so the outside never adds brightness.
    return F.max_pool2d(eroded, kernel_size=3, stride=1, padding=1)
