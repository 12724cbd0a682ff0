"""Building and loading models (below the trainer, for every tool), weights files, shared losses."""
from vreid.modeling.build import apply_fast_paths, build_model, eval_inputs, load_model, resolve_device
from vreid.modeling.weights import WeightsFile, check_weights_fit, read_weights

__all__ = ["apply_fast_paths", "build_model", "eval_inputs", "load_model", "resolve_device", "WeightsFile",
           "check_weights_fit", "read_weights"]
