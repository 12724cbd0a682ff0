"""DNDM's config keys, with the paper's (release's) defaults. Every ablation is a switch here."""
from fastreid.config import CfgNode as CN

from vreid.config import declare_choices

from dnreid.lighting import GUARD_MINUTES, NIGHT_END, NIGHT_START

# Checked when a config loads, not first at the model build, the first step or evaluation.
CHOICES = {
    "MODEL.DNDM.STEM_POOL": ("padded", "ceil"),
    "MODEL.DNDM.GEM": ("release", "fastreid"),
    "MODEL.DNDM.TEST_FEAT": ("bn", "pool"),
    "MODEL.DNDM.HEAD_INIT": ("release", "fastreid"),
    "MODEL.DNDM.NGS.LOSS_FORM": ("double_sigmoid", "single"),
    "MODEL.DNDM.NGS.INIT": ("nonnegative", "pytorch"),
    "MODEL.DNDM.CCA.INIT": ("release", "pytorch"),
}


def add_dnreid_config(cfg: CN) -> None:
    cfg.MODEL.DNDM = CN()
    # Separate day and night stems before the shared ResNet body.
    cfg.MODEL.DNDM.TWO_STEMS = True
    # Stem max-pool: "padded" (3x3/2, padding 1: the release's and torchvision's, whose ImageNet
    # weights the stem loads) or "ceil" (fast-reid's ResNet: no padding, ceil_mode).
    cfg.MODEL.DNDM.STEM_POOL = "padded"
    # GeM: "release" ((mean x^3 + 1e-12)^(1/3)) or "fastreid" ((mean max(x, 1e-6)^3)^(1/3)).
    cfg.MODEL.DNDM.GEM = "release"
    # Test embedding: "bn" (after BNNeck; the release selects checkpoints by it) or "pool".
    cfg.MODEL.DNDM.TEST_FEAT = "bn"
    # BNNeck and classifier init: "release" (classifier N(0, 0.001), BN weight N(1, 0.01)) or
    # "fastreid" (EmbeddingHead's own: classifier N(0, 0.01), BN weight 1), which BoT's Baseline
    # keeps; without this key, DNDM with its modules off would differ from BoT in a way no
    # config shows.
    cfg.MODEL.DNDM.HEAD_INIT = "release"

    cfg.MODEL.DNDM.NGS = CN({"ENABLED": True})  # night-domain glare suppression
    cfg.MODEL.DNDM.NGS.THRESHOLD = 220.0  # luma above which a pixel counts as glare
    cfg.MODEL.DNDM.NGS.LOSS_WEIGHT = 1.0
    cfg.MODEL.DNDM.NGS.LOSS_FORM = "double_sigmoid"  # the release's; or "single"
    # Projection init: "nonnegative" (ours; keeps the ReLU open at the start) or "pytorch" (the
    # release's default init, which leaves A stuck at 0.5 in about half of all seeds).
    cfg.MODEL.DNDM.NGS.INIT = "nonnegative"

    cfg.MODEL.DNDM.DSE = CN({"ENABLED": True})  # dual-domain structure enhancement
    cfg.MODEL.DNDM.DSE.WEIGHT_X = 0.9
    cfg.MODEL.DNDM.DSE.WEIGHT_G = 0.25

    cfg.MODEL.DNDM.CCA = CN({"ENABLED": True})  # cross-domain class awareness
    cfg.MODEL.DNDM.CCA.TEST_SCALE = 0.1
    cfg.MODEL.DNDM.CCA.TRAIN_SCALE = 0.05
    # Projection P_k init: "release" (N(0, 0.001)) or "pytorch" (nn.Linear's default).
    cfg.MODEL.DNDM.CCA.INIT = "release"

    # --domain auto and the tracker export decide day or night from the crop (dnreid.domains):
    # night where fewer than LIT_SHARE of the pixels have a luma between DARK and GLARE. On the
    # synthetic default and bench sets: 99.0 / 99.9 % and 99.6 / 99.7 % of day / night crops.
    cfg.MODEL.DNDM.AUTO_DOMAIN = CN({"DARK": 45.0, "GLARE": 200.0, "LIT_SHARE": 0.45})

    # Day or night from the hour an image was taken (dnreid.lighting), for VERI-Wild's day/night
    # protocols and your own lists' timestamps: night from NIGHT_START to NIGHT_END (HH:MM, the
    # cameras' local time; may wrap midnight), images within GUARD_MINUTES of either end left out.
    cfg.DATASETS.DAY_NIGHT = CN({"NIGHT_START": NIGHT_START, "NIGHT_END": NIGHT_END, "GUARD_MINUTES": GUARD_MINUTES})
    for key, choices in CHOICES.items():
        declare_choices(key, choices)
