"""Ring loss (Zheng et al., CVPR 2018) on the backbone feature norm:
keeps ||f|| near a learned radius so the disentanglers see features of a stable scale."""
import torch
import torch.distributed as dist
from torch import Tensor, nn

from vreid.errors import UserError

__all__ = ["RingLoss"]


RING_FORMS = ("radius", "variance")


class RingLoss(nn.Module):
    """0.5 * mean((||f|| - R)^2) with a learned radius R (form "radius", Zheng et al.), or
    mean((||f|| - mean ||f||)^2), the variance of the batch's norms around their mean (form
    "variance", DAL's): the norms agree with each other, whatever their common value.

    A radius <= 0 is set from the first training batch's mean norm (averaged over processes
    under DDP), so the loss does not begin by dragging every norm to an arbitrary value. A
    radius restored from a checkpoint is kept. The radius is named in ``no_weight_decay``: decay
    would pull it below the norms it should follow (the trainer's optimizer honours the name).
    The "variance" form keeps the radius parameter, unused, so checkpoints load either way.
    """

    no_weight_decay = ("radius",)

    def __init__(self, radius: float = 0.0, form: str = "radius") -> None:
        super().__init__()
        if form not in RING_FORMS:
            raise UserError(f"MODEL.JIFD.RING.FORM must be one of {RING_FORMS}, got {form!r}")
        self.form = form
        self.radius = nn.Parameter(torch.tensor(float(radius)), requires_grad=form == "radius")
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
        if self.form == "variance":
            return (norms - norms.mean()).pow(2).mean()
        if not self._radius_checked:
            self._init_radius(norms.detach())
        return 0.5 * (norms - self.radius).pow(2).mean()
