"""Gradient reversal: identity forward, gradient times -coeff backward. It lets an adversary
and the features it judges be updated in the same optimizer step.
The same function with a negative coefficient scales a gradient, which balances what G learns
from the ReID losses against its reconstruction."""
import math

import torch
from torch import Tensor, nn

from jifd.config import GRL_SCHEDULES
from vreid.modeling.reid_losses import training_progress

__all__ = ["grad_reverse", "scale_gradient", "GradientReversal", "dann_ramp"]

DANN_GAMMA = 10.0  # DANN's (Ganin et al., 2016) ramp steepness


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


def dann_ramp(progress: float) -> float:
    """DANN's reversal ramp 2 / (1 + exp(-10 p)) - 1 over training progress p in [0, 1]: 0 at
    the start, when the discriminator is still random and its gradient noise, 0.76 at p = 0.2
    and 0.99 from p = 0.5 on."""
    return 2.0 / (1.0 + math.exp(-DANN_GAMMA * progress)) - 1.0


class GradientReversal(nn.Module):
    """Reverses the gradient times ``coeff``, or with schedule "dann" times coeff x
    dann_ramp(training progress), read from the trainer at each call (1 outside one)."""

    def __init__(self, coeff: float = 1.0, schedule: str = "constant") -> None:
        super().__init__()
        if schedule not in GRL_SCHEDULES:
            raise ValueError(f"gradient reversal schedule must be one of {GRL_SCHEDULES}, got {schedule!r}")
        self.coeff, self.schedule = coeff, schedule

    def current_coeff(self) -> float:
        return self.coeff * (dann_ramp(training_progress()) if self.schedule == "dann" else 1.0)

    def forward(self, x: Tensor) -> Tensor:
        return grad_reverse(x, self.current_coeff())

    def extra_repr(self) -> str:
        return f"coeff={self.coeff}, schedule={self.schedule}"
