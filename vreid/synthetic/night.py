"""Night look: low light, street-light tint, sensor noise and lamp glare.

Real night crops are dark and colour-cast, yet lit lamps saturate the sensor
into near-white blooms (luminance above 220 over several pixels). Body colour,
marks and plate survive, only darkened and tinted, so identity stays learnable.
"""
import numpy as np
from PIL import Image, ImageFilter

# Lamp cores saturate to near-white; halos keep the lamp colour.
HEAD_CORE, HEAD_HALO = np.array((1.0, 1.0, 0.95)), np.array((1.0, 0.93, 0.75))
TAIL_CORE, TAIL_HALO = np.array((1.0, 0.92, 0.88)), np.array((1.0, 0.22, 0.16))
SIDE_GLARE_CHANCE = 0.5


def apply_night(img: np.ndarray, lamps: Image.Image, view: str, tint: tuple[float, float, float],
                rng: np.random.Generator) -> np.ndarray:
    """Turns a float RGB day image into its night version; `lamps` is the lamp-glare mask."""
    size = img.shape[0]
    level = rng.uniform(0.28, 0.42)
    rows = np.arange(size, dtype=np.float32)[:, None, None] / size
    light_pool = 0.75 + 0.5 * np.exp(-((rows - rng.uniform(0.0, 0.5)) ** 2) / 0.08)
    out = 255.0 * (np.clip(img, 0, 255) / 255.0) ** 1.3 * level * light_pool * np.asarray(tint, np.float32)

    if view != "side" or rng.random() < SIDE_GLARE_CHANCE:
        core = np.asarray(lamps.filter(ImageFilter.MaxFilter(3)), np.float32)[..., None] / 255.0
        halo_radius = size * rng.uniform(0.03, 0.06)
        halo = np.asarray(lamps.filter(ImageFilter.GaussianBlur(halo_radius)), np.float32)[..., None] / 255.0
        core_colour, halo_colour = (TAIL_CORE, TAIL_HALO) if view == "rear" else (HEAD_CORE, HEAD_HALO)
        out += 255.0 * (1.8 * core * core_colour + 2.5 * halo * halo_colour)

    sigma = rng.uniform(4.0, 9.0)
    out += rng.normal(0.0, sigma, (size, size, 1)) + rng.normal(0.0, sigma * 0.5, (size, size, 3))
    return out.astype(np.float32)
