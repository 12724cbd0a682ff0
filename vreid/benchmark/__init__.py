"""Measurements behind tools/benchmark.py: model cost, training and inference speed, data
pipeline throughput and memory. Each runs on the config's device from the same code."""
from .data import measure_loader
from .model import measure_inference, measure_train_step, model_cost, synthetic_batch
from .report import markdown_table, write_report

__all__ = ["markdown_table", "measure_inference", "measure_loader", "measure_train_step",
           "model_cost", "synthetic_batch", "write_report"]
