from vreid.evaluation.distance import pairwise_distance
from vreid.evaluation.evaluator import ReidEvaluator
from vreid.evaluation.rank import evaluate_rank, rank_metrics
from vreid.evaluation.table import results_table

__all__ = ["pairwise_distance", "ReidEvaluator", "evaluate_rank", "rank_metrics", "results_table"]
