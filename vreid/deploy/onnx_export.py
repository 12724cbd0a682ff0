"""ONNX graphs of any meta-architecture that follows fast-reid's eval convention (a batch dict of raw
0-255 images, plus the labelled batch keys the model lists in ``eval_inputs``, in; features out),
in two profiles:

``raw``
    the model's own inputs: raw 0-255 RGB at INPUT.SIZE_TEST, and each labelled key it reads as
    int64 (DNDM's ``domains``). The graph keeps the model's ``preprocess_image``, so it normalises
    exactly as training does. For callers that follow this toolkit's preprocessing.
``tracker``
    the contract multi-object trackers (BoxMOT, deep-sort, BoT-SORT) feed a ReID model: one input,
    RGB scaled to [0, 1] and normalised with ImageNet's mean and std, at whatever size the tracker
    resizes its crops to. The graph undoes that normalisation, resizes bilinearly to INPUT.SIZE_TEST,
    decides each labelled key by its rule (``BatchKey.auto``: DNDM's day/night from the crop) and
    returns L2-normalised features, which trackers compare by cosine.

Graphs are traced with the TorchScript-based exporter: it needs no extra package, and tracing
records one path through Python control flow (a model makes that path cover every input, e.g. by
routing per-label branches with a select while tracing). Every export is verified against PyTorch
with onnxruntime on inputs whose batch size, label layout and (tracker) spatial size differ from
the traced ones, so anything baked into the graph shows up.
"""
from __future__ import annotations

import importlib
import os
import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fastreid.config import CfgNode

from vreid.deploy.images import input_size
from vreid.errors import UserError
from vreid.modeling import eval_inputs
from vreid.modeling.auto_labels import AutoLabels
from vreid.progress import step
from vreid.projects import BatchKey

OPSET = 17
OUTPUT = "features"
PROFILES = ("raw", "tracker")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TRACKER_TRACE_SIZE = (256, 128)  # BoxMOT's crop size for most of its ReID models: traced, not fixed


def require(module: str):
    """Import onnx / onnxruntime, which only the deploy extra installs."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{module} is not installed; install the deploy extra: "
                        ".venv/bin/pip install -e '.[deploy]'") from None


class BatchDictModel(nn.Module):
    """Graph inputs are positional tensors; a meta-architecture reads a batch dict."""

    def __init__(self, model: nn.Module, keys: Sequence[str]):
        super().__init__()
        self.model = model
        self.keys = tuple(keys)

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.model(dict(zip(self.keys, inputs)))


class TrackerModel(nn.Module):
    """ImageNet-normalised RGB of any size in, L2-normalised features of the model's test view out;
    labelled keys decided from the pixels (AutoLabels)."""

    def __init__(self, model: nn.Module, keys: Mapping[str, BatchKey], cfg: CfgNode):
        super().__init__()
        self.model = AutoLabels(model, keys, cfg)
        self.size = input_size(cfg)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255, persistent=False)

    def forward(self, images: Tensor) -> Tensor:
        raw = images * self.std + self.mean
        raw = F.interpolate(raw, size=self.size, mode="bilinear", align_corners=False)
        return F.normalize(self.model({"images": raw}), dim=1)


def to_tracker_input(raw: Tensor) -> Tensor:
    """Raw 0-255 RGB as a tracker hands it to the ``tracker`` graph."""
    mean = torch.tensor(IMAGENET_MEAN, device=raw.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=raw.device).view(1, 3, 1, 1)
    return (raw.float() / 255 - mean) / std


def sample_images(batch: int, height: int, width: int, seed: int) -> Tensor:
    """Raw pixels in [0, 200) with one saturated block per image (so a prior on bright light has
    something to find)."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, height, width, generator=gen) * 200
    images[:, :, height // 4: height // 2, width // 4: width // 2] = 255.0
    return images


@dataclass
class Graph:
    """What one profile exports: ``module`` (positional inputs ``inputs`` -> features) and how to
    feed it."""
    module: nn.Module
    inputs: tuple[str, ...]
    profile: str
    size: tuple[int, int]  # the model's (height, width) at test
    batch_keys: Mapping[str, BatchKey]
    decided: tuple[str, ...] = ()  # labelled keys the graph decides from the pixels (tracker)

    @property
    def trace_size(self) -> tuple[int, int]:
        return TRACKER_TRACE_SIZE if self.profile == "tracker" else self.size

    def feed(self, batch: Mapping[str, Tensor]) -> list[Tensor]:
        """The graph's inputs for a batch of the model's test view (raw images and labels)."""
        if self.profile == "tracker":
            return [to_tracker_input(batch["images"])]
        return [batch[k] for k in self.inputs]

    def sample(self, batch: int, seed: int, size: tuple[int, int] | None = None) -> list[Tensor]:
        """Sample inputs: raw images of ``size`` (default: the traced size) and, for each labelled
        key read, the labels in turn starting at ``seed``."""
        height, width = size or self.trace_size
        samples = {"images": sample_images(batch, height, width, seed),
                   **{name: (torch.arange(batch) + seed) % len(key.labels)
                      for name, key in self.batch_keys.items() if key.labels}}
        unknown = [k for k in self.inputs if k not in samples]
        if unknown:
            raise UserError(f"the model's eval_inputs {self.inputs} include {unknown}, which the ONNX export "
                            f"cannot feed; it knows {', '.join(samples)}")
        return self.feed(samples)

    def checks(self) -> list[list[Tensor]]:
        """Verification inputs: another batch size and label layout; for the tracker profile also
        the model's own size and an odd one, since the tracker decides the size."""
        if self.profile == "raw":
            return [self.sample(3, 1)]
        return [self.sample(3, 1, self.size), self.sample(1, 2, (131, 67))]

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        spatial = {2: "height", 3: "width"} if self.profile == "tracker" else {}
        return {**{name: {0: "batch", **(spatial if name == "images" else {})} for name in self.inputs},
                OUTPUT: {0: "batch"}}


def build_graph(cfg: CfgNode, model: nn.Module, profile: str, batch_keys: Mapping[str, BatchKey]) -> Graph:
    """The module the profile traces around ``model`` (eval mode)."""
    model = model.eval()
    if profile == "raw":
        keys = eval_inputs(model)
        return Graph(BatchDictModel(model, keys).eval(), keys, profile, input_size(cfg), batch_keys)
    if profile == "tracker":
        module = TrackerModel(model, batch_keys, cfg).eval()
        return Graph(module, ("images",), profile, input_size(cfg), batch_keys, tuple(module.model.rules))
    raise UserError(f"unknown export profile {profile!r}; use {' or '.join(PROFILES)}")


def deployment_metadata(cfg: CfgNode, graph: Graph, precision: str) -> dict[str, str]:
    """What a caller outside Python must know, stored in the ONNX file's metadata_props."""
    height, width = graph.size
    notes = {"meta_architecture": cfg.MODEL.META_ARCHITECTURE, "weights": os.path.basename(cfg.MODEL.WEIGHTS),
             "profile": graph.profile, "precision": precision}
    if graph.profile == "tracker":
        rules = ", ".join(f"{name} decided from the crop" for name in graph.decided)
        notes["images"] = (f"float32 [batch, 3, height, width], RGB / 255 normalised with ImageNet mean "
                           f"{list(IMAGENET_MEAN)} and std {list(IMAGENET_STD)}, any size; the graph resizes to "
                           f"{width}x{height} (bilinear), so crops resized to that size lose least"
                           + (f"; {rules}" if rules else ""))
        notes[OUTPUT] = "float32 [batch, dim], L2-normalised: compare two by cosine similarity"
        return notes
    notes["images"] = (f"float32 [batch, 3, {height}, {width}], RGB, raw 0-255 pixels of the image resized to "
                       f"{width}x{height} (bicubic); the graph normalises them itself")
    notes[OUTPUT] = f"float32 [batch, dim]; compare two with the {cfg.TEST.METRIC} distance, as the evaluator does"
    for name in (k for k in graph.inputs if k != "images"):
        labels = graph.batch_keys[name].labels
        notes[name] = "int64 [batch]: " + ", ".join(f"{i} {label}" for i, label in enumerate(labels))
    return notes


def graph_file_name(cfg: CfgNode, profile: str, precision: str) -> str:
    """``<arch>_<backbone><depth>_<profile>_<precision>.onnx``, e.g. dndm_resnet50_tracker_int8.onnx:
    trackers such as BoxMOT pick their crop size and model type from words in the file name."""
    depth = str(cfg.MODEL.BACKBONE.DEPTH).rstrip("x")
    backbone = cfg.MODEL.BACKBONE.NAME.removeprefix("build_").removesuffix("_backbone").split("_")[0]
    return f"{cfg.MODEL.META_ARCHITECTURE.lower()}_{backbone}{depth}_{profile}_{precision}.onnx"


def export_onnx(graph: Graph, path: str, metadata: dict[str, str], progress: bool = True) -> list[str]:
    """Trace ``graph`` to ``path`` with dynamic batch (and, tracker, spatial) axes; ``metadata``
    goes into the file's metadata_props. Returns the graph's inputs: a key the traced path never
    reads (a model whose label-dependent modules are switched off) is left out of the graph, and
    out of the metadata."""
    onnx = require("onnx")
    device = next(graph.module.parameters()).device
    example = tuple(t.to(device) for t in graph.sample(2, 0))
    with step(f"tracing the {graph.profile} graph to {path}", progress), \
            warnings.catch_warnings():
        # The exporter's deprecation notice, and tracer notes on Python values read from tensors
        # (a model checking its labels): the verification on other batches is what proves the graph.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")  # left unfolded, still exact
        torch.onnx.export(graph.module, example, path, dynamo=False, input_names=list(graph.inputs),
                          output_names=[OUTPUT], dynamic_axes=graph.dynamic_axes(), opset_version=OPSET,
                          do_constant_folding=True)
    with step("checking the graph", progress):
        proto = onnx.load(path)
        onnx.checker.check_model(proto)
        inputs = [i.name for i in proto.graph.input]
        onnx.helper.set_model_props(proto, {k: v for k, v in metadata.items()
                                            if k in inputs or k not in graph.inputs})
        onnx.save(proto, path)
    return inputs


def session(path: str, providers: Sequence[str] = ("CPUExecutionProvider",), threads: int = 0):
    """An onnxruntime session of ``path`` (``threads`` 0: onnxruntime's choice, one per core)."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(path, options, providers=list(providers))


def onnx_features(runner, names: Sequence[str], inputs: Sequence[Tensor]) -> np.ndarray:
    """Run a session (or the path of a graph) on the CPU, feeding the inputs it has."""
    runner = session(runner) if isinstance(runner, (str, os.PathLike)) else runner
    wanted = {i.name for i in runner.get_inputs()}
    return runner.run([OUTPUT], {k: t.cpu().numpy() for k, t in zip(names, inputs) if k in wanted})[0]


@dataclass(frozen=True)
class Agreement:
    """How far an exported graph's features are from PyTorch's on the same inputs."""
    max_abs_diff: float
    min_cosine: float  # the least cosine similarity of an image's two features
    images: int

    def __str__(self) -> str:
        return f"max abs diff {self.max_abs_diff:.2e}, least cosine {self.min_cosine:.5f} over {self.images} images"


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(axis=1)


@torch.no_grad()
def agreement(path: str, graph: Graph, batches: Sequence[Sequence[Tensor]], progress: bool = True) -> Agreement:
    """onnxruntime against PyTorch over ``batches`` of graph inputs. A graph that fails on one
    (a batch size or layout baked in while tracing) is refused."""
    runner = session(path)
    device = next(graph.module.parameters()).device
    got, expected = [], []
    with step(f"verifying with onnxruntime on {sum(len(b[0]) for b in batches)} images", progress):
        for inputs in batches:
            expected.append(graph.module(*(t.to(device) for t in inputs)).float().cpu().numpy())
            try:
                got.append(onnx_features(runner, graph.inputs, inputs))
            except Exception as e:  # onnxruntime's errors share no base class
                shape = "x".join(map(str, inputs[0].shape))
                raise UserError(f"{path} fails on input {shape}: {str(e).splitlines()[0]}. The model's forward "
                                "fixed a batch size or layout while tracing; do not deploy it") from None
    got, expected = np.concatenate(got), np.concatenate(expected)
    if got.shape != expected.shape:
        raise RuntimeError(f"ONNX output has shape {got.shape}, PyTorch's {expected.shape}")
    return Agreement(float(np.abs(got - expected).max()), float(cosine_rows(got, expected).min()), len(got))
