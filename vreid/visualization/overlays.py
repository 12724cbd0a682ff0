"""What a model looks at, over the image it saw: binary masks tinted, other maps as heat maps.

Any meta-architecture that offers ``forward_maps(batch) -> {name: (B, 1, h, w)}`` in eval mode
can be shown (masks and attention maps, in the model's order). Heat maps are stretched to their
own range, which the caption prints, so weak structure stays visible.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from vreid.deploy.images import ImageEntry
from vreid.progress import progress_bar
from vreid.errors import UserError
from vreid.projects import BatchKey
from vreid.visualization.canvas import TileGrid, new_sheet, paste_tile

MASK_TINT = np.array((255, 0, 255), dtype=np.float32)  # magenta: absent from vehicles and night scenes
ALPHA = 0.5
MIN_TILE_HEIGHT = 128


@dataclass
class Panel:
    name: str
    image: Image.Image
    caption: list[str]


def model_maps(model: nn.Module, batch: dict) -> dict[str, torch.Tensor]:
    if not hasattr(model, "forward_maps"):
        raise UserError(f"{type(model).__name__} offers no maps to overlay (it has no forward_maps); "
                        "pass a model whose meta-architecture defines one")
    return model.forward_maps(batch)


def tile_scale(height: int) -> int:
    """Integer upscaling that makes small inputs readable while keeping pixels square."""
    return max(1, math.ceil(MIN_TILE_HEIGHT / height))


def _upscale(raw: torch.Tensor, scale: int) -> np.ndarray:
    """(3, H, W) 0-255 -> (H*scale, W*scale, 3) float32, nearest."""
    img = raw.detach().float().cpu().clamp(0, 255).permute(1, 2, 0).numpy()
    return img.repeat(scale, axis=0).repeat(scale, axis=1)


def _is_mask(m: torch.Tensor) -> bool:
    return bool(((m == 0) | (m == 1)).all())


def mask_overlay(image: np.ndarray, mask: torch.Tensor) -> np.ndarray:
    """Mask pixels blended with MASK_TINT; the rest untouched. ``mask`` (h, w) is resized to the image, nearest."""
    size = image.shape[:2]
    m = F.interpolate(mask.float()[None, None].cpu(), size=size, mode="nearest")[0, 0].numpy().astype(bool)
    out = image.copy()
    out[m] = (1 - ALPHA) * image[m] + ALPHA * MASK_TINT
    return out


def heat_overlay(image: np.ndarray, heat: torch.Tensor) -> tuple[np.ndarray, tuple[float, float]]:
    """Bilinear-resized heat map, stretched to its range, through a colour map, blended; returns the range."""
    h = F.interpolate(heat.float()[None, None].cpu(), size=image.shape[:2], mode="bilinear", align_corners=False)[0, 0]
    low, high = float(heat.min()), float(heat.max())
    norm = ((h - low) / (high - low)).numpy() if high > low else np.zeros(image.shape[:2], np.float32)
    colours = matplotlib.colormaps["jet"](norm)[..., :3] * 255.0
    return (1 - ALPHA) * image + ALPHA * colours, (low, high)


def _to_pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(np.rint(image).clip(0, 255).astype(np.uint8))


def map_panels(raw: torch.Tensor, maps: dict[str, torch.Tensor], label: str) -> list[Panel]:
    """The image, then its binary masks, then its other maps, each (1, h, w), in the model's order."""
    image = _upscale(raw, tile_scale(raw.shape[-2]))
    panels = [Panel("image", _to_pil(image), [label])]
    names = sorted(maps, key=lambda n: not _is_mask(maps[n]))
    for name in names:
        m = maps[name][0]
        if _is_mask(m):
            panels.append(Panel(name, _to_pil(mask_overlay(image, m)), [name, f"{int(m.sum())} px"]))
        else:
            overlay, (low, high) = heat_overlay(image, m)
            panels.append(Panel(name, _to_pil(overlay), [name, f"{low:.3f} - {high:.3f}"]))
    return panels


def draw_panels(panels: list[Panel], path: str) -> TileGrid:
    """One row of panels as a PNG; returns its geometry (column i is ``panels[i]``)."""
    grid = TileGrid(rows=1, cols=len(panels), tile=panels[0].image.size, border=0)
    sheet = new_sheet(grid)
    for col, panel in enumerate(panels):
        paste_tile(sheet, grid, 0, col, panel.image, None, panel.caption)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sheet.save(path)
    return grid


def write_map_sheets(model: nn.Module, loader: Iterable[dict], entries: Sequence[ImageEntry], out_dir: str,
                     key: BatchKey | None = None, progress: bool = True) -> dict[str, list[str]]:
    """A PNG per image of ``entries`` (the order ``loader`` yields them), named
    ``<index>_<image name>.png``, captioned with the image's label of ``key``; returns each
    written path with its panels' names."""
    sheets, index = {}, 0
    with progress_bar(len(entries), "maps", progress) as bar:
        for batch in loader:
            batch_maps = model_maps(model, batch)
            for i, raw in enumerate(batch["images"]):
                entry = entries[index]
                label = f" ({key.label(entry.label)})" if key is not None and entry.label is not None else ""
                name = os.path.basename(entry.path)
                panels = map_panels(raw, {k: v[i] for k, v in batch_maps.items()}, name + label)
                path = os.path.join(out_dir, f"{index:04d}_{os.path.splitext(name)[0]}.png")
                draw_panels(panels, path)
                sheets[path] = [p.name for p in panels]
                index += 1
            bar.update(len(batch["images"]))
    return sheets
