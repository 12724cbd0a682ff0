"""Shared core of the vehicle ReID projects: fast-reid compat, trainer, evaluation, data."""
from vreid import compat as _compat

_compat.apply()

__version__ = "0.1.0"
