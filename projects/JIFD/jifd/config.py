"""JIFD's config keys with their defaults. Every module has an ENABLED
switch, so each ablation is a config file; [design] constants are keys a user holding the
paper can set to its values."""
from fastreid.config import CfgNode as CN

from vreid.config import declare_choices, declare_minimum

# Opri's naming is unpublished: assume VeRi's `<pid>_c<cam>_<...>.jpg`.
OPRI_NAME_PATTERN = r"^(?P<pid>\d+)_c(?P<camid>\d+)_"
GRL_SCHEDULES = ("constant", "dann")  # MODEL.JIFD.DOMAIN.GRL_SCHEDULE (modeling.grad_reverse)
SHARE_FORMS = ("batch", "fisher")  # MODEL.JIFD.{DI,VAE}.DOMAIN_SHARE_FORM, CI.IDENTITY_SHARE_FORM


def add_jifd_config(cfg: CN) -> None:
    cfg.DATASETS.OPRI = CN()
    # Regular expression searched in each Opri file name; needs the named groups pid and camid.
    cfg.DATASETS.OPRI.NAME_PATTERN = OPRI_NAME_PATTERN

    j = cfg.MODEL.JIFD = CN()

    # Image-level disentangler G: a convolutional VAE whose output is subtracted from the image.
    j.VAE = CN({"ENABLED": True})
    j.VAE.CHANNELS = [32, 64, 128]  # encoder widths, one stride-2 conv each
    j.VAE.LATENT_CHANNELS = 64  # channels of the spatial latent z
    j.VAE.REC_WEIGHT = 1.0  # lambda_rec
    j.VAE.REC_WARMUP_FACTOR = 10.0  # lambda_rec is multiplied by this during SOLVER warm-up
    j.VAE.KL_WEIGHT = 0.2  # lambda_kl, on the mean KL per latent element
    # lambda_rec's multiplier by epoch range: [[end_epoch, factor], ...] with increasing ends,
    # factor for the epochs before end_epoch (0-based), 1 after the last; e.g. CD-VAE's thirds
    # for 120 epochs [[40, 10.0], [80, 5.0]]. Empty: REC_WARMUP_FACTOR during the warm-up.
    j.VAE.REC_STAGES = []
    # Scale of the gradient that the ReID and feature-level losses send into G through
    # x - G(x) (CD-VAE weights its classifier's loss 0.2 against the reconstruction).
    j.VAE.REID_GRAD_SCALE = 1.0
    # What the ReID network sees in training: "residual" (x - G(x)) or "both" (x and x - G(x)
    # concatenated along the batch). The test path always uses the residual.
    j.VAE.REID_INPUT = "residual"
    # Weight of the share of the variance of x - G(x), average-pooled to SHARE_POOL x SHARE_POOL
    # pixels, that the domain explains (modeling.share): G is asked to take out
    # what differs between the domains (light, colour cast, background), not to copy the image.
    j.VAE.DOMAIN_SHARE_WEIGHT = 0.0
    j.VAE.SHARE_POOL = 8
    # How each share (VAE and DI.DOMAIN_SHARE_WEIGHT, CI.IDENTITY_SHARE_WEIGHT) measures its
    # label's trace: "batch", each dimension of the batch on its own; "fisher", along the label's
    # Fisher directions from running statistics, the directions a linear probe reads
    # (modeling.share).
    j.VAE.DOMAIN_SHARE_FORM = "batch"
    for key in ("VAE.DOMAIN_SHARE_FORM", "DI.DOMAIN_SHARE_FORM", "CI.IDENTITY_SHARE_FORM"):
        declare_choices(f"MODEL.JIFD.{key}", SHARE_FORMS)
    declare_choices("MODEL.JIFD.DOMAIN.GRL_SCHEDULE", GRL_SCHEDULES)
    declare_minimum("MODEL.JIFD.VAE.SHARE_POOL", 1, "pooled pixels a side")

    # Feature-level disentanglers: MLP FEAT_DIM -> HIDDEN_DIM (BN, ReLU) -> FEAT_DIM (BN).
    j.DISENTANGLER_HIDDEN_DIM = 1024
    j.DI = CN({"ENABLED": True})  # domain-invariant branch: the test embedding; off = f itself
    # Weight of the share of f_di's batch variance explained by the domain
    # (modeling.share): the domain's linear trace, removed without an adversary.
    j.DI.DOMAIN_SHARE_WEIGHT = 0.0
    j.DI.DOMAIN_SHARE_FORM = "batch"
    j.DS = CN({"ENABLED": True})  # domain-specific branch with its own identity classifier
    j.DS.CLS_WEIGHT = 1.0
    # Weight of a plain (not reversed) domain classifier on f_ds, so f_ds holds the domain; 0: off.
    j.DS.DOMAIN_WEIGHT = 0.0
    j.CI = CN({"ENABLED": True})  # class-irrelevant branch
    j.CI.CLS_WEIGHT = 1.0  # its classifier learns identities from the detached f_ci
    j.CI.CONFUSION_WEIGHT = 1.0  # D_ci and the backbone push that classifier to uniform
    # The remedy for an f_ci that meets class confusion by shrinking or by hiding identity from
    # its classifier (modeling.share): D_ci's output BN without scale
    # and shift, and the weight of the share of f_ci's batch variance explained by identity.
    j.CI.OUTPUT_AFFINE = True
    j.CI.IDENTITY_SHARE_WEIGHT = 0.0
    j.CI.IDENTITY_SHARE_FORM = "batch"

    # Domain discriminator on f_di behind gradient reversal.
    j.DOMAIN = CN({"ENABLED": True})
    # "sources" (dataset index in DATASETS.NAMES), "camids", or "auto": sources when
    # DATASETS.NAMES has several datasets, else camera ids.
    j.DOMAIN.LABEL = "auto"
    # Discriminator outputs. 0: the number of DATASETS.NAMES for source labels; camera labels
    # need the number of training cameras set here (e.g. 20 for VeRi-776, 31 for VehicleX).
    j.DOMAIN.NUM_DOMAINS = 0
    j.DOMAIN.HIDDEN_DIM = 256
    j.DOMAIN.NEG_SLOPE = 0.2  # LeakyReLU slope
    j.DOMAIN.GRL_COEFF = 0.1
    # "constant": the reversal is GRL_COEFF throughout; "dann": GRL_COEFF x (2 / (1 + e^(-10 p)) - 1)
    # over training progress p, DANN's ramp from 0 (a random discriminator's gradient is noise).
    j.DOMAIN.GRL_SCHEDULE = "constant"
    j.DOMAIN.WEIGHT = 0.01

    # MINE estimator between (f_ds, f_ci) and (f_di, f_ci); the features get its reversed gradient.
    j.MINE = CN({"ENABLED": True})
    j.MINE.HIDDEN_DIM = 512
    j.MINE.WEIGHT = 1e-4

    # Linear R maps [f_di, f_ci] and [f_ds, f_ci] back to f.
    j.RECON = CN({"ENABLED": True})
    j.RECON.WEIGHT = 0.01

    # Ring loss on ||f|| with a learned radius.
    j.RING = CN({"ENABLED": True})
    j.RING.WEIGHT = 0.01
    j.RING.RADIUS = 0.0  # initial radius; <= 0: the first training batch's mean norm
    # "radius": 0.5 (||f|| - R)^2 with the learned R (never weight-decayed); "variance": DAL's
    # variance of the batch's norms around their mean.
    j.RING.FORM = "radius"

    # Disentanglement probe (jifd/probe.py), run with the test sets: fresh linear classifiers on
    # the frozen branches of the training sources' images, fitted on part and scored on the rest.
    j.PROBE = CN({"ENABLED": False})
    j.PROBE.HELD_OUT = 0.5  # share of each identity's images that the probes are scored on
    j.PROBE.MAX_IDENTITIES = 0  # > 0: probe a seeded subset of the training identities
    j.PROBE.SEED = 0  # the held-out split and the identity subset
    j.PROBE.STEPS = 300  # full-batch Adam steps per probe
    j.PROBE.LR = 0.01
    j.PROBE.WEIGHT_DECAY = 1e-4  # L2 penalty on the probe's weight
