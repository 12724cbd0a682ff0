"""Looking at a trained model: rank lists, attention overlays, training curves."""
from vreid.visualization.curves import plot_curves, read_metrics
from vreid.visualization.overlays import draw_panels, map_panels, model_maps, write_map_sheets
from vreid.visualization.ranking import (RankedQuery, choose_queries, rank_protocol, rank_queries, ranklist_rows,
                                         select_queries)
from vreid.visualization.ranklist import RankRow, draw_ranklist

__all__ = ["plot_curves", "read_metrics", "draw_panels", "map_panels", "model_maps", "write_map_sheets", "RankedQuery",
           "choose_queries", "rank_protocol", "rank_queries", "ranklist_rows", "select_queries", "RankRow",
           "draw_ranklist"]
