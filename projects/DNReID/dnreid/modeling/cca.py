"""CCA: cross-domain class awareness after every DSE."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CCA", "cross_domain_exchange"]


class CCA(nn.Module):
    """Modulates a stage's features by the class activation map of the predicted identity.

    Per-position logits are W @ P_k @ x, linear in x, so the spatial-mean logits are
    (W @ P_k) @ mean(x) and only the chosen class's map (W[c] @ P_k) @ x is needed:
    the release's (B, num_ids, h, w) tensor (1.6 GB at DN-Wild scale) is never built, and values
    and gradients are the same (tests/test_release_parity.py checks both against a literal one).
    """

    def __init__(
        self,
        in_channels: int,
        embed_dim: int = 2048,
        test_scale: float = 0.1,
        train_scale: float = 0.05,
        init: str = "release",
    ) -> None:
        super().__init__()
        self.proj = nn.Linear(in_channels, embed_dim, bias=False)  # P_k
        if init == "release":
            # N(0, 0.001), as the release: 13-36x below PyTorch's default (std 0.036 for
            # C_k = 256 down to 0.013 for 2048), so early CCA maps barely depend on x.
            nn.init.normal_(self.proj.weight, std=0.001)
        elif init != "pytorch":
            raise ValueError(f"unknown CCA init {init!r}; expected 'release' or 'pytorch'")
        self.test_scale = test_scale
        self.train_scale = train_scale

    def response_map(self, x: Tensor, classifier_weight: Tensor) -> Tensor:
        """R = sigmoid(ReLU(map of the argmax class)), (B, 1, h, w), in [0.5, 1)."""
        p = self.proj.weight  # (embed_dim, C)
        mean_logits = F.linear(F.linear(x.mean(dim=(2, 3)), p), classifier_weight)
        # Argmax on float32 so reduced-precision ties/rounding under autocast do not matter.
        cls = mean_logits.float().argmax(dim=1)
        v = classifier_weight[cls] @ p  # (B, C); gradient reaches W[c] and P_k
        cam = torch.einsum("bc,bchw->bhw", v, x)
        return torch.sigmoid(F.relu(cam)).unsqueeze(1)

    def forward(
        self,
        x: Tensor,
        classifier_weight: Tensor,
        num_instances: int | None = None,
        paired: bool = False,
    ) -> tuple[Tensor, Tensor]:
        """
        Args:
            x: stage features (B, C_k, h, w).
            classifier_weight: shared identity classifier weight (num_ids, embed_dim).
            num_instances: K, images per identity per domain; required when paired.
            paired: training batch laid out as [day P*K | night P*K] with the same identity order.

        Returns:
            (modulated features, response map R of shape (B, 1, h, w)).
        """
        r = self.response_map(x, classifier_weight)
        if paired:
            if num_instances is None:
                raise ValueError("CCA(paired=True) needs num_instances (K of the paired sampler)")
            return cross_domain_exchange(x, r, num_instances, self.train_scale), r
        # x + s*R*x as one multiply by a (B, 1, h, w) factor: one pass over x, not three.
        return x * (1.0 + self.test_scale * r), r


def cross_domain_exchange(x: Tensor, R: Tensor, num_instances: int, scale: float = 0.05) -> Tensor:
    """Training-time CCA: each domain is modulated by the other domain's identity-mean map.

    x_day <- x_day + scale * x_day * R_bar_night + scale * R_day * x_day, and symmetrically for night,
    where R_bar_* averages R over an identity's K images within a domain. The batch must be
    [day P*K | night P*K], identities in the same order in both halves, K consecutive per identity.
    """
    batch, k = x.shape[0], num_instances
    if k < 1 or batch % (2 * k) != 0:
        raise ValueError(
            f"cross_domain_exchange expects a [day P*K | night P*K] batch: batch size {batch} "
            f"is not divisible by 2*K with K={num_instances}"
        )
    if R.shape[0] != batch:
        raise ValueError(f"R has batch size {R.shape[0]}, features have {batch}")
    groups = R.reshape(2, batch // (2 * k), k, *R.shape[1:])  # (domain, identity, instance, ...)
    other_mean = groups.mean(dim=2, keepdim=True).flip(0)  # swap day/night identity means
    modulation = (groups + other_mean).reshape_as(R)
    return x * (1.0 + scale * modulation)
