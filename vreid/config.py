"""Config keys every project shares, and config loading with errors a user can act on."""
from __future__ import annotations

import os
import tempfile
from typing import Iterable, Sequence

import torch
import yaml

from fastreid.config import CfgNode
from fastreid.config import get_cfg as _fastreid_cfg

from vreid.errors import UserError
from vreid.projects import ProjectSpec, resolve

# Keys whose value must be one of a few words, or at least some number, checked when a config is
# loaded (not at the first step or evaluation that reads them). Projects declare theirs in their
# add_config hook.
_CHOICES: dict[str, tuple[str, ...]] = {}
_MINIMA: dict[str, tuple[int, str]] = {}
# Image sizes: [height, width] or [shorter side] in pixels. fast-reid skips the resize of a size
# <= 0, which leaves images of different sizes that no batch can stack and a padding crop of size 0.
_SIZES = ("INPUT.SIZE_TRAIN", "INPUT.SIZE_TEST", "INPUT.CROP.SIZE")


def declare_choices(key: str, choices: Sequence[str]) -> None:
    """``key`` (dotted) may only take one of ``choices``; check_config enforces it."""
    _CHOICES[key] = tuple(choices)


def declare_minimum(key: str, minimum: int, meaning: str) -> None:
    """``key`` (dotted) must be at least ``minimum``; ``meaning``, a few words on what it counts,
    goes into check_config's message."""
    _MINIMA[key] = (minimum, meaning)


def add_vreid_config(cfg: CfgNode) -> None:
    """Keys that fast-reid lacks and every project here uses."""
    cfg.MODEL.DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
    # Seed for python, numpy, torch and the samplers; < 0 draws a random one.
    cfg.SEED = 0
    # Warm-up length in epochs; > 0 overrides SOLVER.WARMUP_ITERS once the epoch length is known.
    cfg.SOLVER.WARMUP_EPOCHS = 0
    # How the warm-up ramps: "iter" (every iteration, fast-reid's) or "epoch" (one rate per
    # epoch, WARMUP_FACTOR in epoch 0 to 1 in epoch WARMUP_EPOCHS - 1; the DNDM release's).
    # Either way SOLVER.STEPS are the 0-based epochs at which the rate drops.
    cfg.SOLVER.WARMUP_UNIT = "iter"
    # Autocast dtype when SOLVER.AMP.ENABLED: "float16" (CUDA, with a GradScaler) or
    # "bfloat16" (CUDA or CPU). float16 on a CPU run falls back to fp32 with a warning.
    cfg.SOLVER.AMP.DTYPE = "float16"
    # model_best.pth: the evaluation with the highest TEST.BEST_METRIC ("Rank-1", "Rank-5",
    # "Rank-10", "Rank-20", "mAP", "mINP", or "metric" = (mAP + Rank-1) / 2, fast-reid's) on
    # TEST.BEST_PROTOCOL (a DATASETS.TESTS entry; "" is the first). Evaluation runs after epochs
    # TEST.EVAL_PERIOD, 2 x TEST.EVAL_PERIOD, ... (0-based, as SOLVER.STEPS) and after the last.
    cfg.TEST.BEST_METRIC = "metric"
    cfg.TEST.BEST_PROTOCOL = ""
    # Training from MODEL.WEIGHTS (not --resume) needs them to fill every model tensor, as
    # evaluation and the tools always do; True loads what fits and keeps the rest as initialised
    # (fine-tuning from another architecture or class count), with a warning of the counts.
    cfg.MODEL.WEIGHTS_PARTIAL = False
    # The same rule for MODEL.BACKBONE.PRETRAIN_PATH (or fast-reid's cached ImageNet file): it must
    # fill every tensor of the backbone; True keeps the tensors it lacks at their random values.
    cfg.MODEL.BACKBONE.PRETRAIN_PARTIAL = False
    # Evaluate with the per-image labels a model reads (DNDM's day/night domain) decided from the
    # pixels by the key's rule (--domain auto, the tracker export) instead of taken from the dataset:
    # what deployment without labels costs.
    cfg.TEST.AUTO_LABELS = False
    # Queries ranked at once by the evaluator; bounds its memory to CHUNK x gallery.
    cfg.TEST.CHUNK_SIZE = 256
    # VehicleID_Small / _Medium / _Large: seeded gallery draws (seeds 0 .. TRIALS - 1; one image of each
    # vehicle to the gallery, the rest queries), reported as their mean and standard deviation.
    cfg.TEST.VEHICLEID = CfgNode({"TRIALS": 10})
    # Your own data set, registered as "Custom" (vreid/data/custom.py, docs/your_data.md). ROOT: its
    # folder, under the data root or absolute. TRAIN, QUERY, GALLERY: each a list file ('path pid camid
    # [label] [timestamp]' lines, or a .csv with a header), a folder, or '' for none, relative to ROOT.
    # PATTERN: for folders, searched in each image's path relative to the folder, with the named
    # groups pid and camid (and optionally the per-image label's, e.g. domain).
    cfg.DATASETS.CUSTOM = CfgNode({"ROOT": "", "TRAIN": "", "QUERY": "", "GALLERY": "",
                                   "PATTERN": r"(?P<pid>\d+)_c(?P<camid>\d+)[^/]*$"})
    # Source validation (vreid.data.source_val): SHARE of each training set's identities, drawn by
    # SEED, held out of training and evaluated as the test set SourceVal (list it in DATASETS.TESTS),
    # so settings and checkpoints can be chosen without the target.
    cfg.DATASETS.SOURCE_VAL = CfgNode({"SHARE": 0.0, "SEED": 0})
    # DDP: set True when some parameters get no gradient in a step (e.g. an ablation).
    cfg.MODEL.DDP_FIND_UNUSED = False
    # Multi-process jobs (--num-gpus, torchrun, srun), in seconds. TIMEOUT: how long a collective
    # waits for the other processes (torch's process-group timeout); it must cover what rank 0 does
    # alone while the others wait, such as evaluating a large gallery. LOST_AFTER: a process silent
    # this long (killed, out of memory, its machine gone) is lost, and the others stop with one line
    # naming it instead of waiting out TIMEOUT.
    cfg.DIST = CfgNode({"TIMEOUT": 1800, "LOST_AFTER": 60})
    # GPU fast paths (fast-reid's CUDNN_BENCHMARK is honoured too): NHWC weights and
    # activations; torch.compile of the model in place ("inductor" needs a C++ compiler on CPU).
    cfg.MODEL.CHANNELS_LAST = False
    cfg.MODEL.COMPILE = CfgNode({"ENABLED": False})
    cfg.MODEL.COMPILE.BACKEND = "inductor"
    cfg.MODEL.COMPILE.MODE = "default"  # or "reduce-overhead", "max-autotune"
    # CPU runs: keep freed tensor memory mapped instead of returning it to the system after
    # every step: ~1.3x faster steps for ~15 % more peak RSS (glibc only; vreid/engine/cpu_heap.py).
    cfg.CPU_REUSE_MEMORY = True
    # Resize filter of the train and test transforms (vreid/data/transforms.py): "bicubic"
    # (fast-reid's), "lanczos" (the DNDM release's) or "bilinear".
    cfg.INPUT.INTERPOLATION = "bicubic"
    # Decode JPEGs at the smallest DCT scale (1/2, 1/4, 1/8) that still covers the first resize
    # (INPUT.SIZE_TRAIN / SIZE_TEST): 4K crops decode several times faster; see
    # tools/benchmark.py io for the pixel difference after the resize.
    cfg.INPUT.DRAFT_DECODE = True
    # Random erasing: "fastreid" (torchvision's: area 2-33 %, log-uniform aspect ratio, 10 tries)
    # or "release" (the DNDM release's: area 2-40 %, aspect ratio uniform in [0.3, 3.33], 100 tries).
    cfg.INPUT.REA.FORM = "fastreid"
    # Cross-entropy of the models that build their losses with vreid.modeling.reid_losses (DNDM,
    # JIFD): "nonzero" divides the sum by the samples whose loss is not exactly 0 (fast-reid's,
    # which its Baseline always uses); "batch" by the batch size (the DNDM release's).
    cfg.MODEL.LOSSES.CE.NORM = "nonzero"
    declare_choices("SOLVER.AMP.DTYPE", ("float16", "bfloat16"))
    declare_choices("INPUT.INTERPOLATION", ("bicubic", "lanczos", "bilinear"))
    declare_choices("INPUT.REA.FORM", ("fastreid", "release"))
    declare_choices("MODEL.LOSSES.CE.NORM", ("nonzero", "batch"))
    declare_choices("TEST.METRIC", ("cosine", "euclidean"))
    declare_choices("SOLVER.WARMUP_UNIT", ("iter", "epoch"))
    # Counts read only deep inside a run, where a value below the minimum trains nothing and exits 0
    # (MAX_EPOCH), divides by zero (CHECKPOINT_PERIOD) or fails in a DataLoader or the ranking.
    declare_minimum("DATALOADER.NUM_INSTANCE", 1, "images of each identity in a batch")
    declare_minimum("SOLVER.IMS_PER_BATCH", 1, "training images per step, over all processes")
    declare_minimum("SOLVER.MAX_EPOCH", 1, "epochs to train")
    declare_minimum("SOLVER.CHECKPOINT_PERIOD", 1, "epochs between checkpoints")
    declare_minimum("TEST.IMS_PER_BATCH", 1, "test images per step, over all processes")
    declare_minimum("TEST.CHUNK_SIZE", 1, "queries ranked at once")
    declare_minimum("TEST.VEHICLEID.TRIALS", 1, "VehicleID gallery draws to average")
    declare_minimum("DATALOADER.NUM_WORKERS", 0, "loader processes; 0 loads in the main process")


def _value(cfg: CfgNode, key: str):
    node = cfg
    for part in key.split("."):
        if not isinstance(node, CfgNode) or part not in node:
            return _MISSING
        node = node[part]
    return node


_MISSING = object()


def check_config(cfg: CfgNode) -> None:
    """Values that would fail only later (a ZeroDivisionError in the sampler, a ValueError at the
    first step or evaluation) or make a run that does nothing and reports success (0 epochs) fail
    here, with the key and what it may be."""
    for key, choices in _CHOICES.items():
        value = _value(cfg, key)
        if value is not _MISSING and value not in choices:
            raise UserError(f"{key} {value!r} is not one of {', '.join(choices)}; set one of them")
    for key, (minimum, meaning) in _MINIMA.items():
        value = _value(cfg, key)
        if value is not _MISSING and value < minimum:
            raise UserError(f"{key} must be at least {minimum} ({meaning}), got {value}")
    for key in _SIZES:
        size = _value(cfg, key)
        if size is not _MISSING and (len(size) not in (1, 2) or min(size) < 1):
            raise UserError(f"{key} must be [height, width] or [shorter side] in pixels, each at least 1, "
                            f"got {list(size)}")
    if cfg.SOLVER.IMS_PER_BATCH < cfg.DATALOADER.NUM_INSTANCE:
        raise UserError(f"SOLVER.IMS_PER_BATCH {cfg.SOLVER.IMS_PER_BATCH} is smaller than DATALOADER.NUM_INSTANCE "
                        f"{cfg.DATALOADER.NUM_INSTANCE}: a batch must hold at least one identity's images")


def get_cfg(projects: Sequence[ProjectSpec] | None = None) -> CfgNode:
    """fast-reid's defaults, the shared keys and the keys of ``projects``: the installed ones
    when None (``vreid.projects.installed_projects``), none for ``()``. What was imported before
    never changes the keys."""
    cfg = _fastreid_cfg()
    add_vreid_config(cfg)
    for spec in resolve(projects):
        spec.add_config(cfg)
    return cfg


def _yaml_error(path: str, error: yaml.YAMLError) -> UserError:
    """One line with the file, line and column (1-based, as editors count) of the YAML mistake."""
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return UserError(f"cannot read config {path}: {str(error).splitlines()[0]}; fix its YAML")
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = f" ({error.context})" if getattr(error, "context", None) else ""
    return UserError(f"cannot read config {path}:{mark.line + 1}:{mark.column + 1}: {problem}{context}; "
                     "fix the YAML there")


def _base_of(path: str) -> str:
    """The _BASE_ of one file of a config's chain, after checking that the file holds a mapping:
    yacs reads an empty one as None and fails with a TypeError."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise _yaml_error(path, e) from None
    except UnicodeDecodeError as e:
        raise UserError(f"cannot read config {path}: byte {e.start} is not UTF-8; save it as UTF-8 text") from None
    except OSError as e:
        raise UserError(f"cannot read config {path}: {e.strerror}") from None
    if data is None:
        raise UserError(f"config {path} is empty: give it KEY: value lines (or a _BASE_: line), or pass another "
                        "--config-file")
    if not isinstance(data, dict):
        raise UserError(f"config {path} is not a mapping of KEY: value")
    base = data.get("_BASE_")
    return os.path.join(os.path.dirname(path), base) if base else ""


def check_bases(config_file: str) -> None:
    """The _BASE_ chain exists and ends: fast-reid recurses into a cycle (RecursionError) and
    opens a missing base with a bare FileNotFoundError."""
    chain, path = [config_file], _base_of(config_file)
    while path:
        if not os.path.isfile(path):
            raise UserError(f"{chain[-1]}: _BASE_ {path} does not exist; fix the _BASE_ line")
        if any(os.path.samefile(path, seen) for seen in chain):
            raise UserError(f"_BASE_ cycle: {' -> '.join([*chain, path])}; one of them must not inherit")
        chain.append(path)
        path = _base_of(path)


def _config_chain(path: str) -> Iterable[str]:
    """The file and its _BASE_ ancestors, nearest first (for error messages)."""
    seen = set()
    while path and path not in seen and os.path.isfile(path):
        seen.add(path)
        yield path
        with open(path) as f:
            base = (yaml.safe_load(f) or {}).get("_BASE_")
        path = os.path.join(os.path.dirname(path), base) if base else ""


def load_config(config_file: str = "", opts: Sequence[str] = (),
                projects: Sequence[ProjectSpec] | None = None) -> CfgNode:
    """Build the config from defaults (``get_cfg(projects)``), a YAML file (with _BASE_) and
    KEY VALUE overrides."""
    cfg = get_cfg(projects)
    if config_file:
        if not os.path.isfile(config_file):
            raise UserError(f"config file not found: {config_file}")
        check_bases(config_file)
        try:
            cfg.merge_from_file(config_file)
        except KeyError as e:
            key = str(e).strip("'\"").replace("Non-existent config key: ", "")
            files = ", ".join(_config_chain(config_file))
            raise UserError(
                f"unknown config key {key} in {files}. Check its spelling against "
                "`python tools/train_net.py --print-defaults`, or remove it."
            ) from None
        except (yaml.YAMLError, ValueError) as e:
            raise UserError(f"cannot read config {config_file}: {e}") from None
    if opts:
        if len(opts) % 2:
            raise UserError(f"overrides must come as KEY VALUE pairs, got an odd list: {list(opts)}")
        try:
            cfg.merge_from_list(list(opts))
        except (KeyError, AssertionError) as e:
            key = str(e).strip("'\"").split(": ")[-1]
            raise UserError(f"unknown config key {key} on the command line") from None
        except ValueError as e:
            raise UserError(f"bad command-line override: {e}") from None
    check_config(cfg)
    return cfg


WEIGHTS_HELP = "add MODEL.WEIGHTS path/to/model_final.pth after the options"


def load_model_config(config_file: str, opts: Sequence[str], device: str | None = None) -> CfgNode:
    """The config of a trained model (its training config, overrides, MODEL.WEIGHTS required),
    frozen; ``device`` replaces MODEL.DEVICE when a step must run on one device (the ONNX export
    traces on the CPU)."""
    cfg = load_config(config_file, opts)
    if not cfg.MODEL.WEIGHTS:
        raise UserError(f"no weights to load: {WEIGHTS_HELP}")
    if device is not None:
        cfg.MODEL.DEVICE = device
    cfg.freeze()
    return cfg


def model_config_from_text(text: str, opts: Sequence[str], origin: str) -> CfgNode:
    """A trained model's config saved as YAML text (a feature file or index keeps its model's),
    with overrides."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "config.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            return load_model_config(path, opts)
        except UserError as e:
            raise UserError(f"the config stored in {origin}: {e}") from None


class _PlainDumper(yaml.SafeDumper):
    """YAML without anchors and aliases: fast-reid's defaults share one tuple between
    DATASETS.NAMES and DATASETS.TESTS, which a plain dump prints as ``&id001`` / ``*id001``."""

    def ignore_aliases(self, data) -> bool:
        return True


def readable_dump(cfg: CfgNode) -> str:
    """The config as YAML with every value written out, for a person to read."""
    return yaml.dump(yaml.safe_load(cfg.dump()), Dumper=_PlainDumper)


def config_text(cfg: CfgNode) -> str:
    """The config as YAML with MODEL.WEIGHTS absolute, so it still loads from another folder."""
    cfg = cfg.clone()
    cfg.defrost()
    cfg.MODEL.WEIGHTS = os.path.abspath(cfg.MODEL.WEIGHTS)
    return cfg.dump()
