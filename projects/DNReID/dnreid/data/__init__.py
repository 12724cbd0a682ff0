"""DN-ReID datasets (registered on import) and the paired day-night sampler."""
from dnreid.data import datasets  # noqa: F401
from dnreid.data.layout import DNLayout
from dnreid.data.paired_sampler import PairedIdentitySampler

__all__ = ["DNLayout", "PairedIdentitySampler"]
