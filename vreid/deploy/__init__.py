"""Using a trained model after training: load it, embed images, search, export to ONNX."""
from vreid.deploy.feature_file import FeatureFile, load_features, save_features
from vreid.deploy.features import extract_features
from vreid.deploy.images import (ImageEntry, add_label_argument, image_loader, label_argument, read_inputs,
                                 require_labels)
from vreid.deploy.model import add_model_arguments, eval_inputs, load_for_eval, load_tool_config, load_trained_model
from vreid.deploy.onnx_export import export_onnx, max_abs_diff
from vreid.deploy.search import Hit, results_table, search

__all__ = ["FeatureFile", "load_features", "save_features", "extract_features", "ImageEntry", "add_label_argument",
           "image_loader", "label_argument", "read_inputs", "require_labels", "add_model_arguments", "eval_inputs",
           "load_for_eval", "load_tool_config", "load_trained_model", "export_onnx", "max_abs_diff", "Hit",
           "results_table", "search"]
