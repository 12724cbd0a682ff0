"""Sheets of image tiles with coloured borders and captions, at positions a caller can compute
(``TileGrid.box``), so tests and scripts can read a tile's border back from the PNG."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

from vreid.data.image_io import read_rgb

Colour = tuple[int, int, int]
MATCH: Colour = (0, 170, 0)
MISMATCH: Colour = (220, 30, 30)
QUERY: Colour = (40, 90, 220)
UNKNOWN: Colour = (150, 150, 150)
BACKGROUND: Colour = (255, 255, 255)
TEXT: Colour = (20, 20, 20)


@dataclass(frozen=True)
class TileGrid:
    """rows x cols tiles of ``tile`` (width, height) pixels, each inside a border and above
    ``caption_lines`` lines of text; ``split_after`` columns are set apart (the query)."""

    rows: int
    cols: int
    tile: tuple[int, int]
    border: int = 4
    gap: int = 6
    margin: int = 8
    caption_lines: int = 2
    line_height: int = 13
    split_after: int = 0
    split_gap: int = 18

    @property
    def cell(self) -> tuple[int, int]:
        """Outer size of a bordered tile."""
        return self.tile[0] + 2 * self.border, self.tile[1] + 2 * self.border

    @property
    def row_height(self) -> int:
        return self.cell[1] + self.caption_lines * self.line_height + self.gap

    def box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the bordered tile, right and bottom exclusive."""
        x = self.margin + col * (self.cell[0] + self.gap) + (self.split_gap if 0 < self.split_after <= col else 0)
        y = self.margin + row * self.row_height
        return x, y, x + self.cell[0], y + self.cell[1]

    @property
    def size(self) -> tuple[int, int]:
        right = self.box(0, self.cols - 1)[2]
        return right + self.margin, self.margin + self.rows * self.row_height - self.gap + self.margin


@lru_cache(maxsize=1)
def font() -> ImageFont.ImageFont:
    return ImageFont.load_default(size=11)


def new_sheet(grid: TileGrid) -> Image.Image:
    return Image.new("RGB", grid.size, BACKGROUND)


def open_tile(path: str, tile: tuple[int, int]) -> Image.Image:
    """An image file scaled to the tile."""
    return read_rgb(path).resize(tile, Image.BICUBIC)


def paste_tile(sheet: Image.Image, grid: TileGrid, row: int, col: int, image: Image.Image,
               border: Colour | None, caption: Sequence[str] = ()) -> None:
    """``image`` (of size ``grid.tile``) inside its border (none: background), caption below it."""
    left, top, right, bottom = grid.box(row, col)
    draw = ImageDraw.Draw(sheet)
    if border is not None and grid.border > 0:
        draw.rectangle((left, top, right - 1, bottom - 1), fill=border)
    if image.size != grid.tile:
        raise ValueError(f"tile image is {image.size}, the grid's tiles are {grid.tile}")
    sheet.paste(image, (left + grid.border, top + grid.border))
    for i, line in enumerate(caption[:grid.caption_lines]):
        draw.text((left, bottom + 1 + i * grid.line_height), line, fill=TEXT, font=font())
