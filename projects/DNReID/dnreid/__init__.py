"""DNReID: day-night cross-domain vehicle ReID (DNDM, CVPR 2024) as a fast-reid project.

Importing it registers the DN datasets, the paired sampler, the DNDM meta-architecture and
its config keys.
"""
import vreid  # noqa: F401  (fast-reid compat first)
from vreid.config import register_config

from dnreid import data, modeling  # noqa: F401
from dnreid.config import add_dnreid_config

register_config(add_dnreid_config)

__all__ = ["add_dnreid_config"]
