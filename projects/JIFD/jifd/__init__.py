"""JIFD: domain-generalizable vehicle ReID with image- and feature-level disentanglement,
as a fast-reid project.

Importing it registers the VehicleX, Opri and synthetic datasets, the JIFD
meta-architecture and its config keys.
"""
import vreid  # noqa: F401  (fast-reid compat first)
from vreid.config import register_config

from jifd import data, modeling  # noqa: F401
from jifd.config import add_jifd_config

register_config(add_jifd_config)

__all__ = ["add_jifd_config"]
