"""DNDM's map overlays on a synthetic night image with lamp glare: the glare panel tints exactly
the glare region (found here from the pixels, independently of the model's code)."""
import numpy as np
from PIL import Image
from scipy import ndimage

from vreid.visualization.canvas import TileGrid
from vreid.visualization.overlays import ALPHA, MASK_TINT, tile_scale

LUMA = np.array([0.299, 0.587, 0.114])


def glare_region(rgb: np.ndarray, threshold: float = 220.0) -> np.ndarray:
    """Saturated lamps: luma above the threshold, specks under 3x3 removed (outside counts dark)."""
    return ndimage.binary_opening(rgb @ LUMA > threshold, structure=np.ones((3, 3)), border_value=0)


def test_glare_panel_marks_the_glare_region(saved_model, run_tool, tiny_images, tmp_path, capsys):
    image = next(p for p in tiny_images("night", range(25, 41))
                 if glare_region(np.asarray(Image.open(p), float)).sum() > 20)
    out = tmp_path / "maps"
    assert run_tool("visualize", "maps", "--input", image, "--domain", "night", "--output-dir", out,
                    "--no-progress", *saved_model("DNDM").args()) == 0
    names = capsys.readouterr().out.split("(")[1].split(")")[0].split(", ")
    assert names[:3] == ["image", "glare", "attention"] and {"cca1", "cca2", "cca3", "cca4"} <= set(names)

    scale = tile_scale(64)
    grid = TileGrid(rows=1, cols=len(names), tile=(64 * scale, 64 * scale), border=0)
    sheet = np.asarray(Image.open(out / f"0000_{image.stem}.png").convert("RGB"), float)

    def panel(name: str) -> np.ndarray:
        left, top, right, bottom = grid.box(0, names.index(name))
        return sheet[top:bottom, left:right]

    shown = panel("image")
    assert np.array_equal(shown[::scale, ::scale], np.asarray(Image.open(image), float))  # the pixels the model saw
    region = glare_region(shown[::scale, ::scale]).repeat(scale, 0).repeat(scale, 1)
    glare = panel("glare")
    assert region.sum() > 20 * scale ** 2
    assert np.abs(glare[region] - np.rint((1 - ALPHA) * shown[region] + ALPHA * MASK_TINT)).max() <= 1
    assert np.array_equal(glare[~region], shown[~region])
