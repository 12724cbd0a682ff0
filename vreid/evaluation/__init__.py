from vreid.evaluation.distance import pairwise_distance
from vreid.evaluation.evaluator import ReidEvaluator
from vreid.evaluation.rank import Labels, evaluate_rank, rank, top_k
from vreid.evaluation.table import results_table

__all__ = ["pairwise_distance", "ReidEvaluator", "Labels", "evaluate_rank", "rank", "top_k", "results_table"]
