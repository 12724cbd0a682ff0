"""Measurements behind tools/benchmark.py: model cost, training and inference speed, data pipeline throughput and
memory, evaluation, decoding and gallery indexes; the harness that runs each in a fresh process and the one writer
of their tables and files. Each runs on the config's device from the same code."""
from .data import measure_loader
from .model import measure_inference, measure_train_step, model_cost, synthetic_batch
from .report import eval_columns, machine_line, markdown_table, model_columns, write_report

__all__ = ["eval_columns", "machine_line", "markdown_table", "measure_inference", "measure_loader",
           "measure_train_step", "model_columns", "model_cost", "synthetic_batch", "write_report"]
