"""Lower-precision copies of an fp32 ONNX graph, with onnxruntime's own converters.

fp16 (for GPUs: onnxruntime's CUDA and TensorRT providers, TensorRT itself) keeps float32 inputs
and outputs, so a caller feeds it as the fp32 graph. int8 (for CPUs) is static quantisation in
QDQ form: per-channel signed weights and unsigned activations, whose ranges come from running the
fp32 graph on a calibration folder of crops like the ones it will see (a few hundred is plenty;
their lighting mix should match the cameras'). Only convolutions and matrix products are
quantised: they hold nearly all the arithmetic, and the preamble (a tracker graph's resize and
lighting rule) stays exact.
"""
from __future__ import annotations

import os
import tempfile
from typing import Iterable, Iterator, Mapping

import numpy as np

from vreid.deploy.onnx_export import require
from vreid.progress import step

PRECISIONS = ("fp32", "fp16", "int8")
QUANTISED_OPS = ["Conv", "MatMul", "Gemm"]


def _onnxruntime_tools():
    """onnxruntime's float16 converter and quantiser, imported together: its ``transformers``
    package puts its own folder on sys.path for imports among its modules, and a module imported
    later would not find its siblings if sys.path changed in between."""
    return (require("onnxruntime.transformers.float16"), require("onnxruntime.quantization"),
            require("onnxruntime.quantization.shape_inference"))


def to_fp16(source: str, target: str, progress: bool = True) -> None:
    """``source`` with float16 weights and arithmetic, float32 inputs and outputs."""
    onnx = require("onnx")
    float16, _, _ = _onnxruntime_tools()
    with step("converting to fp16", progress):
        model = float16.convert_float_to_float16(onnx.load(source), keep_io_types=True)
        onnx.save(model, target)


def quantize_int8(source: str, target: str, batches: Iterable[Mapping[str, np.ndarray]],
                  progress: bool = True) -> None:
    """``source`` statically quantised to int8 (QDQ, per-channel weights), activation ranges
    calibrated on ``batches`` of graph inputs by name."""
    _, quantization, shape_inference = _onnxruntime_tools()

    class Batches(quantization.CalibrationDataReader):
        def __init__(self):
            self.batches: Iterator = iter(batches)

        def get_next(self):
            return next(self.batches, None)

    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(target))) as scratch:
        prepared = os.path.join(scratch, "prepared.onnx")
        with step("preparing the graph for quantisation", progress):
            shape_inference.quant_pre_process(source, prepared, skip_symbolic_shape=False)
        with step("calibrating and quantising to int8", progress):
            quantization.quantize_static(
                prepared, target, Batches(),
                quant_format=quantization.QuantFormat.QDQ, op_types_to_quantize=QUANTISED_OPS,
                per_channel=True, activation_type=quantization.QuantType.QUInt8,
                weight_type=quantization.QuantType.QInt8, calibrate_method=quantization.CalibrationMethod.MinMax)
