from vreid.data.build import (SAMPLER_REGISTRY, build_test_loader, build_train_loader,
                              build_train_set, data_root, get_dataset)
from vreid.data.dataset import ReIDDataset, record_meta
from vreid.data.loader import DeviceLoader, to_device

__all__ = ["SAMPLER_REGISTRY", "build_test_loader", "build_train_loader", "build_train_set",
           "data_root", "get_dataset", "ReIDDataset", "record_meta", "DeviceLoader", "to_device"]
