"""Night look: low light, street-light tint, sensor noise and lamp glare.

Real night crops are dark and colour-cast, yet lit lamps saturate the sensor
into near-white blooms (luminance above 220 over several pixels). Body colour,
marks and plate survive, only darkened and tinted, so identity stays learnable.
"""
import numpy as np
from PIL import Image, ImageFilter

from vreid.synthetic.look import DEFAULT_LOOK, Look

# Lamp cores saturate to near-white; halos keep the lamp colour.
HEAD_CORE, HEAD_HALO = np.array((1.0, 1.0, 0.95)), np.array((1.0, 0.93, 0.75))
TAIL_CORE, TAIL_HALO = np.array((1.0, 0.92, 0.88)), np.array((1.0, 0.22, 0.16))
SIDE_GLARE_CHANCE = 0.5


def apply_night(img: np.ndarray, lamps: Image.Image, view: str, tint: tuple[float, float, float],
                rng: np.random.Generator, look: Look = DEFAULT_LOOK) -> np.ndarray:
    """Turns a float RGB day image into its night version; `lamps` is the lamp-glare mask and
    `look` how dark, tinted, noisy and glaring the night is."""
    size = img.shape[0]
    level = rng.uniform(*look.night_level)
    rows = np.arange(size, dtype=np.float32)[:, None, None] / size
    light_pool = 0.75 + 0.5 * np.exp(-((rows - rng.uniform(0.0, 0.5)) ** 2) / 0.08)
    out = 255.0 * (np.clip(img, 0, 255) / 255.0) ** look.night_gamma * level * light_pool
    out *= np.asarray(tint, np.float32) ** look.tint_power

    if view != "side" or rng.random() < SIDE_GLARE_CHANCE:
        core = np.asarray(lamps.filter(ImageFilter.MaxFilter(look.glare_core)), np.float32)[..., None] / 255.0
        halo_radius = size * rng.uniform(*look.glare_halo)
        halo = np.asarray(lamps.filter(ImageFilter.GaussianBlur(halo_radius)), np.float32)[..., None] / 255.0
        core_colour, halo_colour = (TAIL_CORE, TAIL_HALO) if view == "rear" else (HEAD_CORE, HEAD_HALO)
        core_gain, halo_gain = look.glare_gain
        out += 255.0 * (core_gain * core * core_colour + halo_gain * halo * halo_colour)

    sigma = rng.uniform(*look.night_noise)
    out += rng.normal(0.0, sigma, (size, size, 1)) + rng.normal(0.0, sigma * 0.5, (size, size, 3))
    return out.astype(np.float32)
