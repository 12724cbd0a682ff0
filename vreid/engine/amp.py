"""One training step under torch.amp, on CUDA or CPU (fast-reid's AMPTrainer asserts CUDA)."""
from __future__ import annotations

import logging
import time

import torch

from vreid.engine.finite import FiniteStepTrainer
from vreid.errors import UserError

logger = logging.getLogger(__name__)


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


class AMPStepTrainer(FiniteStepTrainer):
    """FiniteStepTrainer's step under autocast; a GradScaler only for float16, where gradients
    can underflow (a step the scaler skips for inf gradients leaves the model finite)."""

    def __init__(self, model, data_loader, optimizer, param_wrapper, device: torch.device, dtype: torch.dtype):
        super().__init__(model, data_loader, optimizer, param_wrapper)
        self.device_type = device.type
        self.dtype = dtype
        self.grad_scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    def run_step(self) -> None:
        assert self.model.training, "[AMPStepTrainer] model was changed to eval mode!"
        start = time.perf_counter()
        data = next(self._data_loader_iter)
        data_time = time.perf_counter() - start
        with torch.autocast(self.device_type, dtype=self.dtype):
            loss_dict = self.model(data)
            losses = sum(loss_dict.values())
        self.optimizer.zero_grad(set_to_none=True)
        self.grad_scaler.scale(losses).backward()
        self._write_metrics(loss_dict, data_time)
        self.grad_scaler.step(self.optimizer)
        self.grad_scaler.update()
        self.check_model()
