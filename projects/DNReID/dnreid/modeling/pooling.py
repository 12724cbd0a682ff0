"""The release's two poolings where fast-reid's differ: the stem's max-pool and GeM.

fast-reid's ResNet stem pools 3x3/2 with no padding and ``ceil_mode``; torchvision's, whose
ImageNet weights the backbone loads, and the release's pad by 1. The output size is the same
(64x64 for a 256x256 input), but every cell sits one input pixel later, half a stem cell
off NGS's glare prior, which two 3x3/2/1 max-pools bring to the stem's resolution.

fast-reid's GeM clamps x at 1e-6 before the power; the release adds 1e-12 to the mean of
x^p. On the non-negative features DNDM pools both are within ~1e-6 relative of each other.
"""
from __future__ import annotations

from torch import Tensor, nn

from vreid.errors import UserError

STEM_POOLS = ("padded", "ceil")
GEM_FORMS = ("release", "fastreid")


def stem_pool(form: str) -> nn.Module | None:
    """The release's stem max-pool for ``padded``; None keeps fast-reid's (``ceil``)."""
    if form not in STEM_POOLS:
        raise UserError(f"MODEL.DNDM.STEM_POOL must be one of {STEM_POOLS}, got {form!r}")
    return nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if form == "padded" else None


class ReleaseGeM(nn.Module):
    """(mean over positions of x^p + eps)^(1/p), (B, C, 1, 1) like fast-reid's pool layers."""

    def __init__(self, p: float = 3.0, eps: float = 1e-12) -> None:
        super().__init__()
        self.p, self.eps = p, eps

    def forward(self, x: Tensor) -> Tensor:
        return (x.pow(self.p).mean(dim=(2, 3), keepdim=True) + self.eps).pow(1.0 / self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}, eps={self.eps}"


def gem_pool(form: str, pool_layer: str) -> nn.Module | None:
    """The release's GeM for ``release``; None keeps the head's own pool layer."""
    if form not in GEM_FORMS:
        raise UserError(f"MODEL.DNDM.GEM must be one of {GEM_FORMS}, got {form!r}")
    if form == "fastreid":
        return None
    if pool_layer != "GeneralizedMeanPooling":
        raise UserError(f"MODEL.DNDM.GEM release replaces GeneralizedMeanPooling, but "
                        f"MODEL.HEADS.POOL_LAYER is {pool_layer}: set MODEL.DNDM.GEM fastreid")
    return ReleaseGeM()
