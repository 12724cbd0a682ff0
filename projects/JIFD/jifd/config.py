"""JIFD's config keys with the spec's defaults (spec JIFD.md). Every module has an ENABLED
switch, so each ablation is a config file; [design] constants are keys a user holding the
paper can set to its values."""
from fastreid.config import CfgNode as CN

# Opri's naming is unpublished: assume VeRi's `<pid>_c<cam>_<...>.jpg` (datasets.md).
OPRI_NAME_PATTERN = r"^(?P<pid>\d+)_c(?P<camid>\d+)_"


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
    # What the ReID network sees in training: "residual" (x - G(x)) or "both" (x and x - G(x)
    # concatenated along the batch). The test path always uses the residual.
    j.VAE.REID_INPUT = "residual"

    # Feature-level disentanglers: MLP FEAT_DIM -> HIDDEN_DIM (BN, ReLU) -> FEAT_DIM (BN).
    j.DISENTANGLER_HIDDEN_DIM = 1024
    j.DI = CN({"ENABLED": True})  # domain-invariant branch: the test embedding; off = f itself
    j.DS = CN({"ENABLED": True})  # domain-specific branch with its own identity classifier
    j.DS.CLS_WEIGHT = 1.0
    j.CI = CN({"ENABLED": True})  # class-irrelevant branch
    j.CI.CLS_WEIGHT = 1.0  # its classifier learns identities from the detached f_ci
    j.CI.CONFUSION_WEIGHT = 1.0  # D_ci and the backbone push that classifier to uniform

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
