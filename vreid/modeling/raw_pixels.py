"""The small base of the projects' meta-architectures: fast-reid's convention that a model takes
raw 0-255 pixels and normalises them itself, so the batch a loader, a tool or an ONNX graph hands
it is never normalised twice."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn


class RawPixelModel(nn.Module):
    """The pixel mean and std as (non-persistent) buffers, the model's device, and
    ``preprocess_image``: out of place (a model that still needs the raw pixels keeps them, and
    the caller's batch is never changed), on the model's device and in its dtype."""

    def __init__(self, pixel_mean: Sequence[float], pixel_std: Sequence[float]):
        super().__init__()
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(1, -1, 1, 1), persistent=False)

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def preprocess_image(self, batched_inputs: dict | Tensor) -> Tensor:
        """Raw pixels (a batch dict's ``images`` or a tensor) normalised."""
        images = batched_inputs["images"] if isinstance(batched_inputs, dict) else batched_inputs
        return (images.to(self.device, self.pixel_mean.dtype) - self.pixel_mean) / self.pixel_std
