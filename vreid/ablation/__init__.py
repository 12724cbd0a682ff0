"""Seeded ablation grids: run a grid of configs x seeds (``runner``), summarise it with intervals
and paired differences (``stats``), write its tables (``report``). ``tools/ablate.py`` drives it."""
from vreid.ablation.grid import Grid, Run, grid_from_args, load_grid, quick_grid
from vreid.ablation.report import as_json, markdown, plot
from vreid.ablation.runner import auto_jobs, run_grid, train_command
from vreid.ablation.stats import collect, estimate, final_metrics, last_change, summarise

__all__ = ["Grid", "Run", "as_json", "auto_jobs", "collect", "estimate", "final_metrics", "grid_from_args",
           "last_change", "load_grid", "markdown", "plot", "quick_grid", "run_grid", "summarise", "train_command"]
