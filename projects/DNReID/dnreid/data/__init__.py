"""DN-ReID datasets and VERI-Wild's day/night protocols (registered on import), and the paired day-night sampler."""
from dnreid.data import datasets, veriwild_dn  # noqa: F401
from dnreid.data.layout import DNLayout
from dnreid.data.paired_sampler import PairedIdentitySampler

__all__ = ["DNLayout", "PairedIdentitySampler"]
