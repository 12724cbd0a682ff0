"""The day/night vocabulary, once: the batch key DNReID's datasets set and its models read, and
the rule that says day or night from a crop where nobody does (``--domain auto``, the tracker export),
and the one that says it from the hour a list gives (``domain_by_hour``).

A label is also the name of its folder and list files in the DN layout, and the word a user
writes in the tools' list files and ``--domain`` option.
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor

from vreid.projects import BatchKey

from dnreid.lighting import NightWindow


def guess_domain(images: Tensor, cfg) -> Tensor:
    """Night where few pixels are lit: the share of raw 0-255 pixels whose luma (BT.601) lies
    between MODEL.DNDM.AUTO_DOMAIN.DARK and .GLARE is below .LIT_SHARE. A mean brightness would be
    fooled by lamp glare, which at night can cover a fifth of a crop; glare is neither dark nor
    lit here. Plain tensor arithmetic: it traces into an ONNX graph."""
    rule = cfg.MODEL.DNDM.AUTO_DOMAIN
    luma = 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]
    lit = ((luma > rule.DARK) & (luma < rule.GLARE)).float().mean(dim=(1, 2))
    return (lit < rule.LIT_SHARE).long()


def domain_by_hour(cfg) -> Callable[[int], int | None]:
    """Day or night from the second of the day an image was taken, by DATASETS.DAY_NIGHT's night
    window (dnreid.lighting); None within its guard band of dusk and dawn."""
    window = NightWindow.from_config(cfg)

    def domain(second: int) -> int | None:
        night = window.is_night(second)
        return None if night is None else (NIGHT if night else DAY)
    return domain


DOMAIN = BatchKey("domains", labels=("day", "night"), option="domain", auto=guess_domain, from_time=domain_by_hour)
DOMAINS = DOMAIN.labels
DAY, NIGHT = range(len(DOMAINS))  # the labels' values
