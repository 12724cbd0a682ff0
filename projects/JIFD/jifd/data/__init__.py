"""JIFD's datasets (registered on import): VehicleX, Opri and the synthetic SynVeRi,
SynVehicleX and SynOpri."""
from jifd.data import datasets  # noqa: F401
from jifd.data.datasets import SOURCES
from jifd.data.image_folder import read_image_folder

__all__ = ["SOURCES", "read_image_folder"]
