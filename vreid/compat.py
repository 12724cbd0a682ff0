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
    import torchvision.transforms as tv_transforms

    import fastreid.data.build as data_build
    import fastreid.data.data_utils as data_utils
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

    # The identity samplers loop forever without yielding when a batch needs more
    # identities than the training set has; fail at construction instead.
    for cls in (triplet_sampler.NaiveIdentitySampler, triplet_sampler.BalancedIdentitySampler):
        cls.__init__ = _checked_sampler_init(cls.__init__)


def _checked_sampler_init(init):
    def __init__(self, data_source, mini_batch_size, num_instances, *args, **kwargs):
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
    _patch_modeling()
    _patch_evaluation()
    _patch_checkpoint()
    logging.getLogger(__name__).debug("fastreid compat patches applied")
