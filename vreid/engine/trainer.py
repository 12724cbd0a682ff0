"""fast-reid's DefaultTrainer, made device-agnostic, with exact evaluation and atomic checkpoints."""
from __future__ import annotations

import logging
import math
from collections import OrderedDict

import torch
from torch.nn.parallel import DistributedDataParallel

from fastreid.engine import DefaultTrainer
from fastreid.engine.train_loop import TrainerBase
from fastreid.evaluation import inference_on_dataset
from fastreid.solver import build_optimizer
from fastreid.utils import comm
from fastreid.utils.logger import setup_logger

from vreid.config import check_config
from vreid.data import build_test_loader, build_train_loader
from vreid.data.build import get_dataset, skip_batches
from vreid.engine.checkpoint import Checkpointer
from vreid.engine.hooks import replace_fastreid_hooks
from vreid.engine.lr_schedule import build_lr_scheduler
from vreid.engine.step import StepTrainer, TrainStep
from vreid.engine.weight_decay import skip_weight_decay
from vreid.engine.writer import keep_evaluations
from vreid.errors import UserError
from vreid.evaluation.evaluator import ReidEvaluator
from vreid.evaluation.extra import run_extra_evaluations
from vreid.evaluation.table import results_table
from vreid.modeling import build_model, resolve_device
from vreid.modeling.weights import check_weights_fit, load_fitting, read_weights, weights_fit
from vreid.outputs import ensure_folder, lock_output_dir

logger = logging.getLogger(__name__)


def check_test_sets(cfg) -> None:
    """Every DATASETS.TESTS entry has queries and a gallery (reading its lists is cheap)."""
    for name in cfg.DATASETS.TESTS:
        _check_test_set(name, get_dataset(name, cfg))


def _check_test_set(name: str, data) -> None:
    for part in ("query", "gallery"):
        if not getattr(data, part):
            raise UserError(f"test set {name} (DATASETS.TESTS) has no {part} images: its {part} list or folder is "
                            "empty; fill it (datasets/README.md) or remove the set from DATASETS.TESTS")


class Trainer(DefaultTrainer):
    """DefaultTrainer with vreid.engine.hooks' evaluation and checkpoint hooks (epochs as the
    config names them, model_best by TEST.BEST_METRIC), and the best so far kept on resume.

    ``__init__`` is rewritten because fast-reid's hard-codes CUDA: DDP with
    ``device_ids=[local_rank]``, an AMP trainer that asserts CUDA, and an epoch of
    ``len(dataset) // batch`` iterations (0 for small sets; wrong for paired sampling).
    """

    best_metric = -math.inf  # TEST.BEST_METRIC of model_best.pth; restored on resume

    def __init__(self, cfg):
        TrainerBase.__init__(self)
        if not logging.getLogger("fastreid").isEnabledFor(logging.INFO):
            setup_logger()
        check_config(cfg)
        device = resolve_device(cfg)
        if comm.is_main_process() and cfg.OUTPUT_DIR:
            ensure_folder(cfg.OUTPUT_DIR, "OUTPUT_DIR")  # fast-reid writes config.yaml there
            lock_output_dir(cfg.OUTPUT_DIR)  # one run writes a folder at a time
        check_test_sets(cfg)  # an empty query list fails now, not at the first evaluation
        data_loader = self.build_train_loader(cfg)
        cfg = self.auto_scale_hyperparams(cfg, data_loader.dataset.num_classes)
        self.iters_per_epoch = data_loader.iters_per_epoch
        cfg = self.scale_warmup(cfg, self.iters_per_epoch)

        model = self.build_model(cfg)
        optimizer, param_wrapper = self.build_optimizer(cfg, model)
        if comm.get_world_size() > 1:
            model = DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None,
                broadcast_buffers=False, find_unused_parameters=cfg.MODEL.DDP_FIND_UNUSED)

        step = TrainStep.from_config(cfg, model, optimizer, device)
        self._trainer = StepTrainer(model, data_loader, optimizer, param_wrapper, step)

        self.scheduler = self.build_lr_scheduler(cfg, optimizer, self.iters_per_epoch)
        checkpointables = dict(optimizer=optimizer, **self.scheduler)
        if self.grad_scaler is not None:
            checkpointables["grad_scaler"] = self.grad_scaler
        self.checkpointer = Checkpointer(model, cfg.OUTPUT_DIR, save_to_disk=comm.is_main_process(),
                                         **checkpointables)
        self.start_epoch = 0
        self.max_epoch = cfg.SOLVER.MAX_EPOCH
        self.max_iter = self.max_epoch * self.iters_per_epoch
        self.warmup_iters = cfg.SOLVER.WARMUP_ITERS
        self.delay_epochs = cfg.SOLVER.DELAY_EPOCHS
        self.cfg = cfg
        self.register_hooks(self.build_hooks())

    def train(self):
        """fast-reid's loop; ``completed`` says to the hooks' after_train, which runs in a
        ``finally``, whether the last epoch ended (its hooks included) or training failed."""
        self.completed = False
        if self.start_epoch >= self.max_epoch:
            # Resumed from its final checkpoint (killed after it, or started again): fast-reid's
            # loop would run no epoch and then assert that it evaluated.
            logging.getLogger(__name__).info(
                f"{self.cfg.OUTPUT_DIR} holds a run trained for all {self.max_epoch} epochs "
                "(SOLVER.MAX_EPOCH): nothing to train; --eval-only MODEL.WEIGHTS <its model_final.pth> evaluates it")
            self.completed = True
            return None
        return super().train()

    def after_epoch(self) -> None:
        super().after_epoch()
        self.completed = self.epoch >= self.max_epoch - 1

    def build_hooks(self) -> list:
        return keep_evaluations(replace_fastreid_hooks(self, super().build_hooks()))

    def resume_or_load(self, resume: bool = True) -> None:
        """fast-reid's, plus the best selection number so far, so model_best stays the best.
        Starting from MODEL.WEIGHTS, they must fill the whole model unless MODEL.WEIGHTS_PARTIAL."""
        weights = self.cfg.MODEL.WEIGHTS
        if resume and self.checkpointer.has_checkpoint():
            checkpoint = self.checkpointer.resume_or_load(weights, resume=True)
            self.start_epoch = checkpoint.get("epoch", -1) + 1
            self.best_metric = checkpoint.get("best_metric", self.best_metric)
            skip_batches(self.data_loader, self.start_epoch * self.iters_per_epoch)  # the batches it drew
            self._trainer.restart_data()
        elif weights:  # the model alone, as fast-reid loads MODEL.WEIGHTS; the file read once
            state = read_weights(weights).state
            if self.cfg.MODEL.WEIGHTS_PARTIAL:
                missing, other = weights_fit(self.model, state)
                logger.warning(f"MODEL.WEIGHTS_PARTIAL: {weights} leaves {len(missing)} tensors missing and "
                               f"{len(other)} of another shape at their initial values")
            else:
                check_weights_fit(self.model, state, weights, self.cfg.MODEL.META_ARCHITECTURE, fine_tune=True)
            load_fitting(self.model, state)

    @staticmethod
    def scale_warmup(cfg, iters_per_epoch: int):
        """SOLVER.WARMUP_EPOCHS (the papers' unit) becomes fast-reid's WARMUP_ITERS; with
        SOLVER.WARMUP_UNIT epoch it always does (0 epochs: no warm-up)."""
        if cfg.SOLVER.WARMUP_EPOCHS <= 0 and cfg.SOLVER.WARMUP_UNIT != "epoch":
            return cfg
        cfg = cfg.clone()
        cfg.defrost()
        cfg.SOLVER.WARMUP_ITERS = int(cfg.SOLVER.WARMUP_EPOCHS * iters_per_epoch)
        cfg.freeze()
        return cfg

    @classmethod
    def build_model(cls, cfg) -> torch.nn.Module:
        return build_model(cfg)

    @classmethod
    def build_lr_scheduler(cls, cfg, optimizer, iters_per_epoch: int) -> dict:
        """SOLVER.STEPS are the epochs at which the rate drops, as written (see lr_schedule)."""
        return build_lr_scheduler(cfg, optimizer, iters_per_epoch)

    @classmethod
    def build_optimizer(cls, cfg, model):
        # ContiguousParams re-points parameters into one buffer; torch's foreach optimizers
        # already fuse the update, and the plain layout stays valid under DDP and .to().
        optimizer, params = build_optimizer(cfg, model, contiguous=False)
        skip_weight_decay(optimizer, model)
        return optimizer, params

    @classmethod
    def build_train_loader(cls, cfg):
        return build_train_loader(cfg)

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        loader, num_query = build_test_loader(cfg, dataset_name)
        if num_query == 0 or num_query == len(loader.dataset):  # torch.cat() of no features otherwise
            _check_test_set(dataset_name, get_dataset(dataset_name, cfg))
        return loader, num_query

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_dir=None):
        data_loader, num_query = cls.build_test_loader(cfg, dataset_name)
        return data_loader, ReidEvaluator.from_config(cfg, num_query)

    @classmethod
    def test(cls, cfg, model):
        """Evaluate on every DATASETS.TESTS entry and log one table."""
        results = OrderedDict()
        for name in cfg.DATASETS.TESTS:
            data_loader, evaluator = cls.build_evaluator(cfg, name)
            results[name] = inference_on_dataset(model, data_loader, evaluator, flip_test=cfg.TEST.FLIP.ENABLED)
        if comm.is_main_process():
            logger.info("Evaluation results:\n" + results_table(results))
        run_extra_evaluations(cfg, model)  # logged by the evaluations, kept by the event storage
        return results if len(results) > 1 else next(iter(results.values()))
