"""JIFD: domain-generalizable vehicle ReID with image- and feature-level disentanglement,
as a fast-reid project.

Importing it registers the VehicleX, Opri and synthetic datasets and the JIFD meta-architecture;
``PROJECT`` declares them, the per-source batch key, the config keys and the synthetic layouts
to the core (setup.py names it under the ``vreid.projects`` entry points).
"""
import vreid  # noqa: F401  (fast-reid compat first)
from vreid.projects import ProjectSpec

from jifd import data, modeling  # noqa: F401
from jifd.config import add_jifd_config
from jifd.data import SOURCES
from jifd.synthetic import LAYOUTS

PROJECT = ProjectSpec(
    name="jifd",
    add_config=add_jifd_config,
    meta_architectures=("JIFD",),
    datasets=("VehicleX", "Opri", "SynVeRi", "SynVehicleX", "SynOpri"),
    batch_keys=(SOURCES,),
    synthetic_layouts=LAYOUTS,
)

__all__ = ["PROJECT", "add_jifd_config"]
