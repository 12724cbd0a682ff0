"""DSE: dual-domain structure enhancement after every stage."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["DSE"]


class DSE(nn.Module):
    """x <- weight_x * x + weight_g * ReLU(f(x)) / 24 with a fixed depthwise 5x5 filter f.

    f has 24 off-centre taps of +1 and a centre of -24 (zero padding 2); the 1/24 is folded
    into the kernel. The kernel is built per call from the input's channels, dtype and device,
    so one module serves every stage, runs under autocast and on any device (the release pins
    it to a CUDA device). A depthwise convolution is 3-9x faster on CPU than the equivalent
    5x5 average pool, and as fast on GPU.
    """

    def __init__(self, weight_x: float = 0.9, weight_g: float = 0.25) -> None:
        super().__init__()
        self.weight_x = weight_x
        self.weight_g = weight_g

    @staticmethod
    def kernel(channels: int, like: Tensor) -> Tensor:
        """f / 24 for every channel: (C, 1, 5, 5), +1/24 off centre, -1 at the centre."""
        k = torch.full((channels, 1, 5, 5), 1.0 / 24.0, dtype=like.dtype, device=like.device)
        k[:, :, 2, 2] = -1.0
        return k

    def forward(self, x: Tensor) -> Tensor:
        channels = int(x.shape[1])  # a constant when traced (ONNX needs a known kernel shape)
        g = F.relu(F.conv2d(x, self.kernel(channels, x), padding=2, groups=channels))
        return torch.add(x * self.weight_x, g, alpha=self.weight_g)

    def extra_repr(self) -> str:
        return f"weight_x={self.weight_x}, weight_g={self.weight_g}"
