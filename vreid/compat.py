"""The one place where fastreid 1.4.0 (PyPI, unmodified) is made to work on Python 3.11,
torch 2.x and numpy 2.

Each patch names the fast-reid defect it works around. Where fast-reid offers a hook
(``DefaultTrainer`` class methods) the fix lives in :mod:`vreid.engine` instead; what is
patched here has no hook. :func:`apply` runs once, on ``import vreid``, before anything
imports fastreid.
"""
from __future__ import annotations

import collections
import collections.abc
import logging
import sys
import types
import warnings
from typing import Any

import torch

_applied = False


def _import_shims() -> None:
    # fastreid.evaluation.rank and .roc warn at import that their Cython tools are missing;
    # the rank one is replaced, the roc one is not needed for speed.
    warnings.filterwarnings("ignore", message="Cython (rank|roc) evaluation", category=UserWarning)
    # fast-reid's to_tensor goes through the deprecated TypedStorage; harmless, and per image.
    warnings.filterwarnings("ignore", message="TypedStorage is deprecated", category=UserWarning)
    # fastreid.data.build imports `torch._six.string_classes` (removed in torch 2.0) and
    # `collections.Mapping` (removed in Python 3.10).
    if "torch._six" not in sys.modules:
        six = types.ModuleType("torch._six")
        six.string_classes = (str, bytes)
        sys.modules["torch._six"] = six
        torch._six = six
    for name in ("Mapping", "MutableMapping", "Sequence", "Iterable"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    _import_cpp_extension_quietly()


def _import_cpp_extension_quietly() -> None:
    """fast-reid's environment report (``default_setup``) imports torch.utils.cpp_extension,
    whose import warns "No CUDA runtime is found" on every CPU machine that has a CUDA
    toolkit. Nothing here builds extensions, so import it once with that logger muted."""
    if "torch.utils.cpp_extension" in sys.modules:
        return
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        import torch.utils.cpp_extension  # noqa: F401
    finally:
        logger.setLevel(level)


def _data_loader_x(local_rank: int, **kwargs: Any):
    """fast-reid's DataLoaderX creates a CUDA stream in __init__ and crashes on CPU machines.
    Same call, answered with the toolkit's own loader: batches on ``cuda:local_rank`` when CUDA
    is present, on the CPU otherwise."""
    from vreid.data.loader import DeviceLoader

    cuda = torch.cuda.is_available()
    kwargs["pin_memory"] = kwargs.get("pin_memory", False) and cuda
    return DeviceLoader(torch.utils.data.DataLoader(**kwargs), torch.device("cuda", local_rank) if cuda else "cpu")


def _patch_data() -> None:
    import numpy as np
    import torchvision.transforms as tv_transforms

    import fastreid.data.build as data_build
    import fastreid.data.data_utils as data_utils
    import fastreid.data.samplers.data_sampler as data_sampler
    import fastreid.data.samplers.triplet_sampler as triplet_sampler
    import fastreid.data.transforms.build as transforms_build

    data_utils.DataLoaderX = _data_loader_x
    data_build.DataLoaderX = _data_loader_x

    # build_transforms calls RandomAffine(resample=, fillcolor=), removed in torchvision 0.13.
    class _RandomAffine(tv_transforms.RandomAffine):
        def __init__(self, *args: Any, resample: Any = None, fillcolor: Any = None, **kwargs: Any):
            if fillcolor is not None:
                kwargs.setdefault("fill", fillcolor)
            super().__init__(*args, **kwargs)

    shim = types.ModuleType("torchvision.transforms")
    shim.__dict__.update(vars(tv_transforms))
    shim.RandomAffine = _RandomAffine
    transforms_build.T = shim

    # The samplers seed and draw from NumPy's global generator inside their index streams, so
    # anything else that draws from it changes the data order, and a resumed run (which replays
    # the stream) cannot meet it again: each sampler module draws from a generator of its own.
    for module in (triplet_sampler, data_sampler):
        private = types.SimpleNamespace(**vars(np))
        private.random = np.random.RandomState()
        module.np = private

    # The identity samplers loop forever without yielding when a batch needs more
    # identities than the training set has, or when the per-process batch is no whole number of
    # identities; fail at construction instead.
    for cls in (triplet_sampler.NaiveIdentitySampler, triplet_sampler.BalancedIdentitySampler):
        cls.__init__ = _checked_sampler_init(cls.__init__)


def _check_whole_identities(name: str, mini_batch_size: int, num_instances: int) -> None:
    """fast-reid's identity samplers grow a batch DATALOADER.NUM_INSTANCE images at a time and yield
    it only when it holds exactly the batch size, which another size never does: the run waits
    forever after "Starting training". So the per-process batch must be a multiple of it."""
    if num_instances < 1 or mini_batch_size % num_instances == 0:
        return
    from fastreid.utils import comm

    from vreid.errors import UserError

    world = comm.get_world_size()
    step = num_instances * world
    below = mini_batch_size // num_instances * step
    fits = " or ".join(str(n) for n in (below, below + step) if n > 0)
    raise UserError(f"{name}: the per-process batch {mini_batch_size} (SOLVER.IMS_PER_BATCH {mini_batch_size * world} "
                    f"over {world} process{'es' if world > 1 else ''}) is not a multiple of DATALOADER.NUM_INSTANCE "
                    f"{num_instances}, so no batch would ever fill and training would wait forever; set "
                    f"SOLVER.IMS_PER_BATCH to {fits}")


def _checked_sampler_init(init):
    def __init__(self, data_source, mini_batch_size, num_instances, *args, **kwargs):
        _check_whole_identities(type(self).__name__, mini_batch_size, num_instances)
        init(self, data_source, mini_batch_size, num_instances, *args, **kwargs)
        needed = self.num_pids_per_batch * self._world_size
        if len(self.pids) < needed or self.num_pids_per_batch == 0:
            from vreid.errors import UserError

            raise UserError(
                f"{type(self).__name__}: a batch needs {needed} identities "
                f"(SOLVER.IMS_PER_BATCH / DATALOADER.NUM_INSTANCE = {mini_batch_size * self._world_size}"
                f" / {num_instances}) but the training set has {len(self.pids)}. "
                "Lower SOLVER.IMS_PER_BATCH or raise DATALOADER.NUM_INSTANCE."
            )

    return __init__


def _patch_modeling() -> None:
    from fastreid.modeling.meta_arch.baseline import Baseline

    # Baseline.preprocess_image normalises the caller's tensor in place (so a flip test
    # normalises the flipped batch twice) and assumes the loader already put it on the
    # model's device.
    def preprocess_image(self, batched_inputs):
        images = batched_inputs["images"] if isinstance(batched_inputs, dict) else batched_inputs
        if not torch.is_tensor(images):
            raise TypeError(f"batched_inputs must be a dict or a tensor, got {type(images)}")
        images = images.to(self.device, non_blocking=True)
        return (images - self.pixel_mean) / self.pixel_std

    Baseline.preprocess_image = preprocess_image

    forward = Baseline.forward

    def forward_with_device(self, batched_inputs):
        # Baseline compares targets with logits that live on the model's device.
        if self.training and isinstance(batched_inputs, dict) and "targets" in batched_inputs:
            batched_inputs = dict(batched_inputs)
            batched_inputs["targets"] = batched_inputs["targets"].to(self.device)
        return forward(self, batched_inputs)

    Baseline.forward = forward_with_device


def _pretrained_file(cfg) -> str | None:
    """The ImageNet weights a backbone of ``cfg`` starts from: MODEL.BACKBONE.PRETRAIN_PATH, or the
    file fast-reid's ResNet would read from torch's cache; None when none is asked for or cached
    (fast-reid then downloads, as before)."""
    import os

    backbone = cfg.MODEL.BACKBONE
    if not backbone.PRETRAIN:
        return None
    if backbone.PRETRAIN_PATH:
        return backbone.PRETRAIN_PATH
    if backbone.NAME != "build_resnet_backbone":
        return None
    from fastreid.modeling.backbones import resnet

    key = ("ibn_" if backbone.WITH_IBN else "") + ("se_" if backbone.WITH_SE else "") + backbone.DEPTH
    if key not in resnet.model_urls:
        return None
    home = os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
    cached = os.path.join(os.path.expanduser(home), "checkpoints", resnet.model_urls[key].split("/")[-1])
    return cached if os.path.isfile(cached) else None


def _patch_backbone_weights() -> None:
    import fastreid.modeling.backbones as backbones
    import fastreid.modeling.backbones.build as backbone_build

    from vreid.modeling.weights import load_pretrained

    build_backbone = backbone_build.build_backbone

    # fast-reid's backbones torch.load their pretrained weights unchecked (pickles run; a file of
    # another architecture fills a few tensors and logs the rest at INFO): build without, then load
    # through vreid's checked reader and fit rule.
    def checked_build_backbone(cfg):
        path = _pretrained_file(cfg)
        if path is None:
            return build_backbone(cfg)
        plain = cfg.clone()
        plain.defrost()
        plain.MODEL.BACKBONE.PRETRAIN = False
        backbone = build_backbone(plain)
        load_pretrained(backbone, path, partial=cfg.MODEL.BACKBONE.PRETRAIN_PARTIAL)
        return backbone

    backbone_build.build_backbone = backbones.build_backbone = checked_build_backbone
    import fastreid.modeling.meta_arch.baseline as baseline  # imported it by name already

    baseline.build_backbone = checked_build_backbone


def _veri_records(self, dir_path: str, is_train: bool = True) -> list[tuple]:
    """VeRi-776's ``<pid>_c<cam>_...jpg`` read from the file names alone, in name order, with
    fast-reid's labels (cameras from 0, training labels prefixed with the dataset's name)."""
    import os
    import re

    from vreid.errors import UserError

    if not os.path.isdir(dir_path):
        raise UserError(f"{dir_path} is not a folder: VeRi expects image_train/, image_query/ and image_test/ of "
                        "<pid>_c<cam>_<frame>_<n>.jpg (datasets/README.md, section 'VeRi-776')")
    pattern, records = re.compile(r"^(\d+)_c(\d{3})"), []
    for name in sorted(n for n in os.listdir(dir_path) if n.lower().endswith(".jpg")):
        match = pattern.match(name)
        if match is None:
            raise UserError(f"{os.path.join(dir_path, name)}: not a VeRi file name (<pid>_c<cam>_<frame>_<n>.jpg); "
                            "rename or remove it")
        pid, camid = int(match.group(1)), int(match.group(2)) - 1
        if pid == -1:
            continue  # fast-reid's junk images
        label = (f"{self.dataset_name}_{pid}", f"{self.dataset_name}_{camid}") if is_train else (pid, camid)
        records.append((os.path.join(dir_path, name), *label))
    return records


# VeRi-776's published (ids, images) per part, checked like every reader of a real release.
_VERI_RELEASE = {"train": (576, 37778), "query": (200, 1678), "gallery": (200, 11579)}
_VERI_PARTS = (("train", "image_train"), ("query", "image_query"), ("gallery", "image_test"))


def _veri_folder(root: str, dataset_dir: str) -> str:
    """``<root>/<dataset_dir>``, or the release's own spelling of it (``VeRi/`` beside a missing
    ``veri/``): the one folder of another case, else an error naming what is there."""
    import os

    from vreid.errors import UserError

    wanted = os.path.join(root, dataset_dir)
    if os.path.isdir(wanted):
        return wanted
    parent, name = os.path.split(wanted)
    others = sorted(n for n in (os.listdir(parent) if os.path.isdir(parent) else [])
                    if n.lower() == name.lower() and os.path.isdir(os.path.join(parent, n)))
    if len(others) == 1:
        return os.path.join(parent, others[0])
    found = f"; found {', '.join(os.path.join(parent, n) for n in others)}: keep one" if others else ""
    raise UserError(f"VeRi layout incomplete: missing folder {wanted} (or the release's {os.path.join(parent, 'VeRi')})"
                    f"{found}. It holds image_train/, image_query/ and image_test/ (datasets/README.md, "
                    "section 'VeRi-776')")


def _veri_init(self, root: str = "datasets", **kwargs) -> None:
    """fast-reid's VeRi.__init__ on the folder ``_veri_folder`` finds, with VeRi-776's counts checked."""
    import os

    from fastreid.data.datasets.bases import ImageDataset

    from vreid.data.release import check_release_counts

    self.dataset_dir = _veri_folder(root, type(self).dataset_dir)
    parts = {part: self.process_dir(os.path.join(self.dataset_dir, folder), is_train=part == "train")
             for part, folder in _VERI_PARTS}
    if self.dataset_name == "veri":  # the release itself, not a copy in its layout (SynVeRi)
        for part, records in parts.items():
            check_release_counts("VeRi-776", part, records, _VERI_RELEASE[part])
    ImageDataset.__init__(self, parts["train"], parts["query"], parts["gallery"], **kwargs)


def _refuse_unseeded_vehicleid(self, *args, **kwargs) -> None:
    from vreid.errors import UserError

    name = type(self).__name__
    ours = {"SmallVehicleID": "VehicleID_Small", "MediumVehicleID": "VehicleID_Medium",
            "LargeVehicleID": "VehicleID_Large"}.get(name, "VehicleIDTrain and VehicleID_Small/_Medium/_Large")
    raise UserError(f"fast-reid's {name} draws its gallery with an unseeded shuffle at every load, so its numbers "
                    f"change from run to run; use {ours} (seeded draws, TEST.VEHICLEID.TRIALS, datasets/README.md)")


def _patch_datasets() -> None:
    from fastreid.data.datasets import vehicleid
    from fastreid.data.datasets.veri import VeRi

    # VeRi.process_dir searches its pattern in the whole path (a data root such as
    # runs/exp_0042_c007/ made every image identity 42 of camera 7), fails with an AttributeError
    # on a file name without it, and keeps glob's order, which differs between file systems.
    VeRi.process_dir = _veri_records
    # VeRi.__init__ wants veri/ (the release unpacks as VeRi/, refused with a bare RuntimeError on
    # a case-sensitive file system) and reads a partial copy without a word.
    VeRi.__init__ = _veri_init
    # VehicleID.process_dir draws each test gallery with random.shuffle, unseeded, at every load:
    # two evaluations of one model differ. The toolkit's VehicleID_* draw seeded galleries instead.
    for cls in (vehicleid.VehicleID, vehicleid.SmallVehicleID, vehicleid.MediumVehicleID, vehicleid.LargeVehicleID):
        cls.__init__ = _refuse_unseeded_vehicleid


def _patch_evaluation() -> None:
    import fastreid.evaluation.rank as fr_rank
    import fastreid.evaluation.reid_evaluation as reid_evaluation

    from vreid.evaluation.rank import evaluate_rank

    # ReidEvaluator runs `make` inside site-packages to build a Cython tool and calls
    # sys.exit when that fails; the exact vectorised evaluator replaces it.
    reid_evaluation.ReidEvaluator._compile_dependencies = lambda self: None
    fr_rank.evaluate_rank = evaluate_rank
    # Its TEST.RERANK path asks build_dist for a "jaccard" distance, computed with faiss-gpu
    # and tensors pinned to CUDA ("Found no NVIDIA driver" on CPU): answer it with vreid's
    # k-reciprocal re-ranking, on the features' device.
    reid_evaluation.build_dist = _build_dist_with_device_safe_jaccard(reid_evaluation.build_dist)


def _build_dist_with_device_safe_jaccard(build_dist):
    from vreid.evaluation.rerank import k_reciprocal_rerank

    def dist(feat_1: torch.Tensor, feat_2: torch.Tensor, metric: str = "euclidean", **kwargs):
        if metric != "jaccard":
            return build_dist(feat_1, feat_2, metric, **kwargs)
        # lambda 0: the Jaccard term alone; the caller blends in the original distance itself
        return k_reciprocal_rerank(feat_1, feat_2, kwargs["k1"], kwargs["k2"], lambda_value=0.0).cpu().numpy()

    return dist


def _patch_checkpoint() -> None:
    from fastreid.utils import checkpoint

    from vreid.modeling.weights import load_checkpoint_file

    # Checkpointer._load_file unpickles arbitrary objects; only tensors and plain data are
    # accepted.
    checkpoint.Checkpointer._load_file = lambda self, f: load_checkpoint_file(f)


def apply() -> None:
    """Apply every patch once; later calls are no-ops."""
    global _applied
    if _applied:
        return
    _applied = True
    _import_shims()
    _patch_data()
    _patch_backbone_weights()  # before the projects import build_backbone by name
    _patch_datasets()
    _patch_modeling()
    _patch_evaluation()
    _patch_checkpoint()
    logging.getLogger(__name__).debug("fastreid compat patches applied")
