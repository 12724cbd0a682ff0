"""One training step, the same for the trainer and the benchmark: a timed step is the trained step.

fast-reid has a step for fp32 (``SimpleTrainer``) and one for CUDA fp16 (``AMPTrainer``, which
asserts CUDA). Here one class takes the switches: the autocast dtype (None for fp32; a
GradScaler only for float16, where gradients can underflow) and the finite checks (every loss
term before the update, every parameter and buffer after it).
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import torch
from torch import nn

from fastreid.engine.train_loop import SimpleTrainer

from vreid.engine.finite import check_losses, check_model
from vreid.errors import UserError

__all__ = ["StepTrainer", "TrainStep", "autocast_dtype"]

logger = logging.getLogger(__name__)

LossDict = dict[str, torch.Tensor]


def autocast_dtype(device: torch.device, requested: str) -> torch.dtype | None:
    """The autocast dtype to use, or None for fp32: CPU has no fast float16 path."""
    dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16}.get(requested)
    if dtype is None:
        raise UserError(f"SOLVER.AMP.DTYPE {requested!r} is not one of float16, bfloat16; set one of them")
    if device.type == "cpu" and dtype == torch.float16:
        logger.warning("SOLVER.AMP with float16 is not supported on CPU; training in fp32. "
                       "Set SOLVER.AMP.DTYPE bfloat16 for mixed precision on CPU.")
        return None
    return dtype


class TrainStep:
    """Forward (under autocast when ``dtype`` is set), backward, optimizer update. With
    ``check_finite``, a NaN/inf loss term stops before the update and a NaN/inf parameter or
    buffer right after it (a step the fp16 scaler skips for inf gradients leaves the model finite)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device,
                 dtype: torch.dtype | None = None, check_finite: bool = True):
        self.model, self.optimizer = model, optimizer
        self.device_type, self.dtype, self.check_finite = device.type, dtype, check_finite
        self.grad_scaler = (torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
                            if dtype is not None else None)

    @classmethod
    def from_config(cls, cfg, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device) -> TrainStep:
        """SOLVER.AMP.ENABLED / SOLVER.AMP.DTYPE, with the finite checks."""
        dtype = autocast_dtype(device, cfg.SOLVER.AMP.DTYPE) if cfg.SOLVER.AMP.ENABLED else None
        return cls(model, optimizer, device, dtype)

    def __call__(self, data, iteration: int = 0, before_update: Callable[[LossDict], None] | None = None) -> LossDict:
        """One step on ``data``; ``before_update`` sees the (checked) loss terms after the
        backward pass, where fast-reid's trainer writes its metrics."""
        with torch.autocast(self.device_type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None):
            loss_dict = self.model(data)
            losses = sum(loss_dict.values())
        self.optimizer.zero_grad(set_to_none=True)
        (self.grad_scaler.scale(losses) if self.grad_scaler is not None else losses).backward()
        if self.check_finite:
            check_losses(loss_dict, iteration)
        if before_update is not None:
            before_update(loss_dict)
        if self.grad_scaler is not None:
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
        else:
            self.optimizer.step()
        if self.check_finite:
            check_model(self.model, iteration)
        return loss_dict


class StepTrainer(SimpleTrainer):
    """fast-reid's SimpleTrainer running a :class:`TrainStep`: data time, the step, metrics."""

    def __init__(self, model, data_loader, optimizer, param_wrapper, step: TrainStep):
        super().__init__(model, data_loader, optimizer, param_wrapper)
        self.step = step

    @property
    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """Read by fast-reid's DefaultTrainer (a checkpointable when AMP is on)."""
        return self.step.grad_scaler

    def restart_data(self) -> None:
        """Draw the next batches from a new pass over the loader (after it was moved, on resume)."""
        self._data_loader_iter = iter(self.data_loader)

    def run_step(self) -> None:
        assert self.model.training, "[StepTrainer] model was changed to eval mode!"
        start = time.perf_counter()
        data = next(self._data_loader_iter)
        data_time = time.perf_counter() - start
        self.step(data, self.iter, lambda loss_dict: self._write_metrics(loss_dict, data_time))
