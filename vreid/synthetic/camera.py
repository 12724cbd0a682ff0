"""Per-camera look: what the background is and how the sensor renders colour.

Each camera of each domain gets one fixed style, so images from one camera share
a look (a nuisance a ReID model must ignore) and domains differ in style.
"""
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Domain families: how cameras of a dataset tend to look.
FAMILIES = ("street", "noisy_street", "clean_render", "toll_booth")


@dataclass(frozen=True)
class CameraStyle:
    family: str
    wall: tuple[float, float, float]  # upper background: buildings, foliage, booth canopy
    ground: tuple[float, float, float]
    horizon: float  # fraction of the height where the ground starts
    gain: tuple[float, float, float]  # per-channel colour response
    gamma: float
    saturation: float
    blur: tuple[float, float]  # Gaussian radius range in pixels at 128 px
    noise: float  # sensor noise sigma in grey levels
    jpeg: tuple[int, int]  # quality range
    scale: tuple[float, float]  # share of the frame the vehicle's long side fills
    shift: float
    perspective: float
    keystone: float  # >1: high-mounted camera, vehicle top wider than bottom
    crop_chance: float  # chance of a partially cut-off vehicle
    night_tint: tuple[float, float, float]  # street-light colour for night shots


def _colour(rng: np.random.Generator, low: float, high: float, spread: float) -> tuple[float, float, float]:
    base = rng.uniform(low, high)
    return tuple(float(np.clip(base + rng.uniform(-spread, spread), 0, 255)) for _ in range(3))


def sample_camera(family: str, rng: np.random.Generator) -> CameraStyle:
    """One camera of a domain family."""
    if family not in FAMILIES:
        raise ValueError(f"unknown camera family {family!r}; choose from {FAMILIES}")
    tint = ((1.0, 0.72, 0.42), (0.82, 0.9, 1.0), (0.95, 0.9, 0.75))[int(rng.integers(3))]
    common = dict(horizon=float(rng.uniform(0.3, 0.55)), night_tint=tint, keystone=1.0)
    if family == "clean_render":
        return CameraStyle(family, wall=_colour(rng, 60, 175, 25), ground=_colour(rng, 80, 170, 10),
                           gain=(1.0, 1.0, 1.0), gamma=1.0, saturation=1.1, blur=(0.0, 0.0), noise=0.0,
                           jpeg=(95, 95), scale=(0.78, 0.95), shift=0.04, perspective=0.05,
                           crop_chance=0.0, **common)
    gain = tuple(float(g) for g in rng.uniform(0.88, 1.06, 3))
    if family == "toll_booth":
        common.update(horizon=float(rng.uniform(0.12, 0.25)), keystone=float(rng.uniform(1.1, 1.25)))
        return CameraStyle(family, wall=_colour(rng, 50, 80, 6), ground=_colour(rng, 115, 150, 4),
                           gain=gain, gamma=float(rng.uniform(0.95, 1.15)), saturation=float(rng.uniform(0.6, 0.85)),
                           blur=(0.3, 0.8), noise=float(rng.uniform(2, 5)), jpeg=(60, 85), scale=(0.8, 0.95),
                           shift=0.04, perspective=0.04, crop_chance=0.15, **common)
    noisy = family == "noisy_street"
    return CameraStyle(family, wall=_colour(rng, 50, 150, 35), ground=_colour(rng, 70, 120, 8),
                       gain=gain, gamma=float(rng.uniform(0.85, 1.2)),
                       saturation=float(rng.uniform(0.7, 1.0) if noisy else rng.uniform(0.85, 1.05)),
                       blur=(0.4, 1.3) if noisy else (0.2, 0.8),
                       noise=float(rng.uniform(3, 8) if noisy else rng.uniform(1, 3)),
                       jpeg=(40, 75) if noisy else (70, 90), scale=(0.72, 0.95), shift=0.06,
                       perspective=0.08, crop_chance=0.3 if noisy else 0.15, **common)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency texture in [-1, 1]: a coarse random grid upsampled smoothly."""
    grid = rng.integers(0, 256, (cells, cells), dtype=np.uint8)
    smooth = Image.fromarray(grid).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(smooth, dtype=np.float32) / 127.5 - 1.0


def background(style: CameraStyle, rng: np.random.Generator, size: int) -> np.ndarray:
    """A float32 RGB scene behind the vehicle, varied slightly per image."""
    rows = np.arange(size, dtype=np.float32)[:, None] / size
    horizon = style.horizon + rng.uniform(-0.05, 0.05)
    wall, ground = np.asarray(style.wall, np.float32), np.asarray(style.ground, np.float32)
    if style.family == "clean_render":
        shade = 1.0 - 0.25 * rows[..., None]
        return np.broadcast_to(wall * shade, (size, size, 3)).astype(np.float32).copy()

    texture = _smooth_noise(rng, size, 6)[..., None]
    is_ground = (rows > horizon)[..., None]
    depth = np.clip((rows - horizon) / (1 - horizon), 0, 1)[..., None]
    scene = np.where(is_ground, ground * (0.85 + 0.3 * depth) + 8 * texture, wall + 25 * texture)
    scene = np.broadcast_to(scene, (size, size, 3)).copy()
    cols = np.arange(size)[None, :]
    if style.family == "toll_booth":
        for centre in (0.04, 0.96):  # booth pillars with hazard stripes
            pillar = np.abs(cols / size - centre) < 0.05
            stripes = ((rows * 10 + cols / size * 3).astype(int) % 2 == 0)
            scene[pillar & stripes] = (210, 150, 30)
            scene[pillar & ~stripes] = (188, 188, 184)
    else:
        slope = rng.uniform(-1.5, 1.5)
        lane = np.abs(cols / size - 0.5 - slope * (rows - 1)) < 0.012
        scene[lane & (rows > horizon)] = (185, 185, 170)
    return scene.astype(np.float32)


def colour_response(img: np.ndarray, style: CameraStyle) -> np.ndarray:
    """The camera's gamma, white balance and saturation."""
    out = 255.0 * (np.clip(img, 0, 255) / 255.0) ** style.gamma * np.asarray(style.gain, np.float32)
    grey = out.mean(axis=2, keepdims=True)
    return (grey + style.saturation * (out - grey)).astype(np.float32)
