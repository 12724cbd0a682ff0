from vreid.data.build import build_test_loader, build_train_loader, build_train_set, data_root, get_dataset
from vreid.data.dataset import ReIDDataset, record_meta
from vreid.data.loader import DeviceLoader, to_device
from vreid.data.samplers import SAMPLER_REGISTRY

__all__ = ["SAMPLER_REGISTRY", "build_test_loader", "build_train_loader", "build_train_set",
           "data_root", "get_dataset", "ReIDDataset", "record_meta", "DeviceLoader", "to_device"]
