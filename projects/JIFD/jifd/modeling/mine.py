"""MINE mutual-information estimator: the Donsker-Varadhan bound
I(A; B) >= E_joint[T] - log E_marginal[exp T], with the marginal drawn by shuffling B."""
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MINE"]


class MINE(nn.Module):
    """Statistics network T(a, b) = Linear(hidden -> 1)(LeakyReLU(W_a a + W_b b)).

    T is free of weight decay (``no_weight_decay`` names all its parameters). Its gradient is
    the MINE loss weight (1e-4) times the bound's, so under the solver's L2 decay (5e-4 with
    Adam) decay outweighs it: T shrank to zero within the first epoch, the bound read 0 and
    the features got no gradient from it. Without decay Adam makes T's updates independent of
    the weight, which then sets only the reversed gradient the features receive.
    """

    def __init__(self, dim_a: int, dim_b: int, hidden_dim: int = 512) -> None:
        super().__init__()
        self.proj_a = nn.Linear(dim_a, hidden_dim)
        self.proj_b = nn.Linear(dim_b, hidden_dim, bias=False)
        # No output bias: the bound is unchanged by a constant added to T (its gradient is
        # mean(1) - softmax-weighted mean(1) = 0), so a bias would only hold round-off.
        self.out = nn.Linear(hidden_dim, 1, bias=False)
        self.no_weight_decay = tuple(name for name, _ in self.named_parameters())

    def statistic(self, a: Tensor, b: Tensor) -> Tensor:
        return self.out(F.leaky_relu(self.proj_a(a) + self.proj_b(b))).squeeze(1)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """The lower-bound estimate of I(A; B) on a batch of pairs (a_i, b_i), in float32.
        Training T maximises it; gradient reversal on a and b makes the features minimise it."""
        shuffled = b[torch.randperm(b.shape[0], device=b.device)]
        joint = self.statistic(a, b).float().mean()
        marginal = self.statistic(a, shuffled).float()
        return joint - (torch.logsumexp(marginal, dim=0) - math.log(marginal.shape[0]))
