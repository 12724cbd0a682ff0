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
from vreid.engine.resume import set_history_state, set_rng_state
from vreid.engine.run_config import RECORD, record_config, resumed_record
from vreid.engine.signals import Interrupted, resume_command, stop_between_steps
from vreid.engine.lr_schedule import build_lr_scheduler
from vreid.engine.step import StepTrainer, TrainStep
from vreid.engine.weight_decay import skip_weight_decay
from vreid.engine.writer import keep_evaluations
from vreid.evaluation.evaluator import ReidEvaluator
from vreid.evaluation.extra import run_extra_evaluations
from vreid.evaluation.sanity import check_test_set
from vreid.evaluation.table import results_table
from vreid.modeling import build_model, resolve_device
from vreid.modeling.auto_labels import AutoLabels
from vreid.modeling.weights import check_weights_fit, load_fitting, read_weights, weights_fit
from vreid.outputs import ensure_folder, lock_output_dir
from vreid.projects import batch_keys, installed_projects

logger = logging.getLogger(__name__)


def check_test_sets(cfg) -> None:
    """Every DATASETS.TESTS entry can give metrics that mean something (vreid.evaluation.sanity),
    checked before the first step rather than after training; reading its lists is cheap."""
    for name in cfg.DATASETS.TESTS:
        _check_test_set(cfg, name, get_dataset(name, cfg))


def _check_test_set(cfg, name: str, data) -> None:
    check_test_set(cfg, name, data.query, data.gallery, getattr(data, "draws", ()))


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
        self.run_config = cfg.clone()  # as given: what config.yaml records (fast-reid sets derived values in place)
        self.config_record: str | None = RECORD  # written when training starts (vreid.engine.run_config)
        self.restored: dict = {}  # the resume state of the checkpoint resumed from
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
        ``finally``, whether the last epoch ended (its hooks included) or training failed.
        SIGINT and SIGTERM end it between two steps with one line (``vreid.engine.signals``)."""
        self.completed = False
        if self.start_epoch >= self.max_epoch:
            # Resumed from its final checkpoint (killed after it, or started again): fast-reid's
            # loop would run no epoch and then assert that it evaluated.
            logging.getLogger(__name__).info(
                f"{self.cfg.OUTPUT_DIR} holds a run trained for all {self.max_epoch} epochs "
                "(SOLVER.MAX_EPOCH): nothing to train; --eval-only MODEL.WEIGHTS <its model_final.pth> evaluates it")
            self.completed = True
            return None
        if comm.is_main_process() and self.cfg.OUTPUT_DIR and self.config_record:
            record_config(self.cfg.OUTPUT_DIR, self.run_config, self.config_record)
        with stop_between_steps() as self._stop:
            return super().train()

    def before_train(self) -> None:
        """A resumed run's random generators and logged history, as the interrupted run had them;
        the storage learns the run's length, for losses that follow training progress
        (``vreid.modeling.reid_losses.training_progress``)."""
        self.storage.max_iter = self.max_iter
        rng = self.restored.get("rng", [])
        if len(rng) == comm.get_world_size():
            set_rng_state(rng[comm.get_rank()])
        set_history_state(self.storage, self.restored.get("history", {}))
        super().before_train()

    def after_step(self) -> None:
        super().after_step()
        if self._stop.signum is not None:
            raise Interrupted(self._interrupted_message(), self._stop.signum)

    def _interrupted_message(self) -> str:
        last = self.checkpointer.get_checkpoint_file() if self.checkpointer.has_checkpoint() else ""
        kept = (f"the last complete checkpoint is {last}; continue with: {resume_command()}" if last
                else "no epoch had ended, so no checkpoint was written; start again")
        return f"interrupted at iteration {self.iter} (epoch {self.epoch}); {kept}"

    def after_epoch(self) -> None:
        super().after_epoch()
        self.completed = self.epoch >= self.max_epoch - 1

    def build_hooks(self) -> list:
        return keep_evaluations(replace_fastreid_hooks(self, super().build_hooks()))

    def resume_or_load(self, resume: bool = True, allow_changes: bool = False) -> None:
        """fast-reid's, exactly: a resumed run continues with the sampler position, random
        generators, logged history and best selection number of the run it continues, and its
        config must be the recorded one (unless ``allow_changes``, --resume-with-changes).
        Starting from MODEL.WEIGHTS, they must fill the whole model unless MODEL.WEIGHTS_PARTIAL."""
        weights = self.cfg.MODEL.WEIGHTS
        if resume and self.checkpointer.has_checkpoint():
            main = comm.is_main_process() and self.cfg.OUTPUT_DIR
            record = resumed_record(self.cfg.OUTPUT_DIR, self.run_config, allow_changes) if main else None
            self.restored = self.checkpointer.restore(self.cfg.MODEL.META_ARCHITECTURE)
            self.start_epoch = self.restored.get("epoch", -1) + 1
            self.config_record = record.format(epoch=self.start_epoch) if record else None
            self.best_metric = self.restored.get("best_metric", self.best_metric)
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
    def auto_scale_hyperparams(cfg, num_classes: int):
        """fast-reid's class count from the data, without its rewrite of config.yaml (on every start,
        a failed one included): the run's record is written once, when training starts."""
        if cfg.MODEL.HEADS.NUM_CLASSES != 0:
            return cfg
        cfg = cfg.clone()
        cfg.defrost()
        cfg.MODEL.HEADS.NUM_CLASSES = num_classes
        cfg.freeze()
        logger.info(f"MODEL.HEADS.NUM_CLASSES {num_classes}: the training identities")
        return cfg

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
        records = loader.dataset.img_items  # checked at every evaluation, so --eval-only's too
        check_test_set(cfg, dataset_name, records[:num_query], records[num_query:], loader.dataset.draws)
        return loader, num_query

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_dir=None):
        data_loader, num_query = cls.build_test_loader(cfg, dataset_name)
        return data_loader, ReidEvaluator.from_config(cfg, num_query, draws=data_loader.dataset.draws)

    @classmethod
    def test(cls, cfg, model):
        """Evaluate on every DATASETS.TESTS entry and log one table."""
        if cfg.TEST.AUTO_LABELS:
            logger.info("TEST.AUTO_LABELS: per-image labels decided from the pixels, not the dataset's")
            model = AutoLabels(model, batch_keys(installed_projects()), cfg)
        results = OrderedDict()
        for name in cfg.DATASETS.TESTS:
            data_loader, evaluator = cls.build_evaluator(cfg, name)
            results[name] = inference_on_dataset(model, data_loader, evaluator, flip_test=cfg.TEST.FLIP.ENABLED)
        if comm.is_main_process():
            logger.info("Evaluation results:\n" + results_table(results))
        run_extra_evaluations(cfg, model)  # logged by the evaluations, kept by the event storage
        return results if len(results) > 1 else next(iter(results.values()))
