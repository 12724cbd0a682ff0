"""ONNX graphs of any meta-architecture that follows fast-reid's eval convention: a batch dict of
raw 0-255 images (plus the labelled batch keys the model lists in ``eval_inputs``) in, features out.

The graph keeps the model's own ``preprocess_image``, so it takes raw pixels and normalises
exactly as training does. It is traced with the TorchScript-based exporter: it needs no extra
package, and tracing records one path through Python control flow (a model makes that path cover
every input, e.g. by routing per-label branches with a select while tracing).
"""
from __future__ import annotations

import importlib
import os
import warnings
from typing import Sequence

import numpy as np
import torch
from torch import nn

from fastreid.config import CfgNode

from vreid.deploy.images import input_size
from vreid.progress import step
from vreid.errors import UserError
from vreid.projects import BatchKey

OPSET = 17
OUTPUT = "features"


def require(module: str):
    """Import onnx / onnxruntime, which only the deploy extra installs."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{module} is not installed; install the deploy extra: "
                        ".venv/bin/pip install -e '.[deploy]'") from None


def deployment_metadata(cfg: CfgNode, keys: Sequence[str], batch_keys: dict[str, BatchKey]) -> dict[str, str]:
    """What a caller outside Python must know, stored in the ONNX file's metadata_props."""
    height, width = input_size(cfg)
    notes = {
        "meta_architecture": cfg.MODEL.META_ARCHITECTURE,
        "weights": os.path.basename(cfg.MODEL.WEIGHTS),
        "images": f"float32 [batch, 3, {height}, {width}], RGB, raw 0-255 pixels of the image resized to "
                  f"{width}x{height} (bicubic); the graph normalises them itself",
        OUTPUT: f"float32 [batch, dim]; compare two with the {cfg.TEST.METRIC} distance, as the evaluator does",
    }
    for name in (k for k in keys if k != "images"):
        notes[name] = "int64 [batch]: " + ", ".join(f"{i} {label}" for i, label in enumerate(batch_keys[name].labels))
    return notes


class BatchDictModel(nn.Module):
    """Graph inputs are positional tensors; a meta-architecture reads a batch dict."""

    def __init__(self, model: nn.Module, keys: Sequence[str]):
        super().__init__()
        self.model = model
        self.keys = tuple(keys)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(dict(zip(self.keys, inputs)))


def sample_inputs(keys: Sequence[str], batch: int, height: int, width: int, seed: int,
                  batch_keys: dict[str, BatchKey]) -> list[torch.Tensor]:
    """Raw pixels in [0, 200) with one saturated block per image (so a prior on bright light has
    something to find) and, for each labelled key read, the labels in turn starting at ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, height, width, generator=gen) * 200
    images[:, :, height // 4: height // 2, width // 4: width // 2] = 255.0
    samples = {"images": images, **{name: (torch.arange(batch) + seed) % len(key.labels)
                                    for name, key in batch_keys.items() if key.labels}}
    unknown = [k for k in keys if k not in samples]
    if unknown:
        raise UserError(f"the model's eval_inputs {tuple(keys)} include {unknown}, which the ONNX export "
                        f"cannot feed; it knows {', '.join(samples)}")
    return [samples[k] for k in keys]


def export_onnx(model: nn.Module, keys: Sequence[str], path: str, height: int, width: int,
                metadata: dict[str, str], batch_keys: dict[str, BatchKey], progress: bool = True) -> list[str]:
    """Trace ``model`` (eval mode) to ``path`` with a dynamic batch axis on every input and on
    the output; ``metadata`` goes into the file's metadata_props for whoever deploys it.
    Returns the graph's inputs: a key the traced path never reads (a model whose label-dependent
    modules are switched off) is left out of the graph, and out of the metadata."""
    onnx = require("onnx")
    device = next(model.parameters()).device
    example = [t.to(device) for t in sample_inputs(keys, 2, height, width, 0, batch_keys)]
    dynamic = {name: {0: "batch"} for name in (*keys, OUTPUT)}
    with step(f"tracing {type(model).__name__} to {path}", progress), warnings.catch_warnings():
        # The exporter's deprecation notice, and tracer notes on Python values read from tensors
        # (a model checking its labels): the verification run on another batch size and label
        # layout is what proves the graph.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")  # left unfolded, still exact
        torch.onnx.export(BatchDictModel(model.eval(), keys), tuple(example), path, dynamo=False,
                          input_names=list(keys), output_names=[OUTPUT], dynamic_axes=dynamic,
                          opset_version=OPSET, do_constant_folding=True)
    with step("checking the graph", progress):
        proto = onnx.load(path)
        onnx.checker.check_model(proto)
        inputs = [i.name for i in proto.graph.input]
        onnx.helper.set_model_props(proto, {k: v for k, v in metadata.items() if k in inputs or k not in keys})
        onnx.save(proto, path)
    return inputs


def onnx_features(path: str, keys: Sequence[str], inputs: Sequence[torch.Tensor]) -> np.ndarray:
    """Run the exported graph with onnxruntime on the CPU, feeding the inputs it has."""
    ort = require("onnxruntime")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    return session.run([OUTPUT], {k: t.cpu().numpy() for k, t in zip(keys, inputs) if k in wanted})[0]


@torch.no_grad()
def max_abs_diff(path: str, model: nn.Module, keys: Sequence[str], height: int, width: int,
                 batch_keys: dict[str, BatchKey], batch: int = 3, progress: bool = True) -> float:
    """Largest |onnxruntime - PyTorch| over a batch whose size and label layout differ from the
    traced example, so a batch size or a layout baked into the graph shows up."""
    inputs = sample_inputs(keys, batch, height, width, 1, batch_keys)
    with step(f"verifying with onnxruntime on a batch of {batch}", progress):
        device = next(model.parameters()).device
        expected = model.eval()(dict(zip(keys, (t.to(device) for t in inputs)))).float().cpu().numpy()
        try:
            got = onnx_features(path, keys, inputs)
        except Exception as e:  # onnxruntime's errors share no base class
            raise UserError(f"{path} fails on a batch of {batch} (traced with 2): {str(e).splitlines()[0]}. The "
                            "model's forward fixed a batch size or layout while tracing; do not deploy it") from None
    if got.shape != expected.shape:
        raise RuntimeError(f"ONNX output has shape {got.shape}, PyTorch's {expected.shape}")
    return float(np.abs(got - expected).max())
