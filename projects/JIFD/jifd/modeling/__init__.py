"""JIFD: the image VAE, gradient reversal, disentanglers, domain discriminator,
MINE, ring loss, the training-only feature objectives and the JIFD meta-architecture."""
from .disentangler import Disentangler
from .domain import DomainDiscriminator
from .feature_objectives import FeatureObjectives, class_confusion_loss
from .grad_reverse import GradientReversal, grad_reverse
from .image_vae import ImageVAE, vae_losses
from .jifd import JIFD, domain_labels
from .mine import MINE
from .ring import RingLoss

__all__ = ["Disentangler", "DomainDiscriminator", "FeatureObjectives", "class_confusion_loss",
           "GradientReversal", "grad_reverse", "ImageVAE", "vae_losses", "JIFD", "domain_labels",
           "MINE", "RingLoss"]
