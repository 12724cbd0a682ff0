"""Ring loss (Zheng et al., CVPR 2018) on the backbone feature norm (spec JIFD.md, section 3):
keeps ||f|| near a learned radius so the disentanglers see features of a stable scale."""
import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["RingLoss"]


class RingLoss(nn.Module):
    """0.5 * mean((||f|| - R)^2) with a learned radius R.

    A radius <= 0 is set from the first training batch's mean norm (averaged over processes
    under DDP), so the loss does not begin by dragging every norm to an arbitrary value. A
    radius restored from a checkpoint is kept.
    """

    def __init__(self, radius: float = 0.0) -> None:
        super().__init__()
        self.radius = nn.Parameter(torch.tensor(float(radius)))
        self._radius_checked = False

    @torch.no_grad()
    def _init_radius(self, norms: Tensor) -> None:
        self._radius_checked = True
        if self.radius.item() > 0:
            return
        mean = norms.mean()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(mean)
            mean /= dist.get_world_size()
        self.radius.copy_(mean)

    def forward(self, features: Tensor) -> Tensor:
        norms = features.float().norm(dim=1)
        if not self._radius_checked:
            self._init_radius(norms.detach())
        return 0.5 * (norms - self.radius).pow(2).mean()
