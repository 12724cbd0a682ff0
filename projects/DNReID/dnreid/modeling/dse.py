"""DSE: dual-domain structure enhancement after every stage (spec DNDM.md, section DSE)."""
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["DSE"]


class DSE(nn.Module):
    """x <- weight_x * x + weight_g * ReLU(f(x)) / 24 with a fixed depthwise 5x5 filter f.

    f has 24 off-centre taps of +1 and a centre of -24, i.e. f(x) = 25 * (box_mean_5x5(x) - x) with
    zero padding 2. Using an average pool (count_include_pad) avoids building a per-channel kernel,
    keeps dtype and memory format, and runs on any device (the release pins it to a CUDA device):
        out = weight_x * x + weight_g * 25/24 * ReLU(avg_pool5(x) - x).
    """

    def __init__(self, weight_x: float = 0.9, weight_g: float = 0.25) -> None:
        super().__init__()
        self.weight_x = weight_x
        self.weight_g = weight_g

    def forward(self, x: Tensor) -> Tensor:
        local_mean = F.avg_pool2d(x, kernel_size=5, stride=1, padding=2, count_include_pad=True)
        return self.weight_x * x + (self.weight_g * 25.0 / 24.0) * F.relu(local_mean - x)

    def extra_repr(self) -> str:
        return f"weight_x={self.weight_x}, weight_g={self.weight_g}"
