"""Rank-list sheets: one row per query, the query then its nearest gallery images, each gallery
border green (same identity), red (another identity) or grey (no ground truth, e.g. a search)."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from vreid.visualization.canvas import MATCH, MISMATCH, QUERY, UNKNOWN, TileGrid, new_sheet, open_tile, paste_tile


@dataclass
class RankRow:
    query_path: str
    query_caption: list[str]
    gallery_paths: list[str]
    gallery_captions: list[list[str]]
    verdicts: list[bool | None]  # per gallery image: right match, wrong match, unknown


def verdict_colour(verdict: bool | None) -> tuple[int, int, int]:
    return UNKNOWN if verdict is None else MATCH if verdict else MISMATCH


def ranklist_grid(rows: list[RankRow], tile: tuple[int, int]) -> TileGrid:
    """The sheet's geometry: column 0 the queries, set apart from the ranked columns."""
    cols = 1 + max(len(r.gallery_paths) for r in rows)
    return TileGrid(rows=len(rows), cols=cols, tile=tile, split_after=1)


def draw_ranklist(rows: list[RankRow], path: str, tile: tuple[int, int] = (96, 96)) -> TileGrid:
    """Write the sheet as PNG, and its rows as JSON beside it (same name, .json) for scripts;
    returns the sheet's geometry."""
    if not rows:
        raise ValueError("no rank-list rows to draw")
    grid = ranklist_grid(rows, tile)
    sheet = new_sheet(grid)
    for r, row in enumerate(rows):
        paste_tile(sheet, grid, r, 0, open_tile(row.query_path, tile), QUERY, row.query_caption)
        for c, (gallery, caption, verdict) in enumerate(zip(row.gallery_paths, row.gallery_captions, row.verdicts)):
            paste_tile(sheet, grid, r, c + 1, open_tile(gallery, tile), verdict_colour(verdict), caption)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sheet.save(path)
    with open(os.path.splitext(path)[0] + ".json", "w", encoding="utf-8") as f:
        json.dump([asdict(row) for row in rows], f, indent=1)
    return grid
