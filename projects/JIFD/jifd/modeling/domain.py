"""Domain discriminator behind gradient reversal: it learns to tell
the source domains apart while the features it sees learn to make that impossible. Without the
reversal, the same network is the domain classifier of the domain-specific branch."""
from torch import Tensor, nn

from .grad_reverse import GradientReversal

__all__ = ["DomainDiscriminator"]


class DomainDiscriminator(nn.Module):
    """GRL(coeff, schedule) -> Linear(in_dim, hidden) -> LeakyReLU -> Linear(hidden, num_domains).

    ``reverse`` False leaves out the reversal: a plain domain classifier whose loss the features
    it sees also lower, which makes the domain-specific branch hold the domain."""

    def __init__(self, in_dim: int, num_domains: int, hidden_dim: int = 256, neg_slope: float = 0.2,
                 grl_coeff: float = 0.1, reverse: bool = True, schedule: str = "constant") -> None:
        super().__init__()
        self.num_domains = num_domains
        self.reverse = GradientReversal(grl_coeff, schedule) if reverse else nn.Identity()
        self.classifier = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.LeakyReLU(neg_slope),
                                        nn.Linear(hidden_dim, num_domains))

    def forward(self, features: Tensor) -> Tensor:
        """Domain logits (B, num_domains)."""
        return self.classifier(self.reverse(features))
