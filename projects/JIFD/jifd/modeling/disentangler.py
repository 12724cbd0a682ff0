"""Feature-level disentangler (after DAL): one per factor
(domain-invariant, domain-specific, class-irrelevant), all with the same shape."""
from torch import nn

__all__ = ["Disentangler"]


class Disentangler(nn.Sequential):
    """MLP feat_dim -> hidden_dim (BN, ReLU) -> feat_dim (BN) on the pooled backbone feature.

    ``output_affine`` False drops the output BN's scale and shift: every dimension then has zero
    mean and unit variance on each training batch, so the feature cannot shrink toward zero
    (the class-irrelevant branch's remedy, see feature_objectives.label_share)."""

    def __init__(self, feat_dim: int, hidden_dim: int, output_affine: bool = True) -> None:
        super().__init__(
            nn.Linear(feat_dim, hidden_dim, bias=False),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, feat_dim, bias=False),
            nn.BatchNorm1d(feat_dim, affine=output_affine),
        )
