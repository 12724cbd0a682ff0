"""Gradient reversal: identity forward, gradient times -coeff backward. It lets an adversary
and the features it judges be updated in the same optimizer step.
The same function with a negative coefficient scales a gradient, which balances what G learns
from the ReID losses against its reconstruction."""
import torch
from torch import Tensor, nn

__all__ = ["grad_reverse", "scale_gradient", "GradientReversal"]


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, coeff: float) -> Tensor:
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return -ctx.coeff * grad, None


def grad_reverse(x: Tensor, coeff: float = 1.0) -> Tensor:
    return _GradReverse.apply(x, coeff)


def scale_gradient(x: Tensor, factor: float) -> Tensor:
    """Identity forward, gradient times ``factor`` backward (a reversal by -factor); x itself
    when factor is 1."""
    return x if factor == 1.0 else _GradReverse.apply(x, -factor)


class GradientReversal(nn.Module):
    def __init__(self, coeff: float = 1.0) -> None:
        super().__init__()
        self.coeff = coeff

    def forward(self, x: Tensor) -> Tensor:
        return grad_reverse(x, self.coeff)

    def extra_repr(self) -> str:
        return f"coeff={self.coeff}"
