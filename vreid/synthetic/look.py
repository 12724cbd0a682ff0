"""Rendering knobs a preset may turn: how strong night, glare and domain looks are.

The demo presets keep the defaults, which are the generator's original look (their bytes
must not move); a benchmark preset turns them so that each module under test has the
nuisance it claims to handle: glare that hides identity cues, a day/night gap, fine
structure that low light blurs, and source/target domains apart in light and colour only.
"""
from dataclasses import dataclass

RGB_GAIN = tuple[float, float, float]


@dataclass(frozen=True)
class Look:
    """Night light, lamp glare and per-domain illumination; the defaults are today's look."""

    night_level: tuple[float, float] = (0.28, 0.42)  # share of the day light left at night
    night_gamma: float = 1.3  # >1 crushes shadows further
    tint_power: float = 1.0  # street-light tint raised to this power: >1 deepens the cast
    night_noise: tuple[float, float] = (4.0, 9.0)  # sensor noise sigma range in grey levels
    night_blur: float = 0.0  # extra Gaussian radius at 128 px on night images (long exposure)
    glare_core: int = 3  # MaxFilter size (pixels) dilating the lit lamps into saturated cores
    glare_halo: tuple[float, float] = (0.03, 0.06)  # halo radius range, share of the image side
    glare_gain: tuple[float, float] = (1.8, 2.5)  # core and halo brightness
    domain_light: tuple[tuple[str, RGB_GAIN], ...] = ()  # (camera family, RGB gain on every image)

    def light_of(self, family: str) -> RGB_GAIN | None:
        """The extra illumination of a camera family's domain, None when it has none."""
        return dict(self.domain_light).get(family)


DEFAULT_LOOK = Look()
