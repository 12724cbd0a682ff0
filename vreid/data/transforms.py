"""fast-reid's train and test transforms, with the resize filter and the random-erasing form as
config keys (``INPUT.INTERPOLATION``, ``INPUT.REA.FORM``).

fast-reid resizes with a bicubic filter and erases with torchvision's ``RandomErasing`` (area
2-33 % of the image, log-uniform aspect ratio in [0.3, 3.3], 10 tries). The DNDM release
resizes with Lanczos and erases the classic way of Zhong et al. (area 2-40 %, aspect ratio
uniform in [0.3, 1/0.3], up to 100 tries). The defaults keep fast-reid's pipeline unchanged;
the pipeline is fast-reid's own, only those two steps are adjusted.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torchvision.transforms as T
from torch import Tensor
from torchvision.transforms import InterpolationMode

from fastreid.data.transforms import build_transforms as fastreid_transforms

from vreid.errors import UserError

INTERPOLATIONS = {
    "bicubic": InterpolationMode.BICUBIC,  # fast-reid's
    "lanczos": InterpolationMode.LANCZOS,  # the DNDM release's
    "bilinear": InterpolationMode.BILINEAR,
}
REA_FORMS = ("fastreid", "release")


class AreaRandomErasing:
    """With probability ``p``, one rectangle filled with ``value``: its area a uniform fraction
    of the image in ``area`` and its aspect ratio (height / width) uniform in
    [``ratio``, 1 / ``ratio``]; a draw that does not fit strictly inside the image is redrawn,
    up to ``attempts`` times, after which the image is left as it is. Works on (C, H, W)
    tensors on any scale (fast-reid's ToTensor keeps 0-255); draws from torch's generator, which
    the loader seeds per worker."""

    def __init__(self, p: float = 0.5, area: tuple[float, float] = (0.02, 0.4), ratio: float = 0.3,
                 attempts: int = 100, value: Sequence[float] = (0.0, 0.0, 0.0)) -> None:
        self.p, self.area, self.ratio, self.attempts = p, tuple(area), ratio, attempts
        self.value = torch.as_tensor(value, dtype=torch.float32).view(-1, 1, 1)

    def _uniform(self, low: float, high: float) -> float:
        return low + (high - low) * torch.rand(()).item()

    def __call__(self, image: Tensor) -> Tensor:
        if torch.rand(()).item() >= self.p:
            return image
        height, width = image.shape[-2:]
        for _ in range(self.attempts):
            target = self._uniform(*self.area) * height * width
            aspect = self._uniform(self.ratio, 1.0 / self.ratio)
            h, w = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if h < height and w < width:
                top = int(torch.randint(0, height - h + 1, ()).item())
                left = int(torch.randint(0, width - w + 1, ()).item())
                out = image.clone()
                out[..., top:top + h, left:left + w] = self.value.to(image.dtype)
                return out
        return image

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(p={self.p}, area={self.area}, ratio={self.ratio}, "
                f"attempts={self.attempts})")


def _checked(cfg) -> tuple[InterpolationMode, str]:
    interpolation, form = cfg.INPUT.INTERPOLATION, cfg.INPUT.REA.FORM
    if interpolation not in INTERPOLATIONS:
        raise UserError(f"INPUT.INTERPOLATION must be one of {tuple(INTERPOLATIONS)}, got {interpolation!r}")
    if form not in REA_FORMS:
        raise UserError(f"INPUT.REA.FORM must be one of {REA_FORMS}, got {form!r}")
    return INTERPOLATIONS[interpolation], form


def build_transforms(cfg, is_train: bool = True) -> T.Compose:
    """fast-reid's ``build_transforms(cfg, is_train)`` with its resizes using
    INPUT.INTERPOLATION and, for ``INPUT.REA.FORM release``, its erasing replaced by
    :class:`AreaRandomErasing` with the same probability and fill."""
    interpolation, form = _checked(cfg)
    steps = []
    for step in fastreid_transforms(cfg, is_train=is_train).transforms:
        if isinstance(step, (T.Resize, T.RandomResizedCrop)):
            step.interpolation = interpolation
        elif isinstance(step, T.RandomErasing) and form == "release":
            step = AreaRandomErasing(p=step.p, value=cfg.INPUT.REA.VALUE)
        steps.append(step)
    return T.Compose(steps)
